"""``winnow sample``: sample a pool into the cache and show what it cost."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from agent.commands.console import make_console
from agent.commands.evalcmd import progress_bars
from agent.settings import load_settings
from harness.data.suites import load_suite
from harness.home import cache_dir
from harness.sampling import SampleResult, SamplingSpec, load_sampling_config, sample_pool


def run_sample(
    suite: str, config: Path, run_config: Path | None, limit: int | None, quiet: bool
) -> SampleResult:
    """Sample (or find in the cache) the pool of ``suite`` as the sampling ``config`` says,
    from the model of the run config's ``[sampler]`` (the file ``winnow run --config`` takes;
    None: the defaults, the simulated backend)."""
    sampler = load_settings(run_config)[0].sampler
    spec = SamplingSpec(load_sampling_config(config), sampler)
    problems = load_suite(suite)
    with progress_bars(quiet) as progress:
        return sample_pool(
            problems, spec, limit=limit, cache=cache_dir(), sandbox=None, progress=progress
        )


def render(result: SampleResult, console: Console) -> None:
    """A summary on ``console`` (stderr): the pool id itself goes to stdout."""
    meta = result.pool.meta
    label = " [bold yellow]SIMULATED[/]" if result.simulated else ""
    origin = "from the cache" if result.cached else f"sampled in {result.elapsed_s:.1f} s"
    console.print(
        f"[bold]{meta['suite']}[/] pool {result.pool.id}{label}: {meta['backend']} "
        f"{meta['model']}, {origin}"
    )
    samples = sum(len(v) for v in result.pool.samples.values())
    tests = sum(len(v) for v in (result.pool.self_tests or {}).values())
    console.print(
        f"{len(result.pool.samples)} problems, {samples} candidates, {tests} self-test asserts"
    )
    c = result.compute
    estimated = " (estimated)" if c.estimated_tokens else ""
    flops = "unknown (no parameter count)" if c.flops is None else f"{c.flops:.3g}"
    console.print(
        f"tokens{estimated}: candidates {c.candidates.prompt} prompt + "
        f"{c.candidates.generated} generated, self-tests {c.self_tests.prompt} prompt + "
        f"{c.self_tests.generated} generated; FLOPs {flops}"
    )
    if result.calls:
        failed = sum(1 for call in result.calls if call.error is not None)
        console.print(f"{len(result.calls)} model calls, {failed} failed")
    for task_id, reason in result.skipped.items():
        console.print(f"[yellow]skipped[/] {task_id}: {reason}")
    if result.simulated:
        console.print(
            "[yellow]warning:[/] SIMULATED pool: candidates were made by mutating references"
        )


def emit(result: SampleResult, as_json: bool) -> None:
    """The pool id (or the JSON summary) on stdout, the summary on stderr."""
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    render(result, make_console(stderr=True))
    print(result.pool.id)
