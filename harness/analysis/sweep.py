"""The sweep: how pass@k and every arm's sel@k grow with k, per pool, and what each point costs.

For each pool (replayed from the cache or a directory, or sampled from a sampling config) the
pool is judged once (``Session.scored``: labels and the self-test matrix, cached), then for
each k the paired subsets are redrawn exactly as ``winnow eval --k K`` draws them
(``harness.judge.design``) and every arm is run and summarised by the judge's own functions,
so each point *is* the evaluation at that k and seed. A selector runs sandboxed; its rigid
checks run once per pool, at the pool's largest k.

Beside the points: the pool's pass@1 with its interval, the power-law forecast of pass@k past
the largest k sampled (``harness/analysis/forecast.py``, labelled a forecast), and, for every
pair of pools where one has the higher pass@1, where the weaker pool's curves reach it
(``harness/analysis/crossing.py``). Rendering lives in ``agent/``; this module returns data.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from harness.analysis.costs import PointCost, PoolCost, point_cost, pool_cost
from harness.analysis.crossing import Crossing, Curves, find_crossings
from harness.analysis.forecast import PassForecast, forecast_pass
from harness.config import RunConfig
from harness.data.pools import load_pool
from harness.errors import InputError
from harness.execution.selector import SelectorFailure, SelectorProcess
from harness.judge.aggregate import arm_results, design_pass_rates
from harness.judge.design import Design, design
from harness.judge.evaluate import assemble, baseline_runs, judge_selector, pool_warnings
from harness.judge.integrity import harness_hash, harness_info
from harness.judge.metrics import bootstrap_indices, interval, pass_rates
from harness.judge.runners import ArmRun, failed, run_selector
from harness.judge.session import EvalSpec, Session
from harness.results import ArmResult, CheckResult, EvalResult, HarnessInfo

DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64, 100)
FORECAST_FACTOR = 10  # by default the forecast runs to this many times the largest k sampled
SAMPLE_PREFIX = "sample:"  # --pool NAME=sample:PATH samples a pool from a sampling config
NOT_RUN = "not run: the selector failed at the checked k"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PoolSpec:
    """One ``--pool NAME=SPEC``: a cache pool id or a directory, or ``sample:PATH``."""

    name: str
    source: str
    params: float | None = None  # from ``--params NAME=N``: the model's parameter count


@dataclass(frozen=True)
class SweepSpec:
    pools: tuple[PoolSpec, ...]
    ks: tuple[int, ...] = DEFAULT_KS
    suite: str = "humaneval"
    selector: Path | None = None
    split: str = "all"
    forecast_to: int | None = None  # default: FORECAST_FACTOR x the largest k sampled


@dataclass
class SweepPoint:
    """One pool at one k: exactly ``winnow eval --k K`` on that pool (same seed and repeats)."""

    k: int
    repeats: int
    pass_at_k: float
    pass_low: float  # 95% bootstrap interval over problems
    pass_high: float
    arms: dict[str, ArmResult]  # as EvalResult.arms: sel@k, interval, gap closed, compute
    costs: dict[str, PointCost]  # per arm, and "pass@k" for the samples alone
    failures: dict[str, str] = field(default_factory=dict)  # arm -> why it has no number


@dataclass
class PoolSweep:
    name: str
    pool: str  # the pool id
    source: str
    simulated: bool
    backend: str | None
    model: str | None
    problems: int
    n: int  # the smallest number of samples of a problem
    pass_at_1: float
    pass1_low: float
    pass1_high: float
    cost: PoolCost
    points: list[SweepPoint]
    skipped_ks: list[int]  # ks larger than the pool's n
    forecast: PassForecast | None
    forecast_note: str = ""  # why there is no forecast
    selector: SelectorVerdict | None = None  # None: no selector


@dataclass
class SelectorVerdict:
    """The selector's rigid checks on one pool (run at its largest k) and failures elsewhere."""

    valid: bool
    reason: str
    checked_k: int
    checks: list[CheckResult]


