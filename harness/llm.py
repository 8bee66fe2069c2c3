"""One way to talk to a language model. This is the only module that imports litellm.

The proposer, the sampler and the judge all ask a model through :func:`complete` (chat, or a
text prompt on the ``/completions`` endpoint). One request is one attempt: it answers an
:class:`Answer` or raises :class:`ModelError`, and either way carries its
:class:`~harness.results.ModelCall` for the ledger (a failed one with its error, kept whole).
Retries are the caller's, with :func:`retrying`, so every attempt can be recorded; litellm and
the OpenAI client are told to make none of their own.

The rules, each stated once:

- **Transient** (:func:`is_transient`): a rate limit (429), a request timeout (408), a server
  error (5xx) *reported by the server*, a refused or dropped connection, or a timeout. Anything
  else fails at once: a bad request (400), a bad or missing key (401, 403), an unknown model
  (404), litellm's own 500 for what never reached a server (no credentials, an unparsable answer).
  The same rule on status codes (:func:`transient_status`) serves the reward model's plain HTTP.
- **Retries** (:func:`retrying`): ``retries`` more attempts after the first, the first waiting
  ``backoff`` seconds and each next one twice as long, at most ``max_wait``.
- **Price** (:func:`price`): litellm's price table when it knows the model, else the configured
  USD per million prompt and completion tokens, else None (unknown, never 0). A price that is
  None or negative is not configured.
- **Key** (:func:`api_key`): the *name* of an environment variable; a named variable that is not
  set (or empty) is an InputError before any request. No variable named: ``"EMPTY"`` for a server
  of one's own (``api_base`` set: vllm serve, llama.cpp, Ollama check no key), else litellm's own
  lookup (``OPENAI_API_KEY``...).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import tenacity

from harness.errors import InputError
from harness.results import ModelCall, Purpose

LOCAL_KEY = "EMPTY"  # what vLLM's docs pass to a server that checks no key
BACKOFF_MAX_S = 60.0  # the longest wait between two attempts, in seconds


@dataclass(frozen=True)
class Endpoint:
    """A model and how to reach it: a litellm model name (``hosted_vllm/<model>``,
    ``openai/<model>`` with ``api_base``, a hosted model's name), the key to send (from
    :func:`api_key`), seconds a request may take, and prices for a model litellm cannot price."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout: float = 600.0
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    drop_params: bool = False  # let litellm drop settings a provider does not take (logprobs)


@dataclass(frozen=True)
class Answer:
    """A request that succeeded: litellm's response (choices, logprobs, usage) and its record."""

    raw: Any
    call: ModelCall

    @property
    def text(self) -> str:
        """The first choice's text ("" when it has none)."""
        return _text(self.raw.choices[0]) if self.raw.choices else ""


class ModelError(Exception):
    """A request that failed: ``call`` is its record, ``transient`` whether a retry may cure it."""

    def __init__(self, call: ModelCall, transient: bool):
        super().__init__(call.error)
        self.call = call
        self.transient = transient


def api_key(
    env: str | None, api_base: str | None, key: str, path: Path | str | None = None
) -> str | None:
    """The key to send: the value of the environment variable named ``env``; ``"EMPTY"`` for a
    server of one's own when none is named; None to leave the lookup to litellm.

    ``key`` names the config key that holds ``env``, for the error when the variable is unset.
    """
    if env:
        value = os.environ.get(env)
        if not value:
            raise InputError(f"key {key}: the environment variable {env} is not set", path)
        return value
    return LOCAL_KEY if api_base else None


