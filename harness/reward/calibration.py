"""The calibration view of a reward signal: does it tell correct from wrong, and does it pick?

Per problem: the mean score of correct and of wrong candidates, the AUC of the score for
correctness (the probability that a correct candidate outscores a wrong one, ties counted
half: the Mann-Whitney statistic), and how often the argmax is correct (the ``reward_model``
arm's sel@k) beside ``random``. Overall: the same means over all candidates, the mean of the
per-problem AUCs with a bootstrap interval over problems (within-problem ranking is what
selection needs; the pooled AUC, also given, mixes easy and hard problems), and a one-line
reading that separates "real signal, weak selector" from "no signal".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.judge.metrics import bootstrap_indices, interval
from harness.results import Calibration, CalibrationStatus, ProblemCalibration


def auc(scores: np.ndarray, correct: np.ndarray) -> float | None:
    """P(score of a correct candidate > score of a wrong one), ties half; None if one class."""
    positives = int(correct.sum())
    negatives = len(correct) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Mid-ranks: each group of tied scores shares the mean of the ranks it spans.
    ends = np.cumsum(counts)
    midranks = ends - (counts - 1) / 2.0
    ranks = midranks[inverse.reshape(-1)]
    u = ranks[correct].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def calibrate(
    task_ids: list[str],
    rewards: list[np.ndarray],
    correct: list[np.ndarray],
    argmax_values: np.ndarray,
    random_values: np.ndarray,
    seed: int,
) -> Calibration:
    """The calibration of ``rewards`` against the hidden labels ``correct`` (sample order)."""
    problems = []
    for i, task_id in enumerate(task_ids):
        scores, labels = rewards[i], correct[i].astype(bool)
        problems.append(
            ProblemCalibration(
                task_id=task_id,
                n=len(scores),
                correct=int(labels.sum()),
                mean_correct=_mean(scores[labels]),
                mean_wrong=_mean(scores[~labels]),
                auc=auc(scores, labels),
                argmax_correct=float(argmax_values[i]),
                random=float(random_values[i]),
            )
        )
    everything = np.concatenate(rewards)
    labels = np.concatenate(correct).astype(bool)
    mixed = [p for p in problems if p.auc is not None]
    fields: dict[str, Any] = {
        "status": CalibrationStatus.OK,
        "problems": problems,
        "mixed_problems": len(mixed),
        "correct_higher": sum((p.mean_correct or 0.0) > (p.mean_wrong or 0.0) for p in mixed),
        "mean_correct": _mean(everything[labels]),
        "mean_wrong": _mean(everything[~labels]),
        "auc_pooled": auc(everything, labels),
        "argmax_correct": float(argmax_values.mean()),
        "random": float(random_values.mean()),
    }
    if not mixed:
        reading = "no problem has both correct and wrong candidates: nothing to calibrate"
        return Calibration(**fields, reading=reading)
    aucs = np.array([p.auc for p in mixed], dtype=float)
    est = interval(aucs, bootstrap_indices(len(aucs), seed))
    fields.update(auc=est.estimate, auc_low=est.low, auc_high=est.high)
    gain = interval(argmax_values - random_values, bootstrap_indices(len(problems), seed))
    return Calibration(**fields, reading=_reading(Calibration(**fields), gain.low))


def _reading(result: Calibration, gain_low: float) -> str:
    assert result.auc is not None and result.auc_low is not None and result.auc_high is not None
    shown = f"AUC {result.auc:.3f} [{result.auc_low:.3f}, {result.auc_high:.3f}]"
    higher = f"correct candidates score higher on {result.correct_higher}/{result.mixed_problems}"
    picks = f"argmax correct {result.argmax_correct:.3f} vs random {result.random:.3f}"
    if result.auc_high < 0.5:
        return f"inverted signal: wrong candidates score higher ({shown}; {picks})"
    if result.auc_low <= 0.5:
        return f"no signal: {shown} includes 0.5 ({higher} mixed problems; {picks})"
    if gain_low <= 0.0:
        return (
            f"real signal, weak selector: {shown}, {higher} mixed problems, "
            f"yet {picks} (not above random)"
        )
    return f"real signal, and its argmax beats random: {shown}; {picks}"
