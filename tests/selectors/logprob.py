"""An honest selector: the highest mean token logprob. Passes every check on the tiny pool."""

USES = {"logprob"}


def select(problem, candidates, probe):
    return [probe.logprob(c) for c in candidates]
