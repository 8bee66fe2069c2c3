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
   start processes or load native code was recorded in the selector's sandbox, and the
   selector ran no test equal to a hidden test (normalised) that appears neither in the prompt
   nor among the self-tests: a benchmark's tests remembered by a proposer.
8b. ``no_execution``: once loaded, the selector compiled and ran no code in its own process
   (``compile``, ``exec``, ``eval``, building functions or code objects, ``marshal``,
   unpickling, sub-interpreters; ``ast.parse`` stays allowed): a candidate runs only through
   the probe, where every execution is metered.
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

from collections import Counter
from collections.abc import Callable

import numpy as np

from harness.api import SIGNALS
from harness.config import BudgetConfig
from harness.execution.selector import SelectorProcess
from harness.judge.design import Design
from harness.judge.metrics import random_subset_std, tied_set
from harness.judge.probe import Runner
from harness.judge.runners import Ablation, ArmRun, run_selector
from harness.results import ArmResult, CheckResult

MOST = 0.5  # share of problems on which a declared signal must be asked for
RANDOM_SIGMAS = 4.0  # tolerance of the random arm against its exact value, in standard errors
NEAR_CONSTANT = 1e-6  # reward scores closer than this x max(1, |largest|) count as equal
MIN_VARYING = 0.2  # share of problems (with differing programs) on which rewards must vary

Rerun = Callable[..., ArmRun]  # run_selector on the same design, process and probe settings


def rerun_for(
    design: Design, process: SelectorProcess, budget: BudgetConfig, runner: Runner
) -> Rerun:
    """``run_selector`` bound to one evaluation: the wiring re-runs change only what they test."""

    def rerun(**options: object) -> ArmRun:
        return run_selector(design, process, budget, runner, **options)  # type: ignore[arg-type]

    return rerun


def selector_runs(run: ArmRun, design: Design) -> CheckResult:
    if run.failure is not None:
        return CheckResult(name="selector_runs", passed=False, detail=run.failure)
    subsets = sum(len(s) for s in design.subsets)
    return CheckResult(name="selector_runs", passed=True, detail=f"{subsets} subsets scored")


def compute_parity(run: ArmRun, design: Design, budget: BudgetConfig) -> CheckResult:
    over = [p.task_id for p, m in zip(design.problems, run.meters, strict=False) if m.over_budget]
    most = max((m.executions / max(m.subsets, 1) for m in run.meters), default=0.0)
    detail = (
        f"k={design.k} candidates per subset for every arm; up to {most:.0f} executions "
        f"per subset (budget: every distinct self-test and input "
        f"+ {budget.executions_per_candidate} per candidate)"
    )
    if over:
        detail = f"over budget on {len(over)} problems (first: {over[0]}); " + detail
    return CheckResult(name="compute_parity", passed=not over, detail=detail)


def signals_declared(uses: set[str], run: ArmRun) -> CheckResult:
    unknown = sorted(uses - SIGNALS)
    asked = set().union(*(m.asked for m in run.meters)) if run.meters else set()
    undeclared = sorted(asked - uses)
    if unknown:
        detail = f"unknown signals in USES: {unknown}"
    elif undeclared:
        detail = f"asked for {undeclared} without declaring it in USES"
    else:
        detail = f"USES = {sorted(uses)}; asked for {sorted(asked)}"
    return CheckResult(name="signals_declared", passed=not (unknown or undeclared), detail=detail)


def _permutations(design: Design, signal: str) -> Ablation:
    """Per problem: a shuffle of the first subset's candidates (identity elsewhere)."""
    out = {}
    for i, (data, subsets) in enumerate(design.pairs()):
        idx = subsets[0]
        perm = np.arange(data.n)
        rng = np.random.default_rng([design.seed, i, 0xAB1A])
        perm[idx] = idx[rng.permutation(len(idx))]
        out[data.task_id] = {signal: perm}
    return out


def _first_picks(run: ArmRun) -> list[frozenset[int]]:
    return [frozenset(tied_set(per[0]).tolist()) for per in run.scores]


def signals_wired(uses: set[str], design: Design, main: ArmRun, rerun: Rerun) -> CheckResult:
    uses = uses & SIGNALS
    if not uses:
        return CheckResult(name="signals_wired", passed=True, detail="no signals declared")
    problems = len(design.problems)
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
        ablated = rerun(ablate=_permutations(design, signal), first_subset_only=True)
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
    return CheckResult(name="signals_wired", passed=ok, detail="; ".join(notes))


def random_comparison(arm: ArmResult) -> str:
    """The selector against ``random``: the paired difference and its interval, in one line."""
    low, high = arm.diff_ci_low, arm.diff_ci_high
    assert low is not None and high is not None and arm.diff_vs_random is not None
    return f"selector - random = {arm.diff_vs_random:+.4f} [{low:+.4f}, {high:+.4f}]"


def indistinguishable(arm: ArmResult) -> bool:
    """Whether the paired 95% interval against ``random`` contains 0."""
    assert arm.diff_ci_low is not None and arm.diff_ci_high is not None
    return arm.diff_ci_low <= 0.0 <= arm.diff_ci_high


def not_random(arm: ArmResult, uses: set[str]) -> CheckResult:
    detail = random_comparison(arm)
    if indistinguishable(arm) and uses:
        return CheckResult(
            name="not_random", passed=False, detail=detail + f"; declares {sorted(uses)}"
        )
    return CheckResult(name="not_random", passed=True, detail=detail)


