"""A forecast of pass@k past the largest k sampled, from the spread of per-problem pass@1.

Schaeffer et al., "How Do Large Language Monkeys Get Their Power (Laws)?" (arXiv 2502.17578):
each problem's failure rate falls exponentially with k, ``(1 - p_i)^k``; the aggregate falls as
a power law, ``-log pass@k ~ a k^-b``, because the per-problem success probabilities ``p_i``
have a heavy left tail (a few problems the model almost never solves). So the aggregate curve
is forecast from the *distribution* of ``p_i``, not by extrapolating the curve itself.

Method (the beta-binomial estimator of the follow-up, Kazdan et al., arXiv 2510.05197): the
``p_i`` are taken as draws from a Beta(alpha, beta), fitted by maximum likelihood on the
per-problem counts ``c_i`` of ``n_i`` (a problem never solved, ``c_i = 0``, is an ordinary
observation of that likelihood, not a zero ``p_i``). Then exactly::

    E[pass@k] = 1 - E[(1 - p)^k] = 1 - prod_{j<k} (beta + j) / (alpha + beta + j)

and for large k ``1 - pass@k ~ a k^-alpha`` with ``a = Gamma(alpha + beta) / Gamma(beta)``:
the power-law exponent is ``b = alpha``. The band is a percentile bootstrap over problems
(refitting each resample). Everything here is a FORECAST, and is labelled so wherever shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from harness.judge.metrics import BOOTSTRAP_SAMPLES, CONFIDENCE, bootstrap_indices, pass_at_k

# Bootstrap refits behind the forecast band (each a Nelder-Mead fit), as many as every other
# interval's resamples: on the CodeGen-16B HumanEval pool the band's ends at pass@1000 move by
# an SD of 0.007 across bootstrap seeds with 100 refits, 0.003 with 1000 and 0.0015 with 2000.
FORECAST_RESAMPLES = BOOTSTRAP_SAMPLES
FORECAST_POINTS = 16  # log-spaced ks drawn between the largest k sampled and the horizon
SHAPE_BOUNDS = (1e-3, 1e3)  # alpha and beta are searched inside these


@dataclass
class PassForecast:
    """pass@k forecast beyond ``from_k`` (the largest k measured). Not a measurement."""

    label: str  # always starts with "forecast"
    alpha: float  # Beta shape on p near 0: the power-law exponent b
    beta: float
    exponent: float | None  # b in 1 - pass@k ~ a k^-b (alpha); None: a fit at its bound
    scale: float | None  # a = Gamma(alpha + beta) / Gamma(beta); None: overflow, or at the bound
    log_likelihood: float  # of the counts under the fitted beta-binomial
    fit_error: float  # largest |fitted E[pass@k] - measured pass@k| over the sampled ks
    regression_exponent: float | None  # b from a straight line through log(-log pass@k)
    from_k: int
    ks: list[int] = field(default_factory=list)  # from_k, ..., the horizon
    values: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)  # the 95% bootstrap band
    high: list[float] = field(default_factory=list)
    note: str = ""  # what to keep in mind when reading it (a degenerate fit)


def expected_pass(alpha: float, beta: float, ks: np.ndarray) -> np.ndarray:
    """E[1 - (1 - p)^k] for p ~ Beta(alpha, beta), exactly, at each k in ``ks``."""
    top = int(ks.max())
    fail = np.cumprod((beta + np.arange(top)) / (alpha + beta + np.arange(top)))
    return 1.0 - fail[ks.astype(int) - 1]


class _Counts:
    """The beta-binomial log-likelihood of per-problem counts (without the constant binomial
    coefficients), using ``log B(c + a, n - c + b) - log B(a, b)`` as sums of logs."""

    def __init__(self, correct: np.ndarray, n: np.ndarray):
        c, n = correct.astype(int), n.astype(int)
        self.upto = np.stack([c, n - c, n])  # how many terms of each sum, per problem
        self.steps = np.arange(int(n.max()))
        self.sign = np.array([1.0, 1.0, -1.0])

    def loglik(self, alpha: float, beta: float) -> float:
        logs = np.log(np.array([[alpha], [beta], [alpha + beta]]) + self.steps)
        prefix = np.concatenate([np.zeros((3, 1)), np.cumsum(logs, axis=1)], axis=1)
        return float(self.sign @ np.take_along_axis(prefix, self.upto, axis=1).sum(axis=1))


def fit_beta(
    correct: np.ndarray, n: np.ndarray, start: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    """Maximum-likelihood (alpha, beta, log-likelihood) of a beta-binomial on the counts."""
    counts = _Counts(correct, n)
    lo, hi = (math.log(b) for b in SHAPE_BOUNDS)
    if start is None:
        mean = float(np.clip((correct / n).mean(), 0.02, 0.98))
        start = (mean, 1.0 - mean)  # a weak prior-like start: alpha + beta = 1

    def cost(theta: np.ndarray) -> float:
        a, b = np.exp(np.clip(theta, lo, hi))
        return -counts.loglik(float(a), float(b))

    best = _nelder_mead(cost, np.log(np.array(start, dtype=float)))
    alpha, beta = (float(v) for v in np.exp(np.clip(best, lo, hi)))
    return alpha, beta, counts.loglik(alpha, beta)


def _nelder_mead(
    cost: Callable[[np.ndarray], float], x0: np.ndarray, iterations: int = 300, tol: float = 1e-6
) -> np.ndarray:
    """A plain Nelder-Mead minimiser (two parameters here; numpy only)."""
    simplex = [x0] + [x0 + step for step in np.eye(len(x0)) * 0.5]
    values = [cost(x) for x in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        if abs(values[-1] - values[0]) < tol:
            break
        centre = np.mean(simplex[:-1], axis=0)
        reflected = centre + (centre - simplex[-1])
        r = cost(reflected)
        if r < values[0]:
            expanded = centre + 2.0 * (centre - simplex[-1])
            e = cost(expanded)
            simplex[-1], values[-1] = (expanded, e) if e < r else (reflected, r)
        elif r < values[-2]:
            simplex[-1], values[-1] = reflected, r
        else:
            contracted = centre + 0.5 * (simplex[-1] - centre)
            c = cost(contracted)
            if c < values[-1]:
                simplex[-1], values[-1] = contracted, c
            else:  # shrink towards the best point
                simplex = [simplex[0]] + [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex[1:]]
                values = [values[0]] + [cost(x) for x in simplex[1:]]
    return simplex[int(np.argmin(values))]


def forecast_pass(
    correct: np.ndarray,
    n: np.ndarray,
    sampled_ks: list[int],
    horizon: int,
    seed: int,
) -> PassForecast:
    """Fit the Beta to per-problem counts and forecast pass@k from the largest sampled k to
    ``horizon``, with a bootstrap band over problems."""
    alpha, beta, loglik = fit_beta(correct, n)
    measured = np.array(
        [np.mean([pass_at_k(int(m), int(c), k) for c, m in zip(correct, n, strict=True)])
         for k in sampled_ks]
    )  # fmt: skip
    fitted = expected_pass(alpha, beta, np.array(sampled_ks))
    top = max(sampled_ks)
    ks = np.unique(np.geomspace(top, max(horizon, top), FORECAST_POINTS).round().astype(int))
    resamples = bootstrap_indices(len(correct), seed, FORECAST_RESAMPLES)
    refits = [fit_beta(correct[r], n[r], (alpha, beta)) for r in resamples]
    band = np.array([expected_pass(a, b, ks) for a, b, _ in refits])
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(band, [tail, 1.0 - tail], axis=0)
    note = _note(alpha, beta)
    label = "forecast (beta-binomial fit at its bound: no power law)" if note else (
        f"forecast (beta-binomial fit, b = {alpha:.3f})"
    )  # fmt: skip
    return PassForecast(
        label=label,
        alpha=alpha,
        beta=beta,
        exponent=None if note else alpha,  # a shape at its bound is no exponent (b = 782...)
        scale=None if note else _scale(alpha, beta),
        log_likelihood=loglik,
        fit_error=float(np.max(np.abs(fitted - measured))),
        regression_exponent=_regression_exponent(sampled_ks, measured),
        from_k=top,
        ks=[int(k) for k in ks],
        values=[float(v) for v in expected_pass(alpha, beta, ks)],
        low=[float(v) for v in low],
        high=[float(v) for v in high],
        note=note,
    )


def _scale(alpha: float, beta: float) -> float | None:
    log_scale = math.lgamma(alpha + beta) - math.lgamma(beta)
    return math.exp(log_scale) if log_scale < 700 else None


def _note(alpha: float, beta: float) -> str:
    """A fit at the edge of the search: the problems' pass@1 barely differ, so there is no
    heavy tail and pass@k nears 1 exponentially; the exponent then means little."""
    if max(alpha, beta) >= SHAPE_BOUNDS[1] * 0.99:
        return (
            "the per-problem pass@1 barely vary (the Beta fit is at its bound): pass@k "
            "approaches 1 exponentially, not as a power law"
        )
    return ""


def _regression_exponent(ks: list[int], measured: np.ndarray) -> float | None:
    """b from least squares of log(-log pass@k) on log k over the measured points (the way
    power laws were fitted before the distributional view); None with fewer than 2 usable."""
    usable = [(k, v) for k, v in zip(ks, measured, strict=True) if 0.0 < v < 1.0]
    if len(usable) < 2:
        return None
    x = np.log([k for k, _ in usable])
    y = np.log(-np.log([v for _, v in usable]))
    slope = float(np.polyfit(x, y, 1)[0])
    return -slope
