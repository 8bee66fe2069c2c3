"""One evaluation: a pool on a suite split, every baseline arm, and optionally a selector.

Steps: load the suite and the pool; judge every candidate on the hidden tests (sandboxed,
cached); run every candidate on every distinct self-test (sandboxed, cached); draw the paired
k-subsets; score every arm on every subset; aggregate with bootstrap intervals; run the rigid
checks on the selector (``harness/judge/checks.py``). The hidden labels never leave this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from harness.api import Candidate
from harness.config import RunConfig
from harness.data.jsonl import write_jsonl
from harness.data.pools import Pool, Sample, import_pool, load_pool
from harness.data.suites import Suite, Task, load_suite
from harness.errors import InputError
from harness.execution.cache import ExecCache
from harness.execution.executor import Executor
from harness.execution.sandbox import Sandbox
from harness.execution.selector import SelectorFailure, SelectorProcess
from harness.home import cache_dir
from harness.judge.arms import ProblemSignals, baseline_arms, reward_arms
from harness.judge.integrity import harness_info
from harness.judge.metrics import (
    bootstrap_indices,
    draw_subsets,
    gap_closed,
    interval,
    pass_at_k,
    pick_value,
    tied_set,
)
from harness.judge.probe import Meter, ProblemProbe
from harness.results import ArmResult, Calibration, Compute, EvalResult, ProblemPick
from harness.reward.calibration import calibrate
from harness.reward.scorer import (
    ProblemRewards,
    Scorer,
    attach_rewards,
    reward_server,
    summarize_scorer,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class EvalSpec:
    """What to evaluate: a serialisable recipe (the budget and limits are in RunConfig)."""

    suite: str = "humaneval"
    samples: Path | None = None  # samples.jsonl to import ...
    self_tests: Path | None = None
    pool: str | None = None  # ... or a pool id in the cache, or a directory
    selector: Path | None = None
    split: str = "all"
    labels_out: Path | None = None


@dataclass
class ProblemData:
    task: Task
    samples: list[Sample]
    candidates: list[Candidate]
    statuses: list[str]
    signals: ProblemSignals
    tests: list[str]  # distinct self-tests, in order of first appearance
    raw_tests: list[str]  # as generated, duplicates kept
    test_column: dict[str, int]
    subsets: np.ndarray  # (R, k) sample indices
    reward: ProblemRewards | None = None  # None when no scorer is configured


@dataclass
class Prepared:
    suite: Suite
    pool: Pool
    problems: list[ProblemData]
    k: int
    repeats: int
    seed: int
    split: str
    problems_in_suite: int


class Session:
    """The sandbox, the caches, the executor and the scorer, shared by evaluations in a process.

    ``scorer.calls`` holds the scorer's requests until an evaluation takes them into its result.
    """

    def __init__(self, config: RunConfig, cache: Path | None = None):
        self.config = config
        self.cache_path = cache or cache_dir()
        self.sandbox = Sandbox(config.sandbox)
        self.cache = ExecCache(self.cache_path / "exec.sqlite")
        self.executor = Executor(self.sandbox, self.cache, config.exec.settings())
        self.scorer = Scorer(config.scorer, self.cache_path) if config.scorer else None

    def configure(self, config: RunConfig) -> None:
        """Use ``config`` from now on; a changed scorer is rebuilt (same sandbox and caches).

        The sandbox and the execution settings belong to the session: a config that changes
        them needs a new session."""
        if (config.sandbox, config.exec) != (self.config.sandbox, self.config.exec):
            raise ValueError("a session's sandbox and execution settings cannot change")
        if config.scorer != self.config.scorer:
            if self.scorer is not None:
                self.scorer.close()
            self.scorer = Scorer(config.scorer, self.cache_path) if config.scorer else None
        self.config = config

    def run_tests(self, program: str, tests: list[str]) -> list[bool]:
        return [o.passed for o in self.executor.self_test([(program, tests)])[0]]

    def close(self) -> None:
        self.sandbox.close()
        self.cache.close()
        if self.scorer is not None:
            self.scorer.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_inputs(spec: EvalSpec, session: Session) -> tuple[Suite, Pool]:
    suite = load_suite(spec.suite)
    if spec.pool is not None:
        return suite, load_pool(spec.pool, suite, session.cache_path)
    if spec.samples is None:
        raise InputError("give --samples (a samples.jsonl) or --pool (a pool id or directory)")
    pool = import_pool(spec.samples, suite, spec.self_tests, cache=session.cache_path)
    return suite, pool


def prepare(spec: EvalSpec, session: Session, progress: Progress | None = None) -> Prepared:
    """Load, label and self-test everything the arms will need (all of it cached)."""
    config = session.config
    # The command line's --k, --repeats and --seed reach here without the config file's checks.
    if config.eval.k is not None and config.eval.k < 1:
        raise InputError(f"k={config.eval.k}: k must be at least 1")
    if config.eval.repeats < 1:
        raise InputError(f"repeats={config.eval.repeats}: repeats must be at least 1")
    if config.eval.seed < 0:
        raise InputError(f"seed={config.eval.seed}: the seed must not be negative")
    if spec.split not in ("all", "dev", "holdout"):
        raise InputError(f"unknown split {spec.split!r} (all, dev or holdout)")
    suite, pool = load_inputs(spec, session)
    where = spec.samples or spec.pool
    tasks = [t for t in suite.select(spec.split) if t.task_id in pool.samples]  # type: ignore[arg-type]
    if not tasks:
        raise InputError(f"the pool has no problems in the {spec.split} split", where)
    k = config.eval.k or min(len(pool.samples[t.task_id]) for t in tasks)
    for task in tasks:
        n = len(pool.samples[task.task_id])
        if k > n:
            raise InputError(f"k={k} is larger than the pool: {task.task_id} has {n}", where)

    programs = [
        task.hidden_program(s.completion) for task in tasks for s in pool.samples[task.task_id]
    ]
    tick = _ticker(progress, "hidden tests", len(programs))
    labels = session.executor.label(programs, tick)

    requests: list[tuple[str, list[str]]] = []
    distinct: dict[str, list[str]] = {}
    for task in tasks:
        raw = (pool.self_tests or {}).get(task.task_id, [])
        distinct[task.task_id] = list(dict.fromkeys(raw))
        for sample in pool.samples[task.task_id]:
            requests.append((task.prompt + sample.completion, distinct[task.task_id]))
    tick = _ticker(progress, "self-tests", sum(len(t) for _, t in requests))
    matrix = session.executor.self_test(requests, tick)

    problems, row, start = [], 0, 0
    for task in tasks:
        samples = pool.samples[task.task_id]
        n = len(samples)
        outcomes = labels[start : start + n]
        start += n
        tests = distinct[task.task_id]
        raw = (pool.self_tests or {}).get(task.task_id, [])
        passes = np.zeros((n, len(tests)), dtype=bool)
        for i in range(n):
            passes[i] = [o.passed for o in matrix[row + i]]
        row += n
        weights = np.array([raw.count(t) for t in tests], dtype=float)
        logprobs = None
        if all(s.logprob_mean is not None for s in samples):
            logprobs = np.array([s.logprob_mean for s in samples], dtype=float)
        signals = ProblemSignals(
            correct=np.array([o.passed for o in outcomes]),
            passes=passes,
            weights=weights,
            logprobs=logprobs,
        )
        problems.append(
            ProblemData(
                task=task,
                samples=samples,
                candidates=pool.candidates(task.task_id, task.prompt),
                statuses=[o.status for o in outcomes],
                signals=signals,
                tests=tests,
                raw_tests=list(raw),
                test_column={t: j for j, t in enumerate(tests)},
                subsets=draw_subsets(n, k, config.eval.repeats, config.eval.seed, task.task_id),
            )
        )
    if session.scorer is not None:
        total = sum(len(p.candidates) for p in problems)
        attach_rewards(problems, session.scorer, _ticker(progress, "reward scores", total))
    return Prepared(
        suite=suite,
        pool=pool,
        problems=problems,
        k=k,
        repeats=max(len(p.subsets) for p in problems),  # one where a problem has just k
        seed=config.eval.seed,
        split=spec.split,
        problems_in_suite=len(suite.select(spec.split)),  # type: ignore[arg-type]
    )


def at_k(prepared: Prepared, k: int, repeats: int) -> Prepared:
    """The same prepared problems with the paired k-subsets ``prepare`` draws at this ``k``
    (``repeats`` subsets, the same seed): labels, self-test results and scores are reused, so
    a sweep over k (``harness/analysis/sweep.py``) labels once and scores exactly like
    ``evaluate``."""
    for data in prepared.problems:
        if k > len(data.samples):
            n = len(data.samples)
            raise InputError(f"k={k} is larger than the pool: {data.task.task_id} has {n}")
    problems = [
        replace(p, subsets=draw_subsets(len(p.samples), k, repeats, prepared.seed, p.task.task_id))
        for p in prepared.problems
    ]
    return replace(prepared, problems=problems, k=k, repeats=max(len(p.subsets) for p in problems))


def _ticker(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = [0]
    progress(stage, 0, total)

    def tick(count: int) -> None:
        done[0] += count
        progress(stage, done[0], total)

    return tick


def _write_labels(path: Path, prepared: Prepared) -> None:
    """Each candidate's outcome on the hidden tests, in sample order."""
    rows = [
        {"task_id": p.task.task_id, "index": s.index, "passed": st == "passed", "status": st}
        for p in prepared.problems
        for s, st in zip(p.samples, p.statuses, strict=True)
    ]
    write_jsonl(path, rows)


