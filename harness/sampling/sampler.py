"""Sampling a pool for a suite under a sampling spec, through the content-addressed cache.

The *sampling key* is a hash of the sampler's version, the spec's key (every setting that can
change the samples: the model and how it is sampled) and the suite's problems as the sampler
sees them (task ids, prompts, entry points, reference solutions; after ``limit``).
``cache/sampling/<key>.json`` records the pool id it produced, with the pool's meta (backend,
model, SIMULATED flag, settings, token counts, FLOPs): the same suite and spec twice make one
pool and call no model the second time.

Raw outputs go through ``postprocess.py`` the same way for every backend.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.data.pools import Pool, Sample, load_pool, pool_id, save_pool
from harness.data.suites import Suite, Task
from harness.errors import InputError
from harness.execution.cache import open_cache
from harness.execution.executor import Executor
from harness.execution.sandbox import Sandbox
from harness.results import ModelCall
from harness.sampling import postprocess as post
from harness.sampling.config import SamplingConfig, SamplingSpec, render
from harness.sampling.results import (
    Batch,
    Generation,
    Progress,
    SampleResult,
    SamplingCompute,
    SamplingError,
    TokenCount,
)
from harness.sampling.simulated import SIMULATOR_VERSION

SAMPLER_VERSION = 1  # bump when postprocessing or the pool layout changes


def sampling_key(suite: Suite, tasks: list[Task], spec: SamplingSpec) -> str:
    """The cache key of a pool (see the module docstring)."""
    digest = hashlib.sha256()
    versions = [SAMPLER_VERSION, SIMULATOR_VERSION if spec.simulated else 0]
    digest.update(json.dumps([versions, spec.key()]).encode())
    for task in tasks:
        row = [task.task_id, task.prompt, task.entry_point, task.canonical_solution]
        digest.update(json.dumps(row).encode() + b"\n")
    return digest.hexdigest()[:16]


def sample_pool(
    suite: Suite,
    spec: SamplingSpec,
    *,
    limit: int | None,
    cache: Path,
    sandbox: Sandbox | None,
    progress: Progress | None = None,
) -> SampleResult:
    """Sample (or find in the cache) the pool of ``suite`` under ``spec``.

    ``limit`` keeps the first N problems of the suite. ``sandbox`` runs the simulated
    backend's programs (one is started, and stopped, when it is None and one is needed).
    Raises :class:`SamplingError` when a backend fails; nothing is cached then.
    """
    started = time.monotonic()
    tasks = list(suite.tasks.values())
    if limit is not None:
        if limit < 1:
            raise InputError(f"limit must be at least 1, not {limit}")
        tasks = tasks[:limit]
    key = sampling_key(suite, tasks, spec)
    index = cache / "sampling" / f"{key}.json"
    entry = json.loads(index.read_text()) if index.exists() else None
    if entry is not None and (cache / "pools" / entry["pool"] / "meta.json").exists():
        pool = load_pool(entry["pool"], suite, cache)
        pool.meta = entry["meta"]
        return SampleResult(
            pool=pool,
            config_key=key,
            cached=True,
            simulated=bool(pool.meta["simulated"]),
            compute=SamplingCompute.from_json(pool.meta["compute"]),
            skipped=dict(pool.meta.get("skipped", {})),
            elapsed_s=time.monotonic() - started,
        )

    config = spec.sampling
    skipped: dict[str, str] = {}
    calls: list[ModelCall] = []
    if spec.simulated:
        candidates, tests, skipped = _simulate(tasks, config, cache, sandbox, progress)
    else:
        batches: list[Batch] = [(config.candidate_params(), _prompts(tasks, config.template))]
        if config.self_tests.n > 0:
            batches.append((config.self_test_params(), _prompts(tasks, config.self_tests.template)))
        generations, calls = _generate(spec, batches, progress)
        candidates = generations[0]
        tests = generations[1] if config.self_tests.n > 0 else None

    by_task = {t.task_id: t for t in tasks}
    samples = {g.task_id: _samples(g, by_task[g.task_id], config) for g in candidates}
    self_tests = None
    if tests is not None:
        self_tests = {g.task_id: _tests(g, by_task[g.task_id], config) for g in tests}
        for task_id in samples:
            self_tests.setdefault(task_id, [])
    if not samples:
        raise SamplingError(f"no problem of {suite.name} could be sampled: {skipped}", calls)
    compute = _compute(spec, candidates, tests or [])
    meta: dict[str, Any] = {
        "suite": suite.name,
        "source": "winnow sample",
        "backend": spec.sampler.backend,
        "model": spec.sampler.model,
        "simulated": spec.simulated,
        "sampling": spec.to_dict(),
        "sampling_key": key,
        "limit": limit,
        "compute": compute.to_json(),
        "skipped": skipped,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    pool = Pool(id=pool_id(samples, self_tests), samples=samples, self_tests=self_tests, meta=meta)
    save_pool(pool, cache)
    _write_index(index, {"pool": pool.id, "meta": meta})
    return SampleResult(
        pool=pool,
        config_key=key,
        cached=False,
        simulated=spec.simulated,
        compute=compute,
        calls=calls,
        skipped=skipped,
        elapsed_s=time.monotonic() - started,
    )


def _generate(
    spec: SamplingSpec, batches: list[Batch], progress: Progress | None
) -> tuple[list[list[Generation]], list[ModelCall]]:
    # Imported here: each backend pulls in a heavy library of its own (litellm, vllm).
    if spec.sampler.backend == "openai":
        from harness.sampling.openai_backend import generate as openai_generate

        return openai_generate(spec, batches, progress)
    from harness.sampling.vllm_backend import generate as vllm_generate

    return vllm_generate(spec, batches, progress)


def _prompts(tasks: list[Task], template: str) -> list[tuple[str, str]]:
    return [(t.task_id, render(template, t.prompt, t.entry_point, t.task_id)) for t in tasks]


def _simulate(
    tasks: list[Task],
    config: SamplingConfig,
    cache: Path,
    sandbox: Sandbox | None,
    progress: Progress | None,
) -> tuple[list[Generation], list[Generation] | None, dict[str, str]]:
    from harness.sampling import simulated, simulated_tests

    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox()
    exec_cache = open_cache(cache, "exec")
    try:
        libraries, skipped = simulated.build_libraries(
            tasks, Executor(box, exec_cache, simulated.LIBRARY_EXEC), progress
        )
    finally:
        exec_cache.close()
        if own:
            box.close()
    candidates = [simulated.sample_candidates(lib, config) for lib in libraries]
    tests = None
    if config.self_tests.n > 0:
        tests = [simulated_tests.sample_self_tests(lib, config) for lib in libraries]
    return candidates, tests, skipped


def _samples(generation: Generation, task: Task, config: SamplingConfig) -> list[Sample]:
    """Postprocessed candidates of one problem (see ``postprocess.py``)."""
    samples = []
    for i, completion in enumerate(generation.completions):
        text = post.cut_at_stop(completion.text, config.stop)
        if config.endpoint == "chat":
            body = post.chat_completion_body(text, task.entry_point)
        else:
            body = post.function_body(text)
        samples.append(
            Sample(
                task_id=task.task_id,
                index=i,
                completion=body,
                logprob_mean=completion.logprob_mean,
                num_tokens=completion.num_tokens,
                prompt_tokens=generation.prompt_tokens,
            )
        )
    return samples


def _tests(generation: Generation, task: Task, config: SamplingConfig) -> list[str]:
    """The asserts extracted from one problem's self-test samples, duplicates kept."""
    settings = config.self_tests
    found: list[str] = []
    for completion in generation.completions:
        text = post.cut_at_stop(completion.text, settings.stop)
        if config.endpoint == "chat":
            text = post.extract_code(text)
        else:
            text = post.resume_line(generation.prompt, text)
        found += post.extract_asserts(text, task.entry_point, settings.max_asserts)
    return found


