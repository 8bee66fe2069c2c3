"""Declares a signal the harness does not know."""

USES = {"telepathy"}


def select(problem, candidates, probe):
    return [float(len(c.completion)) for c in candidates]
