"""From per-problem values to the figures an evaluation reports: pass@1, pass@k and, for every
arm, sel@k with its interval, the gap it closes with its interval, its paired difference to
``random`` and its compute. Each figure is computed here and nowhere else (the sweep and the
ledger read these)."""

from __future__ import annotations

import numpy as np

from harness.judge.design import Design
from harness.judge.metrics import bootstrap_indices, gap_interval, interval, pass_rates
from harness.judge.runners import ArmRun, compute_of
from harness.results import ArmResult


def problem_pass_rates(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Per problem of the design: (pass@1, pass@k)."""
    correct = np.array([int(p.correct.sum()) for p in design.problems])
    sizes = np.array([p.n for p in design.problems])
    return pass_rates(correct, sizes, design.k)


def design_pass_rates(design: Design) -> tuple[float, float]:
    """(pass@1, pass@k) of the design's problems: means over problems."""
    pass1, passk = problem_pass_rates(design)
    return float(pass1.mean()), float(passk.mean())


def arm_results(design: Design, runs: dict[str, ArmRun]) -> dict[str, ArmResult]:
    """Every arm's sel@k (mean of its per-problem values) with a percentile bootstrap interval
    over problems, the gap it closes with its interval, and its difference to ``random``, all on
    the same resamples."""
    pass1, passk = problem_pass_rates(design)
    count = len(design.problems)
    resamples = bootstrap_indices(count, design.seed)
    random_values = runs["random"].values
    arms: dict[str, ArmResult] = {}
    for name, run in runs.items():
        compute = compute_of(run)
        if run.failure is not None or len(run.values) != count:
            arms[name] = ArmResult(
                sel_at_k=None, ci_low=None, ci_high=None, gap_closed=None, compute=compute
            )
            continue
        est = interval(run.values, resamples)
        diff = interval(run.values - random_values, resamples)
        gap = gap_interval(run.values, pass1, passk, resamples)
        arms[name] = ArmResult(
            sel_at_k=est.estimate,
            ci_low=est.low,
            ci_high=est.high,
            gap_closed=None if gap is None else gap.estimate,
            gap_ci_low=None if gap is None else gap.low,
            gap_ci_high=None if gap is None else gap.high,
            diff_vs_random=diff.estimate,
            diff_ci_low=diff.low,
            diff_ci_high=diff.high,
            compute=compute,
        )
    return arms
