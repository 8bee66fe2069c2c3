"""One record for every model call: the proposer, the sampler and the judge each ask through
``harness/llm.py`` (real litellm, real HTTP to a scripted server on 127.0.0.1) and each hand
the ledger a ``harness.results.ModelCall`` that says who asked."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from ledgerkit import evaluations
from rewardkit import judge, scorer_config
from serverkit import FakeServer, Reply, chat_completion, error, scripted, text_completion

from agent.llm_proposer import LLMProposer
from agent.proposal import Context, ProposerDown
from agent.settings import ProposerConfig
from harness.api import Candidate, Problem
from harness.config import parse_config
from harness.data.suites import load_suite
from harness.errors import InputError
from harness.results import ModelCall, Purpose
from harness.reward.scorer import Scorer
from harness.sampling import SamplingSpec, sample_pool
from harness.sampling.config import parse_sampling_config
from ledger.store import Ledger

DATA = Path(__file__).parent / "data"
FILES = {"experiments/selector.py": "MIN_TEST_VOTES = 2\n"}
CONTEXT = Context("", "", FILES, {}, [], None, [])
LONG = "the provider explains at length: " + "x" * 2000  # longer than any old cut (500)
PROBLEM = Problem("tiny/add", 'def add(a, b):\n    """Return a + b."""\n', "add")


def proposer(url: str, **settings: Any) -> LLMProposer:
    return LLMProposer(
        ProposerConfig(model="openai/fake", api_base=url, backoff=0.01, retries=3, **settings)
    )


def proposal_reply() -> Reply:
    body = json.dumps({"hypothesis": "count once", "files": FILES})
    return Reply(200, chat_completion([body]))


@pytest.mark.parametrize(("status", "kind"), [(401, "AuthenticationError"), (404, "NotFoundError")])
def test_the_proposer_does_not_retry_a_bad_key_or_an_unknown_model(status: int, kind: str) -> None:
    with FakeServer(scripted([error(status, LONG)])) as server:
        with pytest.raises(ProposerDown, match="the proposer call failed") as down:
            proposer(server.url).propose(CONTEXT)
        assert len(server.requests) == 1
    [call] = down.value.calls
    assert call.purpose == Purpose.PROPOSER and call.error is not None
    assert call.error.startswith(kind) and LONG in call.error  # whole, as the server said it


def test_a_missing_proposer_key_stops_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINNOW_TEST_NO_SUCH_KEY", raising=False)
    with FakeServer(scripted([proposal_reply()])) as server:
        with pytest.raises(InputError, match="proposer.api_key_env: .*WINNOW_TEST_NO_SUCH_KEY"):
            proposer(server.url, api_key_env="WINNOW_TEST_NO_SUCH_KEY")
        assert server.requests == []


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_proposer_sampler_and_scorer_calls_reach_the_ledger_as_one_type(tmp_path: Path) -> None:
    def handler(path: str, body: dict[str, Any]) -> Reply:
        if path.endswith("/completions") and "prompt" in body:  # the sampler's text endpoint
            return Reply(200, text_completion(["    return a + b\n"] * body["n"]))
        if body.get("logprobs"):  # the judge reads P(yes) from logprobs; the proposer asks none
            return judge(lambda prompt: 0.8)(path, body)
        return proposal_reply()

    with FakeServer(handler) as server:
        proposed = proposer(server.url).propose(CONTEXT).calls
        sampling = SamplingSpec(
            parse_sampling_config({"n": 2, "self_tests": {"n": 0}}, "sampling.toml"),
            parse_config(
                {"sampler": {"backend": "openai", "model": "hosted_vllm/fake",
                             "api_base": server.url}},
                "run.toml",
            ).sampler,
        )  # fmt: skip
        sampled = sample_pool(
            load_suite(DATA / "tiny_suite.jsonl"), sampling, limit=1, cache=tmp_path, sandbox=None
        ).calls
        config = scorer_config(kind="judge", model="openai/judge", api_base=server.url).scorer
        assert config is not None
        scorer = Scorer(config, tmp_path)
        program = PROBLEM.prompt + "    return a + b\n"
        scorer.score([(PROBLEM, Candidate("c0", "    return a + b\n", program, None, None))])
        scored = scorer.take_calls()
    calls = proposed + sampled + scored
    assert {type(c) for c in calls} == {ModelCall}
    assert [c.purpose for c in calls] == [Purpose.PROPOSER, Purpose.SAMPLER, Purpose.SCORER]

    db = tmp_path / "ledger.sqlite"
    evaluation = copy.deepcopy(evaluations()[("codet", "dev")])
    evaluation["llm_calls"] = [c.model_dump(mode="json") for c in scored]
    with Ledger.open(db) as ledger:
        run = ledger.start_run("t", "b", {}, "h", "llm", None, False)
        exp = ledger.start_experiment(run, 1, "p", "h", "", "llm")
        for call in proposed + sampled:
            ledger.record_call(run, exp, call)
        ledger.record_evaluation(exp, evaluation)  # the scorer's calls ride with the evaluation
    stored = rows(db, "SELECT purpose, model, response FROM llm_calls ORDER BY id")
    assert [(purpose, model) for purpose, model, _ in stored] == [
        ("proposer", "openai/fake"),
        ("sampler", "hosted_vllm/fake"),
        ("scorer", "openai/judge"),
    ]
    assert json.loads(stored[0][2])["hypothesis"] == "count once"  # one text, as it came
    assert json.loads(stored[1][2]) == ["    return a + b\n"] * 2  # several: a JSON list
    assert stored[2][2] == "Yes"
