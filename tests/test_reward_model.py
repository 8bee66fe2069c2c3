"""Reward models over HTTP: vLLM's /classify, /pooling and /score, and a generic JSON endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rewardkit import scorer_config
from serverkit import FakeServer, Reply, error, scripted

from harness.api import Candidate, Problem
from harness.reward.scorer import ProblemRewards, Scorer, ScoreResult

PROBLEM = Problem("tiny/add", 'def add(a, b):\n    """Return a + b."""\n', "add")
COMPLETIONS = ["    return a + b\n", "    return a - b\n", "    return a * b\n"]
PAIRS = [
    (PROBLEM, Candidate(f"c{i}", text, PROBLEM.prompt + text, None, None))
    for i, text in enumerate(COMPLETIONS)
]
REWARD = {"return a + b": 2.5, "return a - b": -1.0, "return a * b": 0.25}


def reward_of(text: str) -> float:
    return next(v for k, v in REWARD.items() if k in text)


def usage(tokens: int) -> dict[str, int]:
    return {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}


def make_scorer(server: FakeServer, cache: Path, **scorer: Any) -> Scorer:
    root = server.url.removesuffix("/v1")  # vLLM's pooling endpoints live at the server root
    config = scorer_config(kind="reward_model", model="rm", api_base=root, **scorer)
    assert config.scorer is not None
    return Scorer(config.scorer, cache)


def test_classify_with_chat_messages_one_class(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        program = body["messages"][1]["content"]  # the assistant turn is the program
        row = {"index": 0, "label": "LABEL_0", "probs": [reward_of(program)], "num_classes": 1}
        return Reply(200, {"object": "list", "data": [row], "usage": usage(40)})

    with FakeServer(handler) as server:
        scorer = make_scorer(server, tmp_path)
        results = scorer.score(PAIRS)
        requests = list(server.requests)
    assert {path for path, _ in requests} == {"/classify"}
    assert all(b["model"] == "rm" and b["messages"][0]["role"] == "user" for _, b in requests)
    assert [r.value for r in results] == [2.5, -1.0, 0.25]
    assert {r.method for r in results} == {"classify"}
    assert [r.tokens for r in results] == [40, 40, 40]
    assert [c.prompt_tokens for c in scorer.take_calls()] == [40, 40, 40]


def test_classify_with_several_classes_needs_the_label(tmp_path: Path) -> None:
    body = {"data": [{"index": 0, "label": "bad", "probs": [0.3, 0.7], "num_classes": 2}]}
    with FakeServer(scripted([(200, body)])) as server:
        unlabelled = make_scorer(server, tmp_path).score(PAIRS[:1])
        labelled = make_scorer(server, tmp_path, label=1).score(PAIRS[:1])
    assert unlabelled[0].status == "failed" and "set scorer.label" in str(unlabelled[0].error)
    assert labelled[0].value == pytest.approx(0.7)


def test_classify_text_input_is_batched(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        rows = [
            {"index": i, "probs": [reward_of(text)], "num_classes": 1}
            for i, text in enumerate(body["input"])
        ]
        return Reply(200, {"data": rows[::-1], "usage": usage(10 * len(rows))})  # any order

    with FakeServer(handler) as server:
        results = make_scorer(server, tmp_path, input="text", batch_size=2).score(PAIRS)
        sizes = [len(b["input"]) for _, b in server.requests]
    assert sorted(sizes) == [1, 2]  # three candidates of one problem, two a request (any order)
    assert [r.value for r in results] == [2.5, -1.0, 0.25]
    assert [r.tokens for r in results] == [10, 10, 10]


def test_pooling_per_token_rows_use_the_last_token(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        reward = reward_of(body["messages"][1]["content"])
        rows = [[0.0], [99.0], [reward]]  # token_classify: one row per token
        return Reply(200, {"data": [{"index": 0, "object": "pooling", "data": rows}]})

    with FakeServer(handler) as server:
        results = make_scorer(server, tmp_path, endpoint="pooling").score(PAIRS)
        paths = {path for path, _ in server.requests}
    assert paths == {"/pooling"}
    assert [r.value for r in results] == [2.5, -1.0, 0.25]
    assert all(r.tokens is None for r in results)  # no usage reported: unknown, not 0


def test_score_endpoint_pairs_the_problem_with_every_program(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        assert "def add" in body["text_1"]
        rows = [
            {"index": i, "object": "score", "score": reward_of(t)}
            for i, t in enumerate(body["text_2"])
        ]
        return Reply(200, {"data": rows, "usage": usage(30)})

    with FakeServer(handler) as server:
        results = make_scorer(server, tmp_path, endpoint="score").score(PAIRS)
        assert len(server.requests) == 1
    assert [r.value for r in results] == [2.5, -1.0, 0.25]


def test_json_endpoint_reads_the_number_at_the_path(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        return Reply(200, {"result": {"scores": [reward_of(body["program"])]}})

    with FakeServer(handler) as server:
        scorer = make_scorer(
            server, tmp_path, endpoint="json", path="/v1/judge", json_path="result.scores.0"
        )
        results = scorer.score(PAIRS)
        assert {p for p, _ in server.requests} == {"/v1/judge"}
    assert [r.value for r in results] == [2.5, -1.0, 0.25]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"result": {"scores": ["high"]}}, "not a finite number"),
        ({"result": {"scores": [None]}}, "not a finite number"),
        ({"result": {}}, "nothing at 'result.scores.0'"),
        ({"result": {"scores": [True]}}, "not a finite number"),
    ],
)
def test_a_response_without_a_usable_number_is_a_failure(
    tmp_path: Path, body: dict[str, Any], reason: str
) -> None:
    with FakeServer(scripted([(200, body)])) as server:
        scorer = make_scorer(server, tmp_path, endpoint="json", json_path="result.scores.0")
        results = scorer.score(PAIRS[:1])
    assert results[0].status == "failed" and results[0].value is None
    assert reason in str(results[0].error)


def test_reward_model_retries_rate_limits_then_gives_up(tmp_path: Path) -> None:
    ok = (200, {"data": [{"index": 0, "probs": [0.5], "num_classes": 1}]})
    with FakeServer(scripted([error(429, "busy"), ok])) as server:
        recovered = make_scorer(server, tmp_path, retries=1, concurrency=1).score(PAIRS[:1])
    with FakeServer(scripted([error(502, "bad gateway")])) as server:
        down = make_scorer(server, tmp_path, retries=1, concurrency=1).score(PAIRS[:1])
        assert len(server.requests) == 2
    assert recovered[0].value == 0.5
    assert down[0].status == "failed" and "after 2 attempts" in str(down[0].error)


def test_an_unreachable_reward_model_is_a_transport_failure(tmp_path: Path) -> None:
    with FakeServer(scripted([(200, {})])) as server:
        url = server.url
    config = scorer_config(kind="reward_model", model="rm", api_base=url, retries=1, timeout=2.0)
    assert config.scorer is not None
    results = Scorer(config.scorer, tmp_path).score(PAIRS[:1])
    assert results[0].status == "failed" and "ConnectError" in str(results[0].error)


def test_tokens_not_reported_are_unknown_not_zero() -> None:
    measured = ScoreResult("ok", 0.5, "classify", 40)
    unreported = ScoreResult("ok", 0.1, "pooling", None)
    rewards = ProblemRewards([measured, measured, unreported], np.array([0.5, 0.5, 0.1]), None)
    assert rewards.tokens([0, 1]) == 80
    assert rewards.tokens([0, 2]) is None
