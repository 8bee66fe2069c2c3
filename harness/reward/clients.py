"""The two scorer clients: an LLM judge (through ``harness/llm.py``) and a reward model (plain
HTTP).

A client turns a batch of (problem, candidate) pairs into one :class:`Measured` score each, or
raises: :class:`Transient` for what a retry may cure (``harness/llm.py``'s rule, one for both:
408, 429, a 5xx, a transport error or timeout), :class:`Unusable` for an answer without a usable
score, :class:`Refused` for any other error. It never returns a default. Every request it makes,
failed ones included, is handed to ``record`` as a :class:`ModelCall` for the ledger, its error
kept whole. Retries, batching, concurrency and the cache
are the caller's (``harness/reward/scorer.py``).

**judge**: the prompt (jinja2, ``harness/reward/templates/judge.j2`` unless configured) asks whether
the program solves the problem, answered yes or no. The score is P("yes") / (P("yes") + P("no"))
read from the top logprobs at the first answer token where "yes" or "no" appears (" Yes", "yes",
"YES", "▁Yes" all count). When the provider returns no logprobs at all, and only then (``method =
"auto"``), a second prompt (``judge_grade.j2``) asks for a 0-10 grade and the score is
grade / 10. Each score records its method: ``logprobs`` or ``grade``.

**reward_model**: vLLM's pooling endpoints, looked up for vLLM 0.10-0.19 (``vllm serve <model>
--runner pooling``): ``/classify`` (``data[i].probs``), ``/pooling`` (``data[i].data``: class
values, or per-token rows of which the last token's is the sequence's), ``/score``
(``text_1`` = the problem, ``text_2`` = the programs; ``data[i].score``); or ``json``: any
endpoint that takes ``{"model", "problem", "program"}`` and answers a number at ``json_path``.
A one-class output is the score; with several classes ``label`` names the one that means
"correct" (it is never guessed).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import jinja2

from harness import llm
from harness.api import Candidate, Problem
from harness.config import ScorerConfig
from harness.errors import InputError
from harness.results import ModelCall, Purpose

TEMPLATES = Path(__file__).with_name("templates")
DEFAULT_TEMPLATES = {
    ("judge", "template"): "judge.j2",
    ("judge", "grade_template"): "judge_grade.j2",
    ("reward_model", "template"): "reward_user.j2",
}
GRADE = re.compile(r"(?<![\d.])(10|[0-9])(?![\d])")  # a grade from 0 to 10, not part of 7.5
SHOWN = 500  # characters of an error a failed score carries (its ModelCall keeps it whole)
NOISE = " \t\n▁Ġ.,:;!*\"'`()"  # stripped from a token before comparing it with yes/no


class Transient(Exception):
    """A failure a retry may cure: rate limit, server error, transport error or timeout."""


class Unusable(Exception):
    """The answer came back but holds no usable score."""


class Refused(Exception):
    """Any other failure (bad request, unknown model, no permission): retrying will not help."""


@dataclass(frozen=True)
class Measured:
    value: float
    method: str  # logprobs | grade | classify | pooling | score | json
    tokens: int | None  # prompt + completion tokens this score took; None when not reported


Record = Callable[[ModelCall], None]
Pair = tuple[Problem, Candidate]


class Client(Protocol):
    batched: bool  # whether one request may carry several candidates (of one problem)

    def score(self, batch: list[Pair], record: Record) -> list[Measured]: ...

    def close(self) -> None: ...


def load_template(config: ScorerConfig, key: str) -> str:
    """The text of a configured template, or of the default for the scorer's kind.

    It is tried once on a sample problem, so a syntax error or an unknown variable stops the
    run before any request, naming the key.
    """
    given = getattr(config, key)
    path = Path(given) if given else TEMPLATES / DEFAULT_TEMPLATES[(config.kind, key)]
    text = path.read_text()
    sample = Candidate("sample", "    return 0\n", "def f():\n    return 0\n", None, None)
    try:
        render(text, Problem("sample", "def f():\n", "f"), sample)
    except jinja2.TemplateError as exc:
        raise InputError(f"key scorer.{key}: the template does not render ({exc})", path) from None
    return text


def render(template: str, problem: Problem, candidate: Candidate) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(
        prompt=problem.prompt,
        entry_point=problem.entry_point,
        program=candidate.program,
        completion=candidate.completion,
    )


def make_client(config: ScorerConfig) -> Client:
    return JudgeClient(config) if config.kind == "judge" else RewardModelClient(config)


def _field(obj: Any, name: str) -> Any:
    """An attribute of a litellm object, or a key of a plain dict (providers give either)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def p_yes(content: list[Any]) -> float | None:
    """P(yes) normalised over yes/no, at the first answer token whose alternatives hold either."""
    for entry in content:
        alternatives = _field(entry, "top_logprobs") or [entry]
        mass = {"yes": 0.0, "no": 0.0}
        for alt in alternatives:
            word = str(_field(alt, "token") or "").strip(NOISE).lower()
            logprob = _field(alt, "logprob")
            if word in mass and isinstance(logprob, int | float) and math.isfinite(logprob):
                mass[word] += math.exp(logprob)
        if mass["yes"] + mass["no"] > 0:
            return mass["yes"] / (mass["yes"] + mass["no"])
    return None


