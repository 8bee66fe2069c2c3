"""Pools with exactly known success rates, for the sweep tests.

``write_counted_pool`` writes a pool for the synthetic suite (``tests/synthkit.py``) in which
every problem has exactly the number of correct candidates asked for: a correct candidate is
the reference solution, a wrong one returns None. Its self-tests are the hidden asserts
rewritten against the entry point, so they are all right: CodeT then ships a correct candidate
whenever a subset holds one. Token counts and the pool's meta (parameter count, the tokens
spent on self-tests) are the test's to choose, so every cost is known in advance.
"""

from __future__ import annotations

import json
from math import comb
from pathlib import Path
from typing import Any

WRONG = "    return None\n"


def suite_rows(suite: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in suite.read_text().splitlines() if line.strip()]


def write_counted_pool(
    root: Path,
    suite: Path,
    correct: list[int],
    n: int,
    tokens: int,
    meta: dict[str, Any] | None = None,
) -> Path:
    """A pool directory: problem i has ``correct[i]`` right candidates of ``n``, spread out
    (every ``n // c``-th sample), each ``tokens`` long; ``meta`` becomes its meta.json."""
    rows = suite_rows(suite)
    assert len(correct) == len(rows)
    root.mkdir(parents=True, exist_ok=True)
    samples, tests = [], []
    for row, c in zip(rows, correct, strict=True):
        right = {n - 1 - j * (n // c) for j in range(c)} if c else set()
        for i in range(n):
            body = row["canonical_solution"] if i in right else WRONG
            samples.append({"task_id": row["task_id"], "completion": body, "num_tokens": tokens})
        asserts = [
            line.strip().replace("candidate(", f"{row['entry_point']}(")
            for line in row["test"].splitlines()
            if line.strip().startswith("assert")
        ]
        tests.append({"task_id": row["task_id"], "tests": asserts})
    (root / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (root / "self_tests.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tests))
    if meta is not None:
        (root / "meta.json").write_text(json.dumps(meta))
    return root


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n - c, k) / C(n, k), for checking the sweep's numbers by hand."""
    return 1.0 - comb(n - c, k) / comb(n, k)
