"""``harness/llm.py``, the one way to talk to a model: real litellm over real HTTP to a scripted
server on 127.0.0.1. Which failures are retried, what each attempt records, the price, the key."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from serverkit import FakeServer, Reply, chat_completion, error, scripted, text_completion

from harness import llm
from harness.errors import InputError
from harness.results import ModelCall, Purpose

ROOT = Path(__file__).resolve().parent.parent
HELLO = [{"role": "user", "content": "hello"}]
LONG = "the provider explains at length: " + "x" * 2000  # longer than any old cut (500)


def endpoint(url: str, **extra: Any) -> llm.Endpoint:
    settings: dict[str, Any] = {"api_base": url, "api_key": llm.LOCAL_KEY, "timeout": 5.0}
    return llm.Endpoint("openai/fake", **(settings | extra))


def ask_with_retries(server: FakeServer, retries: int = 3, **extra: Any) -> list[ModelCall]:
    """Ask once through retrying(); every attempt's record, in order."""
    calls: list[ModelCall] = []

    def attempt() -> llm.Answer:
        try:
            answer = llm.complete(endpoint(server.url, **extra), Purpose.PROPOSER, messages=HELLO)
        except llm.ModelError as failed:
            calls.append(failed.call)
            raise
        calls.append(answer.call)
        return answer

    with contextlib.suppress(llm.ModelError):
        llm.retrying(retries, 0.01)(attempt)
    return calls


@pytest.mark.parametrize(("status", "kind"), [(401, "AuthenticationError"), (404, "NotFoundError")])
def test_a_bad_key_or_an_unknown_model_fails_at_once_with_its_whole_error(
    status: int, kind: str
) -> None:
    with FakeServer(scripted([error(status, LONG)])) as server:
        calls = ask_with_retries(server)
        assert len(server.requests) == 1  # not retried
    assert len(calls) == 1 and calls[0].response is None
    assert calls[0].error is not None and calls[0].error.startswith(kind)
    assert LONG in calls[0].error  # kept whole, not cut


def test_rate_limits_and_server_errors_are_retried_and_each_attempt_recorded() -> None:
    replies = [error(429, "slow down"), error(500, "oops"), error(503, "loading")]
    ok = Reply(200, chat_completion(["hi"]))
    with FakeServer(scripted([*replies, ok])) as server:
        calls = ask_with_retries(server)
        assert len(server.requests) == 4
    assert [c.error is not None for c in calls] == [True, True, True, False]
    assert [c.error.split(":")[0] for c in calls[:3] if c.error] == [
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
    ]
    assert calls[3].response == "hi" and calls[3].purpose == Purpose.PROPOSER


def test_a_server_that_stays_down_is_asked_retries_plus_one_times() -> None:
    with FakeServer(scripted([error(502, "bad gateway")])) as server:
        calls = ask_with_retries(server, retries=2)
        assert len(server.requests) == 3
    assert len(calls) == 3 and all("BadGateway" in str(c.error) for c in calls)


def test_timeouts_and_refused_connections_are_transient() -> None:
    late = Reply(200, chat_completion(["late"]), delay=1.0)
    with FakeServer(scripted([late])) as server, pytest.raises(llm.ModelError) as slow:
        llm.complete(endpoint(server.url, timeout=0.2), Purpose.SCORER, messages=HELLO)
    assert slow.value.transient and "Timeout" in str(slow.value.call.error)
    with pytest.raises(llm.ModelError) as refused:
        llm.complete(endpoint("http://127.0.0.1:9/v1"), Purpose.SCORER, messages=HELLO)
    assert refused.value.transient


def test_what_never_reached_a_server_is_not_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    # litellm reports a missing provider key as an InternalServerError (500): not a server's.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(llm.ModelError) as missing:
        llm.complete(
            llm.Endpoint("openai/gpt-4o-mini", timeout=5), Purpose.PROPOSER, messages=HELLO
        )
    assert not missing.value.transient and "credentials" in str(missing.value.call.error)
    garbage = Reply(200, {"no": "choices"})
    with FakeServer(scripted([garbage])) as server, pytest.raises(llm.ModelError) as garbled:
        llm.complete(endpoint(server.url), Purpose.PROPOSER, messages=HELLO)
    assert not garbled.value.transient  # an answer that cannot be read is not asked again


def test_status_rule_shared_with_plain_http() -> None:
    assert [
        s for s in (200, 400, 401, 403, 404, 408, 429, 500, 503) if llm.transient_status(s)
    ] == [
        408,
        429,
        500,
        503,
    ]


def test_a_named_key_variable_that_is_not_set_stops_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WINNOW_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(InputError, match="key proposer.api_key_env: .*WINNOW_TEST_NO_SUCH_KEY"):
        llm.api_key("WINNOW_TEST_NO_SUCH_KEY", "http://127.0.0.1:9/v1", "proposer.api_key_env")
    monkeypatch.setenv("WINNOW_TEST_KEY", "sk-test")
    assert llm.api_key("WINNOW_TEST_KEY", None, "k") == "sk-test"
    assert llm.api_key(None, "http://127.0.0.1:9/v1", "k") == llm.LOCAL_KEY  # own server
    assert llm.api_key(None, None, "k") is None  # litellm looks up OPENAI_API_KEY & co itself


def test_the_key_is_sent_and_a_text_prompt_recorded_as_one_user_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply = Reply(200, text_completion(["a", "b"]))
    with FakeServer(scripted([reply])) as server:
        answer = llm.complete(
            llm.Endpoint("hosted_vllm/fake", api_base=server.url, api_key="sk-given", timeout=5),
            Purpose.SAMPLER,
            prompt="def f():",
            params={"n": 2, "seed": 3},
            task_id="t/1",
        )
        path, body = server.requests[0]
    assert path.endswith("/completions") and body["prompt"] == "def f():" and body["n"] == 2
    call = answer.call
    assert call.purpose == Purpose.SAMPLER and call.task_id == "t/1"
    assert call.messages == [{"role": "user", "content": "def f():"}]
    assert call.response == ["a", "b"]  # several completions asked: a list
    assert call.params == {"n": 2, "seed": 3} and call.attempts == 1


@pytest.mark.parametrize(
    ("prices", "expected"),
    [((1.0, 2.0), (10 * 1.0 + 1 * 2.0) / 1e6), ((None, 2.0), None), ((-1.0, -1.0), None)],
)
def test_price_from_configured_prices_else_unknown(
    prices: tuple[float | None, float | None], expected: float | None
) -> None:
    with FakeServer(scripted([Reply(200, chat_completion(["one"]))])) as server:
        answer = llm.complete(
            endpoint(server.url, input_usd_per_mtok=prices[0], output_usd_per_mtok=prices[1]),
            Purpose.PROPOSER,
            messages=HELLO,
        )
    assert answer.call.cost_usd == (pytest.approx(expected) if expected is not None else None)


def test_commands_that_call_no_model_do_not_import_litellm() -> None:
    code = "import sys, agent.cli, harness.llm; sys.exit('litellm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
