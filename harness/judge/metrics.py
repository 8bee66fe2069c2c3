"""pass@k, sel@k on paired subsets, gap closed, and paired bootstrap intervals.

- pass@k: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``.
- sel@k: for each problem, R fixed k-subsets of its n candidates are drawn (seeded by the run
  seed and the task id, identical for every arm: a paired design). Where a problem has no more
  than R distinct k-subsets, all of them are taken instead (with k = n, the one subset): the
  exact value, with no draw's noise; with k = 1, every candidate alone, so that sel@1 is
  exactly pass@1 for every arm. An
  arm's pick on a subset is the argmax of its scores; a tie is scored as the expected
  correctness over the tied set, so a constant arm scores exactly the subset's mean.
- gap closed: ``(sel@k - pass@1) / (pass@k - pass@1)``.
- intervals: percentile bootstrap over problems (paired: every arm, and any difference of two
  arms, uses the same resampled problems).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 2000  # resamples of the problems for every interval
CONFIDENCE = 0.95  # two-sided level of the reported intervals


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct."""
    if k > n:
        raise ValueError(f"k={k} is larger than the n={n} samples")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def draw_subsets(n: int, k: int, repeats: int, seed: int, task_id: str) -> np.ndarray:
    """``repeats`` k-subsets of range(n) (a (R, k) int array). Every k-subset, in order, when
    there are no more than ``repeats`` of them (one when k == n), and every candidate alone
    when k == 1: a random draw of R singletons would put every arm (they all ship the only
    candidate) off pass@1 by the draw's noise."""
    if k > n:
        raise ValueError(f"k={k} is larger than the n={n} samples")
    if k == 1:
        return np.arange(n)[:, None]
    if math.comb(n, k) <= repeats:
        return np.array(list(itertools.combinations(range(n), k)), dtype=int)
    digest = hashlib.sha256(f"winnow-subsets-v1:{seed}:{task_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return np.stack([np.sort(rng.choice(n, size=k, replace=False)) for _ in range(repeats)])


def pick_value(scores: np.ndarray, correct: np.ndarray) -> float:
    """Expected correctness of the argmax of ``scores`` (ties: mean over the tied set)."""
    if scores.shape != correct.shape:
        raise ValueError("scores and labels differ in length")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite numbers")
    tied = scores == scores.max()
    return float(correct[tied].mean())


def tied_set(scores: np.ndarray) -> np.ndarray:
    """Indices of the candidates sharing the top score."""
    return np.flatnonzero(scores == scores.max())


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def bootstrap_indices(n_problems: int, seed: int, samples: int = BOOTSTRAP_SAMPLES) -> np.ndarray:
    """The resampled problem indices every interval of one evaluation shares (paired)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_problems, 0x57]))
    return rng.integers(0, n_problems, size=(samples, n_problems))


def interval(values: np.ndarray, resamples: np.ndarray, level: float = CONFIDENCE) -> Interval:
    """Mean of per-problem ``values`` with a percentile bootstrap interval."""
    means = values[resamples].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(values.mean()), float(low), float(high))


def one_sided_lower(values: np.ndarray, resamples: np.ndarray, level: float = CONFIDENCE) -> float:
    """The lower bound of the one-sided ``level`` bootstrap interval of the mean."""
    means = values[resamples].mean(axis=1)
    return float(np.quantile(means, 1.0 - level))


def gap_closed(sel: float, pass1: float, passk: float) -> float | None:
    """Share of the pass@1 -> pass@k gap an arm closes; None when there is no gap."""
    gap = passk - pass1
    if gap <= 1e-12:
        return None
    return (sel - pass1) / gap


def random_subset_std(n: int, c: int, k: int, repeats: int) -> float:
    """Standard deviation of the random arm's simulated value for one problem.

    The random arm's value on a subset is (correct in subset) / k: a hypergeometric mean. Its
    variance is ``p(1-p)/k * (n-k)/(n-1)``; averaged over R independent subsets it shrinks by R.
    """
    if k >= n or n <= 1:
        return 0.0
    p = c / n
    return math.sqrt(p * (1 - p) / k * (n - k) / (n - 1) / repeats)


def pass_rates(correct: np.ndarray, sizes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per problem: pass@1 (the share of correct samples, what ``random`` scores) and the
    unbiased pass@k, from each problem's count of correct samples among its ``sizes``."""
    pass1 = correct / sizes
    passk = np.array([pass_at_k(int(n), int(c), k) for c, n in zip(correct, sizes, strict=True)])
    return pass1, passk


def gap_interval(
    values: np.ndarray,
    pass1: np.ndarray,
    passk: np.ndarray,
    resamples: np.ndarray,
    level: float = CONFIDENCE,
) -> Interval | None:
    """The share of the pass@1 -> pass@k gap an arm closes, with a percentile bootstrap
    interval: each resample of the problems recomputes sel@k, pass@1 and pass@k together.
    None when there is no gap; resamples without a gap are left out of the interval."""
    estimate = gap_closed(float(values.mean()), float(pass1.mean()), float(passk.mean()))
    if estimate is None:
        return None
    gaps = passk[resamples].mean(axis=1) - pass1[resamples].mean(axis=1)
    closed = (values[resamples].mean(axis=1) - pass1[resamples].mean(axis=1))[gaps > 1e-12]
    ratios = closed / gaps[gaps > 1e-12]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high))
