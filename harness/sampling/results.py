"""Typed outcomes of sampling: raw generations, compute, the result.

A generation is what a backend returned for one prompt (``n`` completions with their token
counts and mean logprobs); each request is recorded as a :class:`~harness.results.ModelCall`
(purpose ``sampler``); a :class:`SampleResult` is the pool with everything it cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.data.pools import Pool
from harness.results import ModelCall
from harness.sampling.config import GenParams

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Batch = tuple[GenParams, list[tuple[str, str]]]  # settings, [(task_id, rendered prompt)]


class SamplingError(RuntimeError):
    """Sampling could not finish (a backend failed after its retries, or is not installed).

    ``calls`` holds the model calls made before the failure, so they can still be recorded.
    Nothing is written to the cache when this is raised.
    """

    def __init__(self, message: str, calls: list[ModelCall] | None = None):
        super().__init__(message)
        self.calls = calls or []


@dataclass(frozen=True)
class Completion:
    """One raw completion as the backend returned it."""

    text: str
    num_tokens: int | None
    logprob_mean: float | None
    finish_reason: str | None = None


@dataclass
class Generation:
    """The completions of one prompt (one problem, candidates or self-tests)."""

    task_id: str
    prompt: str
    prompt_tokens: int | None
    completions: list[Completion]
    completion_tokens: int | None = None  # the request's total, when the server reports it


@dataclass
class TokenCount:
    """Tokens of one purpose on one problem: prompts (once per request) and generated."""

    prompt: int = 0
    generated: int = 0


@dataclass
class SamplingCompute:
    """What sampling a pool cost, so a small model with many samples can be compared with a
    bigger one with few at equal compute.

    ``flops`` is ``2 x params x (prompt + generated tokens)`` (a forward pass costs about two
    FLOPs per parameter per token; a prompt is counted once per request, as prefix caching and
    ``n`` completions per request make it), or None when the parameter count is unknown.
    ``estimated_tokens`` is true when tokens were counted by a rough tokenizer (simulated).
    """

    candidates: TokenCount
    self_tests: TokenCount
    per_problem: dict[str, dict[str, TokenCount]]  # task -> {candidates, self_tests}
    params: float | None
    params_source: str  # config | model name | unknown
    flops: float | None
    estimated_tokens: bool

    @property
    def prompt_tokens(self) -> int:
        return self.candidates.prompt + self.self_tests.prompt

    @property
    def generated_tokens(self) -> int:
        return self.candidates.generated + self.self_tests.generated

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompt_tokens"] = self.prompt_tokens
        data["generated_tokens"] = self.generated_tokens
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SamplingCompute:
        return cls(
            candidates=TokenCount(**data["candidates"]),
            self_tests=TokenCount(**data["self_tests"]),
            per_problem={
                task: {purpose: TokenCount(**count) for purpose, count in counts.items()}
                for task, counts in data["per_problem"].items()
            },
            params=data["params"],
            params_source=data["params_source"],
            flops=data["flops"],
            estimated_tokens=data["estimated_tokens"],
        )


@dataclass
class SampleResult:
    """A sampled pool (saved in the cache) and what it cost.

    ``cached`` is true when the pool came from the cache: then no model was called, ``calls``
    is empty and ``compute`` is what the original sampling cost.
    """

    pool: Pool
    config_key: str
    cached: bool
    simulated: bool
    compute: SamplingCompute
    calls: list[ModelCall] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # task id -> why it has no samples
    elapsed_s: float = 0.0
    status: str = "ok"

    @property
    def pool_id(self) -> str:
        return self.pool.id

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pool": self.pool.id,
            "config_key": self.config_key,
            "cached": self.cached,
            "simulated": self.simulated,
            "backend": self.pool.meta.get("backend"),
            "model": self.pool.meta.get("model"),
            "problems": len(self.pool.samples),
            "samples": sum(len(v) for v in self.pool.samples.values()),
            "self_tests": sum(len(v) for v in (self.pool.self_tests or {}).values()),
            "skipped": self.skipped,
            "compute": self.compute.to_json(),
            "calls": len(self.calls),
            "failed_calls": sum(1 for c in self.calls if c.error is not None),
            "elapsed_s": self.elapsed_s,
        }
