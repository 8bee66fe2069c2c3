"""Behaviour clustering the unmetered way: exec each candidate in this process, call its entry
point on the inputs of the self-tests, and prefer the largest group of equal outputs.

Every execution here escapes the budget; the harness must refuse it (no_execution).
"""

import ast
from collections import Counter

USES = {"self_tests"}


def inputs(tests, entry_point):
    found = []
    for test in tests:
        for node in ast.walk(ast.parse(test)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == entry_point:
                found.append(ast.unparse(node)[len(entry_point) :])
    return list(dict.fromkeys(found))


def select(problem, candidates, probe):
    calls = inputs(probe.self_tests(), problem.entry_point)
    outputs = []
    for candidate in candidates:
        namespace: dict = {}
        row = []
        try:
            exec(candidate.program, namespace)
            for args in calls:
                row.append(repr(eval(f"{problem.entry_point}{args}", namespace)))
        except Exception as exc:  # the refusal too: carry on as if nothing happened
            row.append(type(exc).__name__)
        outputs.append(tuple(row))
    sizes = Counter(outputs)
    return [float(sizes[row]) for row in outputs]