def stability(main: ArmRun, design: Design, rerun: Rerun) -> list[CheckResult]:
    """``deterministic`` and ``position_invariant``: the first subsets scored again, as they
    were and with the candidates shuffled."""
    first = [per[0] for per in main.scores]
    again = rerun(first_subset_only=True)
    shuffled = rerun(shuffle_seed=design.seed + 1, first_subset_only=True)
    out = []
    for name, run, what in (
        ("deterministic", again, "the same inputs gave different scores"),
        ("position_invariant", shuffled, "scores did not move with their candidates"),
    ):
        if run.failure is not None:
            out.append(
                CheckResult(name=name, passed=False, detail=f"the re-run failed: {run.failure}")
            )
            continue
        differ = [
            i for i, per in enumerate(run.scores) if not np.allclose(per[0], first[i], 0, 1e-9)
        ]
        if differ:
            first_task = design.problems[differ[0]].task_id
            detail = f"{what} on {len(differ)} problems (first: {first_task})"
            out.append(CheckResult(name=name, passed=False, detail=detail))
        else:
            detail = f"identical on {len(first)} problems"
            out.append(CheckResult(name=name, passed=True, detail=detail))
    return out


EXECUTION = "execution: "  # how the selector's process marks code run outside the probe


def no_execution(attempts: list[str]) -> CheckResult:
    """The selector ran no code of its own making in its process (compile, exec, eval, built
    functions or code objects...): every execution goes through the metered probe."""
    runs = [a[len(EXECUTION) :] for a in attempts if a.startswith(EXECUTION)]
    if runs:
        shown = "; ".join(runs[:5])
        detail = f"{len(runs)} attempts to run code outside the probe: {shown}"
        return CheckResult(name="no_execution", passed=False, detail=detail)
    detail = "no code compiled or run outside the probe"
    return CheckResult(name="no_execution", passed=True, detail=detail)


def no_leakage(attempts: list[str], run: ArmRun | None = None) -> CheckResult:
    """No attempt to reach what the sandbox hides, and no hidden test of the benchmark run
    from memory (a test equal to a hidden one that is neither in the prompt nor a self-test)."""
    attempts = [a for a in attempts if not a.startswith(EXECUTION)]
    remembered = dict.fromkeys(t for m in (run.meters if run else ()) for t in m.memorized)
    attempts += [f"memorized hidden test: {' '.join(t.split())[:200]}" for t in remembered]
    if attempts:
        shown = "; ".join(attempts[:5])
        detail = f"{len(attempts)} attempts: {shown}"
        return CheckResult(name="no_leakage", passed=False, detail=detail)
    detail = "no attempt to reach files, network or processes"
    return CheckResult(name="no_leakage", passed=True, detail=detail)


def baseline_sanity(design: Design, runs: dict[str, ArmRun]) -> CheckResult:
    problems = design.problems
    random_run = runs["random"].values
    exact = np.array([p.correct.mean() for p in problems])
    # Per problem: a problem with exactly k samples has one subset, the others R of them.
    subsets = [len(s) for s in design.subsets]
    std = np.sqrt(
        sum(
            random_subset_std(p.n, int(p.correct.sum()), design.k, r) ** 2
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
        return CheckResult(name="baseline_sanity", passed=False, detail="; ".join(notes))
    detail = (
        f"random {random_run.mean():.4f} = exact {exact.mean():.4f} (±{RANDOM_SIGMAS * std:.4f}); "
        f"no arm above oracle; {len(problems)} problems, {sum(subsets)} subsets for every arm"
    )
    return CheckResult(name="baseline_sanity", passed=True, detail=detail)


def reward_signal(design: Design) -> CheckResult:
    """The configured scorer scored everything, and its scores carry information."""
    problems = design.problems
    errors = [p.rewards.error for p in problems if p.rewards and p.rewards.error]
    if errors:
        detail = (
            f"the scorer failed on {len(errors)} of {len(problems)} problems (first: {errors[0]}); "
            "the reward arms and probe.reward are unavailable there"
        )
        return CheckResult(name="reward_signal", passed=False, detail=detail)
    values = [p.signals.reward_values for p in problems if p.signals.reward_values is not None]
    every = np.concatenate(values)
    tolerance = NEAR_CONSTANT * max(1.0, float(np.abs(every).max()))
    differing = [i for i, p in enumerate(problems) if len({c.program for c in p.candidates}) > 1]
    varying = [i for i in differing if np.ptp(values[i]) > tolerance]
    methods = Counter(r.method for p in problems if p.rewards for r in p.rewards.results)
    evidence = (
        f"{len(every)} scores in [{every.min():.6g}, {every.max():.6g}], "
        f"{len(np.unique(every))} distinct; they vary on {len(varying)} of the {len(differing)} "
        f"problems whose programs differ (required: {MIN_VARYING:.0%}, by more than "
        f"{tolerance:.0e}); methods: " + ", ".join(f"{m} {c}" for m, c in sorted(methods.items()))
    )
    if np.ptp(every) <= tolerance:
        detail = "constant score, not a signal: " + evidence
    elif len(varying) < MIN_VARYING * len(differing):
        detail = "near-constant score: " + evidence
    else:
        return CheckResult(name="reward_signal", passed=True, detail=evidence)
    return CheckResult(name="reward_signal", passed=False, detail=detail)


def harness_integrity(
    before: str, after: str, commit: str | None, dirty: bool | None
) -> CheckResult:
    same = before == after
    detail = f"harness {before}, commit {commit or 'none'}, dirty {dirty}" + (
        "" if same else f"; changed to {after}"
    )
    return CheckResult(name="harness_integrity", passed=same, detail=detail)
