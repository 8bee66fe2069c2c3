"""The sandbox's own cost per job, at each level, in one run.

    python bench/sandbox_bench.py [--jobs 1000]

One worker slot runs ``--jobs`` trivial jobs (a two-line program and one assert), so what is
timed is the sandbox, not the program: sending the job, forking the child, its limits and seccomp
filter, the report, killing and reaping, emptying the private /tmp. Prints milliseconds per job
for ``bwrap`` (when installed) and ``process``, and their ratio.
"""

from __future__ import annotations

import argparse
import time

from harness.execution.launch import SandboxConfig, SandboxLevel
from harness.execution.sandbox import Job, Sandbox, bwrap_available


def per_job_ms(level: SandboxLevel, count: int) -> float:
    jobs = [
        Job(f"def f(x):\n    return x + {i}\n", (f"assert f(1) == {i + 1}",), 3.0, 3.0)
        for i in range(count)
    ]
    with Sandbox(SandboxConfig(level=level, workers=1)) as box:
        box.run(jobs[:10])  # warm the worker
        started = time.perf_counter()
        results = box.run(jobs)
        elapsed = time.perf_counter() - started
    assert all(r.tests[0].passed for r in results), "a trivial job did not pass"
    return elapsed / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    levels: list[SandboxLevel] = ["bwrap", "process"] if bwrap_available() else ["process"]
    times = {level: per_job_ms(level, args.jobs) for level in levels}
    for level, ms in times.items():
        print(f"{level}_ms_per_job: {ms:.2f}")
    if len(times) == 2:
        print(f"bwrap_over_process: {times['bwrap'] / times['process']:.2f}")


if __name__ == "__main__":
    main()
