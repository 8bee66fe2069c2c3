"""The ``winnow`` command. Each command parses its options and calls one library function.

Every option can also come from a ``WINNOW_<OPTION>`` environment variable. Bad input ends
with a one-line error naming the file, line or key, and exit status 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import typer

from agent.commands.evalcmd import check_exit, default_selector, emit, run_eval
from agent.commands.reportcmd import show_log, show_report, show_runs
from agent.commands.runcmd import run_loop
from agent.commands.samplecmd import emit as emit_sample
from agent.commands.samplecmd import run_sample
from agent.commands.sweepcmd import emit as emit_sweep
from agent.commands.sweepcmd import run_sweep_shown
from agent.pages.sweeppage import check_sweep_target, write_sweep_html
from agent.run import RunSpec
from harness.analysis.sweep import DEFAULT_KS, SweepSpec, parse_ks, parse_pools
from harness.config import RunConfig, load_config, with_scorer_overrides
from harness.errors import InputError
from harness.execution.launch import SandboxError
from harness.home import ledger_location
from harness.judge.evaluate import EvalSpec
from harness.sampling import SamplingError
from ledger.errors import LedgerError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"auto_envvar_prefix": "WINNOW"},
    help="Winnow: pick the right program out of many, without the hidden tests.",
    # Click's plain help: no markup to eat "[scorer]", no "<bool>" after a flag, no box drawing
    # in a file or a pager.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def show_version(value: bool) -> None:
    if value:
        print(f"winnow {metadata.version('winnow')}")
        raise typer.Exit()


@app.callback()
def winnow(
    version: bool = typer.Option(
        False,
        "--version",
        callback=show_version,
        is_eager=True,
        show_envvar=False,
        help="print the version and exit",
    ),
) -> None:
    """Winnow: pick the right program out of many, without the hidden tests."""


F = TypeVar("F", bound=Callable[..., Any])
USER_ERRORS: tuple[type[BaseException], ...] = (InputError, LedgerError)
SAID_ERRORS: tuple[type[BaseException], ...] = (*USER_ERRORS, SandboxError)  # one line each


def user_errors(func: F) -> F:
    """Turn bad input into one line on stderr and exit status 2 (3: the sandbox failed)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SAID_ERRORS as exc:
            print(f"winnow: error: {exc}", file=sys.stderr)
            # 3: the sandbox, not the input, failed (nothing was judged)
            raise typer.Exit(3 if isinstance(exc, SandboxError) else 2) from None

    return wrapper  # type: ignore[return-value]


