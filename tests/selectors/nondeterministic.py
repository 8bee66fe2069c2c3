"""Random scores, drawn afresh on every call: the same inputs give different scores."""

import random

USES: set[str] = set()


def select(problem, candidates, probe):
    return [random.random() for _ in candidates]
