"""The ``openai`` backend end to end: real litellm over real HTTP to a scripted server on
127.0.0.1 that behaves like ``vllm serve`` (``n`` choices, seeded, cut at stop sequences,
with logprobs and usage)."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from serverkit import FakeServer, Reply, chat_completion, error, text_completion

from harness.config import parse_config
from harness.data.suites import load_suite
from harness.errors import InputError
from harness.results import Purpose
from harness.sampling import SamplingError, SamplingSpec, sample_pool
from harness.sampling.config import parse_sampling_config

DATA = Path(__file__).parent / "data"
BODIES = [
    "    return a + b\n",
    "    return a - b\n",
    "    result = a + b\n    return result\n",
]
AFTER = "\n\ndef unrelated():\n    pass\n"  # what a model writes on; the stop cuts it


def fake_model(path: str, body: dict[str, Any]) -> Reply:
    """A server-side model: ``n`` seeded choices, cut at ``stop``, with token logprobs."""
    rng = random.Random(f"{body.get('seed')}:{body.get('prompt') or body.get('messages')}")
    n = body.get("n", 1)
    if path.endswith("/chat/completions"):
        texts = [f"```python\ndef add(a, b):\n{rng.choice(BODIES)}```\n" for _ in range(n)]
        chat_logprobs = [[{"token": "x", "logprob": -0.5, "top_logprobs": []}] * 4 for _ in texts]
        return Reply(200, chat_completion(texts, logprobs=chat_logprobs))
    prompt = body["prompt"]
    if prompt.rstrip().endswith("assert"):
        raw = [
            "add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(0, 0) ==\n"
            "print('ok')\nassert add(9, 9) == 18\n" + AFTER  # cut at "\nprint", here
        ] * n
    else:
        raw = [rng.choice(BODIES) + AFTER for _ in range(n)]
    texts = []
    for text in raw:
        cuts = [text.find(s) for s in body.get("stop") or [] if s in text]
        texts.append(text[: min(cuts)] if cuts else text)
    logprobs = [[-0.1 * (j + 1) for j in range(3)] for _ in texts]
    return Reply(200, text_completion(texts, token_logprobs=logprobs))


def spec(url: str, sampler: dict[str, Any] | None = None, **extra: Any) -> SamplingSpec:
    """The test's sampling settings (``extra`` over them) from the fake model at ``url``, as
    a run config's ``[sampler]`` names it (``sampler`` over that)."""
    settings: dict[str, Any] = {
        "n": 3,
        "seed": 7,
        "temperature": 0.8,
        "max_tokens": 64,
        "self_tests": {"n": 2},
    }
    model = {
        "backend": "openai",
        "model": "hosted_vllm/fake-coder-1.5B",
        "api_base": url,
        "retries": 3,
        "backoff": 0.01,
    }
    return SamplingSpec(
        parse_sampling_config(settings | extra, "sampling.toml"),
        parse_config({"sampler": model | (sampler or {})}, "run.toml").sampler,
    )


@pytest.fixture
def suite():
    return load_suite(DATA / "tiny_suite.jsonl")


def test_text_endpoint_end_to_end(suite, tmp_path: Path) -> None:
    with FakeServer(fake_model) as server:
        config = spec(server.url)
        result = sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
        sent = list(server.requests)
        again = sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
        assert len(server.requests) == len(sent), "the cached pool must call no model"

    completions = [body for path, body in sent if not body["prompt"].rstrip().endswith("assert")]
    assert len(completions) == 2 and len(sent) == 4  # one request per problem and purpose
    for body in completions:
        assert body["n"] == 3 and body["seed"] == 7 and body["logprobs"] == 1
        assert body["stop"] == ["\nclass", "\ndef", "\n#", "\nif"]  # servers take 4 at most
        assert body["model"] == "fake-coder-1.5B"  # the provider prefix is litellm's

    pool = result.pool
    assert not result.cached and again.cached and again.pool.id == pool.id
    assert sorted(pool.samples) == ["tiny/add", "tiny/maxof"]
    samples = pool.samples["tiny/add"]
    assert len(samples) == 3
    assert all(s.completion in BODIES for s in samples)  # cut at "\ndef" by the server
    assert all(s.logprob_mean == pytest.approx(-0.2) for s in samples)
    assert all(s.num_tokens == 3 and s.prompt_tokens == 10 for s in samples)
    # "assert " ends the prompt and is put back; the unfinished third assert is dropped, and
    # the fifth stop sequence, not sent, is applied here: the assert after "print" is gone
    assert pool.self_tests is not None
    assert pool.self_tests["tiny/add"] == ["assert add(1, 2) == 3", "assert add(2, 2) == 4"] * 2

    meta = pool.meta
    assert meta["backend"] == "openai" and meta["simulated"] is False
    assert meta["sampling"]["n"] == 3 and meta["sampling"]["seed"] == 7
    compute = result.compute
    assert compute.candidates.prompt == 20  # usage: 10 prompt tokens per request
    assert compute.generated_tokens > 0
    assert compute.params == 1.5e9 and compute.params_source == "model name"
    tokens = compute.prompt_tokens + compute.generated_tokens
    assert compute.flops == pytest.approx(2 * 1.5e9 * tokens)
    assert again.compute.to_json() == compute.to_json()

    assert len(result.calls) == 4 and not again.calls
    call = result.calls[0]
    assert call.purpose == Purpose.SAMPLER and call.error is None and call.attempts == 1
    assert call.params["stop"] == ["\nclass", "\ndef", "\n#", "\nif"] and call.params["n"] == 3
    assert call.messages[0]["content"].startswith("def add")  # the text prompt, as sent
    assert (
        isinstance(call.response, list)
        and len(call.response) == 3
        and call.latency_s is not None
        and call.prompt_tokens == 10
    )
    assert call.cost_usd is None  # a local model has no price
    index = json.loads((tmp_path / "sampling" / f"{result.config_key}.json").read_text())
    assert index["pool"] == pool.id