def main() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside the loop (which stops cleanly on its own)
        print("winnow: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


# -- winnow eval / winnow check ------------------------------------------------------------------

SUITE = typer.Option("humaneval", help="'humaneval' (built in) or a suite JSONL file")
SAMPLES = typer.Option(None, help="samples.jsonl ({task_id, completion} per line)")
SELF_TESTS = typer.Option(None, "--self-tests", help="self_tests.jsonl ({task_id, tests})")
POOL = typer.Option(None, help="a pool id in the cache, or a directory with samples.jsonl")
K = typer.Option(None, "--k", help="candidates per problem to choose from (default: the pool's n)")
REPEATS = typer.Option(
    None, help="k-subsets drawn per problem (default 60; all of them when there are fewer)"
)
SPLIT = typer.Option("all", help="all, dev or holdout")
SEED = typer.Option(None, help="seed of the subsets and the bootstrap (default 0)")
CONFIG = typer.Option(None, "--config", help="run config TOML (budget, timeouts, sandbox)")
JSON = typer.Option(False, "--json", help="one JSON object on stdout")
SCORER = typer.Option(
    None,
    "--scorer",
    help="experiments/scorer.toml: how the run config's [scorer] asks (template, method, label)",
)


def _eval_inputs(
    suite: str,
    samples: Path | None,
    self_tests: Path | None,
    pool: str | None,
    selector: Path | None,
    split: str,
    labels: Path | None,
    k: int | None,
    repeats: int | None,
    seed: int | None,
    config: Path | None,
    scorer: Path | None = None,
) -> tuple[EvalSpec, RunConfig]:
    spec = EvalSpec(
        suite=suite,
        samples=samples,
        self_tests=self_tests,
        pool=pool,
        selector=selector,
        split=split,
        labels_out=labels,
    )
    run_config = load_config(config).with_eval(k=k, repeats=repeats, seed=seed)
    if scorer is not None:
        run_config = with_scorer_overrides(run_config, scorer)
    return spec, run_config


@app.command("eval")
@user_errors
def eval_command(
    suite: str = SUITE,
    samples: Path | None = SAMPLES,
    self_tests: Path | None = SELF_TESTS,
    pool: str | None = POOL,
    selector: Path | None = typer.Option(
        None, help="a selector file to evaluate beside the baselines"
    ),
    k: int | None = K,
    repeats: int | None = REPEATS,
    split: str = SPLIT,
    seed: int | None = SEED,
    labels: Path | None = typer.Option(
        None, help="write each candidate's hidden-test outcome (JSONL)"
    ),
    config: Path | None = CONFIG,
    scorer: Path | None = SCORER,
    as_json: bool = JSON,
) -> None:
    """Evaluate a pool beside every baseline.

    pass@1, pass@k and every arm's sel@k with 95% intervals; with --selector, its checks."""
    spec, run_config = _eval_inputs(
        suite, samples, self_tests, pool, selector, split, labels, k, repeats, seed, config, scorer
    )
    emit(run_eval(spec, run_config, quiet=as_json), as_json)


@app.command("check")
@user_errors
def check_command(
    selector: Path = typer.Option(default_selector(), help="the selector file to check"),
    suite: str = SUITE,
    samples: Path | None = SAMPLES,
    self_tests: Path | None = SELF_TESTS,
    pool: str | None = POOL,
    k: int | None = K,
    repeats: int | None = REPEATS,
    split: str = SPLIT,
    seed: int | None = SEED,
    config: Path | None = CONFIG,
    scorer: Path | None = SCORER,
    as_json: bool = JSON,
) -> None:
    """Run every rigid check on a selector.

    Exit status 1 when any fails."""
    spec, run_config = _eval_inputs(
        suite, samples, self_tests, pool, selector, split, None, k, repeats, seed, config, scorer
    )
    result = run_eval(spec, run_config, quiet=as_json)
    emit(result, as_json)
    raise typer.Exit(check_exit(result))


LEDGER = typer.Option(
    None,
    "--ledger",
    help="the ledger: a file or a postgresql:// URL (default: $WINNOW_LEDGER, else "
    "$WINNOW_HOME/ledger.sqlite)",
)


@app.command("run")
@user_errors
def run_command(
    tag: str = typer.Option(..., help="names the run and its branch winnow/<tag>"),
    max_experiments: int | None = typer.Option(None, help="stop after this many experiments"),
    max_hours: float | None = typer.Option(None, help="stop after this many hours"),
    max_cost: float | None = typer.Option(None, help="stop when LLM spend reaches this (USD)"),
    max_failures: int = typer.Option(5, help="stop after this many crashed/invalid in a row"),
    proposer: str | None = typer.Option(
        None, help="llm or search (default: llm if a model is set)"
    ),
    model: str | None = typer.Option(None, help="litellm model for the LLM proposer"),
    api_base: str | None = typer.Option(None, help="OpenAI-compatible server for the proposer"),
    suite: str = SUITE,
    pool: str | None = typer.Option(None, help="replay this pool instead of sampling"),
    config: Path | None = CONFIG,
    sweep_ks: str | None = typer.Option(
        None, "--sweep-ks", help="when finished, sweep the best selector over these ks (1,4,16)"
    ),
    ledger: str | None = LEDGER,
) -> None:
    """Run the research loop on branch winnow/<tag>.

    Run the same command again to resume."""
    spec = RunSpec(
        tag=tag,
        suite=suite,
        pool=pool,
        max_experiments=max_experiments,
        max_hours=max_hours,
        max_cost=max_cost,
        max_failures=max_failures,
        sweep_ks=parse_ks(sweep_ks, "--sweep-ks") if sweep_ks else (),
    )
    summary = run_loop(spec, config, proposer, model, api_base, Path.cwd(), ledger_location(ledger))
    raise typer.Exit(0 if summary.status in ("finished", "stopped") else 1)


# -- winnow log / winnow report --------------------------------------------------------------------

RUN_TAG = typer.Option(None, "--run", help="the run's tag (default: the latest run)")


@app.command("log")
@user_errors
def log_command(
    run: str | None = RUN_TAG,
    status: str | None = typer.Option(
        None, "--status", help="only this status: kept, discarded, crashed, invalid, ... stale"
    ),
    ledger: str | None = LEDGER,
    as_json: bool = JSON,
    as_tsv: bool = typer.Option(
        False, "--tsv", help="one tab-separated row per experiment, with a header (for pandas)"
    ),
) -> None:
    """One line per experiment of a run.

    Commit, status and why, dev sel@k and its change, holdout, cost."""
    show_log(ledger_location(ledger), run, status, as_json, as_tsv)


@app.command("report")
@user_errors
def report_command(
    run: list[str] = typer.Option(
        [], "--run", help="the run's tag (default: the latest); repeated: the runs side by side"
    ),
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained page"),
    ledger: str | None = LEDGER,
    as_json: bool = JSON,
) -> None:
    """The morning review of a run.

    The verdict, progress, experiments, cost, where selection loses."""
    if len(run) > 1:
        show_runs(ledger_location(ledger), run, html, as_json)
    else:
        show_report(ledger_location(ledger), run[0] if run else None, html, as_json)


# -- winnow sample -------------------------------------------------------------------------------


@app.command("sample")
@user_errors
def sample_command(
    suite: str = SUITE,
    config: Path = typer.Option(
        Path("experiments") / "sampling.toml",
        "--config",
        help="the sampling config TOML: how the model is sampled",
    ),
    run_config: Path | None = typer.Option(
        None,
        "--run-config",
        help="the run config TOML (what `winnow run --config` takes): its [sampler] is the "
        "model, server and key (default: the simulated backend)",
    ),
    limit: int | None = typer.Option(None, help="sample only the first N problems"),
    as_json: bool = JSON,
) -> None:
    """Sample a pool (and its self-tests) into the cache.

    Prints the pool's id; the same suite, model and sampling config again reuse the cached
    pool."""
    try:
        result = run_sample(suite, config, run_config, limit, quiet=as_json)
    except SamplingError as exc:
        print(f"winnow: error: sampling failed: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    emit_sample(result, as_json)


# -- winnow sweep ----------------------------------------------------------------------------------


@app.command("sweep")
@user_errors
def sweep_command(
    pool: list[str] = typer.Option(
        ...,
        "--pool",
        help="NAME=SPEC, repeated: SPEC a pool id, a directory with samples.jsonl, or "
        "sample:PATH (sample from that sampling config, with --config's [sampler])",
    ),
    ks: str = typer.Option(",".join(map(str, DEFAULT_KS)), "--ks", help="the ks, comma-separated"),
    selector: Path | None = typer.Option(
        None, help="a selector to sweep beside the baselines (checked at each pool's largest k)"
    ),
    params: list[str] = typer.Option(
        [], "--params", help="NAME=COUNT: a pool's model parameter count (for FLOPs), e.g. 16e9"
    ),
    suite: str = SUITE,
    split: str = SPLIT,
    repeats: int | None = REPEATS,
    seed: int | None = SEED,
    forecast_to: int | None = typer.Option(
        None, "--forecast-to", help="forecast pass@k up to this k (default: 10 x the largest k)"
    ),
    config: Path | None = CONFIG,
    html: Path | None = typer.Option(None, "--html", help="also write a self-contained page"),
    as_json: bool = JSON,
) -> None:
    """Every arm's sel@k against k and compute, per pool.

    pass@k and every arm's sel@k against k and compute, per pool; crossings; a forecast."""
    spec = SweepSpec(
        pools=parse_pools(pool, params),
        ks=parse_ks(ks),
        suite=suite,
        selector=selector,
        split=split,
        forecast_to=forecast_to,
    )
    if html is not None:
        check_sweep_target(html)
    run_config = load_config(config).with_eval(repeats=repeats, seed=seed)
    try:
        result = run_sweep_shown(spec, run_config, as_json)
    except SamplingError as exc:  # a sample:PATH pool whose backend failed
        print(f"winnow: error: sampling failed: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    emit_sweep(result, as_json)  # first: a page that fails to write loses nothing shown
    if html is not None:
        write_sweep_html(result, html)
