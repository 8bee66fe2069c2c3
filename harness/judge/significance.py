"""The keep/discard rule, with the error of the whole run controlled, not only each experiment's.

Each experiment compares the per-problem dev values of the change and of the incumbent (paired,
``diff = new - incumbent``, each in [-1, 1]). A change is kept only when both hold:

1. **Evidence, held to the run's budget.** The betting e-value of ``mean(diff) > 0`` (below) is
   at least ``1 / level``, where ``level`` is what the run's online procedure gives this test:
   e-LOND (Xu & Ramdas 2024), :class:`OnlineFdr`. Stated as a p-value, ``p = 1/e <= level``.
2. **The minimum effect.** The one-sided 95% lower bound of the mean difference, from a
   bootstrap over problems, is above ``min_effect`` (as before).

Why an e-value and not the sign-flip test used before. The sign-flip test is exact only when
each difference is symmetric about zero. The changes a night is full of are not: a change that
re-breaks the incumbent's ties at random picks one member of a tied set (worth 0 or 1) where the
harness scored the incumbent at the set's mean (say 0.75), so on that problem the difference is
+0.25 three times in four and -0.75 once. Against such changes the sign-flip p-value is liberal,
and the smaller the level the worse: on 72 problems with 27 such ties (``bench/fdr_sim.py``) it
is below 0.05 for 6.6% of them and below 0.0001 for 0.55%, 55 times the level. An online
procedure tests at small levels, so it needs a p-value valid there. The betting e-value is: for
independent differences in [-1, 1] whose means average at most 0 (the change's expected sel@k is
not above the incumbent's) — skewed, discrete, a realisation against an expectation — each bet
``prod(1 + lam * diff)`` has expectation ``prod(1 + lam * mu_i) <= (1 + lam * mean(mu))**n <= 1``
(Waudby-Smith & Ramdas 2024), and so does the average over the bets ``BET_FRACTIONS``; Markov's
inequality makes ``1/e`` a p-value. It is exact arithmetic (no Monte Carlo, so no floor on the
p-value) and does not depend on the problems' order. The price: a run of small positive
differences is weak evidence, rightly so.

Why e-LOND. Test ``j`` of the run (experiments that got an e-value, counted from 1) is held to
``alpha * gamma_j * (keeps before it + 1)`` with ``sum(gamma) = 1``; the false discovery rate
(the expected share of kept changes that are not better than their incumbent) of the whole run
is then at most ``alpha`` under *any* dependence between the experiments (they share the dev
problems and an incumbent), three lines of proof: a false keep at test j has ``e_j >= 1/level``,
so it counts at most ``level * e_j / (keeps + 1) <= alpha * gamma_j * e_j``, whose expectation
summed over j is at most alpha. A keep raises the levels that follow. Invalid, crashed and
reused experiments are not tests: no e-value is formed, nothing is spent.

``gamma_j = H / ((H + j - 1) (H + j))`` with ``H`` the horizon (``alpha`` is ``[eval] fdr``,
``H`` is ``[eval] fdr_horizon``): it sums to 1, the first H tests share half of it (about
``alpha / (2H)`` each, test 1 gets ``alpha / (H + 1)``), and test ``j >> H`` gets about
``alpha * H / j**2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from harness.judge.metrics import CONFIDENCE, bootstrap_indices, interval, one_sided_lower

BET_FRACTIONS = np.array([1.0 - 2.0**-j for j in range(1, 7)])  # 0.5 ... 0.984: the bets averaged
SIGN_FLIPS = 2000  # random sign patterns of the per-experiment rule's sign-flip test
_TOLERANCE = 1e-9  # relative: a level read back from the ledger equals the one recomputed


@dataclass(frozen=True)
class Decision:
    keep: bool
    difference: float  # mean of new - incumbent over problems
    lower: float  # one-sided 95% lower bound of that mean
    p_value: float  # 1 / the betting e-value of a difference above zero (at most 1)
    level: float  # the level the run's procedure gave this test
    min_effect: float
    reason: str


def betting_p(diff: np.ndarray) -> float:
    """``1/e`` (at most 1) for the betting e-value of ``mean(diff) > 0``, ``diff`` in [-1, 1].

    ``e`` is the mean over ``BET_FRACTIONS`` of ``prod(1 + lam * diff)``; computed in logs, so
    thousands of problems neither overflow nor lose the evidence.
    """
    diff = np.asarray(diff, dtype=float)
    if diff.ndim != 1 or np.any(np.abs(diff) > 1.0 + 1e-12):
        raise ValueError("differences must be one per problem, each in [-1, 1]")
    logs = np.log1p(BET_FRACTIONS[:, None] * np.clip(diff, -1.0, 1.0)[None, :]).sum(axis=1)
    top = float(logs.max())
    log_e = top + math.log(float(np.mean(np.exp(logs - top))))
    return 1.0 if log_e <= 0.0 else math.exp(-log_e)


@dataclass(frozen=True)
class OnlineFdr:
    """e-LOND over the tests of one run: the level of the next test, and the state after one.

    The state is two counts, so a run that resumes rebuilds it from what the ledger holds
    (:meth:`replay`). Pure: recording returns a new state.
    """

    alpha: float  # the run's false discovery rate ([eval] fdr)
    horizon: int  # H of the spending sequence ([eval] fdr_horizon)
    tests: int = 0  # experiments tested so far (each had an e-value)
    keeps: int = 0  # of which kept

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0 or self.horizon < 1:
            raise ValueError("the FDR must be in (0, 1) and the horizon at least 1")

    def gamma(self, j: int) -> float:
        """The share of the budget test ``j`` (from 1) gets before any keep."""
        h = self.horizon
        return h / ((h + j - 1) * (h + j))

    def level(self) -> float:
        """The level of the next test: ``alpha * gamma_(tests + 1) * (keeps + 1)``."""
        return self.alpha * self.gamma(self.tests + 1) * (self.keeps + 1)

    def record(self, kept: bool) -> OnlineFdr:
        """The state after the next test, kept or not."""
        return OnlineFdr(self.alpha, self.horizon, self.tests + 1, self.keeps + int(kept))

    @classmethod
    def replay(
        cls, alpha: float, horizon: int, tests: Iterable[tuple[float, float, bool]]
    ) -> OnlineFdr:
        """The state after ``tests``, the run's ``(p_value, level, kept)`` in order, checking
        that each was decided by this procedure: its level is the one due, and a keep had
        ``p <= level``. Raises ValueError naming the first test that was not."""
        state = cls(alpha, horizon)
        for j, (p_value, level, kept) in enumerate(tests, start=1):
            due = state.level()
            if not math.isclose(level, due, rel_tol=_TOLERANCE):
                raise ValueError(f"test {j} was held to level {level:.6g}, not {due:.6g}")
            if kept and p_value > level:
                raise ValueError(f"test {j} was kept with p = {p_value:.6g} > {level:.6g}")
            state = state.record(kept)
        return state


def decide(
    new: np.ndarray,
    incumbent: np.ndarray,
    seed: int,
    level: float,
    min_effect: float = 0.0,
) -> Decision:
    """Compare per-problem values (same problems, same order) of two selectors, as test of the
    run held to ``level`` (:meth:`OnlineFdr.level`)."""
    diff = _paired(new, incumbent)
    lower = one_sided_lower(diff, bootstrap_indices(len(diff), seed), CONFIDENCE)
    p_value = betting_p(diff)
    estimate = float(diff.mean())
    above, evident = lower > min_effect, p_value <= level
    keep = bool(above and evident)
    reason = (
        f"{'kept' if keep else 'discarded'}: dev change {estimate:+.4f}, one-sided "
        f"{CONFIDENCE:.0%} lower bound {lower:+.4f} {'>' if above else '<='} minimum effect "
        f"{min_effect:+.4f}, p = {p_value:.3g} {'<=' if evident else '>'} level {level:.3g}"
    )
    return Decision(keep, estimate, lower, p_value, level, min_effect, reason)


@dataclass(frozen=True)
class Confirmation:
    """A kept change against the start of the run on the holdout: the mean paired difference
    and its 95% percentile bootstrap interval over the holdout problems."""

    difference: float
    low: float
    high: float

    @property
    def confirmed(self) -> bool:
        """The holdout agrees: the whole interval is above 0."""
        return self.low > 0.0


def confirm(new: np.ndarray, start: np.ndarray, seed: int) -> Confirmation:
    """A kept change's holdout values against the starting selector's (same problems, same
    order), on the resamples an evaluation with ``seed`` draws. Never decides a keep."""
    found = interval(_paired(new, start), bootstrap_indices(len(new), seed), CONFIDENCE)
    return Confirmation(found.estimate, found.low, found.high)


def per_experiment(
    new: np.ndarray, incumbent: np.ndarray, seed: int, min_effect: float = 0.0
) -> bool:
    """The rule before the run's error was controlled, kept only so the benchmarks and tests
    can show what it keeps (the loop never uses it): the bootstrap bound above ``min_effect``
    and a paired sign-flip p-value below 0.05, at every experiment."""
    diff = _paired(new, incumbent)
    lower = one_sided_lower(diff, bootstrap_indices(len(diff), seed), CONFIDENCE)
    return bool(lower > min_effect and sign_flip_p(diff, seed) < 1.0 - CONFIDENCE)


def sign_flip_p(diff: np.ndarray, seed: int, flips: int = SIGN_FLIPS) -> float:
    """One-sided p-value of ``mean(diff) > 0`` by flipping the signs of the differences.

    Exact only when each difference is symmetric about zero under the null; the ``+1`` terms
    keep the Monte Carlo estimate valid, ties count against the change.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, len(diff), 0x5F]))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(flips, len(diff)))
    flipped = (signs * diff).mean(axis=1)
    at_least = int(np.sum(flipped >= diff.mean() - 1e-12))
    return (1 + at_least) / (flips + 1)


def _paired(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    new, old = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    if new.shape != old.shape or new.ndim != 1 or len(new) == 0:
        raise ValueError("both selectors must be scored on the same, non-empty set of problems")
    return new - old
