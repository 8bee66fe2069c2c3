"""Defines no select() function."""

USES: set[str] = set()


def choose(problem, candidates, probe):
    return [0.0] * len(candidates)
