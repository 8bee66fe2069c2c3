"""Declares and asks for the self-tests, then scores every candidate the same."""

USES = {"self_tests"}


def select(problem, candidates, probe):
    probe.self_tests()
    return [0.0] * len(candidates)
