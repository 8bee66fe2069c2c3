"""Asks for the self-test results on every problem, then ranks by length alone.

The signal is consumed but does not move the pick: the ablation shows it is not wired.
"""

USES = {"self_tests"}


def select(problem, candidates, probe):
    probe.run_many(candidates, probe.self_tests())
    return [-float(len(c.completion)) for c in candidates]
