"""The ``openai`` backend: any OpenAI-compatible server, asked through ``harness/llm.py``.

``vllm serve``, llama.cpp's server, Ollama, SGLang or a hosted API: the model is named the
litellm way (``hosted_vllm/<model>``, or ``openai/<model>`` with ``api_base``). One request per
problem asks for all ``n`` completions (``n``, ``seed``, the first 4 ``stop`` sequences and
logprobs are sent); requests run in parallel on ``concurrency`` threads; what ``harness/llm.py``
calls transient (a rate limit, a timeout, a dropped connection, a 5xx answer) is retried with
exponential backoff (``retries``, ``backoff``), anything else fails at once. Each request is
one :class:`~harness.results.ModelCall` counting its attempts; one that still fails keeps its
last error, and sampling then stops with a :class:`SamplingError` that carries every call made.

``text`` endpoint: ``/completions`` with the rendered prompt (``logprobs=1``); ``chat``:
``/chat/completions`` with the rendered prompt as the user message (``logprobs=true``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from harness import llm
from harness.config import SamplerConfig
from harness.results import ModelCall, Purpose
from harness.sampling.config import GenParams, SamplingConfig, SamplingSpec
from harness.sampling.results import Batch, Completion, Generation, Progress, SamplingError

# Stop sequences a request carries: OpenAI's API and vLLM's server refuse more than 4. The rest
# are applied to the text received (postprocessing cuts at every one), at the cost of the tokens
# a server generates past them.
SERVER_STOPS = 4


def endpoint(sampler: SamplerConfig) -> llm.Endpoint:
    """The configured model and how to reach it; an InputError, before any request, when the
    variable named in ``api_key_env`` is not set."""
    return llm.Endpoint(
        sampler.model,
        api_base=sampler.api_base,
        api_key=llm.api_key(sampler.api_key_env, sampler.api_base, "sampler.api_key_env"),
        timeout=sampler.request_timeout,
    )


def generate(
    spec: SamplingSpec, batches: list[Batch], progress: Progress | None = None
) -> tuple[list[list[Generation]], list[ModelCall]]:
    """One generation per prompt of every batch, and every call made (in batch order)."""
    sampler, config = spec.sampler, spec.sampling
    model = endpoint(sampler)
    results: list[list[Generation]] = []
    calls: list[ModelCall] = []
    for params, prompts in batches:
        stage = f"sampling {params.purpose}"
        if progress:
            progress(stage, 0, len(prompts))
        with ThreadPoolExecutor(max_workers=sampler.concurrency) as pool:
            futures = [
                pool.submit(_request, model, sampler, config, params, item) for item in prompts
            ]
            for done, _ in enumerate(as_completed(futures), start=1):
                if progress:
                    progress(stage, done, len(prompts))
            answers = [future.result() for future in futures]
        calls += [call for _, call in answers]
        failed = [call for _, call in answers if call.error is not None]
        if failed:
            first = failed[0]
            raise SamplingError(
                f"{len(failed)} of {len(prompts)} {params.purpose} requests to {sampler.model} "
                f"failed after {first.attempts} attempt(s); first, {first.task_id}: {first.error}",
                calls,
            )
        results.append([generation for generation, _ in answers if generation is not None])
    return results, calls


def _request(
    model: llm.Endpoint,
    sampler: SamplerConfig,
    config: SamplingConfig,
    params: GenParams,
    item: tuple[str, str],
) -> tuple[Generation | None, ModelCall]:
    """One request with retries; the generation (None on failure) and its one record, which
    counts the attempts and keeps the last one's error."""
    task_id, prompt = item
    chat = config.endpoint == "chat"
    sent = params.request_params()
    sent["stop"] = sent["stop"][:SERVER_STOPS]
    if chat:
        sent["logprobs"] = True
        question: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
    else:
        sent["logprobs"] = 1
        question = {"prompt": prompt}
    attempts = 0

    def attempt() -> llm.Answer:
        nonlocal attempts
        attempts += 1
        return llm.complete(model, Purpose.SAMPLER, params=sent, task_id=task_id, **question)

    started = time.monotonic()
    try:
        answer = llm.retrying(sampler.retries, sampler.backoff)(attempt)
    except llm.ModelError as failed:
        call = failed.call.model_copy(
            update={"attempts": attempts, "latency_s": time.monotonic() - started}
        )
        return None, call
    call = answer.call.model_copy(
        update={"attempts": attempts, "latency_s": time.monotonic() - started}
    )
    completions = [_completion(choice, chat) for choice in answer.raw.choices]
    generation = Generation(
        task_id=task_id,
        prompt=prompt,
        prompt_tokens=call.prompt_tokens,
        completions=completions,
        completion_tokens=call.completion_tokens,
    )
    return generation, call


def _completion(choice: Any, chat: bool) -> Completion:
    """Text, token count and mean logprob of one choice (None where the server gave none)."""
    logprobs = getattr(choice, "logprobs", None)
    values: list[float] = []
    if chat:
        text = choice.message.content or ""
        content = getattr(logprobs, "content", None) or []
        values = [t.logprob for t in content if t.logprob is not None]
    else:
        text = choice.text or ""
        values = [v for v in (getattr(logprobs, "token_logprobs", None) or []) if v is not None]
    return Completion(
        text=text,
        num_tokens=len(values) if values else None,
        logprob_mean=sum(values) / len(values) if values else None,
        finish_reason=getattr(choice, "finish_reason", None),
    )
