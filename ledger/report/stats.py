"""The report's two statistics, computed by the harness's own functions (``harness/judge/
metrics.py``): each number has one definition, whether the judge or the report shows it.

- the pool's pass@k curve: the mean over problems of the unbiased pass@k (``pass_rates``) of
  their recorded (samples, correct) counts;
- the best selector against a baseline: the mean paired difference over problems, with the
  percentile bootstrap interval on the evaluation's own resamples (``bootstrap_indices`` of its
  seed, problems in the harness's order) — so "selector − random" is the interval the
  evaluation itself recorded as ``diff_vs_random``.
"""

from __future__ import annotations

import numpy as np

from harness.judge.metrics import Interval, bootstrap_indices, interval, pass_rates


def pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    """Mean unbiased pass@k over problems given as (samples, correct) pairs."""
    if not counts:
        raise ValueError("pass@k of no problems")
    sizes, correct = (np.array(column) for column in zip(*counts, strict=True))
    _, passk = pass_rates(correct, sizes, k)
    return float(passk.mean())


def curve_ks(n: int) -> list[int]:
    """The k at which a curve up to n is drawn: every k up to 10, then about 20 per decade."""
    ks = set(range(1, min(n, 10) + 1))
    ks.update(int(round(v)) for v in np.geomspace(10, n, num=24) if n > 10)
    return sorted(k for k in ks if 1 <= k <= n)


def paired_difference(new: list[float], old: list[float], seed: int) -> Interval:
    """Mean of ``new - old`` over problems (in the evaluation's problem order) with its paired
    percentile bootstrap interval, on the resamples the evaluation with ``seed`` drew."""
    a, b = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("a paired difference needs the same, non-empty list of problems")
    return interval(a - b, bootstrap_indices(len(a), seed))