def _compute(
    spec: SamplingSpec, candidates: list[Generation], tests: list[Generation]
) -> SamplingCompute:
    per_problem: dict[str, dict[str, TokenCount]] = {}
    totals = {"candidates": TokenCount(), "self_tests": TokenCount()}
    for purpose, generations in (("candidates", candidates), ("self_tests", tests)):
        for g in generations:
            count = TokenCount(prompt=_known(g.prompt_tokens, g, "prompt"), generated=_generated(g))
            per_problem.setdefault(g.task_id, {})[purpose] = count
            totals[purpose].prompt += count.prompt
            totals[purpose].generated += count.generated
    params, source = spec.sampler.parameter_count()
    tokens = sum(t.prompt + t.generated for t in totals.values())
    return SamplingCompute(
        candidates=totals["candidates"],
        self_tests=totals["self_tests"],
        per_problem=per_problem,
        params=params,
        params_source=source,
        flops=None if params is None else 2.0 * params * tokens,
        estimated_tokens=spec.simulated,
    )


def _generated(generation: Generation) -> int:
    if generation.completion_tokens is not None:
        return generation.completion_tokens
    counts = [c.num_tokens for c in generation.completions]
    if any(c is None for c in counts):
        return _known(None, generation, "generated")
    return sum(c for c in counts if c is not None)


def _known(value: int | None, generation: Generation, what: str) -> int:
    if value is None:
        raise SamplingError(f"{generation.task_id}: the backend reported no {what} token count")
    return value


def _write_index(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entry, indent=2))
    tmp.replace(path)