@dataclass
class SweepResult:
    suite: str
    split: str
    seed: int
    repeats: int
    ks: list[int]
    selector: str | None
    pools: list[PoolSweep]
    crossings: list[Crossing]
    status: str  # ok | invalid (the selector failed a check on some pool)
    reason: str
    warnings: list[str]
    sandbox: str
    harness: HarnessInfo
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        """The ``winnow sweep --json`` object (pydantic serialises the nested results)."""
        data: dict[str, Any] = TypeAdapter(SweepResult).dump_python(self, mode="json")
        return data

    def pool(self, name: str) -> PoolSweep:
        return next(p for p in self.pools if p.name == name)


# -- the command line's values ---------------------------------------------------------------


def parse_pools(values: list[str], params: list[str]) -> tuple[PoolSpec, ...]:
    """``--pool NAME=SPEC`` (repeated) and ``--params NAME=COUNT`` into pool specs."""
    if not values:
        raise InputError("give at least one --pool NAME=SPEC")
    pools: dict[str, PoolSpec] = {}
    for value in values:
        name, _, source = value.partition("=")
        if not source or not NAME.fullmatch(name):
            raise InputError(
                f"--pool {value!r}: expected NAME=SPEC (a pool id, a directory or "
                "sample:PATH); NAME of letters, digits, '_', '.' or '-'"
            )
        if name in pools:
            raise InputError(f"--pool {value!r}: the name {name!r} is given twice")
        if source.startswith(SAMPLE_PREFIX) and not Path(source[len(SAMPLE_PREFIX) :]).is_file():
            raise InputError(f"--pool {value!r}: no such sampling config")
        pools[name] = PoolSpec(name, source)
    for value in params:
        name, _, count = value.partition("=")
        if name not in pools:
            raise InputError(f"--params {value!r}: no --pool is named {name!r}")
        try:
            number = float(count)
        except ValueError:
            number = -1.0
        if not np.isfinite(number) or number <= 0:
            raise InputError(f"--params {value!r}: expected NAME=COUNT, a positive number (16e9)")
        pools[name] = replace(pools[name], params=number)
    return tuple(pools.values())


