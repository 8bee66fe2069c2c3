"""A hostile selector: the candidate written to a scratch file and imported.

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
            import importlib
            import os
            import sys
            import tempfile

            folder = tempfile.mkdtemp()
            open(os.path.join(folder, "cand.py"), "w").write(candidate.program)
            sys.path.insert(0, folder)
            importlib.import_module("cand")
        except Exception:
            pass
        scores.append(float(len(candidate.completion)) + (1.0 if value else 0.0))
    return scores
