"""The ``openai`` backend: any OpenAI-compatible server through litellm.

``vllm serve``, llama.cpp's server, Ollama, SGLang or a hosted API: the model is named the
litellm way (``hosted_vllm/<model>``, or ``openai/<model>`` with ``api_base``). One request per
problem asks for all ``n`` completions (``n``, ``seed``, the first 4 ``stop`` sequences and
logprobs are sent);
requests run in parallel on ``concurrency`` threads; a rate limit, a timeout, a dropped
connection or a 5xx answer is retried with exponential backoff (``retries``, ``backoff``). A
request that still fails is recorded with its error, and sampling then stops with a
:class:`SamplingError` that carries every call made.

``text`` endpoint: ``/completions`` with the rendered prompt (``logprobs=1``); ``chat``:
``/chat/completions`` with the rendered prompt as the user message (``logprobs=true``).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from harness.errors import InputError
from harness.sampling.config import GenParams, SamplingConfig
from harness.sampling.results import (
    Batch,
    Completion,
    Generation,
    LLMCall,
    Progress,
    SamplingError,
)

LOCAL_KEY = "EMPTY"  # what vLLM's docs pass to a local server that checks no key
# Stop sequences a request carries: OpenAI's API and vLLM's server refuse more than 4. The rest
# are applied to the text received (postprocessing cuts at every one), at the cost of the tokens
# a server generates past them.
SERVER_STOPS = 4


def generate(
    config: SamplingConfig, batches: list[Batch], progress: Progress | None = None
) -> tuple[list[list[Generation]], list[LLMCall]]:
    """One generation per prompt of every batch, and every call made (in batch order)."""
    # Imported here: importing litellm takes seconds and is only needed to call a model.
    import litellm

    litellm.suppress_debug_info = True  # no "Provider List" banners on stderr
    api_key = _api_key(config)
    retryable = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    results: list[list[Generation]] = []
    calls: list[LLMCall] = []
    for params, prompts in batches:
        stage = f"sampling {params.purpose}"
        if progress:
            progress(stage, 0, len(prompts))
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            futures = [
                pool.submit(_request, litellm, config, params, item, api_key, retryable)
                for item in prompts
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
                f"{len(failed)} of {len(prompts)} {params.purpose} requests to {config.model} "
                f"failed after {first.attempts} attempt(s); first, {first.task_id}: {first.error}",
                calls,
            )
        results.append([generation for generation, _ in answers if generation is not None])
    return results, calls


def _api_key(config: SamplingConfig) -> str | None:
    if config.api_key_env is not None:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise InputError(
                f"key 'api_key_env': the environment variable {config.api_key_env} is not set",
                config.path or None,
            )
        return key
    return LOCAL_KEY if config.api_base is not None else None


def _request(
    litellm: Any,
    config: SamplingConfig,
    params: GenParams,
    item: tuple[str, str],
    api_key: str | None,
    retryable: tuple[type[BaseException], ...],
) -> tuple[Generation | None, LLMCall]:
    """One request with retries; the generation (None on failure) and its call record."""
    from tenacity import (
        RetryError,
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential,
    )

    task_id, prompt = item
    chat = config.endpoint == "chat"
    messages = [{"role": "user", "content": prompt}] if chat else None
    sent = params.request_params()
    sent["stop"] = sent["stop"][:SERVER_STOPS]
    common: dict[str, Any] = {
        "model": config.model,
        **sent,
        "api_base": config.api_base,
        "api_key": api_key,
        "timeout": config.request_timeout,
        "max_retries": 0,  # retries are ours (below), with backoff and a record of each
    }
    attempts = 0

    def call() -> Any:
        nonlocal attempts
        attempts += 1
        if chat:
            return litellm.completion(messages=messages, logprobs=True, **common)
        return litellm.text_completion(prompt=prompt, logprobs=1, **common)

    retrying = Retrying(
        retry=retry_if_exception_type(retryable),
        stop=stop_after_attempt(config.retries + 1),
        wait=wait_exponential(multiplier=config.backoff, max=60),
        reraise=False,
    )
    started = time.monotonic()
    record = LLMCall(
        backend="openai",
        model=config.model,
        purpose=params.purpose,
        task_id=task_id,
        prompt=None if chat else prompt,
        messages=messages,
        params=sent,
        response=[],
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
        latency_s=None,
    )
    try:
        response = retrying(call)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        record.error = f"{type(cause).__name__}: {cause}"
    except Exception as exc:  # not worth retrying (a bad request, an unknown model...)
        record.error = f"{type(exc).__name__}: {exc}"
    record.latency_s = time.monotonic() - started
    record.attempts = attempts
    if record.error is not None:
        return None, record
    completions = [_completion(choice, chat) for choice in response.choices]
    usage = getattr(response, "usage", None)
    record.response = [c.text for c in completions]
    record.prompt_tokens = getattr(usage, "prompt_tokens", None)
    record.completion_tokens = getattr(usage, "completion_tokens", None)
    record.cost_usd = _cost(litellm, response)
    generation = Generation(
        task_id=task_id,
        prompt=prompt,
        prompt_tokens=record.prompt_tokens,
        completions=completions,
        completion_tokens=record.completion_tokens,
    )
    return generation, record


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


def _cost(litellm: Any, response: Any) -> float | None:
    """The price of a response in USD when litellm knows the model's price, else None."""
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # unpriced models (local servers) raise: their cost is unknown, not 0
        return None