@dataclass
class ArmRun:
    """An arm's per-problem values (mean over subsets), first-subset picks, and compute."""

    values: np.ndarray
    picks: list[ProblemPick]
    meters: list[Meter] = field(default_factory=list)
    failure: str | None = None
    scores: list[list[np.ndarray]] = field(default_factory=list)  # per problem, per subset


def run_arm(prepared: Prepared, name: str, arm: Callable) -> ArmRun:
    """Score a trusted, in-process arm on every subset of every problem."""
    values, picks, scores = [], [], []
    for data in prepared.problems:
        per_subset = [np.asarray(arm(data.signals, idx), dtype=float) for idx in data.subsets]
        scores.append(per_subset)
        values.append(_value(data, per_subset))
        picks.append(_pick(data, name, per_subset))
    return ArmRun(np.array(values), picks, scores=scores)


def run_selector(
    prepared: Prepared,
    process: SelectorProcess,
    session: Session,
    ablate: dict[str, dict[str, np.ndarray]] | None = None,
    shuffle_seed: int | None = None,
    first_subset_only: bool = False,
    scorer_for: Callable[[ProblemData], Callable[[int], float] | None] | None = None,
) -> ArmRun:
    """Score the sandboxed selector; a failure on any problem ends the run with its reason.

    ``ablate`` maps task id to {signal: permutation}; ``shuffle_seed`` presents each subset's
    candidates in a shuffled order (scores are mapped back to sample order); ``scorer_for``
    serves ``probe.reward`` (default: the configured scorer's scores, see harness/reward/scorer.py).
    """
    budget = session.config.budget
    scorer_for = scorer_for or reward_server
    values: list[float] = []
    picks: list[ProblemPick] = []
    meters: list[Meter] = []
    scores: list[list[np.ndarray]] = []
    for data in prepared.problems:
        meter = Meter()
        per_subset = []
        subsets = data.subsets[:1] if first_subset_only else data.subsets
        for r, idx in enumerate(subsets):
            order = np.arange(len(idx))
            if shuffle_seed is not None:
                rng = np.random.default_rng([shuffle_seed, r, len(values)])
                order = rng.permutation(len(idx))
            shown = idx[order]
            probe = ProblemProbe(
                data,
                shown,
                budget,
                meter,
                session.run_tests,
                ablate=(ablate or {}).get(data.task.task_id),
                scorer=scorer_for(data),
            )
            try:
                got = process.select(data.task.problem, [data.candidates[i] for i in shown], probe)
            except SelectorFailure as exc:
                failure = f"{data.task.task_id}: {exc}"
                return ArmRun(np.array(values), picks, meters + [meter], failure, scores)
            back = np.empty(len(idx))
            back[order] = got
            per_subset.append(back)
        scores.append(per_subset)
        meters.append(meter)
        values.append(_value(data, per_subset, len(subsets)))
        picks.append(_pick(data, "selector", per_subset))
    return ArmRun(np.array(values), picks, meters, None, scores)


