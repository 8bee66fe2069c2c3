"""Scores every candidate the same: must score exactly like the random arm."""

USES: set[str] = set()


def select(problem, candidates, probe):
    return [0.0] * len(candidates)