def test_chat_endpoint_extracts_the_function_body(suite, tmp_path: Path) -> None:
    with FakeServer(fake_model) as server:
        config = spec(server.url, endpoint="chat", self_tests={"n": 0})
        result = sample_pool(suite, config, limit=1, cache=tmp_path, sandbox=None)
        path, body = server.requests[0]
    assert path.endswith("/chat/completions")
    assert body["messages"][0]["role"] == "user" and body["logprobs"] is True
    samples = result.pool.samples["tiny/add"]
    assert all(s.completion in BODIES for s in samples)
    assert all(s.logprob_mean == pytest.approx(-0.5) and s.num_tokens == 4 for s in samples)
    assert result.pool.self_tests is None


def test_rate_limits_are_retried_with_backoff(suite, tmp_path: Path) -> None:
    attempts: dict[str, int] = {}

    def flaky(path: str, body: dict[str, Any]) -> Reply:
        key = body["prompt"]
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] <= 2:
            return error(429, "slow down")
        return fake_model(path, body)

    with FakeServer(flaky) as server:
        config = spec(server.url, self_tests={"n": 0})
        result = sample_pool(suite, config, limit=1, cache=tmp_path, sandbox=None)
    assert len(server.requests) == 3
    assert result.calls[0].attempts == 3 and result.calls[0].error is None


def test_a_server_that_stays_down_fails_clearly_and_caches_nothing(suite, tmp_path) -> None:
    with FakeServer(lambda path, body: error(503, "overloaded")) as server:
        config = spec(server.url, {"retries": 2}, self_tests={"n": 0})
        with pytest.raises(SamplingError, match="failed after 3 attempt") as caught:
            sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
        assert len(server.requests) == 6  # 2 problems x (1 + 2 retries)
    calls = caught.value.calls
    assert len(calls) == 2 and all(c.error and "overloaded" in c.error for c in calls)
    assert not (tmp_path / "sampling").exists() and not (tmp_path / "pools").exists()


def test_a_bad_request_is_not_retried(suite, tmp_path: Path) -> None:
    with FakeServer(lambda path, body: error(400, "unknown parameter")) as server:
        config = spec(server.url, self_tests={"n": 0})
        with pytest.raises(SamplingError, match="unknown parameter"):
            sample_pool(suite, config, limit=1, cache=tmp_path, sandbox=None)
        assert len(server.requests) == 1


def test_requests_run_in_parallel_within_the_bound(suite, tmp_path: Path) -> None:
    lock = threading.Lock()
    active = [0, 0]  # now, most

    def slow(path: str, body: dict[str, Any]) -> Reply:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(0.5)
        with lock:
            active[0] -= 1
        return fake_model(path, body)

    with FakeServer(slow) as server:
        config = spec(server.url, {"concurrency": 3}, self_tests={"n": 0})
        sample_pool(suite, config, limit=8, cache=tmp_path, sandbox=None)
    assert len(server.requests) == 8
    assert 1 < active[1] <= 3  # parallel, and never past the bound


def test_a_missing_api_key_variable_is_named(suite, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("WINNOW_TEST_NO_SUCH_KEY", raising=False)
    config = spec("http://127.0.0.1:9/v1", {"api_key_env": "WINNOW_TEST_NO_SUCH_KEY"})
    with pytest.raises(InputError, match="sampler.api_key_env: .*WINNOW_TEST_NO_SUCH_KEY is not"):
        sample_pool(suite, config, limit=1, cache=tmp_path, sandbox=None)
