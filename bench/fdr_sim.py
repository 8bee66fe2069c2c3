"""The keep rule on synthetic data: false keeps on nulls, and the power it costs (the README's
figures for the significance rule).

    python bench/fdr_sim.py [--nulls 4000] [--nights 100] [--power 1000] [--seed 0]

A dev split of 72 problems. On each, the incumbent leaves a tied set whose share of correct
candidates is ``q``; the harness scores it at ``q`` (the expected value of a pick from the set).
A change is scored per problem by its own pick, a coin: 1 with probability ``q + u``, else 0.

- A **null** change (``u = 0``) has the incumbent's expected sel@k: it re-breaks the ties at
  random. Its per-problem difference is a skewed coin (``q = 0.75``: +0.25 three times in
  four, -0.75 once), never symmetric unless ``q = 0.5``.
- A **real improvement of size d** moves ``q`` up by the same ``u`` on every problem with a mixed
  tied set, so the expected dev difference is d.

Three dev splits: ``right`` (27 problems with q = 0.75, 30 all correct, 15 all wrong), ``wrong``
(27 with q = 0.25, 30 all wrong, 15 all correct) and ``mixed`` (q drawn from 0, 0, 0, 1, 1, 0.2,
0.25, 0.33, 0.5, 0.67, 0.75, 0.8: 41 mixed tied sets with the default seed). Every decision is
the judge's own (``harness/judge/significance.py``): today's rule is ``per_experiment``
(bootstrap bound > 0 and sign-flip p < 0.05, 2,000 flips), the run's rule is ``decide`` at the
level ``OnlineFdr`` gives. Printed, per split:

1. the share of null changes each rule keeps at one experiment (the run's rule at test 1), and
   the tail of the exact sign-flip p-value beside the betting one (``P(p <= a)``, against a);
2. null nights: ``--nights`` runs of 150 null changes each, decided in order with the incumbent
   replaced on a keep, as the loop does: the false keeps per night under each rule;
3. power: the share of real improvements of +0.03, +0.05 and +0.1 kept at test 1, 10 and 100
   of a run with nothing kept before (the lowest levels a test there can get).
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from dataclasses import replace

import numpy as np

from harness.config import EvalConfig
from harness.judge.significance import OnlineFdr, betting_p, decide, per_experiment

PROBLEMS = 72  # the dev split of HumanEval (164 problems) in this repository
NIGHT = 150  # null changes per night
TAILS = (0.05, 0.01, 0.001, 0.0001)
TESTS_AT = (1, 10, 100)  # the power at these tests of a run
EFFECTS = (0.03, 0.05, 0.1)
DEFAULTS = EvalConfig()  # the run config's [eval]: fdr, fdr_horizon (--fdr, --horizon)


def dev_split(name: str, rng: np.random.Generator) -> np.ndarray:
    """Each problem's q: the share of correct candidates in the incumbent's tied set."""
    if name == "mixed":
        return rng.choice([0, 0, 0, 1, 1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.75, 0.8], size=PROBLEMS)
    q = np.full(PROBLEMS, 0.75 if name == "right" else 0.25)
    q[:30], q[30:45] = (1.0, 0.0) if name == "right" else (0.0, 1.0)
    return q


def change(q: np.ndarray, effect: float, rng: np.random.Generator) -> np.ndarray:
    """A change's per-problem values: one pick per problem, improved by ``effect`` on average."""
    mixed = (q > 0) & (q < 1)
    lift = np.where(mixed, effect * len(q) / max(int(mixed.sum()), 1), 0.0)
    return (rng.random(len(q)) < np.clip(q + lift, 0, 1)).astype(float)


def exact_sign_flip_p(diff: np.ndarray) -> float:
    """The sign-flip p-value without Monte Carlo: the distribution of the sum of +-|d| over the
    distinct magnitudes, each a binomial count (feasible here: few magnitudes)."""
    magnitudes = Counter(np.round(np.abs(diff[diff != 0]), 9).tolist())
    sums = {0.0: 1.0}
    for value, count in magnitudes.items():
        ways = np.array([math.comb(count, k) for k in range(count + 1)]) / 2.0**count
        sums_next: dict[float, float] = {}
        for s, prob in sums.items():
            for k, w in enumerate(ways):
                key = round(s + value * (2 * k - count), 9)
                sums_next[key] = sums_next.get(key, 0.0) + prob * w
        sums = sums_next
    observed = round(float(diff.sum()), 9)
    return float(sum(p for s, p in sums.items() if s >= observed - 1e-9))


