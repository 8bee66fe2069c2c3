"""The two statistics the reports compute from recorded per-problem data.

- pass@k of a pool from its per-problem counts (the unbiased estimator of Chen et al. 2021,
  ``1 - C(n-c, k) / C(n, k)``), for the pool's pass@k curve.
- a paired percentile bootstrap interval of a mean difference over problems, to set the best
  selector against each baseline on the very problems both were scored on.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

RESAMPLES = 2000  # bootstrap resamples of the problems
LEVEL = 0.95  # two-sided level of the intervals


@dataclass(frozen=True)
class Difference:
    estimate: float
    low: float
    high: float
    problems: int


def pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    """Mean unbiased pass@k over problems given as (samples, correct) pairs."""
    if not counts:
        raise ValueError("pass@k of no problems")
    values = []
    for n, c in counts:
        if k > n:
            raise ValueError(f"k={k} is larger than a problem's {n} samples")
        values.append(1.0 - comb(n - c, k) / comb(n, k))
    return float(np.mean(values))


def curve_ks(n: int) -> list[int]:
    """The k at which a curve up to n is drawn: every k up to 10, then about 20 per decade."""
    ks = set(range(1, min(n, 10) + 1))
    ks.update(int(round(v)) for v in np.geomspace(10, n, num=24) if n > 10)
    return sorted(k for k in ks if 1 <= k <= n)


def paired_difference(
    new: list[float], old: list[float], seed: int = 0, resamples: int = RESAMPLES
) -> Difference:
    """Mean of ``new - old`` over problems (same order) with a percentile bootstrap interval."""
    a, b = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("a paired difference needs the same, non-empty list of problems")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    tail = (1.0 - LEVEL) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Difference(float(diff.mean()), float(low), float(high), len(diff))
