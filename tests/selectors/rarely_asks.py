"""Declares logprobs but asks for them on one problem only."""

USES = {"logprob"}


def select(problem, candidates, probe):
    if problem.task_id == "tiny/add":
        return [probe.logprob(c) for c in candidates]
    return [-float(len(c.completion)) for c in candidates]
