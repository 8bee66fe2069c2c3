"""Runs 30 extra generated tests on every candidate, catching the refusal and carrying on.

With k = 4 and the default budget (every distinct self-test + 10 per candidate), 4 x 30 fresh
executions are always over budget.
"""

from harness.api import BudgetExceeded

USES = {"self_tests"}
EXTRA = [f"assert {i} == {i}" for i in range(30)]


def select(problem, candidates, probe):
    tests = list(dict.fromkeys(probe.self_tests()))
    try:
        rows = probe.run_many(candidates, tests + EXTRA)
    except BudgetExceeded:
        rows = probe.run_many(candidates, tests)
    return [float(sum(row)) for row in rows]
