"""The LLM proposer: one fresh litellm call per step, answered with a JSON proposal.

Any provider litellm speaks to works: a local ``vllm serve`` or other OpenAI-compatible server
(``hosted_vllm/<model>`` or ``openai/<model>`` with ``api_base``), Ollama, or a hosted model by
name. The prompt is rendered with jinja2 from ``agent/templates/propose.md.j2``.

The model is asked through ``harness/llm.py``: what it calls transient (rate limits, 5xx,
transport errors, timeouts) is retried with exponential backoff; a provider that stays down, or
refuses (a bad key, an unknown model: not retried), raises :class:`ProposerDown` and the run
ends cleanly. An answer that is not a usable proposal is recorded and asked again, a bounded
number of times, then :class:`ProposalFailed`. Every attempt, failed ones included, is returned
for the ledger as a :class:`~harness.results.ModelCall` with its tokens, cost and latency.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

from agent.proposal import Context, Outcome, Proposal, ProposalFailed, ProposerDown
from agent.settings import ProposerConfig
from harness import llm
from harness.errors import InputError
from harness.results import ModelCall, Purpose

BACKOFF_MAX_S = 120.0  # the longest wait between two attempts, in seconds
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
        failures=context.failures,
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
        """Raises InputError, before any request, when a named key variable is not set."""
        if config.model is None:
            raise InputError(
                "the LLM proposer needs a model: --model, or [proposer] model in the run config"
            )
        self.config = config
        self.endpoint = llm.Endpoint(
            config.model,
            api_base=config.api_base or None,
            api_key=llm.api_key(
                config.api_key_env or None, config.api_base or None, "proposer.api_key_env"
            ),
            timeout=config.timeout,
            input_usd_per_mtok=config.input_usd_per_mtok,
            output_usd_per_mtok=config.output_usd_per_mtok,
        )

    def propose(self, context: Context) -> Proposal:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": render_prompt(context)},
        ]
        calls: list[ModelCall] = []
        problems = []
        for _ in range(self.config.malformed_retries + 1):
            text = self._ask(messages, calls)
            try:
                hypothesis, files = parse_answer(text)
            except Malformed as exc:
                calls[-1] = calls[-1].model_copy(update={"error": f"malformed answer: {exc}"})
                problems.append(str(exc))
                continue
            return Proposal(hypothesis=hypothesis, files=files, proposer=self.name, calls=calls)
        raise ProposalFailed(
            f"{len(problems)} answers were not usable proposals (last: {problems[-1]})", calls
        )

    def tell(self, proposal: Proposal, value: float | None, outcome: Outcome) -> None:
        """The LLM learns from the run summary in its next prompt, not from a callback."""

    def _ask(self, messages: list[dict[str, Any]], calls: list[ModelCall]) -> str:
        """The answer's text; every attempt is appended to ``calls``."""
        config = self.config
        params = {"temperature": config.temperature, "max_tokens": config.max_tokens}

        def attempt() -> llm.Answer:
            try:
                answer = llm.complete(
                    self.endpoint, Purpose.PROPOSER, messages=messages, params=params
                )
            except llm.ModelError as failed:
                calls.append(failed.call)
                raise
            calls.append(answer.call)
            return answer

        retrying = llm.retrying(config.retries, config.backoff, max_wait=BACKOFF_MAX_S)
        try:
            return retrying(attempt).text
        except llm.ModelError as failed:
            if failed.transient:
                raise ProposerDown(
                    f"the proposer's provider failed {config.retries + 1} times: {failed}",
                    calls,
                ) from None
            raise ProposerDown(f"the proposer call failed: {failed}", calls) from None
