"""A hostile selector: ast.parse (allowed) then compile of the tree.

It catches the refusal and carries on; the attempt alone makes the evaluation invalid.
"""

import marshal

USES: set[str] = set()
RUNNER = compile("exec(source, {})", "runner", "exec")  # load time: allowed
BLOB = marshal.dumps(RUNNER)
PAYLOAD = b"cbuiltins\neval\n(V1 + 1\ntR."


def helper():
    return 1


def other():
    return 2


def select(problem, candidates, probe):
    scores = []
    for candidate in candidates:
        value = None
        try:
            import ast

            tree = ast.parse(candidate.program)
            namespace: dict = {}
            exec(compile(tree, "c", "exec"), namespace)
        except Exception:
            pass
        scores.append(float(len(candidate.completion)) + (1.0 if value else 0.0))
    return scores