def parse_ks(text: str, option: str = "--ks") -> tuple[int, ...]:
    """``--ks 1,2,4``: positive integers, returned sorted without repeats."""
    try:
        ks = [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(
            f"{option} {text!r}: expected positive integers separated by commas"
        ) from None
    if min(ks) < 1:
        raise InputError(f"{option} {text!r}: every k must be at least 1")
    return tuple(sorted(set(ks)))


# -- the sweep ---------------------------------------------------------------------------------


def run_sweep(spec: SweepSpec, config: RunConfig, progress: Progress | None = None) -> SweepResult:
    """Sweep every pool over the ks, with every baseline arm and the selector if given."""
    started = time.monotonic()
    if spec.selector is not None and not spec.selector.is_file():
        raise InputError("no such selector file", spec.selector)
    if spec.forecast_to is not None and spec.forecast_to < max(spec.ks):
        raise InputError(f"--forecast-to {spec.forecast_to} is below the largest k {max(spec.ks)}")
    # The session checks the configured k against every pool; k = 1 fits any pool, and each
    # point draws its own subsets (harness.judge.design).
    config = config.with_eval(k=1)
    pools: list[PoolSweep] = []
    curves: dict[str, Curves] = {}
    warnings: list[str] = []
    with Session(config) as session:
        # Every pool found (or sampled) before any is swept: a bad --pool fails first.
        sources = [
            _pool_source(p, spec.suite, session, _named(progress, p.name)) for p in spec.pools
        ]
        for pool_spec, source in zip(spec.pools, sources, strict=True):
            swept, curve = _sweep_pool(
                pool_spec, source, spec, session, started, warnings, progress
            )
            pools.append(swept)
            curves[swept.name] = curve
        sandbox = session.executor.level
    crossings = find_crossings(curves, config.eval.seed)
    invalid = [p for p in pools if p.selector is not None and not p.selector.valid]
    reason = "; ".join(f"pool {p.name}: {p.selector.reason}" for p in invalid if p.selector)
    return SweepResult(
        suite=spec.suite,
        split=spec.split,
        seed=config.eval.seed,
        repeats=config.eval.repeats,
        ks=list(spec.ks),
        selector=str(spec.selector) if spec.selector is not None else None,
        pools=pools,
        crossings=crossings,
        status="invalid" if invalid else "ok",
        reason=reason,
        warnings=list(dict.fromkeys(warnings)),
        sandbox=sandbox,
        harness=harness_info(),
        elapsed_s=time.monotonic() - started,
    )


def _sweep_pool(
    pool_spec: PoolSpec,
    source: str,
    spec: SweepSpec,
    session: Session,
    started: float,
    warnings: list[str],
    progress: Progress | None,
) -> tuple[PoolSweep, Curves]:
    named = _named(progress, pool_spec.name)
    eval_spec = EvalSpec(suite=spec.suite, pool=source, split=spec.split)
    scored = session.scored(eval_spec, named)
    problems = scored.problems
    n_min = min(p.n for p in problems)
    ks = [k for k in spec.ks if k <= n_min] or [1]
    correct = np.array([int(p.correct.sum()) for p in problems])
    sizes = np.array([p.n for p in problems])
    cost = pool_cost(scored.pool, [p.task_id for p in problems], pool_spec.params)
    repeats, seed = session.config.eval.repeats, session.config.eval.seed
    selector = spec.selector if max(ks) > 1 else None
    if spec.selector is not None and selector is None:
        warnings.append(f"pool {pool_spec.name}: the selector was not run (k = 1 only: one "
                        "candidate per problem, nothing to select)")  # fmt: skip
    points: dict[int, SweepPoint] = {}
    values: dict[str, list[np.ndarray]] = {}
    checked: EvalResult | None = None
    process: SelectorProcess | str = NOT_RUN
    try:
        for done, k in enumerate(sorted(ks, reverse=True)):  # the largest first: its checks
            if named:
                named("points (largest k first)", done, len(ks))
            at_k = design(scored, k, repeats, seed, source)
            runs = baseline_runs(at_k, session)
            if selector is not None and checked is None:
                runs["selector"], found = judge_selector(at_k, runs, selector, session, named)
                checked = assemble(at_k, runs, found, session, started, harness_hash())
                warnings += checked.warnings
                process = _start(selector, session, checked)
            else:
                if selector is not None:
                    runs["selector"] = _run_selector(at_k, process, session)
                warnings += pool_warnings(at_k, session)
            points[k] = _point(at_k, runs, cost, correct, sizes)
            for name, run in runs.items():
                values.setdefault(name, []).append(run.values)
    finally:
        if isinstance(process, SelectorProcess):
            process.close()
    order = sorted(points)
    pass1 = interval(pass_rates(correct, sizes, 1)[0], bootstrap_indices(len(correct), seed))
    forecast, note = _forecast(correct, sizes, order, spec.forecast_to, seed)
    swept = PoolSweep(
        name=pool_spec.name,
        pool=scored.pool.id,
        source=pool_spec.source,
        simulated=scored.pool.simulated,
        backend=scored.pool.meta.get("backend"),
        model=scored.pool.meta.get("model"),
        problems=len(problems),
        n=n_min,
        pass_at_1=pass1.estimate,
        pass1_low=pass1.low,
        pass1_high=pass1.high,
        cost=cost,
        points=[points[k] for k in order],
        skipped_ks=[k for k in spec.ks if k > n_min],
        forecast=forecast,
        forecast_note=note,
        selector=None if checked is None else _verdict(checked, points),
    )
    if swept.skipped_ks:
        skipped = ", ".join(map(str, swept.skipped_ks))
        warnings.append(f"pool {swept.name} has {n_min} samples per problem: k = {skipped} skipped")
    rank = {k: i for i, k in enumerate(sorted(ks, reverse=True))}
    measured = {
        name: np.stack([per_k[rank[k]] for k in order])
        for name, per_k in values.items()
        if all(len(v) == len(problems) for v in per_k)  # an arm that failed has no curve
    }
    measured["pass@k"] = np.array([pass_rates(correct, sizes, k)[1] for k in order])
    curves = Curves([p.task_id for p in problems], order, measured, correct / sizes)
    return swept, curves


def _pool_source(
    pool_spec: PoolSpec, suite: str, session: Session, progress: Progress | None
) -> str:
    """What the session will judge: the spec, once loaded here to check it, or the id of the
    pool sampled for it."""
    if not pool_spec.source.startswith(SAMPLE_PREFIX):
        load_pool(pool_spec.source, session.suite(suite), session.cache_path)  # raises InputError
        return pool_spec.source
    # Imported here: the sampling backends pull in templates and, for real models, litellm.
    from harness.sampling import SamplingSpec, load_sampling_config, sample_pool

    config = load_sampling_config(Path(pool_spec.source[len(SAMPLE_PREFIX) :]))
    spec = SamplingSpec(config, session.config.sampler)  # the model: the run config's [sampler]
    sampled = sample_pool(
        session.suite(suite), spec, limit=None, cache=session.cache_path,
        sandbox=session.sandbox, progress=progress,
    )  # fmt: skip
    return sampled.pool.id


def _start(path: Path, session: Session, checked: EvalResult) -> SelectorProcess | str:
    """A selector process for the points after the checked one, or why there is none."""
    if checked.arms["selector"].sel_at_k is None:
        return NOT_RUN  # it failed at the checked k: the reason is in its checks
    config = session.config
    try:
        return SelectorProcess(
            path.read_text(), path.name, config.sandbox, session.sandbox.level,
            config.exec.select_timeout,
        )  # fmt: skip
    except SelectorFailure as exc:  # it loaded for the checks: a failure now is a failure
        return f"the selector did not load again: {exc}"


def _run_selector(at_k: Design, process: SelectorProcess | str, session: Session) -> ArmRun:
    if isinstance(process, str):
        return failed(process)
    return run_selector(at_k, process, session.config.budget, session.run_tests)


def _point(
    at_k: Design,
    runs: dict[str, ArmRun],
    cost: PoolCost,
    correct: np.ndarray,
    sizes: np.ndarray,
) -> SweepPoint:
    """One k: exactly what ``winnow eval --k K`` reports for every arm, and what it cost."""
    k = at_k.k
    per_problem = pass_rates(correct, sizes, k)[1]
    ci = interval(per_problem, bootstrap_indices(len(per_problem), at_k.seed))
    arms = arm_results(at_k, runs)
    costs = {"pass@k": point_cost(cost, k, None)}
    costs |= {name: point_cost(cost, k, arm.compute) for name, arm in arms.items()}
    return SweepPoint(
        k=k,
        repeats=at_k.repeats,
        pass_at_k=design_pass_rates(at_k)[1],
        pass_low=ci.low,
        pass_high=ci.high,
        arms=arms,
        costs=costs,
        failures={name: run.failure for name, run in runs.items() if run.failure is not None},
    )


def _forecast(
    correct: np.ndarray, sizes: np.ndarray, ks: list[int], horizon: int | None, seed: int
) -> tuple[PassForecast | None, str]:
    if sizes.min() < 2:
        return None, "one sample per problem: no spread of pass@1 to fit"
    return forecast_pass(correct, sizes, ks, horizon or FORECAST_FACTOR * max(ks), seed), ""


def _verdict(checked: EvalResult, points: dict[int, SweepPoint]) -> SelectorVerdict:
    """The checks at the largest k, and a failure to run at any other k."""
    reasons = [checked.reason] if not checked.valid else []
    for k, point in sorted(points.items()):
        if point.failures.get("selector") not in (None, NOT_RUN):
            reasons.append(f"selector_runs at k={k}: {point.failures['selector']}")
    return SelectorVerdict(not reasons, "; ".join(reasons), checked.k, checked.checks)


def _named(progress: Progress | None, name: str) -> Progress | None:
    if progress is None:
        return None
    return lambda stage, done, total: progress(f"{name}: {stage}", done, total)
