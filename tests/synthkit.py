"""A synthetic suite and pool, written by the tests themselves, big enough for real statistics.

Each problem asks for a small integer function ``f(x) = a*x + b`` (or ``a*x*x + b``); candidates
are the right function, or one of a few plausible wrong ones (off by one, flipped sign, wrong
constant); self-tests are asserts on a few inputs, some with wrong expected values. Correct
candidates agree with each other on the self-tests, so CodeT clearly beats random on it, and the
mix of right and wrong candidates leaves room for a better selector — like a real pool, small.
"""

from __future__ import annotations

import json
import random
from pathlib import Path


def write_synthetic(root: Path, problems: int = 40, n: int = 8, seed: int = 7) -> tuple[Path, Path]:
    """Write ``suite.jsonl`` and ``pool/{samples,self_tests}.jsonl`` under ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "pool").mkdir(exist_ok=True)
    suite, samples, tests = [], [], []
    for i in range(problems):
        a, b = rng.randint(2, 9), rng.randint(-5, 5)
        square = i % 3 == 0
        name = f"f{i}"
        expr = f"{a} * x * x + {b}" if square else f"{a} * x + {b}"

        def value(x: int, a: int = a, b: int = b, square: bool = square) -> int:
            return a * x * x + b if square else a * x + b

        prompt = f'def {name}(x):\n    """Return {expr} for an integer x."""\n'
        hidden = "".join(f"    assert candidate({x}) == {value(x)}\n" for x in (-3, 0, 2, 7, 11))
        suite.append(
            {
                "task_id": f"syn/{i}",
                "prompt": prompt,
                "entry_point": name,
                "canonical_solution": f"    return {expr}\n",
                "test": f"def check(candidate):\n{hidden}",
            }
        )
        wrong = [f"{a} * x + {b + 1}", f"{a + 1} * x + {b}", f"{a} * x - {b}", f"{a} * x * x + {b}"]
        if square:
            wrong = [
                f"{a} * x * x + {b + 1}",
                f"{a} * x * {a} + {b}",
                f"{a} * x + {b}",
                f"x * x + {b}",
            ]
        share = rng.choice([0.15, 0.3, 0.5, 0.7])  # difficulty: share of correct samples
        for j in range(n):
            body = expr if rng.random() < share else rng.choice(wrong)
            samples.append(
                {
                    "task_id": f"syn/{i}",
                    "completion": f"    return {body}\n",
                    "logprob_mean": round(-rng.uniform(0.05, 0.6), 4),
                    "num_tokens": 8 + j,
                }
            )
        asserts = []
        for x in rng.sample(range(-4, 9), 4):
            expected = value(x) + (rng.choice([1, -1, 2]) if rng.random() < 0.25 else 0)
            asserts.append(f"assert {name}({x}) == {expected}")
        asserts.append(asserts[0])  # a test generated twice counts twice
        tests.append({"task_id": f"syn/{i}", "tests": asserts})
    suite_path = root / "suite.jsonl"
    suite_path.write_text("".join(json.dumps(r) + "\n" for r in suite))
    (root / "pool" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples))
    (root / "pool" / "self_tests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tests))
    return suite_path, root / "pool"
