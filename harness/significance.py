"""The keep/discard rule: keep a change only when it beats the incumbent by more than noise.

On the dev split, the per-problem values of the new selector and of the incumbent are paired;
a bootstrap over problems gives the one-sided 95% lower bound of the mean difference. The change
is kept only when that bound is above ``min_effect`` (default 0) — so a no-op change (identical
values: every resampled difference is exactly 0) is never kept, and changes that only reshuffle
random tie-breaking are kept at most about 5% of the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.metrics import CONFIDENCE, bootstrap_indices, one_sided_lower


@dataclass(frozen=True)
class Decision:
    keep: bool
    difference: float  # mean of new - incumbent over problems
    lower: float  # one-sided 95% lower bound of that mean
    min_effect: float
    reason: str


def decide(new: np.ndarray, incumbent: np.ndarray, seed: int, min_effect: float = 0.0) -> Decision:
    """Compare per-problem values (same problems, same order) of two selectors."""
    new, incumbent = np.asarray(new, dtype=float), np.asarray(incumbent, dtype=float)
    if new.shape != incumbent.shape or new.ndim != 1 or len(new) == 0:
        raise ValueError("both selectors must be scored on the same, non-empty set of problems")
    diff = new - incumbent
    lower = one_sided_lower(diff, bootstrap_indices(len(diff), seed), CONFIDENCE)
    estimate = float(diff.mean())
    keep = bool(lower > min_effect)
    verdict = "kept" if keep else "discarded"
    reason = (
        f"{verdict}: dev change {estimate:+.4f}, one-sided {CONFIDENCE:.0%} lower bound "
        f"{lower:+.4f} {'>' if keep else '<='} minimum effect {min_effect:+.4f}"
    )
    return Decision(keep, estimate, lower, min_effect, reason)
