"""``winnow eval`` and ``winnow check``: run an evaluation and show it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from agent.commands.console import make_console
from harness.config import RunConfig
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.results import ArmResult, Calibration, EvalResult, ScorerSummary


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing one bar per stage on stderr; None when ``quiet`` or when
    stderr is not a terminal."""
    console = make_console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield progress


def run_eval(spec: EvalSpec, config: RunConfig, quiet: bool) -> EvalResult:
    """Evaluate with a progress display on stderr (none when ``quiet``)."""
    with Session(config) as session, progress_bars(quiet) as progress:
        return evaluate(spec, session, progress)


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_gap(arm: ArmResult) -> str:
    """The gap closed with its 95% interval: ``38% [30%, 46%]``; ``—`` without a gap."""
    if arm.gap_closed is None:
        return "—"
    if arm.gap_ci_low is None or arm.gap_ci_high is None:
        return f"{arm.gap_closed:.0%}"
    return f"{arm.gap_closed:.0%} [{arm.gap_ci_low:.0%}, {arm.gap_ci_high:.0%}]"


def render(result: EvalResult, console: Console) -> None:
    label = " (SIMULATED)" if result.simulated else ""
    console.print(
        f"[bold]{result.suite}[/] pool {result.pool}{label}, split {result.split}: "
        f"{result.problems} problems, n={result.n}, k={result.k}, {result.repeats} subsets each; "
        f"sandbox {result.sandbox}"
    )
    console.print(
        f"pass@1 {fmt(result.pass_at_1)}   pass@{result.k} {fmt(result.pass_at_k)} (oracle)"
    )
    table = Table(show_header=True, header_style="bold")
    columns = ["arm", f"sel@{result.k}", "95% CI", "gap closed", "vs random", "exec/subset"]
    scored = result.scorer is not None
    for column in columns + (["rm calls/subset"] if scored else []):
        if column == "arm":  # names in full: they are what a reader greps for
            table.add_column(column, min_width=max(map(len, result.arms)), no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for name, arm in result.arms.items():
        ci = "—" if arm.ci_low is None else f"[{arm.ci_low:.3f}, {arm.ci_high:.3f}]"
        diff = "—" if arm.diff_vs_random is None else f"{arm.diff_vs_random:+.3f}"
        row = [name, fmt(arm.sel_at_k), ci, fmt_gap(arm), diff, f"{arm.compute.executions:.0f}"]
        table.add_row(*row, *([f"{arm.compute.reward_calls:.0f}"] if scored else []))
    console.print(table)
    if result.scorer is not None:
        render_scorer(result.scorer, console)
    if result.calibration is not None:
        render_calibration(result.calibration, console)
    for check in result.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {check.name}: {check.detail}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    verdict = "[green]valid[/]" if result.valid else f"[red]INVALID[/]: {result.reason}"
    console.print(
        f"{verdict}   executions {result.executions}, cache hits {result.cache_hits}, "
        f"{result.elapsed_s:.1f} s"
    )


def render_scorer(scorer: ScorerSummary, console: Console) -> None:
    """One line: what the reward model or judge did, and what it cost."""
    methods = ", ".join(f"{m} {n}" for m, n in sorted(scorer.methods.items())) or "none"
    cost = "cost unknown" if scorer.cost_usd is None else f"${scorer.cost_usd:.4f}"
    console.print(
        f"scorer: {scorer.kind} {scorer.model} ({scorer.how}, key {scorer.key}): "
        f"{scorer.scores} scored ({methods}), {scorer.cached} from cache, {scorer.failed} "
        f"failed; {scorer.requests} requests ({scorer.failed_requests} failed), "
        f"{scorer.prompt_tokens} + {scorer.completion_tokens} tokens, {cost}"
    )
    for error in scorer.errors:
        console.print(f"  [red]scorer error:[/] {error}")


def render_calibration(cal: Calibration, console: Console) -> None:
    """The calibration view: per problem with both correct and wrong candidates, and overall."""
    if cal.status != "ok":
        console.print(f"[red]calibration unavailable:[/] {cal.reason}")
        return
    table = Table(
        title="reward calibration (problems with correct and wrong candidates)",
        show_header=True,
        header_style="bold",
    )
    for column in (
        "problem",
        "n",
        "correct",
        "mean correct",
        "mean wrong",
        "AUC",
        "argmax",
        "random",
    ):
        if column == "problem":
            width = max((len(p.task_id) for p in cal.problems), default=7)
            table.add_column(column, min_width=width, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for p in cal.problems:
        if p.auc is not None:
            table.add_row(
                p.task_id,
                str(p.n),
                str(p.correct),
                fmt(p.mean_correct),
                fmt(p.mean_wrong),
                fmt(p.auc),
                fmt(p.argmax_correct),
                fmt(p.random),
            )
    console.print(table)
    auc = "—" if cal.auc is None else f"{cal.auc:.3f} [{cal.auc_low:.3f}, {cal.auc_high:.3f}]"
    console.print(
        f"calibration: mean score correct {fmt(cal.mean_correct)} vs wrong "
        f"{fmt(cal.mean_wrong)}; AUC {auc} (pooled {fmt(cal.auc_pooled)}); correct higher on "
        f"{cal.correct_higher}/{cal.mixed_problems} mixed problems; argmax correct "
        f"{fmt(cal.argmax_correct)} vs random {fmt(cal.random)}"
    )
    console.print(f"reading: {cal.reading}")


def emit(result: EvalResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render(result, make_console())


def check_exit(result: EvalResult) -> int:
    return 0 if result.valid else 1


def default_selector() -> Path:
    return Path("experiments") / "selector.py"