def _value(data: ProblemData, per_subset: list[np.ndarray], count: int | None = None) -> float:
    subsets = data.subsets[: count or len(data.subsets)]
    correct = data.signals.correct
    return float(
        np.mean([pick_value(s, correct[idx]) for s, idx in zip(per_subset, subsets, strict=False)])
    )


def _pick(data: ProblemData, arm: str, per_subset: list[np.ndarray]) -> ProblemPick:
    idx = data.subsets[0]
    top = tied_set(per_subset[0])
    chosen = int(idx[top[0]])
    return ProblemPick(
        task_id=data.task.task_id,
        arm=arm,
        value=_value(data, per_subset, len(per_subset)),
        pick=data.samples[chosen].index,
        tied=len(top),
        correct=bool(data.signals.correct[chosen]),
    )


def summarize(
    prepared: Prepared,
    runs: dict[str, ArmRun],
    session: Session,
    started: float,
) -> EvalResult:
    """Turn arm runs into an EvalResult with pass@1, pass@k, intervals and gap closed."""
    problems = prepared.problems
    n_each = [len(p.samples) for p in problems]
    c_each = [int(p.signals.correct.sum()) for p in problems]
    pass1 = float(np.mean([c / n for c, n in zip(c_each, n_each, strict=False)]))
    passk = float(
        np.mean([pass_at_k(n, c, prepared.k) for c, n in zip(c_each, n_each, strict=False)])
    )
    resamples = bootstrap_indices(len(problems), prepared.seed)
    random_values = runs["random"].values
    arms: dict[str, ArmResult] = {}
    for name, run in runs.items():
        if run.failure is not None or len(run.values) != len(problems):
            arms[name] = ArmResult(None, None, None, None, compute=_compute(run))
            continue
        est = interval(run.values, resamples)
        diff = interval(run.values - random_values, resamples)
        arms[name] = ArmResult(
            sel_at_k=est.estimate,
            ci_low=est.low,
            ci_high=est.high,
            gap_closed=gap_closed(est.estimate, pass1, passk),
            diff_vs_random=diff.estimate,
            diff_ci_low=diff.low,
            diff_ci_high=diff.high,
            compute=_compute(run),
        )
    pool = prepared.pool
    result = EvalResult(
        suite=prepared.suite.name,
        pool=pool.id,
        simulated=pool.simulated,
        split=prepared.split,
        problems=len(problems),
        n=min(n_each),
        k=prepared.k,
        repeats=prepared.repeats,
        seed=prepared.seed,
        pass_at_1=pass1,
        pass_at_k=passk,
        arms=arms,
        executions=session.executor.executions,
        cache_hits=session.executor.cache_hits,
        sandbox=session.sandbox.level,
        elapsed_s=time.monotonic() - started,
        harness=harness_info(),
        problems_in_suite=prepared.problems_in_suite,
        picks=[p for run in runs.values() for p in run.picks],
        budget={
            "executions_per_candidate": session.config.budget.executions_per_candidate,
            "reward_calls_per_candidate": session.config.budget.reward_calls_per_candidate,
            "generated_tokens": session.config.budget.generated_tokens,
        },
    )
    if len(problems) < prepared.problems_in_suite:
        result.warnings.append(
            f"the pool covers {len(problems)} of the {prepared.problems_in_suite} problems "
            f"of the {prepared.split} split; evaluated on those"
        )
    if pool.simulated:
        result.warnings.append("SIMULATED pool: candidates were made by mutating references")
    if session.scorer is not None:
        result.llm_calls = session.scorer.take_calls()
        result.scorer = summarize_scorer(session.scorer, problems, result.llm_calls)
        result.calibration = _calibration(prepared, runs)
    if session.sandbox.fallback_reason:
        result.warnings.append(f"sandbox level 'process': {session.sandbox.fallback_reason}")
    return result


