"""The reward signal inside an evaluation: arms, probe, metering, wiring checks, calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evalkit import check, selector_file
from rewardkit import (
    GREEDY_SELECTOR,
    REWARD_SELECTOR,
    hashed,
    judge,
    planted_score,
    run,
    scorer_config,
    write_planted_pool,
    write_selector,
)
from serverkit import FakeServer, Reply, error, scripted

from harness.config import RunConfig


def judge_config(server: FakeServer, **scorer: Any) -> RunConfig:
    return scorer_config(kind="judge", model="openai/judge", api_base=server.url, **scorer)


def planted_config(server: FakeServer, **scorer: Any) -> RunConfig:
    """A reward model answering each program's planted score at a JSON endpoint."""
    return scorer_config(
        kind="reward_model",
        model="rm",
        api_base=server.url,
        endpoint="json",
        path="/reward",
        json_path="reward",
        **scorer,
    )


def planted(path: str, body: dict[str, Any]) -> Reply:
    return Reply(200, {"reward": planted_score(body["program"]), "usage": {"total_tokens": 7}})


def test_judge_arms_run_beside_the_baselines_and_a_second_eval_asks_nothing() -> None:
    with FakeServer(judge(hashed)) as server:
        first = run(judge_config(server))
        asked = len(server.requests)
        second = run(judge_config(server))
        assert len(server.requests) == asked  # every score came from the cache
    assert asked == 48  # 8 problems x 6 candidates, one request each
    assert first.valid, first.reason
    for name in ("reward_model", "reward_then_codet"):
        arm = first.arms[name]
        assert arm.sel_at_k is not None
        assert arm.compute.reward_calls == 4.0  # one score per candidate of each k=4 subset
        assert arm.compute.reward_tokens == 44.0  # 4 x (10 prompt + 1 completion) tokens
    assert check(first, "reward_signal").passed
    assert first.scorer is not None and first.scorer.methods == {"logprobs": 48}
    assert first.scorer.requests == 48 and first.scorer.cached == 0
    assert len(first.llm_calls) == 48 and first.llm_calls[0].model == "openai/judge"
    assert second.scorer is not None and second.scorer.cached == 48
    assert second.scorer.requests == 0 and second.llm_calls == []
    assert second.arms["reward_model"].sel_at_k == first.arms["reward_model"].sel_at_k
    assert second.arms["reward_model"].compute.reward_tokens == 44.0  # metered from the cache
    assert "llm_calls" not in first.to_json() and len(first.to_json(calls=True)["llm_calls"]) == 48


def test_a_constant_judge_is_caught_by_the_wiring_check() -> None:
    with FakeServer(judge(lambda prompt: 0.7)) as server:
        result = run(judge_config(server))
    signal = check(result, "reward_signal")
    assert not signal.passed and not result.valid
    assert "constant score" in signal.detail
    assert "48 scores in [0.7, 0.7], 1 distinct" in signal.detail
    assert "vary on 0 of the 8 problems" in signal.detail
    assert result.reason.startswith("reward_signal: constant score")


def test_a_score_that_ignores_the_program_is_near_constant() -> None:
    # The score depends on the problem only: it varies across problems, never within one.
    def by_problem(prompt: str) -> float:
        return hashed(prompt.split("The candidate program")[0])

    with FakeServer(judge(by_problem)) as server:
        result = run(judge_config(server))
    signal = check(result, "reward_signal")
    assert not signal.passed
    assert "near-constant score" in signal.detail and "vary on 0 of the 8" in signal.detail


def test_a_failing_scorer_makes_the_evaluation_invalid_and_says_why() -> None:
    with FakeServer(scripted([error(500, "the GPU fell over")])) as server:
        result = run(judge_config(server, retries=1, concurrency=1))
        requests = len(server.requests)
    assert requests == 5 * 2  # 5 candidates x 2 attempts, then the scorer is taken to be down
    assert not result.valid
    signal = check(result, "reward_signal")
    assert not signal.passed and "the scorer failed on 8 of 8 problems" in signal.detail
    assert "after 2 attempts" in signal.detail and "the GPU fell over" in signal.detail
    for name in ("reward_model", "reward_then_codet"):  # shown, unmeasured: never dropped
        assert name in result.arms and result.arms[name].sel_at_k is None
    assert result.calibration is not None and result.calibration.status == "unavailable"
    assert result.scorer is not None and result.scorer.failed == 48
    assert result.scorer.failed_requests == 10 and result.scorer.requests == 10


