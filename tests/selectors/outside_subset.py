"""Asks the probe about a candidate it was not shown (one from another subset or problem)."""

from harness.api import Candidate

USES = {"self_tests"}


def select(problem, candidates, probe):
    stranger = Candidate("not-shown", "", "", None, None)
    probe.run(stranger, probe.self_tests())
    return [0.0] * len(candidates)
