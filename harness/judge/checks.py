"""The rigid checks every selector evaluation runs. None can be switched off from ``experiments/``.

1. ``selector_runs``: the selector loaded and returned one finite score per candidate on every
   subset, within its time limit (a raise, a hang or garbage fails here, with the error).
2. ``compute_parity``: every arm saw the same k candidates per subset (the harness hands them
   over), and the selector stayed within the probe budget on every problem.
3. ``signals_declared``: ``USES`` names known signals and every signal the selector asked for.
4. ``signals_wired``: each declared signal was asked for on most problems; none was refused as
   unavailable while the selector carried on; and shuffling its values across the candidates of
   a subset changes at least one pick (else the signal is not wired).
5. ``not_random``: a selector that declares signals must differ from ``random`` (its paired
   interval must exclude zero); for one that declares none, a tie is a warning.
6. ``deterministic``: the same inputs give the same scores.
7. ``position_invariant``: shuffling the candidates' order moves each score with its candidate.
8. ``no_leakage``: no attempt to read files, list directories, import data sets, open sockets,
   start processes or load native code was recorded in the selector's sandbox.
9. ``harness_integrity``: ``harness/`` hashed the same before and after the evaluation.
10. ``baseline_sanity``: the simulated ``random`` arm matches its exact value; no arm beats
    ``oracle`` on any problem; every arm covers the same problems and subsets.
11. ``reward_signal`` (when a scorer is configured, with or without a selector): every candidate
    got a score, and the scores are not constant or near-constant: they must differ (by more
    than ``NEAR_CONSTANT`` of their scale) on at least ``MIN_VARYING`` of the problems whose
    candidates are not all the same program.

The wiring re-runs (determinism, order, ablations) use the first subset of every problem.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.api import SIGNALS
from harness.errors import InputError
from harness.execution.selector import SelectorFailure, SelectorProcess
from harness.judge.evaluate import ArmRun, Prepared, ProblemData, Session, run_selector, summarize
from harness.judge.integrity import harness_hash
from harness.judge.metrics import random_subset_std, tied_set
from harness.results import CheckResult, EvalResult

MOST = 0.5  # share of problems on which a declared signal must be asked for
RANDOM_SIGMAS = 4.0  # tolerance of the random arm against its exact value, in standard errors
NEAR_CONSTANT = 1e-6  # reward scores closer than this x max(1, |largest|) count as equal
MIN_VARYING = 0.2  # share of problems (with differing programs) on which rewards must vary


def check_selector(
    prepared: Prepared,
    runs: dict[str, ArmRun],
    path: Path,
    session: Session,
    started: float,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvalResult:
    """Run the selector at ``path`` beside the baselines, with every check."""
    before = harness_hash()
    try:
        source = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read the selector ({exc.strerror})", path) from None
    checks: list[CheckResult] = []
    config = session.config
    try:
        process = SelectorProcess(
            source, path.name, config.sandbox, session.sandbox.level, config.exec.select_timeout
        )
    except SelectorFailure as exc:
        if exc.raised and not exc.attempts:  # bad input, like a malformed line: exit status 2
            raise InputError(f"the selector does not load: {exc}", path, exc.line) from None
        runs["selector"] = ArmRun(np.array([]), [], failure=f"the selector did not load: {exc}")
        result = summarize(prepared, runs, session, started)
        checks.append(CheckResult("selector_runs", False, runs["selector"].failure or ""))
        checks.append(_leakage(exc.attempts))
        return _finish(result, checks, before, started, prepared)

    with process:
        if progress:
            progress("selector", 0, len(prepared.problems))
        main = run_selector(prepared, process, session)
        runs["selector"] = main
        result = summarize(prepared, runs, session, started)
        if main.failure is not None:
            checks.append(CheckResult("selector_runs", False, main.failure))
            checks.append(_parity(main, prepared, session))
            checks.append(_leakage(process.attempts))
            return _finish(result, checks, before, started, prepared)
        subsets = sum(len(p.subsets) for p in prepared.problems)
        checks.append(CheckResult("selector_runs", True, f"{subsets} subsets scored"))
        checks.append(_parity(main, prepared, session))
        checks.append(_declared(process.uses, main))
        checks.append(_wired(process, prepared, session, main))
        checks.append(_not_random(result, process.uses))
        checks += _stability(process, prepared, session, main)
        checks.append(_leakage(process.attempts))
    checks.append(_sanity(prepared, runs, result))
    return _finish(result, checks, before, started, prepared)


def check_baselines(
    prepared: Prepared, runs: dict[str, ArmRun], session: Session, started: float
) -> EvalResult:
    """An evaluation without a selector still carries the baseline and integrity checks."""
    before = harness_hash()
    result = summarize(prepared, runs, session, started)
    return _finish(result, [_sanity(prepared, runs, result)], before, started, prepared)


def _finish(
    result: EvalResult,
    checks: list[CheckResult],
    before: str,
    started: float,
    prepared: Prepared,
) -> EvalResult:
    if prepared.problems[0].reward is not None:
        checks.append(_reward_signal(prepared))
    after = harness_hash()
    same = before == after
    checks.append(
        CheckResult(
            "harness_integrity",
            same,
            f"harness {before}, commit {result.harness.commit or 'none'}, "
            f"dirty {result.harness.dirty}" + ("" if same else f"; changed to {after}"),
        )
    )
    if result.harness.dirty:
        result.warnings.append("harness/ has uncommitted changes: compare with care")
    result.checks = checks
    result.elapsed_s = time.monotonic() - started
    failed = [c for c in checks if not c.passed]
    result.valid = not failed
    if failed:
        result.status = "invalid"
        result.reason = "; ".join(f"{c.name}: {c.detail}" for c in failed)
    return result


def _parity(run: ArmRun, prepared: Prepared, session: Session) -> CheckResult:
    budget = session.config.budget
    over = [
        p.task.task_id for p, m in zip(prepared.problems, run.meters, strict=False) if m.over_budget
    ]
    most = max((m.executions / max(m.subsets, 1) for m in run.meters), default=0.0)
    detail = (
        f"k={prepared.k} candidates per subset for every arm; up to {most:.0f} executions "
        f"per subset (budget: every distinct self-test + {budget.executions_per_candidate} "
        f"per candidate)"
    )
    if over:
        return CheckResult(
            "compute_parity",
            False,
            f"over budget on {len(over)} problems (first: {over[0]}); " + detail,
        )
    return CheckResult("compute_parity", True, detail)


def _declared(uses: set[str], run: ArmRun) -> CheckResult:
    unknown = sorted(uses - SIGNALS)
    asked = set().union(*(m.asked for m in run.meters)) if run.meters else set()
    undeclared = sorted(asked - uses)
    if unknown:
        return CheckResult("signals_declared", False, f"unknown signals in USES: {unknown}")
    if undeclared:
        return CheckResult(
            "signals_declared", False, f"asked for {undeclared} without declaring it in USES"
        )
    return CheckResult(
        "signals_declared", True, f"USES = {sorted(uses)}; asked for {sorted(asked)}"
    )


def _permutations(prepared: Prepared, signal: str, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Per problem: a shuffle of the first subset's candidates (identity elsewhere)."""
    out = {}
    for i, data in enumerate(prepared.problems):
        idx = data.subsets[0]
        perm = np.arange(len(data.samples))
        rng = np.random.default_rng([seed, i, 0xAB1A])
        perm[idx] = idx[rng.permutation(len(idx))]
        out[data.task.task_id] = {signal: perm}
    return out


