"""The coin-flip fallback made deterministic: seeded per candidate, so it is stable and moves
with its candidate. Only the wiring check can tell that the "reward model" never answered."""

import random

from harness.api import SignalUnavailable

USES = {"reward_model"}


def select(problem, candidates, probe):
    scores = []
    for candidate in candidates:
        try:
            scores.append(probe.reward(candidate))
        except SignalUnavailable:
            scores.append(random.Random(candidate.id).random())
    return scores
