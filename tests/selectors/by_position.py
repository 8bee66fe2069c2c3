"""Scores by position in the list it is shown (the first wins), not by the candidate."""

USES: set[str] = set()


def select(problem, candidates, probe):
    return [-float(i) for i in range(len(candidates))]