def _first_picks(run: ArmRun) -> list[frozenset[int]]:
    return [frozenset(tied_set(per[0]).tolist()) for per in run.scores]


def _wired(
    process: SelectorProcess, prepared: Prepared, session: Session, main: ArmRun
) -> CheckResult:
    uses = process.uses & SIGNALS
    if not uses:
        return CheckResult("signals_wired", True, "no signals declared")
    problems = len(prepared.problems)
    notes, ok = [], True
    base = _first_picks(main)
    for signal in sorted(uses):
        asked = sum(signal in m.asked for m in main.meters)
        refused = sum(signal in m.unavailable for m in main.meters)
        if refused:
            ok = False
            notes.append(
                f"{signal}: unavailable on {refused} problems, yet the selector "
                "returned scores (it caught SignalUnavailable)"
            )
            continue
        if asked < MOST * problems:
            ok = False
            notes.append(f"{signal}: asked for on {asked} of {problems} problems")
            continue
        ablated = run_selector(
            prepared,
            process,
            session,
            ablate=_permutations(prepared, signal, prepared.seed),
            first_subset_only=True,
        )
        if ablated.failure is not None:
            ok = False
            notes.append(f"{signal}: the ablation run failed: {ablated.failure}")
            continue
        changed = sum(a != b for a, b in zip(base, _first_picks(ablated), strict=False))
        if changed == 0:
            ok = False
            notes.append(
                f"{signal}: shuffling its values across candidates changed no pick "
                f"on {problems} problems: not wired"
            )
        else:
            notes.append(
                f"{signal}: asked on {asked}/{problems} problems; shuffled, {changed} picks changed"
            )
    return CheckResult("signals_wired", ok, "; ".join(notes))


def _not_random(result: EvalResult, uses: set[str]) -> CheckResult:
    arm = result.arms["selector"]
    low, high = arm.diff_ci_low, arm.diff_ci_high
    assert low is not None and high is not None and arm.diff_vs_random is not None
    detail = f"selector - random = {arm.diff_vs_random:+.4f} [{low:+.4f}, {high:+.4f}]"
    if low <= 0.0 <= high:
        result.warnings.append(f"INDISTINGUISHABLE FROM RANDOM: {detail}")
        if uses:
            return CheckResult("not_random", False, detail + f"; declares {sorted(uses)}")
    return CheckResult("not_random", True, detail)


