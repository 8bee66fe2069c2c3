"""The reward signal: one score per candidate from the configured scorer, or a stated failure.

The parent process scores every candidate of every problem once, before any arm runs
(:func:`score_problems`); the judge builds each problem's data with its :class:`ProblemRewards`,
the reward arms read them there and the probe serves them to a selector, metering each
``probe.reward`` call against ``BudgetConfig.reward_calls``. There is no silent fallback
anywhere: no scorer configured, a scorer still failing after its retries, or an answer without
a usable score makes the signal unavailable for that problem (``SignalUnavailable`` in the
probe, a failed ``reward_signal`` check in the evaluation), and never a default score.

Scores are cached (``WINNOW_HOME/cache/rewards.sqlite``, or the shared database of
``WINNOW_EXEC_CACHE``: ``open_cache`` in ``harness/execution/cache.py``) keyed by the problem,
the program and a hash of everything in the scorer config that can change a score (kind, model,
api_base, endpoint, method, label, templates' text...), not the limits (concurrency, retries,
timeout) nor the key. Failures are not cached. Requests go out in batches (several candidates
of one problem per request where the endpoint takes a list), at most ``concurrency`` at once,
each retried ``retries`` times with exponential backoff on 429, 5xx and transport errors. After
``DOWN_AFTER`` requests in a row still fail after their retries, the scorer is taken to be down
and the remaining candidates fail at once, saying so, rather than each waiting out its own
retries. Every request is kept as a :class:`ModelCall`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tenacity

from harness.api import Candidate, Problem
from harness.config import ScorerConfig
from harness.execution.cache import open_cache, pair_key, text_hash
from harness.results import ModelCall, ScorerSummary
from harness.reward.clients import (
    Measured,
    Pair,
    Refused,
    Transient,
    Unusable,
    load_template,
    make_client,
)

SCORER_VERSION = 1  # bump when a change to scoring can change a score
BACKOFF_MAX = 60.0  # seconds: the longest wait between two retries
DOWN_AFTER = 5  # requests in a row still failing after their retries: the scorer is down
# Keys hashed as "" when unset, as they were written before unset became None: the same
# settings keep the same cache key, and so their cached scores.
UNSET_AS_EMPTY = ("api_base", "path", "json_path")  # (templates are hashed by their text)


@dataclass(frozen=True)
class ScoreResult:
    """One candidate's score: ``status`` ok with a value, or failed with the reason."""

    status: str  # ok | failed
    value: float | None
    method: str | None  # logprobs | grade | classify | pooling | score | json
    tokens: int | None  # tokens the score took when it was measured (kept in the cache)
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True)
class ProblemRewards:
    """A problem's scores in sample order; ``values`` is None when any candidate failed."""

    results: list[ScoreResult]
    values: np.ndarray | None
    error: str | None

    def tokens(self, indices: list[int]) -> int | None:
        """Tokens the scores of these samples took; None when any was not reported."""
        counts = [self.results[i].tokens for i in indices]
        return None if None in counts else sum(c for c in counts if c is not None)


