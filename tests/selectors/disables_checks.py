"""Tries to switch the checks off from the selector file, then goes over the budget.

Module-level names are only the selector's own; the checks run in another process.
"""

import contextlib

from harness.api import BudgetExceeded

USES = {"self_tests"}
CHECKS: list[str] = []  # as if the harness read a list of checks from here
BUDGET = 10**9  # as if the budget came from here
MOST = 0.0
EXTRA = [f"assert {i} == {i}" for i in range(30)]

try:  # the real checks module is not in this process, nor importable here
    import harness.judge.checks as checks

    checks.MOST = 0.0
    checks.not_random = lambda *args, **kwargs: None  # type: ignore[assignment]
except ImportError:
    pass


def select(problem, candidates, probe):
    with contextlib.suppress(BudgetExceeded):
        probe.run_many(candidates, EXTRA)
    return [float(len(c.completion)) for c in candidates]
