"""Uses the self-tests without declaring them in USES."""

USES: set[str] = set()


def select(problem, candidates, probe):
    tests = probe.self_tests()
    return [float(sum(row)) for row in probe.run_many(candidates, tests)]
