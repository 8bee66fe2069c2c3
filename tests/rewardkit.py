"""Shared setup for the reward tests: scripted judges and reward models, a planted pool.

Every model here is a handler for ``tests/serverkit.py``: litellm (judge) or httpx (reward
model) reach it over real HTTP on 127.0.0.1, exactly where ``vllm serve`` would answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit import TINY_POOL, open_session, run_eval
from serverkit import Reply, chat_completion

from harness.config import RunConfig, parse_config
from harness.home import cache_dir
from harness.results import EvalResult

# The planted pool: three problems of the tiny suite, four candidates each, with the reward
# each candidate is given (the AUC test works its expected numbers out from these by hand).
PLANTED: dict[str, list[tuple[str, bool, float]]] = {  # completion, correct, planted score
    "tiny/add": [
        ("    return a + b\n", True, 0.9),
        ("    return b + a\n", True, 0.5),
        ("    return a - b\n", False, 0.5),
        ("    return a * b\n", False, 0.1),
    ],
    "tiny/maxof": [
        ("    return max(xs)\n", True, 0.2),
        ("    return xs[0]\n", False, 0.8),
        ("    return min(xs)\n", False, 0.2),
        ("    return sorted(xs)[-1]\n", True, 0.6),
    ],
    "tiny/is_even": [
        ("    return n % 2 == 0\n", True, 0.3),
        ("    return not n % 2\n", True, 0.4),
        ("    return n % 2 != 1\n", True, 0.35),
        ("    return (n & 1) == 0\n", True, 0.45),
    ],
}


def write_planted_pool(folder: Path) -> Path:
    """``samples.jsonl`` of the planted pool (no self-tests) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"task_id": task_id, "completion": completion}
        for task_id, candidates in PLANTED.items()
        for completion, _, _ in candidates
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def planted_score(program: str) -> float:
    """The planted reward of the candidate whose completion ends ``program``."""
    for candidates in PLANTED.values():
        for completion, _, score in candidates:
            if program.endswith(completion):
                return score
    raise AssertionError(f"not a planted program: {program!r}")


def yes_no(p_yes: float, first: str = "Yes", lead: list[str] | None = None) -> list[dict]:
    """Chat logprobs content: optional leading tokens, then a yes/no token with P(yes) = p_yes."""
    entries = [
        {"token": t, "logprob": -0.01, "top_logprobs": [{"token": t, "logprob": -0.01}]}
        for t in lead or []
    ]
    alternatives = [
        {"token": first, "logprob": math.log(p_yes)},
        {"token": " no", "logprob": math.log(1.0 - p_yes)},
        {"token": "Maybe", "logprob": -9.0},
    ]
    entries.append({"token": first, "logprob": math.log(p_yes), "top_logprobs": alternatives})
    return entries


def hashed(text: str) -> float:
    """A score in (0.05, 0.95) that depends on the prompt only: varies across candidates."""
    return 0.05 + 0.9 * int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32


def judge(score: Callable[[str], float]) -> Callable[[str, dict[str, Any]], Reply]:
    """A judge answering "Yes" with top logprobs giving P(yes) = score(prompt)."""

    def handler(path: str, body: dict[str, Any]) -> Reply:
        p = score(body["messages"][-1]["content"])
        return Reply(200, chat_completion(["Yes"], logprobs=[yes_no(p)]))

    return handler


def scorer_config(**scorer: Any) -> RunConfig:
    """A run config with the given ``[scorer]`` (validated as a file's would be; fast retries)."""
    table = {"backoff": 0.01, "concurrency": 2, **scorer}
    return parse_config({"scorer": table}, "test.toml")


def run(config: RunConfig, selector: Path | None = None, pool: Path = TINY_POOL) -> EvalResult:
    """One evaluation (k = 4, two subsets) in a fresh Session; caches under WINNOW_HOME."""
    with open_session(cache_dir(), config=config) as session:
        return run_eval(session, selector, pool)


def write_selector(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


REWARD_SELECTOR = """
USES = {"reward_model"}


def select(problem, candidates, probe):
    return [probe.reward(c) for c in candidates]
"""

GREEDY_SELECTOR = """
from harness.api import BudgetExceeded

USES = {"reward_model"}


def select(problem, candidates, probe):
    scores = [probe.reward(c) for c in candidates]
    try:  # a second opinion on every candidate: twice the budget, the refusal caught
        return [a + probe.reward(c) for a, c in zip(scores, candidates)]
    except BudgetExceeded:
        return scores
"""
