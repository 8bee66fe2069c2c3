"""The LLM judge over real HTTP and real litellm: logprobs, grades, errors, rate limits, cache."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rewardkit import judge, scorer_config, yes_no
from serverkit import FakeServer, Reply, chat_completion, error, scripted

from harness.api import Candidate, Problem
from harness.reward.clients import p_yes
from harness.reward.scorer import Scorer

PROBLEM = Problem("tiny/add", 'def add(a, b):\n    """Return a + b."""\n', "add")


def candidates(*completions: str) -> list[tuple[Problem, Candidate]]:
    return [
        (PROBLEM, Candidate(f"c{i}", text, PROBLEM.prompt + text, None, None))
        for i, text in enumerate(completions)
    ]


PAIRS = candidates("    return a + b\n", "    return a - b\n", "    return a * b\n")


def make_scorer(server: FakeServer, cache: Path, **scorer: Any) -> Scorer:
    config = scorer_config(kind="judge", model="openai/judge", api_base=server.url, **scorer)
    assert config.scorer is not None
    return Scorer(config.scorer, cache)


def by_program(scores: dict[str, float]) -> Any:
    """Score the prompt by which planted completion it shows."""

    def score(prompt: str) -> float:
        return next(v for k, v in scores.items() if k in prompt)

    return score


PLANTED = {"return a + b": 0.92, "return a - b": 0.15, "return a * b": 0.4}


def test_p_yes_normalises_yes_and_no_over_token_spellings() -> None:
    # P(yes) = 0.3 + 0.1 (" Yes" and "yes"), P(no) = 0.2 ("▁No"); "maybe" is ignored.
    content = [
        {
            "token": " Yes",
            "logprob": math.log(0.3),
            "top_logprobs": [
                {"token": " Yes", "logprob": math.log(0.3)},
                {"token": "yes", "logprob": math.log(0.1)},
                {"token": "▁No", "logprob": math.log(0.2)},
                {"token": "maybe", "logprob": math.log(0.4)},
            ],
        }
    ]
    assert p_yes(content) == pytest.approx(0.4 / 0.6)
    # Leading tokens without yes/no ("**") are skipped: the first yes/no position counts.
    assert p_yes(yes_no(0.25, first="YES.", lead=["**"])) == pytest.approx(0.25)
    assert p_yes([{"token": "Sure", "logprob": 0.0, "top_logprobs": []}]) is None


def test_judge_with_logprobs_reads_p_yes_and_records_each_call(tmp_path: Path) -> None:
    with FakeServer(judge(by_program(PLANTED))) as server:
        scorer = make_scorer(server, tmp_path, top_logprobs=5)
        results = scorer.score(PAIRS)
        sent = [body for _, body in server.requests]
    assert [r.status for r in results] == ["ok"] * 3
    assert [r.value for r in results] == pytest.approx([0.92, 0.15, 0.4])
    assert {r.method for r in results} == {"logprobs"}
    assert all(b["logprobs"] is True and b["top_logprobs"] == 5 for b in sent)
    assert all("return a" in b["messages"][0]["content"] for b in sent)  # the program is shown
    calls = scorer.take_calls()
    assert len(calls) == 3 and all(c.error is None for c in calls)
    assert all(c.prompt_tokens == 10 and c.completion_tokens == 1 for c in calls)
    assert {c.response for c in calls} == {"Yes"}
    assert scorer.take_calls() == []  # taken once
    assert [r.tokens for r in results] == [11, 11, 11]


def test_judge_without_logprobs_falls_back_to_a_parsed_grade(tmp_path: Path) -> None:
    grades = {"return a + b": "Grade: 9", "return a - b": "2/10", "return a * b": "10"}

    def handler(path: str, body: dict[str, Any]) -> Reply:
        prompt = body["messages"][0]["content"]
        if "from 0" not in prompt:  # the yes/no prompt: a provider that gives no logprobs
            return Reply(200, chat_completion(["yes"]))
        return Reply(200, chat_completion([next(g for k, g in grades.items() if k in prompt)]))

    with FakeServer(handler) as server:
        scorer = make_scorer(server, tmp_path, concurrency=1)
        results = scorer.score(PAIRS)
        prompts = [body["messages"][0]["content"] for _, body in server.requests]
    assert [r.value for r in results] == pytest.approx([0.9, 0.2, 1.0])
    assert {r.method for r in results} == {"grade"}
    # One yes/no request showed there are no logprobs; from then on only grades are asked.
    assert ["from 0" in p for p in prompts] == [False, True, True, True]


def test_judge_method_logprobs_refuses_a_provider_without_them(tmp_path: Path) -> None:
    with FakeServer(scripted([(200, chat_completion(["yes"]))])) as server:
        results = make_scorer(server, tmp_path, method="logprobs").score(PAIRS[:1])
    assert results[0].status == "failed" and results[0].value is None
    assert "no logprobs" in str(results[0].error)


def test_an_answer_without_yes_or_no_is_unusable_not_graded(tmp_path: Path) -> None:
    content = [
        {
            "token": "Perhaps",
            "logprob": -0.1,
            "top_logprobs": [{"token": "Perhaps", "logprob": -0.1}],
        }
    ]
    reply = (200, chat_completion(["Perhaps"], logprobs=[content]))
    with FakeServer(scripted([reply])) as server:
        results = make_scorer(server, tmp_path).score(PAIRS[:1])
        requests = len(server.requests)
    assert results[0].status == "failed"
    assert "no 'yes' or 'no'" in str(results[0].error)
    assert requests == 1  # not retried, and no grade asked: logprobs did come back


def test_rate_limits_and_server_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    ok = Reply(200, chat_completion(["Yes"], logprobs=[yes_no(0.7)]))
    replies = [error(429, "slow down"), error(503, "loading"), ok]
    with FakeServer(scripted(replies)) as server:
        scorer = make_scorer(server, tmp_path, retries=3, concurrency=1)
        results = scorer.score(PAIRS[:1])
        requests = len(server.requests)
    assert results[0].status == "ok" and results[0].value == pytest.approx(0.7)
    assert requests == 3
    calls = scorer.take_calls()
    assert [c.error is not None for c in calls] == [True, True, False]
    assert "RateLimitError" in str(calls[0].error)


def test_a_judge_still_failing_after_its_retries_is_a_failure_not_a_score(tmp_path: Path) -> None:
    with FakeServer(scripted([error(500, "down")])) as server:
        scorer = make_scorer(server, tmp_path, retries=2, concurrency=1)
        results = scorer.score(PAIRS[:2])
        requests = len(server.requests)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(r.value is None for r in results)
    assert "after 3 attempts" in str(results[0].error)
    assert requests == 6  # 2 candidates x (1 + 2 retries)


def test_a_refusal_is_not_retried(tmp_path: Path) -> None:
    with FakeServer(scripted([error(404, "no such model")])) as server:
        results = make_scorer(server, tmp_path, retries=3).score(PAIRS[:1])
        requests = len(server.requests)
    assert results[0].status == "failed" and "refused" in str(results[0].error)
    assert requests == 1


def test_scores_are_cached_per_candidate_and_scorer_config(tmp_path: Path) -> None:
    with FakeServer(judge(by_program(PLANTED))) as server:
        first = make_scorer(server, tmp_path).score(PAIRS)
        again = make_scorer(server, tmp_path).score(PAIRS)
        assert len(server.requests) == 3  # the second scorer asked nothing
        changed = make_scorer(server, tmp_path, top_logprobs=7).score(PAIRS)
        assert len(server.requests) == 6  # another config: another cache key
    assert [r.value for r in again] == [r.value for r in first]
    assert all(r.cached for r in again) and not any(r.cached for r in first)
    assert [r.tokens for r in again] == [r.tokens for r in first]  # metering survives the cache
    assert not any(r.cached for r in changed)


def test_failures_are_not_cached(tmp_path: Path) -> None:
    ok = Reply(200, chat_completion(["Yes"], logprobs=[yes_no(0.6)]))
    with FakeServer(scripted([error(500, "down"), ok])) as server:
        failed = make_scorer(server, tmp_path, retries=0).score(PAIRS[:1])
        later = make_scorer(server, tmp_path, retries=0).score(PAIRS[:1])
    assert failed[0].status == "failed"
    assert later[0].status == "ok" and not later[0].cached


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    import threading

    active, peak, lock = [0], [0], threading.Lock()

    def handler(path: str, body: dict[str, Any]) -> Reply:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            import time

            time.sleep(0.05)
            return Reply(200, chat_completion(["Yes"], logprobs=[yes_no(0.5)]))
        finally:
            with lock:
                active[0] -= 1

    many = candidates(*[f"    return a + b + {i}\n" for i in range(8)])
    with FakeServer(handler) as server:
        results = make_scorer(server, tmp_path, concurrency=2).score(many)
    assert all(r.status == "ok" for r in results)
    assert peak[0] == 2


def test_a_scorer_that_is_down_fails_the_rest_at_once_saying_so(tmp_path: Path) -> None:
    many = candidates(*[f"    return a + b + {i}\n" for i in range(8)])
    with FakeServer(scripted([error(503, "down")])) as server:
        results = make_scorer(server, tmp_path, retries=0, concurrency=1).score(many)
        requests = len(server.requests)
    assert requests == 5  # DOWN_AFTER requests in a row failed: the other 3 are not sent
    assert [r.status for r in results] == ["failed"] * 8
    assert "still failing after 1 attempts" in str(results[0].error)
    assert "not asked: the scorer is down (5 requests in a row failed)" in str(results[7].error)


def test_a_success_resets_the_count_of_failures_in_a_row(tmp_path: Path) -> None:
    ok = Reply(200, chat_completion(["Yes"], logprobs=[yes_no(0.5)]))
    replies = [error(503, "down")] * 4 + [ok] + [error(503, "down")] * 4 + [ok]
    many = candidates(*[f"    return a + b + {i}\n" for i in range(10)])
    with FakeServer(scripted(replies)) as server:
        results = make_scorer(server, tmp_path, retries=0, concurrency=1).score(many)
        assert len(server.requests) == 10
    assert [r.status == "ok" for r in results] == ([False] * 4 + [True]) * 2
