"""Where a small pool's curve reaches a stronger pool's pass@1, with a bootstrap interval.

For a curve of the small pool (its pass@k, or one arm's sel@k) measured at the sampled ks, and
the stronger pool's pass@1, both restricted to the problems the two pools share:

- the crossing is the smallest *sampled* k whose value reaches the target (no interpolation
  between ks: only measured points count); None when no sampled k reaches it;
- its interval is a paired percentile bootstrap over problems: each resample of the shared
  problems recomputes both the curve and the target, and finds its own crossing k (or none,
  counted as "beyond the largest k sampled"); the 2.5% and 97.5% points of those ks are the
  interval. ``reached_share`` is the share of resamples that cross within the sampled ks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.judge.metrics import CONFIDENCE, bootstrap_indices, interval

NOT_CROSSING = ("random", "oracle")  # flat at pass@1, and the pass@k ceiling itself


@dataclass
class Curves:
    """One pool's per-problem values at its sampled ks: the input of the crossings."""

    tasks: list[str]
    ks: list[int]
    values: dict[str, np.ndarray]  # "pass@k" or an arm -> (len(ks), problems)
    pass_at_1: np.ndarray  # (problems,): c / n


def find_crossings(pools: dict[str, Curves], seed: int) -> list[Crossing]:
    """Every curve of every pool against the pass@1 of every pool with a higher pass@1 on the
    problems the two share (which pool is the stronger is decided there too: a pool covering
    only easy problems is not stronger for it)."""
    found = []
    for small, a in pools.items():
        for big, b in pools.items():
            shared = sorted(set(a.tasks) & set(b.tasks))
            if small == big or not shared:
                continue
            cols_a = [a.tasks.index(t) for t in shared]
            target = b.pass_at_1[[b.tasks.index(t) for t in shared]]
            if target.mean() <= a.pass_at_1[cols_a].mean():
                continue  # reached at k = 1 already: nothing to find
            for curve, values in a.values.items():
                if curve not in NOT_CROSSING:
                    found.append(
                        find_crossing(small, big, curve, a.ks, values[:, cols_a], target, seed)
                    )
    return found


@dataclass
class Crossing:
    """One curve of ``small`` against ``big``'s pass@1."""

    small: str  # pool names as given on the command line
    big: str
    curve: str  # "pass@k" or an arm name
    problems: int  # the problems both pools cover (everything below is on them)
    target: float  # big's pass@1
    target_low: float
    target_high: float
    k: int | None  # smallest sampled k whose value reaches the target; None: none does
    value: float | None  # the curve's value at that k
    k_low: int | None  # 95% bootstrap interval of the crossing k ...
    k_high: int | None  # ... None: beyond the largest k sampled (or never, for k_low)
    reached_share: float  # share of resamples crossing within the sampled ks
    largest_k: int  # the largest k sampled on the small pool


def find_crossing(
    small: str,
    big: str,
    curve: str,
    ks: list[int],
    values: np.ndarray,
    target: np.ndarray,
    seed: int,
) -> Crossing:
    """``values`` is (len(ks), problems): the curve's per-problem values; ``target`` is
    (problems,): the stronger pool's per-problem pass@1, on the same problems in order."""
    resamples = bootstrap_indices(len(target), seed)
    goal = interval(target, resamples)
    means = values.mean(axis=1)
    first = _first_reaching(means[:, None], np.array([goal.estimate]))[0]
    boot = _first_reaching(values[:, resamples].mean(axis=2), target[resamples].mean(axis=1))
    never = len(ks)  # "beyond the largest k sampled" sorts after every sampled k
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = (
        int(np.quantile(boot, q, method="inverted_cdf")) for q in (tail, 1.0 - tail)
    )  # fmt: skip
    return Crossing(
        small=small,
        big=big,
        curve=curve,
        problems=len(target),
        target=goal.estimate,
        target_low=goal.low,
        target_high=goal.high,
        k=None if first == never else ks[first],
        value=None if first == never else float(means[first]),
        k_low=None if low == never else ks[low],
        k_high=None if high == never else ks[high],
        reached_share=float(np.mean(boot < never)),
        largest_k=max(ks),
    )


def _first_reaching(curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per column: the index of the first row reaching that column's target, or the number
    of rows when none does. ``curves`` is (ks, columns), ``targets`` (columns,)."""
    reached = curves >= targets[None, :] - 1e-12
    return np.where(reached.any(axis=0), reached.argmax(axis=0), curves.shape[0])
