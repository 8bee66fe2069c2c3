"""Returns text that merely looks like numbers."""

USES: set[str] = set()


def select(problem, candidates, probe):
    return [str(i) for i in range(len(candidates))]
