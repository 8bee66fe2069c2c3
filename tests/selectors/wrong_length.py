"""Returns one score too few."""

USES: set[str] = set()


def select(problem, candidates, probe):
    return [1.0] * (len(candidates) - 1)
