"""Running arms on the paired design: the trusted baselines in process, the selector sandboxed.

Each run gives an :class:`ArmRun`: per problem, the arm's value (the mean over its subsets of
the expected correctness of its pick, ties scored over the tied set), its pick on the first
subset, the scores it gave and what it consumed (a :class:`Meter` per problem). A run that could
not finish carries its ``failure`` and no values: it is reported with no numbers, never as 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.config import BudgetConfig
from harness.execution.selector import SelectorFailure, SelectorProcess
from harness.judge.arms import Arm
from harness.judge.design import Design
from harness.judge.metrics import pick_value, tied_set
from harness.judge.probe import Meter, ProblemProbe, Runner
from harness.judge.problems import ProblemData
from harness.results import Compute, ProblemPick

Ablation = dict[str, dict[str, np.ndarray]]  # task id -> {signal: permutation of the samples}


@dataclass(frozen=True)
class ArmRun:
    """An arm's per-problem values, first-subset picks, scores and compute."""

    values: np.ndarray
    picks: tuple[ProblemPick, ...] = ()
    meters: tuple[Meter, ...] = ()
    failure: str | None = None
    scores: tuple[tuple[np.ndarray, ...], ...] = ()  # per problem, per subset

    @property
    def measured(self) -> bool:
        return self.failure is None


def failed(reason: str) -> ArmRun:
    return ArmRun(np.array([]), failure=reason)


def unavailable(data: ProblemData, signal: str) -> str | None:
    """Why a signal cannot be read on this problem (None when it can)."""
    if signal == "logprob" and data.signals.logprobs is None:
        return "the pool has no logprobs"
    if signal == "reward_model":
        if data.rewards is None:
            return "no reward model or judge is configured"
        return data.rewards.error
    return None


def run_arm(design: Design, arm: Arm) -> ArmRun:
    """Score a trusted, in-process arm on every subset of every problem."""
    for signal in sorted(arm.uses):
        reasons = [r for p in design.problems if (r := unavailable(p, signal)) is not None]
        if signal == "reward_model" and reasons:
            return failed(f"the scorer failed on {len(reasons)} problems (first: {reasons[0]})")
        if reasons:
            return failed(f"{signal}: {reasons[0]}")
    values, picks, meters, scores = [], [], [], []
    for data, subsets in design.pairs():
        per_subset = tuple(np.asarray(arm.score(data.signals, idx), dtype=float) for idx in subsets)
        meter = Meter(subsets=len(subsets))
        for idx, got in zip(subsets, per_subset, strict=True):
            usage = arm.compute(data.signals, idx, got)
            meter.executions += usage.executions
            meter.reward_calls += usage.reward_calls
            if meter.reward_tokens is not None:
                tokens = usage.reward_tokens
                meter.reward_tokens = None if tokens is None else meter.reward_tokens + tokens
        scores.append(per_subset)
        values.append(problem_value(data, subsets, per_subset))
        picks.append(first_pick(data, subsets, arm.name, per_subset))
        meters.append(meter)
    return ArmRun(np.array(values), tuple(picks), tuple(meters), None, tuple(scores))


def run_selector(
    design: Design,
    process: SelectorProcess,
    budget: BudgetConfig,
    runner: Runner,
    ablate: Ablation | None = None,
    shuffle_seed: int | None = None,
    first_subset_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ArmRun:
    """Score the sandboxed selector; a failure on any problem ends the run with its reason.

    ``ablate`` maps task id to {signal: permutation}; ``shuffle_seed`` presents each subset's
    candidates in a shuffled order (scores are mapped back to sample order).
    """
    values: list[float] = []
    picks: list[ProblemPick] = []
    meters: list[Meter] = []
    scores: list[tuple[np.ndarray, ...]] = []
    for data, all_subsets in design.pairs():
        meter = Meter()
        subsets = all_subsets[:1] if first_subset_only else all_subsets
        per_subset = []
        for r, idx in enumerate(subsets):
            order = np.arange(len(idx))
            if shuffle_seed is not None:
                order = np.random.default_rng([shuffle_seed, r, len(values)]).permutation(len(idx))
            shown = idx[order]
            probe = ProblemProbe(
                data, shown, budget, meter, runner, ablate=(ablate or {}).get(data.task_id)
            )
            try:
                got = process.select(data.task.problem, [data.candidates[i] for i in shown], probe)
            except SelectorFailure as exc:
                failure = f"{data.task_id}: {exc}"
                return ArmRun(
                    np.array(values), tuple(picks), (*meters, meter), failure, tuple(scores)
                )
            back = np.empty(len(idx))
            back[order] = got
            per_subset.append(back)
        scores.append(tuple(per_subset))
        meters.append(meter)
        values.append(problem_value(data, subsets, per_subset))
        picks.append(first_pick(data, subsets, "selector", per_subset))
        if progress is not None:
            progress(1)
    return ArmRun(np.array(values), tuple(picks), tuple(meters), None, tuple(scores))


def problem_value(
    data: ProblemData, subsets: np.ndarray, per_subset: tuple[np.ndarray, ...] | list[np.ndarray]
) -> float:
    """An arm's value on one problem: the mean over its subsets of the expected correctness
    of its pick (sel@k is the mean of these over problems)."""
    return float(
        np.mean(
            [pick_value(s, data.correct[idx]) for s, idx in zip(per_subset, subsets, strict=True)]
        )
    )


def first_pick(
    data: ProblemData,
    subsets: np.ndarray,
    arm: str,
    per_subset: tuple[np.ndarray, ...] | list[np.ndarray],
) -> ProblemPick:
    """The arm's pick on the problem's first subset (the first of the tied top set)."""
    idx = subsets[0]
    top = tied_set(per_subset[0])
    chosen = int(idx[top[0]])
    return ProblemPick(
        task_id=data.task_id,
        arm=arm,
        value=problem_value(data, subsets[: len(per_subset)], per_subset),
        pick=data.samples[chosen].index,
        tied=len(top),
        correct=bool(data.correct[chosen]),
    )


def compute_of(run: ArmRun) -> Compute:
    """What an arm consumed per problem and subset, averaged over problems: the one place a
    compute figure is computed (``winnow eval``'s column, the budget check, the sweep)."""
    if not run.meters:
        return Compute()
    count = len(run.meters)

    def per_subset(attr: str) -> float:
        return sum(getattr(m, attr) / max(m.subsets, 1) for m in run.meters) / count

    unreported = any(m.reward_tokens is None for m in run.meters)
    return Compute(
        executions=per_subset("executions"),
        reward_calls=per_subset("reward_calls"),
        reward_tokens=None if unreported else per_subset("reward_tokens"),
        generated_tokens=per_subset("generated_tokens"),
        over_budget_problems=sum(m.over_budget for m in run.meters),
    )
