"""A "reward model" selector that falls back to coin flips when no model is configured.

The failure Winnow exists to catch: it catches SignalUnavailable and carries on.
"""

import random

from harness.api import SignalUnavailable

USES = {"reward_model"}


def select(problem, candidates, probe):
    scores = []
    for candidate in candidates:
        try:
            scores.append(probe.reward(candidate))
        except SignalUnavailable:
            scores.append(random.random())
    return scores