def complete(
    endpoint: Endpoint,
    purpose: Purpose,
    *,
    messages: list[dict[str, Any]] | None = None,
    prompt: str | None = None,
    params: dict[str, Any] | None = None,
    task_id: str | None = None,
) -> Answer:
    """One request: a chat (``messages``) or a text completion (``prompt``), never retried.

    ``params`` are the generation settings (temperature, max_tokens, n, stop, logprobs...),
    sent as given and kept in the record. The record's response is the answer's text, or the
    list of texts when ``params`` asks for ``n`` completions.
    """
    if (messages is None) == (prompt is None):
        raise ValueError("complete() takes messages (chat) or a prompt (text), not both")
    litellm = _litellm()
    params = dict(params or {})
    shown = messages if messages is not None else [{"role": "user", "content": prompt}]
    kwargs: dict[str, Any] = {
        "model": endpoint.model,
        **params,
        "timeout": endpoint.timeout,
        "num_retries": 0,  # retries are the caller's (retrying()), so every attempt is recorded
        "max_retries": 0,  # ... and not the OpenAI client's hidden ones
    }
    if endpoint.api_base:
        kwargs["api_base"] = endpoint.api_base
    if endpoint.api_key is not None:
        kwargs["api_key"] = endpoint.api_key
    if endpoint.drop_params:
        kwargs["drop_params"] = True
    started = time.monotonic()

    def record(**fields: Any) -> ModelCall:
        return ModelCall(
            purpose=purpose,
            model=endpoint.model,
            messages=shown,
            latency_s=time.monotonic() - started,
            task_id=task_id,
            params=params,
            **fields,
        )

    try:
        if messages is not None:
            raw = litellm.completion(messages=messages, **kwargs)
        else:
            raw = litellm.text_completion(prompt=prompt, **kwargs)
    except Exception as exc:  # every provider error is recorded, then classified
        call = record(
            response=None,
            prompt_tokens=None,
            completion_tokens=None,
            cost_usd=None,
            error=f"{type(exc).__name__}: {exc}",
        )
        raise ModelError(call, is_transient(exc)) from exc
    usage = getattr(raw, "usage", None)
    prompt_tokens = _count(getattr(usage, "prompt_tokens", None))
    completion_tokens = _count(getattr(usage, "completion_tokens", None))
    texts = [_text(choice) for choice in raw.choices]
    call = record(
        response=texts if "n" in params else (texts[0] if texts else ""),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=price(raw, prompt_tokens, completion_tokens, endpoint),
    )
    return Answer(raw, call)


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may cure a failure (the rule in the module docstring).

    litellm answers a refused connection, a missing key and an unparsable answer alike with an
    InternalServerError (500), so its status is believed only as a last resort, and never its
    500: what decides is the cause beneath, the server's own status or the transport's error.
    """
    if isinstance(exc, ModelError):
        return exc.transient
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, httpx.TransportError | ConnectionError | TimeoutError):
            return True  # refused, dropped, timed out: the server may answer next time
        if isinstance(link, httpx.HTTPStatusError):
            return transient_status(link.response.status_code)
        status = getattr(link, "status_code", None)
        if isinstance(status, int) and not type(link).__module__.startswith("litellm"):
            return transient_status(status)  # a provider SDK's error for the server's answer
        link = link.__cause__ or link.__context__
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status != 500 and transient_status(status)


def transient_status(status: int) -> bool:
    """Whether an HTTP status is worth asking again: 408, 429 or a 5xx."""
    return status in (408, 429) or 500 <= status <= 599


def retrying(
    retries: int,
    backoff: float,
    *,
    retry_on: Callable[[BaseException], bool] = is_transient,
    max_wait: float = BACKOFF_MAX_S,
) -> tenacity.Retrying:
    """Call with ``retrying(...)(fn, *args)``: up to ``retries`` more attempts while the failure
    is one ``retry_on`` accepts, with exponential backoff; the last failure is raised."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(retry_on),
        wait=tenacity.wait_exponential(multiplier=backoff, max=max_wait),
        stop=tenacity.stop_after_attempt(retries + 1),
        reraise=True,
    )


def price(
    raw: Any, prompt_tokens: int | None, completion_tokens: int | None, endpoint: Endpoint
) -> float | None:
    """A response's price in USD: litellm's table, else the endpoint's prices, else None."""
    try:
        return float(_litellm().completion_cost(completion_response=raw))
    except Exception:  # litellm raises for models it has no price for (every local one)
        pass
    per_input, per_output = endpoint.input_usd_per_mtok, endpoint.output_usd_per_mtok
    if per_input is None or per_output is None or per_input < 0 or per_output < 0:
        return None
    if prompt_tokens is None or completion_tokens is None:
        return None
    return (prompt_tokens * per_input + completion_tokens * per_output) / 1e6


def _litellm() -> Any:
    # Imported here, not at the top: litellm takes seconds to import, and commands that never
    # call a model (report, eval without a judge, a replayed pool) must not pay for it.
    import litellm

    litellm.suppress_debug_info = True  # else it prints help banners on every error
    return litellm


def _text(choice: Any) -> str:
    """A choice's text: a chat message's content, or a text completion's text."""
    message = getattr(choice, "message", None)
    text = message.content if message is not None else getattr(choice, "text", None)
    return text or ""


def _count(value: Any) -> int | None:
    """A token count a server reported, or None when it reported none (or not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