def _stability(
    process: SelectorProcess, prepared: Prepared, session: Session, main: ArmRun
) -> list[CheckResult]:
    first = [per[0] for per in main.scores]
    again = run_selector(prepared, process, session, first_subset_only=True)
    shuffled = run_selector(
        prepared, process, session, shuffle_seed=prepared.seed + 1, first_subset_only=True
    )
    out = []
    for name, rerun, what in (
        ("deterministic", again, "the same inputs gave different scores"),
        ("position_invariant", shuffled, "scores did not move with their candidates"),
    ):
        if rerun.failure is not None:
            out.append(CheckResult(name, False, f"the re-run failed: {rerun.failure}"))
            continue
        differ = [
            prepared.problems[i].task.task_id
            for i, per in enumerate(rerun.scores)
            if not np.allclose(per[0], first[i], rtol=0, atol=1e-9)
        ]
        if differ:
            out.append(
                CheckResult(name, False, f"{what} on {len(differ)} problems (first: {differ[0]})")
            )
        else:
            out.append(CheckResult(name, True, f"identical on {len(first)} problems"))
    return out


def _leakage(attempts: list[str]) -> CheckResult:
    if attempts:
        shown = "; ".join(attempts[:5])
        return CheckResult("no_leakage", False, f"{len(attempts)} attempts: {shown}")
    return CheckResult("no_leakage", True, "no attempt to reach files, network or processes")


def _sanity(prepared: Prepared, runs: dict[str, ArmRun], result: EvalResult) -> CheckResult:
    problems: list[ProblemData] = prepared.problems
    random_run = runs["random"].values
    exact = np.array([p.signals.correct.mean() for p in problems])
    # Per problem: a problem with exactly k samples has one subset, the others R of them.
    subsets = [len(p.subsets) for p in problems]
    std = np.sqrt(
        sum(
            random_subset_std(len(p.samples), int(p.signals.correct.sum()), prepared.k, r) ** 2
            for p, r in zip(problems, subsets, strict=True)
        )
    ) / len(problems)
    gap = abs(random_run.mean() - exact.mean())
    notes = []
    if gap > RANDOM_SIGMAS * std + 1e-9:
        notes.append(f"random {random_run.mean():.4f} vs exact {exact.mean():.4f}")
    oracle = runs["oracle"].values
    for name, run in runs.items():
        measured = run.failure is None and len(run.values) == len(problems)
        if measured and np.any(run.values > oracle + 1e-12):
            notes.append(f"{name} beats oracle")
        if run.failure is None and [len(s) for s in run.scores] != subsets:
            notes.append(f"{name} covers a different set of problems or subsets")
    if notes:
        return CheckResult("baseline_sanity", False, "; ".join(notes))
    return CheckResult(
        "baseline_sanity",
        True,
        f"random {random_run.mean():.4f} = exact {exact.mean():.4f} (±{RANDOM_SIGMAS * std:.4f}); "
        f"no arm above oracle; {len(problems)} problems, {sum(subsets)} subsets for every arm",
    )


def _reward_signal(prepared: Prepared) -> CheckResult:
    """The configured scorer scored everything, and its scores carry information."""
    problems = prepared.problems
    errors = [p.reward.error for p in problems if p.reward and p.reward.error]
    if errors:
        return CheckResult(
            "reward_signal",
            False,
            f"the scorer failed on {len(errors)} of {len(problems)} problems (first: {errors[0]}); "
            "the reward arms and probe.reward are unavailable there",
        )
    values = [p.signals.rewards for p in problems if p.signals.rewards is not None]
    every = np.concatenate(values)
    tolerance = NEAR_CONSTANT * max(1.0, float(np.abs(every).max()))
    differing = [i for i, p in enumerate(problems) if len({c.program for c in p.candidates}) > 1]
    varying = [i for i in differing if np.ptp(values[i]) > tolerance]
    methods = Counter(r.method for p in problems if p.reward for r in p.reward.results)
    evidence = (
        f"{len(every)} scores in [{every.min():.6g}, {every.max():.6g}], "
        f"{len(np.unique(every))} distinct; they vary on {len(varying)} of the {len(differing)} "
        f"problems whose programs differ (required: {MIN_VARYING:.0%}, by more than "
        f"{tolerance:.0e}); methods: " + ", ".join(f"{m} {c}" for m, c in sorted(methods.items()))
    )
    if np.ptp(every) <= tolerance:
        return CheckResult("reward_signal", False, "constant score, not a signal: " + evidence)
    if len(varying) < MIN_VARYING * len(differing):
        return CheckResult("reward_signal", False, "near-constant score: " + evidence)
    return CheckResult("reward_signal", True, evidence)
