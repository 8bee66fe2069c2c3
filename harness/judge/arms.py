"""The baseline arms every evaluation runs beside a selector, on the same subsets.

Each arm scores the candidates of one k-subset (higher is better); the harness takes the
argmax and scores ties as the expected correctness over the tied set.

- ``random``: a constant: scores exactly the subset's share of correct candidates.
- ``oracle``: the hidden labels: 1 when the subset holds a correct candidate (the pass@k ceiling).
- ``first``: the earliest sample in the subset.
- ``logprob``: the highest mean token logprob (only when the pool has logprobs).
- ``most_passed``: the most self-tests passed, each test counted as often as it was generated.
- ``cluster``: the size of the candidate's group of identical pass/fail behaviour on the
  self-tests (the largest behaviour cluster wins).
- ``codet``: CodeT dual execution agreement (arXiv 2207.10397): candidates are grouped by the
  set of self-tests they pass; a group scores (tests passed, with multiplicity) x sqrt(size),
  as CodeT's released code does; every member of the top group shares its score.
- ``codet_product``: the paper's plain product (tests passed) x (group size).
- ``reward_model``: the highest score of the configured reward model or judge
  (``harness/reward/scorer.py``).
- ``reward_then_codet``: CodeT (as ``codet``) among the top quarter of the subset by reward
  score (at least one candidate; a tie at the cut is kept); the rest score below any of them.
  Both reward arms run whenever a scorer is configured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class ProblemSignals:
    """What the trusted baselines may read for one problem (sample order throughout)."""

    correct: np.ndarray  # (n,) bool: hidden labels; only the oracle reads them
    passes: np.ndarray  # (n, t) bool: candidate x distinct self-test
    weights: np.ndarray  # (t,) int: how many times each distinct test was generated
    logprobs: np.ndarray | None  # (n,) float, or None when the pool has none
    rewards: np.ndarray | None = None  # (n,) float from the configured scorer, if any


Arm = Callable[[ProblemSignals, np.ndarray], np.ndarray]


def random_arm(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return np.zeros(len(idx))


def oracle(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return s.correct[idx].astype(float)


def first(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return -idx.astype(float)


def logprob(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    assert s.logprobs is not None
    return s.logprobs[idx]


def most_passed(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return (s.passes[idx] @ s.weights).astype(float)


def _groups(rows: np.ndarray) -> np.ndarray:
    """For each row, the size of its group of identical rows."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], rows.shape[0], dtype=float)
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)].astype(float)


def cluster(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return _groups(s.passes[idx])


def codet_scores(passes: np.ndarray, weights: np.ndarray, size_power: float) -> np.ndarray:
    """CodeT group score per candidate: (weighted tests passed) x (group size) ** size_power."""
    return (passes @ weights) * _groups(passes) ** size_power


def codet(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return codet_scores(s.passes[idx], s.weights, 0.5)


def codet_product(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    return codet_scores(s.passes[idx], s.weights, 1.0)


REWARD_SHARE = 0.25  # reward_then_codet runs CodeT on this share of the subset, by reward


def reward_model(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    assert s.rewards is not None
    return s.rewards[idx]


def top_share(scores: np.ndarray, share: float) -> np.ndarray:
    """Mask of the ``ceil(share * len)`` highest scores (at least one), ties at the cut kept."""
    count = max(1, math.ceil(share * len(scores)))
    cut = np.sort(scores)[::-1][count - 1]
    return scores >= cut


def reward_then_codet(s: ProblemSignals, idx: np.ndarray) -> np.ndarray:
    assert s.rewards is not None
    keep = top_share(s.rewards[idx], REWARD_SHARE)
    scores = np.full(len(idx), -1.0)  # CodeT scores are >= 0: the rest is never picked
    scores[keep] = codet_scores(s.passes[idx][keep], s.weights, 0.5)
    return scores


def reward_arms() -> dict[str, Arm]:
    """The arms that run beside the baselines when a scorer is configured."""
    return {"reward_model": reward_model, "reward_then_codet": reward_then_codet}


def baseline_arms(has_logprobs: bool) -> dict[str, Arm]:
    """The always-on baselines, in report order."""
    arms: dict[str, Arm] = {"random": random_arm, "oracle": oracle, "first": first}
    if has_logprobs:
        arms["logprob"] = logprob
    arms.update(most_passed=most_passed, cluster=cluster, codet=codet, codet_product=codet_product)
    return arms
