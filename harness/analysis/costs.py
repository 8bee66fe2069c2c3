"""What a point of the sweep costs per problem: samples, generated tokens, executions, FLOPs.

- samples: k candidates per problem.
- generated tokens: k x the mean ``num_tokens`` of the pool's candidates (or, when the samples
  do not carry it, the candidates' total from the pool's sampling record), plus, for an arm
  that ran the self-tests, the tokens generated to write them (one batch per problem, whatever
  k is), plus what the arm itself had generated. Prompt tokens are not counted: one prompt
  per problem is shared by its k samples.
- executions: (candidate, test) executions the arm consumed per problem and subset (the
  harness's ``Compute``).
- FLOPs: 2 x parameters x generated tokens (a forward pass costs about two FLOPs per parameter
  per token) when the model's parameter count is known: ``--params``, or the pool's meta.

A quantity the pool does not know is None ("unknown"), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.data.pools import Pool
from harness.results import Compute

FLOPS_PER_PARAM_TOKEN = 2.0  # forward-pass FLOPs per parameter per generated token


@dataclass
class PoolCost:
    """What the pool knows about its own cost, per candidate and per problem."""

    tokens_per_sample: float | None  # mean generated tokens of a candidate
    tokens_source: str  # samples | sampling record | unknown
    self_test_tokens: float | None  # generated tokens of the self-tests, per problem
    params: float | None  # the model's parameter count
    params_source: str  # --params | pool meta | unknown


@dataclass
class PointCost:
    """One arm (or the samples alone, for pass@k) at one k, per problem."""

    samples: int
    generated_tokens: float | None
    executions: float
    flops: float | None


def pool_cost(pool: Pool, tasks: list[str], params: float | None) -> PoolCost:
    """The pool's token counts and parameter count, from its samples and its meta."""
    record: dict[str, Any] = pool.meta.get("compute") or {}
    samples = [s for t in tasks for s in pool.samples[t]]
    tokens, source = None, "unknown"
    if all(s.num_tokens is not None for s in samples):
        tokens, source = sum(s.num_tokens or 0 for s in samples) / len(samples), "samples"
    elif record.get("candidates"):
        every = sum(len(v) for v in pool.samples.values())
        tokens, source = record["candidates"]["generated"] / every, "sampling record"
    return PoolCost(
        tokens_per_sample=tokens,
        tokens_source=source,
        self_test_tokens=_self_test_tokens(pool, tasks, record),
        **_params(pool, record, params),
    )


def _self_test_tokens(pool: Pool, tasks: list[str], record: dict[str, Any]) -> float | None:
    if not any((pool.self_tests or {}).get(t) for t in tasks):
        return 0.0  # no self-tests were generated: nothing to pay for
    per_problem = record.get("per_problem") or {}
    counts = [per_problem.get(t, {}).get("self_tests") for t in tasks]
    if counts and all(c is not None for c in counts):
        return sum(c["generated"] for c in counts if c is not None) / len(counts)
    if record.get("self_tests"):
        return record["self_tests"]["generated"] / len(pool.samples)
    return None


def _params(pool: Pool, record: dict[str, Any], given: float | None) -> dict[str, Any]:
    if given is not None:
        return {"params": given, "params_source": "--params"}
    known = record.get("params") or pool.meta.get("params")
    if isinstance(known, int | float) and known > 0:
        return {"params": float(known), "params_source": "pool meta"}
    return {"params": None, "params_source": "unknown"}


def point_cost(cost: PoolCost, k: int, compute: Compute | None) -> PointCost:
    """The cost of one arm at k (``compute`` None: the k samples alone)."""
    tokens = None if cost.tokens_per_sample is None else cost.tokens_per_sample * k
    executions = 0.0 if compute is None else compute.executions
    if compute is not None and tokens is not None:
        tests = cost.self_test_tokens if executions > 0 else 0.0
        tokens = None if tests is None else tokens + tests + compute.generated_tokens
    flops = None
    if tokens is not None and cost.params is not None:
        flops = FLOPS_PER_PARAM_TOKEN * cost.params * tokens
    return PointCost(samples=k, generated_tokens=tokens, executions=executions, flops=flops)