@dataclass
class Scorer:
    """The configured scorer with its cache; ``calls`` holds every request not yet taken."""

    config: ScorerConfig
    cache_path: Path
    calls: list[ModelCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = make_client(self.config)
        self.key = config_key(self.config)
        self.cache = open_cache(self.cache_path, "rewards")
        self.lock = threading.Lock()
        self.failing = 0  # requests in a row that still failed after their retries

    def record(self, call: ModelCall) -> None:
        with self.lock:
            self.calls.append(call)

    def take_calls(self) -> list[ModelCall]:
        with self.lock:
            taken, self.calls = self.calls, []
        return taken

    def score(
        self, pairs: list[Pair], tick: Callable[[int], None] | None = None
    ) -> list[ScoreResult]:
        """A score per (problem, candidate): from the cache, else requested in batches."""
        keys = [pair_key(text_hash(c.program), text_hash(p.prompt), self.key) for p, c in pairs]
        found = self.cache.get(keys)
        results: list[ScoreResult | None] = [None] * len(pairs)
        for i, key in enumerate(keys):
            if key in found:
                method, detail = found[key]
                row = json.loads(detail)
                results[i] = ScoreResult("ok", row["value"], method, row["tokens"], cached=True)
        if tick:
            tick(len(pairs) - sum(r is None for r in results))
        batches = self._batches(pairs, [i for i, r in enumerate(results) if r is None])
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            for batch, outcome in zip(
                batches,
                pool.map(lambda b: self._attempt([pairs[i] for i in b]), batches),
                strict=True,
            ):
                fresh = []
                for i, result in zip(batch, outcome, strict=True):
                    results[i] = result
                    if result.status == "ok":
                        detail = json.dumps({"value": result.value, "tokens": result.tokens})
                        fresh.append((keys[i], str(result.method), detail))
                self.cache.put(fresh)
                if tick:
                    tick(len(batch))
        return [r for r in results if r is not None]

    def _batches(self, pairs: list[Pair], todo: list[int]) -> list[list[int]]:
        """Candidates of one problem together, ``batch_size`` a request when it takes a list."""
        size = self.config.batch_size if self.client.batched else 1
        by_problem: dict[str, list[int]] = {}
        for i in todo:
            by_problem.setdefault(pairs[i][0].task_id, []).append(i)
        return [
            group[start : start + size]
            for group in by_problem.values()
            for start in range(0, len(group), size)
        ]

    def _attempt(self, batch: list[Pair]) -> list[ScoreResult]:
        if self.failing >= DOWN_AFTER:
            return _failed(
                batch, f"not asked: the scorer is down ({self.failing} requests in a row failed)"
            )
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient),
            wait=tenacity.wait_exponential(multiplier=self.config.backoff, max=BACKOFF_MAX),
            stop=tenacity.stop_after_attempt(self.config.retries + 1),
            reraise=True,
        )
        try:
            measured: list[Measured] = retrying(self.client.score, batch, self.record)
        except Transient as exc:
            with self.lock:
                self.failing += 1
            return _failed(batch, f"still failing after {self.config.retries + 1} attempts: {exc}")
        except Unusable as exc:
            return _failed(batch, f"no usable score: {exc}")
        except Refused as exc:
            return _failed(batch, f"refused: {exc}")
        with self.lock:
            self.failing = 0
        return [ScoreResult("ok", m.value, m.method, m.tokens) for m in measured]

    def close(self) -> None:
        self.client.close()
        self.cache.close()


def _failed(batch: list[Pair], reason: str) -> list[ScoreResult]:
    return [ScoreResult("failed", None, None, None, error=reason) for _ in batch]


def config_key(config: ScorerConfig) -> str:
    """Hash of what can change a score: not the limits, the batching or the key."""
    settings = config.model_dump()
    for name in ("api_key_env", "batch_size", "concurrency", "retries", "backoff", "timeout"):
        settings.pop(name)
    for name in UNSET_AS_EMPTY:
        settings[name] = "" if settings[name] is None else settings[name]
    settings["template"] = load_template(config, "template")
    judge = config.kind == "judge"
    settings["grade_template"] = load_template(config, "grade_template") if judge else ""
    settings["version"] = SCORER_VERSION
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def score_problems(
    scorer: Scorer,
    problems: Sequence[tuple[Problem, Sequence[Candidate], Sequence[int]]],
    tick: Callable[[int], None] | None = None,
) -> list[ProblemRewards]:
    """Score every candidate of every (problem, candidates, sample indices): one
    :class:`ProblemRewards` per problem, with the first failure named by its sample index."""
    pairs = [(problem, c) for problem, candidates, _ in problems for c in candidates]
    results = scorer.score(pairs, tick)
    out, start = [], 0
    for problem, candidates, indices in problems:
        mine = results[start : start + len(candidates)]
        start += len(candidates)
        failed = [(i, r) for i, r in enumerate(mine) if r.status != "ok"]
        if failed:
            i, first = failed[0]
            error = (
                f"{problem.task_id}: {len(failed)} of {len(mine)} candidates unscored "
                f"(sample {indices[i]}: {first.error})"
            )
            out.append(ProblemRewards(mine, None, error))
        else:
            out.append(ProblemRewards(mine, np.array([r.value for r in mine], dtype=float), None))
    return out


def summarize_scorer(
    scorer: Scorer, rewards: Sequence[ProblemRewards], calls: list[ModelCall]
) -> ScorerSummary:
    """What the scorer did in one evaluation: scores, methods, requests, tokens, cost."""
    results = [r for p in rewards for r in p.results]
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    config = scorer.config
    return ScorerSummary(
        kind=config.kind,
        model=config.model,
        how=config.method if config.kind == "judge" else config.endpoint,
        key=scorer.key,
        scores=sum(r.status == "ok" for r in results),
        failed=sum(r.status != "ok" for r in results),
        cached=sum(r.cached for r in results),
        methods=dict(Counter(str(r.method) for r in results if r.status == "ok")),
        requests=len(calls),
        failed_requests=sum(c.error is not None for c in calls),
        prompt_tokens=sum(c.prompt_tokens or 0 for c in calls),
        completion_tokens=sum(c.completion_tokens or 0 for c in calls),
        cost_usd=sum(costs) if costs else None,
        errors=sorted({p.error for p in rewards if p.error})[:5],
    )