def _compute(run: ArmRun) -> Compute:
    if not run.meters:
        return Compute()
    count = len(run.meters)

    def per_subset(attr: str) -> float:
        return sum(getattr(m, attr) / max(m.subsets, 1) for m in run.meters) / count

    return Compute(
        executions=per_subset("executions"),
        reward_calls=per_subset("reward_calls"),
        reward_tokens=(
            None
            if any(m.reward_tokens is None for m in run.meters)
            else per_subset("reward_tokens")
        ),
        generated_tokens=per_subset("generated_tokens"),
        over_budget_problems=sum(m.over_budget for m in run.meters),
    )


def baseline_runs(prepared: Prepared) -> dict[str, ArmRun]:
    """Every baseline arm; the reward arms too when a scorer is configured (failed if it did)."""
    arms = baseline_arms(prepared.pool.has_logprobs())
    scored = prepared.problems[0].reward is not None
    errors = [p.reward.error for p in prepared.problems if p.reward and p.reward.error]
    runs = {}
    for name, arm in (arms | (reward_arms() if scored else {})).items():
        if name in reward_arms() and errors:
            failure = f"the scorer failed on {len(errors)} problems (first: {errors[0]})"
            runs[name] = ArmRun(np.array([]), [], failure=failure)
            continue
        run = runs[name] = run_arm(prepared, name, arm)
        run.meters = [
            _baseline_meter(p, name, s) for p, s in zip(prepared.problems, run.scores, strict=True)
        ]
    return runs