def parse_grade(text: str) -> float | None:
    match = GRADE.search(text)
    return None if match is None else int(match.group(1)) / 10.0


class JudgeClient:
    """Any chat model litellm speaks to, asked yes or no (see the module docstring)."""

    batched = False

    def __init__(self, config: ScorerConfig):
        self.config = config
        self.template = load_template(config, "template")
        self.grade_template = load_template(config, "grade_template")
        self.endpoint = llm.Endpoint(
            config.model,
            api_base=config.api_base or None,
            api_key=llm.api_key(
                config.api_key_env or None, config.api_base or None, "scorer.api_key_env"
            ),
            timeout=config.timeout,
            drop_params=True,  # a provider without logprobs answers without them
        )
        self.no_logprobs = config.method == "grade"  # set once the provider gave none

    def score(self, batch: list[Pair], record: Record) -> list[Measured]:
        return [self._one(problem, candidate, record) for problem, candidate in batch]

    def _one(self, problem: Problem, candidate: Candidate, record: Record) -> Measured:
        if not self.no_logprobs:
            prompt = render(self.template, problem, candidate)
            response, tokens = self._ask(prompt, problem.task_id, record, logprobs=True)
            content = _field(_field(response.choices[0], "logprobs") or {}, "content")
            if content:
                value = p_yes(content)
                if value is None:
                    shown = _field(response.choices[0].message, "content")
                    raise Unusable(
                        f"no 'yes' or 'no' among the top {self.config.top_logprobs} tokens "
                        f"of the judge's answer {str(shown)[:80]!r}"
                    )
                return Measured(value, "logprobs", tokens)
            if self.config.method == "logprobs":
                raise Unusable("the provider returned no logprobs (scorer.method = 'logprobs')")
            self.no_logprobs = True  # a provider without logprobs: grade from now on
        prompt = render(self.grade_template, problem, candidate)
        response, tokens = self._ask(prompt, problem.task_id, record, logprobs=False)
        text = str(_field(response.choices[0].message, "content") or "")
        value = parse_grade(text)
        if value is None:
            raise Unusable(f"the judge's grade holds no number from 0 to 10: {text[:80]!r}")
        return Measured(value, "grade", tokens)

    def _ask(
        self, prompt: str, task_id: str, record: Record, logprobs: bool
    ) -> tuple[Any, int | None]:
        config = self.config
        params: dict[str, Any] = {"temperature": 0.0, "max_tokens": config.max_tokens}
        if logprobs:
            params.update(logprobs=True, top_logprobs=config.top_logprobs)
        try:
            answer = llm.complete(
                self.endpoint,
                Purpose.SCORER,
                messages=[{"role": "user", "content": prompt}],
                params=params,
                task_id=task_id,
            )
        except llm.ModelError as failed:
            record(failed.call)
            failure = Transient if failed.transient else Refused
            raise failure(str(failed)[:SHOWN]) from None
        record(answer.call)
        known = [
            t for t in (answer.call.prompt_tokens, answer.call.completion_tokens) if t is not None
        ]
        return answer.raw, (sum(known) if known else None)

    def close(self) -> None:
        pass


