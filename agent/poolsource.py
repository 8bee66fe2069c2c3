"""Where each experiment's pool comes from: a replayed pool, or ``experiments/sampling.toml``.

With ``--pool`` the run replays one pool (a cache id or a directory) for every experiment.
Otherwise the pool is sampled from the run config's ``[sampler]`` (the model, fixed for the run)
as the branch's ``experiments/sampling.toml`` says (how it is sampled) — cached by the suite and
both, so an unchanged config costs nothing and a changed one is sampled once, before its
experiment is evaluated. A sampling config that sets a ``[sampler]`` key is bad input: nothing
is sampled. Pools and the model calls sampling made are handed to the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from harness.analysis.costs import FLOPS_PER_PARAM_TOKEN
from harness.config import SamplerConfig
from harness.configload import parse_toml
from harness.data.pools import Pool, load_pool
from harness.data.suites import load_suite
from harness.judge.evaluate import Session
from harness.results import ModelCall

SAMPLING = "experiments/sampling.toml"


@dataclass
class PoolSource:
    suite: str
    replay: str | None
    home: Path
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pools: dict[str, Pool] = field(default_factory=dict)
    pending_calls: list[ModelCall] = field(default_factory=list)
    recorded: set[str] = field(default_factory=set)

    def pool_for(self, root: Path, session: Session) -> Pool:
        """The pool the current ``experiments/`` under ``root`` (the branch's worktree) asks
        for (cached)."""
        suite = load_suite(self.suite)
        if self.replay is not None:
            key = f"replay:{self.replay}"
            if key not in self.pools:
                self.pools[key] = load_pool(self.replay, suite, session.cache_path)
            return self.pools[key]
        # Imported here: sampling backends pull in jinja2 templates and, for real models, litellm.
        from harness.sampling import SamplingError, SamplingSpec, load_sampling_config, sample_pool

        spec = SamplingSpec(load_sampling_config(root / SAMPLING), self.sampler)
        key = f"sample:{spec.key()}"
        if key not in self.pools:
            try:
                result = sample_pool(
                    suite, spec, limit=None, cache=session.cache_path, sandbox=session.sandbox
                )
            except SamplingError as failed:
                self.pending_calls += failed.calls
                raise
            self.pools[key] = result.pool
            self.pending_calls += result.calls
        return self.pools[key]

    def check(self, repo: git.Repo, new: bool) -> None:
        """Before a run creates anything: the sampler's key variable is set and, for a ``new``
        run, the sampling config it starts from (committed at HEAD) sets no ``[sampler]`` key.
        A resumed run restarts from its last kept commit, checked when it was evaluated.
        Nothing to check when a pool is replayed; a start without the file is left to the run
        to report."""
        if self.replay is not None:
            return
        # Imported here: sampling backends pull in jinja2 templates and, for real models, litellm.
        from harness.sampling import openai_backend
        from harness.sampling.config import parse_sampling_config

        if self.sampler.backend == "openai":
            openai_backend.endpoint(self.sampler)
        if not new:
            return
        try:
            text = repo.git.show(f"HEAD:{SAMPLING}")
        except git.GitCommandError:
            return
        where = f"{SAMPLING} (at HEAD)"
        parse_sampling_config(parse_toml(text, where), where)

    def flush(self, ledger: Any, run_id: int, experiment_id: int | None) -> None:
        """Record new pools and the model calls sampling made."""
        for pool in self.pools.values():
            if pool.id not in self.recorded:
                self.record(ledger, pool, None)
                self.recorded.add(pool.id)
        for call in self.pending_calls:
            ledger.record_call(run_id, experiment_id, call)
        self.pending_calls.clear()

    def record(self, ledger: Any, pool: Pool, counts: dict[str, tuple[int, int]] | None) -> None:
        """Record a pool, with (samples, correct) per problem when an evaluation gave them
        (the report draws the pool's pass@k curve from those)."""
        meta = pool.meta
        ledger.record_pool(
            pool.id,
            load_suite(self.suite).name,  # the counts are this suite's hidden tests'
            meta.get("backend", "imported"),
            meta.get("model", ""),
            meta.get("sampling", {}),
            len(pool.samples),
            sum(len(v) for v in pool.samples.values()),
            pool.simulated,
            counts=counts,
        )


@dataclass(frozen=True)
class SamplingCost:
    """What sampling one problem costs at the run's k: the tokens the model reads and writes
    for k candidates and the problem's self-tests (a prompt counts once per request, as in
    ``SamplingCompute``), and the FLOPs, ``2 x params x tokens``, when the pool knows its
    model's parameter count."""

    tokens: float
    params: float | None
    k: int

    @property
    def flops(self) -> float | None:
        return None if self.params is None else FLOPS_PER_PARAM_TOKEN * self.params * self.tokens

    def __str__(self) -> str:
        """``2.44e+12 FLOPs per problem at k=8 (2 x 1.5e+09 parameters x 812 tokens)``, or
        ``812 tokens per problem at k=8`` when the parameter count is unknown."""
        if self.params is None:
            return f"{self.tokens:.0f} tokens per problem at k={self.k}"
        return (
            f"{self.flops:.3g} FLOPs per problem at k={self.k} ({FLOPS_PER_PARAM_TOKEN:g} x "
            f"{self.params:.3g} parameters x {self.tokens:.0f} tokens)"
        )

    def over(self, ceiling: float, start: SamplingCost) -> str | None:
        """Why this cost is over ``ceiling`` x the starting pool's, or None when it is not: in
        FLOPs when both know them, else in tokens (with the run's one model, the two differ by
        the same factor)."""
        if self.flops is not None and start.flops is not None:
            if self.flops <= ceiling * start.flops:
                return None
            mine, theirs = str(self), f"{start.flops:.3g} FLOPs ({start.tokens:.0f} tokens)"
        else:
            if self.tokens <= ceiling * start.tokens:
                return None
            mine = f"{self.tokens:.0f} tokens per problem at k={self.k}"
            theirs = f"{start.tokens:.0f} tokens"
        return (
            f"the pool costs {mine}, over the sampling budget of {ceiling:g} x the starting "
            f"pool's {theirs}"
        )


def sampling_cost(pool: Pool, k: int) -> SamplingCost | None:
    """What a pool costs per problem at k: k candidates and the self-tests, prompts and
    generated tokens (see :class:`SamplingCost`). None for a pool that does not know what it
    cost (an imported one)."""
    compute = pool.meta.get("compute")
    if not compute:
        return None
    problems = max(len(pool.samples), 1)
    samples = max(sum(len(v) for v in pool.samples.values()), 1)
    candidates, tests = compute["candidates"], compute["self_tests"]
    per_candidate = candidates["generated"] / samples
    per_problem = (candidates["prompt"] + tests["prompt"] + tests["generated"]) / problems
    return SamplingCost(k * per_candidate + per_problem, compute.get("params"), k)