def _baseline_meter(data: ProblemData, name: str, scores: list[np.ndarray]) -> Meter:
    """What a trusted arm read, summed over the subsets: self-test results of the candidates it
    ranks by them (every candidate x distinct test), and one reward call per candidate."""
    meter = Meter(subsets=len(data.subsets))
    if name in ("most_passed", "cluster", "codet", "codet_product"):
        meter.executions = data.subsets.size * len(data.tests)
    if name == "reward_then_codet":  # CodeT ran on the top quarter: the candidates above -1
        ranked = sum(int((per > -1.0).sum()) for per in scores)
        meter.executions = ranked * len(data.tests)
    if name in reward_arms() and data.reward is not None:
        meter.reward_calls = data.subsets.size
        meter.reward_tokens = data.reward.tokens([int(i) for i in data.subsets.flat])
    return meter


def _calibration(prepared: Prepared, runs: dict[str, ArmRun]) -> Calibration:
    arm = runs["reward_model"]
    if arm.failure is not None:
        return Calibration("unavailable", reason=arm.failure)
    problems = prepared.problems
    return calibrate(
        [p.task.task_id for p in problems],
        [p.signals.rewards for p in problems if p.signals.rewards is not None],
        [p.signals.correct for p in problems],
        arm.values,
        runs["random"].values,
        prepared.seed,
    )


def evaluate(spec: EvalSpec, session: Session, progress: Progress | None = None) -> EvalResult:
    """Evaluate the baselines and, when given, a selector file under every rigid check."""
    from harness.judge.checks import check_baselines, check_selector  # they build on this module

    started = time.monotonic()
    if spec.selector is not None and not spec.selector.is_file():  # before minutes of labelling
        raise InputError("no such selector file", spec.selector)
    prepared = prepare(spec, session, progress)
    runs = baseline_runs(prepared)
    if spec.selector is None:
        result = check_baselines(prepared, runs, session, started)
    else:
        result = check_selector(prepared, runs, spec.selector, session, started, progress)
    if spec.labels_out is not None:  # last: bad input (a selector that does not load) leaves none
        _write_labels(spec.labels_out, prepared)
    return result