class RewardModelClient:
    """A reward or classification model behind vLLM's pooling endpoints, or any JSON endpoint."""

    def __init__(self, config: ScorerConfig):
        self.config = config
        self.template = load_template(config, "template")
        assert config.api_base is not None  # ScorerConfig requires it for a reward_model
        self.url = config.api_base.rstrip("/") + (config.path or f"/{config.endpoint}")
        # No Authorization header unless a key is named (no "EMPTY" key: this is not litellm).
        key = llm.api_key(config.api_key_env or None, None, "scorer.api_key_env")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(timeout=config.timeout, headers=headers)
        self.batched = config.endpoint == "score" or (
            config.endpoint in ("classify", "pooling") and config.input == "text"
        )

    def score(self, batch: list[Pair], record: Record) -> list[Measured]:
        body = self._body(batch)
        data = self._post(body, record)
        values = self._values(data, len(batch))
        usage = data.get("usage") if isinstance(data, dict) else None
        total = usage.get("total_tokens") if isinstance(usage, dict) else None
        # One request's tokens, shared evenly by the candidates it carried.
        tokens = total // len(batch) if isinstance(total, int) else None
        return [Measured(v, self.config.endpoint, tokens) for v in values]

    def _body(self, batch: list[Pair]) -> dict[str, Any]:
        config = self.config
        problem, candidate = batch[0]
        if config.endpoint == "score":
            return {
                "model": config.model,
                "text_1": render(self.template, problem, candidate),
                "text_2": [c.program for _, c in batch],
            }
        if config.endpoint == "json":
            return {"model": config.model, "problem": problem.prompt, "program": candidate.program}
        if config.input == "text":
            texts = [render(self.template, p, c) + "\n" + c.program for p, c in batch]
            return {"model": config.model, "input": texts}
        messages = [
            {"role": "user", "content": render(self.template, problem, candidate)},
            {"role": "assistant", "content": candidate.program},
        ]
        return {"model": config.model, "messages": messages}

    def _post(self, body: dict[str, Any], record: Record) -> Any:
        shown = body.get("messages") or [{"role": "user", "content": json.dumps(body)[:4000]}]
        started = time.monotonic()
        error, text, data = None, None, None
        try:
            reply = self.http.post(self.url, json=body)
            text = reply.text[:4000]
            if reply.status_code >= 400:
                error = f"HTTP {reply.status_code} from {self.url}: {reply.text}"
                failure = Transient if llm.transient_status(reply.status_code) else Refused
                raise failure(error[:SHOWN])
            try:
                data = reply.json()
            except ValueError:
                error = f"not JSON: {text[:80]!r}"
                raise Unusable(error) from None
        except httpx.TransportError as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise Transient(error[:SHOWN]) from None
        finally:
            usage = data.get("usage") if isinstance(data, dict) else None
            usage = usage if isinstance(usage, dict) else {}
            record(
                ModelCall(
                    purpose=Purpose.SCORER,
                    model=self.config.model,
                    messages=shown,
                    response=text,
                    prompt_tokens=_count(usage.get("prompt_tokens")),
                    completion_tokens=_count(usage.get("completion_tokens")),
                    cost_usd=None,  # a self-served model has no price list
                    latency_s=time.monotonic() - started,
                    error=error,
                )
            )
        return data

    def _values(self, data: Any, expected: int) -> list[float]:
        endpoint = self.config.endpoint
        if endpoint == "json":
            path = self.config.json_path
            assert path is not None  # ScorerConfig requires it for endpoint json
            return [_number(_at(data, path), path)]
        rows = data.get("data") if isinstance(data, dict) else None
        if not isinstance(rows, list) or len(rows) != expected:
            raise Unusable(f"expected {expected} rows under 'data' from {self.url}")
        rows = sorted(rows, key=lambda r: r.get("index", 0) if isinstance(r, dict) else 0)
        field = {"classify": "probs", "pooling": "data", "score": "score"}[endpoint]
        values = []
        for row in rows:
            value = row.get(field) if isinstance(row, dict) else None
            if (
                endpoint == "pooling"
                and isinstance(value, list)
                and value
                and isinstance(value[0], list)
            ):
                value = value[-1]  # per-token rows: the last token's is the sequence's reward
            values.append(self._pick(value, field))
        return values

    def _pick(self, value: Any, field: str) -> float:
        if not isinstance(value, list):
            return _number(value, field)
        if len(value) == 1:
            return _number(value[0], field)
        label = self.config.label
        if label is None:
            raise Unusable(
                f"the model returned {len(value)} classes: set scorer.label to the index of the "
                "class that means 'correct'"
            )
        if label >= len(value):
            raise Unusable(f"scorer.label = {label}, but the model returned {len(value)} classes")
        return _number(value[label], field)

    def close(self) -> None:
        self.http.close()


def _at(data: Any, path: str) -> Any:
    """The value at a dotted path: keys of objects, integer indices of lists."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            raise Unusable(f"nothing at {path!r} (stopped at {part!r})")
    return data


def _count(value: Any) -> int | None:
    """A token count a server reported, or None when it reported none (or not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unusable(f"{where} is not a finite number: {str(value)[:60]!r}")
    return float(value)