def test_a_selector_falling_back_to_random_without_a_scorer_is_caught(tmp_path: Path) -> None:
    selector = selector_file("fallback_random", tmp_path)
    result = run(RunConfig(), selector=selector)
    wired = check(result, "signals_wired")
    assert not wired.passed and not result.valid
    assert "reward_model: unavailable on 8 problems" in wired.detail
    assert "caught SignalUnavailable" in wired.detail
    assert "reward_model" not in result.arms and result.calibration is None


def test_a_selector_falling_back_to_random_when_the_scorer_fails_is_caught(
    tmp_path: Path,
) -> None:
    selector = selector_file("fallback_random", tmp_path)
    with FakeServer(scripted([error(503, "overloaded")])) as server:
        result = run(judge_config(server, retries=0), selector=selector)
    assert not result.valid
    assert not check(result, "reward_signal").passed
    wired = check(result, "signals_wired")
    assert not wired.passed and "unavailable on 8 problems" in wired.detail


def test_reward_calls_are_metered_against_the_budget(tmp_path: Path) -> None:
    pool = write_planted_pool(tmp_path / "pool")
    honest = write_selector(tmp_path, "honest", REWARD_SELECTOR)
    greedy = write_selector(tmp_path, "greedy", GREEDY_SELECTOR)
    with FakeServer(planted) as server:
        fair = run(planted_config(server), selector=honest, pool=pool)
        over = run(planted_config(server), selector=greedy, pool=pool)
    compute = fair.arms["selector"].compute
    assert compute.reward_calls == 4.0 and compute.reward_tokens == 28.0  # 4 x 7 tokens
    assert check(fair, "compute_parity").passed
    parity = check(over, "compute_parity")
    assert not parity.passed and "over budget on 3 problems" in parity.detail
    assert over.arms["selector"].compute.over_budget_problems == 3
    assert not over.valid


def test_calibration_numbers_on_planted_scores_of_known_auc(tmp_path: Path) -> None:
    pool = write_planted_pool(tmp_path / "pool")
    with FakeServer(planted) as server:
        result = run(planted_config(server), pool=pool)
    cal = result.calibration
    assert cal is not None and cal.status == "ok"
    rows = {p.task_id: p for p in cal.problems}
    add, maxof, even = rows["tiny/add"], rows["tiny/maxof"], rows["tiny/is_even"]
    # tiny/add: correct {0.9, 0.5}, wrong {0.5, 0.1}. Pairs (correct, wrong):
    # 0.9>0.5, 0.9>0.1, 0.5=0.5 (half), 0.5>0.1  ->  3.5 / 4 = 0.875.
    assert add.correct == 2 and add.auc == pytest.approx(0.875)
    assert add.mean_correct == pytest.approx(0.7) and add.mean_wrong == pytest.approx(0.3)
    assert add.argmax_correct == 1.0 and add.random == 0.5  # argmax 0.9 is `a + b`
    # tiny/maxof: correct {0.2, 0.6}, wrong {0.8, 0.2}:
    # 0.2<0.8, 0.2=0.2 (half), 0.6<0.8, 0.6>0.2  ->  1.5 / 4 = 0.375.
    assert maxof.auc == pytest.approx(0.375)
    assert maxof.argmax_correct == 0.0  # argmax 0.8 is `xs[0]`, wrong
    # tiny/is_even: every candidate correct: no AUC, no mean over wrong ones.
    assert even.correct == 4 and even.auc is None and even.mean_wrong is None
    assert cal.mixed_problems == 2 and cal.correct_higher == 1  # add 0.7>0.3; maxof 0.4<0.5
    assert cal.auc == pytest.approx((0.875 + 0.375) / 2)
    # Pooled over all 12 candidates: correct {0.9, 0.5, 0.2, 0.6, 0.3, 0.4, 0.35, 0.45} vs
    # wrong {0.5, 0.1, 0.8, 0.2}: 0.9 beats 4; 0.5 beats 2 and ties 1 (2.5); 0.2 beats 1 and
    # ties 1 (1.5); 0.6 beats 3; 0.3, 0.4, 0.35, 0.45 beat 2 each  ->  19 / 32.
    assert cal.auc_pooled == pytest.approx(19 / 32)
    assert cal.mean_correct == pytest.approx(3.7 / 8) and cal.mean_wrong == pytest.approx(0.4)
    assert cal.argmax_correct == pytest.approx(2 / 3) and cal.random == pytest.approx(2 / 3)
    assert cal.reading.startswith("no signal")  # two problems cannot rule out AUC 0.5
    assert result.arms["reward_model"].sel_at_k == pytest.approx(2 / 3)
    assert check(result, "reward_signal").passed