def one_experiment(q: np.ndarray, start: OnlineFdr, count: int, rng: np.random.Generator) -> None:
    level = start.level()
    old = new = 0
    flips, bets = [], []
    for i in range(count):
        values = change(q, 0.0, rng)
        old += per_experiment(values, q, seed=i)
        new += decide(values, q, seed=i, level=level).keep
        flips.append(exact_sign_flip_p(values - q))
        bets.append(betting_p(values - q))
    print(f"  one null change kept: today's rule {old / count:.2%}, the run's rule at test 1 "
          f"(level {level:.4f}) {new / count:.2%}  ({count} changes)")  # fmt: skip
    flip_arr, bet_arr = np.array(flips), np.array(bets)
    for a in TAILS:
        print(f"    P(p <= {a:g}): exact sign-flip {np.mean(flip_arr <= a):.4f}, "
              f"betting {np.mean(bet_arr <= a):.4f}")  # fmt: skip


def night(q: np.ndarray, start: OnlineFdr, rng: np.random.Generator, seed: int) -> tuple[int, int]:
    """False keeps of one null night under today's rule and the run's, the loop's bookkeeping:
    a kept change becomes the incumbent."""
    old_incumbent = new_incumbent = q
    fdr = start
    old = new = 0
    for _ in range(NIGHT):
        values = change(q, 0.0, rng)
        if per_experiment(values, old_incumbent, seed=seed):
            old, old_incumbent = old + 1, values
        decision = decide(values, new_incumbent, seed=seed, level=fdr.level())
        fdr = fdr.record(decision.keep)
        if decision.keep:
            new, new_incumbent = new + 1, values
    return old, new


def power(
    q: np.ndarray, start: OnlineFdr, effect: float, count: int, rng: np.random.Generator
) -> str:
    levels = {t: replace(start, tests=t - 1).level() for t in TESTS_AT}
    old = 0
    new = dict.fromkeys(TESTS_AT, 0)
    for i in range(count):
        values = change(q, effect, rng)
        old += per_experiment(values, q, seed=i)
        for t, level in levels.items():
            new[t] += decide(values, q, seed=i, level=level).keep
    runs = ", ".join(f"test {t} {new[t] / count:.1%}" for t in TESTS_AT)
    return f"    +{effect:.2f}: today's rule {old / count:.1%} at any test; the run's rule {runs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nulls", type=int, default=4000)
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--power", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fdr", type=float, default=DEFAULTS.fdr)
    parser.add_argument("--horizon", type=int, default=DEFAULTS.fdr_horizon)
    args = parser.parse_args()
    fdr = OnlineFdr(args.fdr, args.horizon)
    levels = ", ".join(f"test {t}: {replace(fdr, tests=t - 1).level():.2g}" for t in TESTS_AT)
    print(f"the run's rule: e-LOND, FDR {fdr.alpha}, horizon {fdr.horizon}; levels with nothing "
          f"kept before: {levels}")  # fmt: skip
    for name in ("right", "wrong", "mixed"):
        rng = np.random.default_rng([args.seed, len(name)])
        q = dev_split(name, rng)
        mixed = int(((q > 0) & (q < 1)).sum())
        print(f"\n{name}: {PROBLEMS} problems, {mixed} with a mixed tied set")
        one_experiment(q, fdr, args.nulls, rng)
        nights = [night(q, fdr, rng, seed=i) for i in range(args.nights)]
        for label, column in (("today's rule", 0), ("the run's rule", 1)):
            kept = np.array([n[column] for n in nights])
            print(f"  null nights of {NIGHT}, {label}: {kept.mean():.2f} kept per night on "
                  f"average, at most {kept.max()}, nights keeping more than one "
                  f"{np.mean(kept > 1):.0%}, any {np.mean(kept > 0):.0%}")  # fmt: skip
        print("  power (kept, with nothing kept before the test):")
        for effect in EFFECTS:
            print(power(q, fdr, effect, args.power, rng))


if __name__ == "__main__":
    main()
