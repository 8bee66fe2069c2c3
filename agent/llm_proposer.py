"""The LLM proposer: one fresh litellm call per step, answered with a JSON proposal.

Any provider litellm speaks to works: a local ``vllm serve`` or other OpenAI-compatible server
(``hosted_vllm/<model>`` or ``openai/<model>`` with ``api_base``), Ollama, or a hosted model by
name. The prompt is rendered with jinja2 from ``agent/templates/propose.md.j2``.

Transport errors and rate limits are retried with exponential backoff (tenacity); a provider that
stays down raises :class:`ProposerDown` and the run ends cleanly. An answer that is not a usable
proposal is recorded and asked again, a bounded number of times, then :class:`ProposalFailed`.
Every call, failed ones included, is returned for the ledger with its tokens, cost and latency.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jinja2
import tenacity

from agent.proposal import Context, LLMCall, Proposal, ProposalFailed, ProposerDown
from agent.settings import ProposerConfig
from harness.llm import is_transient

TEMPLATES = Path(__file__).with_name("templates")
SYSTEM = "You are a careful ML research engineer. You answer with one JSON object."


class Malformed(ValueError):
    """The answer arrived but is not a usable proposal."""


def render_prompt(context: Context) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("propose.md.j2").render(
        program=context.program,
        api=context.api,
        files=context.files,
        baselines=context.baselines,
        history=context.history,
        best=context.best,
        failed_checks=context.failed_checks,
    )


def parse_answer(text: str) -> tuple[str, dict[str, str]]:
    """(hypothesis, files) from an answer: a JSON object, bare or in a ```json fence."""
    fenced = re.findall(r"```(?:json)?\s*\n(.*?)\n```", text, re.S)
    candidates = fenced + [text[text.find("{") : text.rfind("}") + 1]]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            break
    else:
        raise Malformed("the answer holds no JSON object")
    hypothesis, files = data.get("hypothesis"), data.get("files")
    if not isinstance(hypothesis, str) or not hypothesis.strip():
        raise Malformed("'hypothesis' must be a non-empty string")
    if not isinstance(files, dict) or not files:
        raise Malformed("'files' must map at least one path to its full contents")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise Malformed("'files' must map paths to strings")
    return hypothesis.strip().splitlines()[0], files


class LLMProposer:
    name = "llm"

    def __init__(self, config: ProposerConfig):
        if not config.model:
            raise ValueError("the LLM proposer needs a model")
        self.config = config

    def propose(self, context: Context) -> Proposal:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": render_prompt(context)},
        ]
        calls: list[LLMCall] = []
        problems = []
        for _ in range(self.config.malformed_retries + 1):
            text = self._ask(messages, calls)
            try:
                hypothesis, files = parse_answer(text)
            except Malformed as exc:
                calls[-1].error = f"malformed answer: {exc}"
                problems.append(str(exc))
                continue
            return Proposal(hypothesis=hypothesis, files=files, proposer=self.name, calls=calls)
        raise ProposalFailed(
            f"{len(problems)} answers were not usable proposals (last: {problems[-1]})", calls
        )

    def tell(self, proposal: Proposal, value: float | None) -> None:
        """The LLM learns from the run summary in its next prompt, not from a callback."""

    def _ask(self, messages: list[dict[str, Any]], calls: list[LLMCall]) -> str:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            wait=tenacity.wait_exponential(multiplier=self.config.backoff, max=120),
            stop=tenacity.stop_after_attempt(self.config.retries + 1),
            reraise=True,
        )
        try:
            return retrying(self._call, messages, calls)
        except Exception as exc:
            if is_transient(exc):
                raise ProposerDown(
                    f"the proposer's provider failed {self.config.retries + 1} times: "
                    f"{type(exc).__name__}: {str(exc)[:200]}",
                    calls,
                ) from None
            raise ProposerDown(
                f"the proposer call failed: {type(exc).__name__}: {str(exc)[:200]}", calls
            ) from None

    def _call(self, messages: list[dict[str, Any]], calls: list[LLMCall]) -> str:
        # Imported here: litellm takes seconds to import and is only needed when an LLM is used.
        import litellm

        litellm.suppress_debug_info = True  # its banners would drown the loop's own output
        config = self.config
        started = time.monotonic()
        kwargs: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
            "timeout": config.timeout,
            "num_retries": 0,  # retries are ours (tenacity), so every attempt is recorded
            "max_retries": 0,  # ... and not the OpenAI client's hidden ones
        }
        if config.api_base:
            kwargs["api_base"] = config.api_base
        if config.api_key_env:
            kwargs["api_key"] = os.environ.get(config.api_key_env, "")
        elif config.api_base:
            kwargs["api_key"] = "EMPTY"  # a local server (vllm serve, llama.cpp) needs no key
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            calls.append(
                LLMCall(
                    config.model,
                    messages,
                    None,
                    None,
                    None,
                    None,
                    time.monotonic() - started,
                    f"{type(exc).__name__}: {exc}"[:500],
                )
            )
            raise
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        calls.append(
            LLMCall(
                model=config.model,
                messages=messages,
                response=text,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost_usd=self._cost(response, prompt_tokens, completion_tokens),
                latency_s=time.monotonic() - started,
            )
        )
        return text

    def _cost(
        self, response: Any, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        """The call's price: litellm's table, else the configured prices, else unknown (None)."""
        import litellm

        try:
            return float(litellm.completion_cost(completion_response=response))
        except Exception:  # litellm raises for models it has no price for
            pass
        c = self.config
        if c.input_usd_per_mtok < 0 or c.output_usd_per_mtok < 0:
            return None
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (
            prompt_tokens * c.input_usd_per_mtok + completion_tokens * c.output_usd_per_mtok
        ) / 1e6
