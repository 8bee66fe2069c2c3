"""Label a pool and run its candidate x self-test matrix through a Ray cluster and through this
machine's sandbox, check the two agree pair for pair, and time both.

    ray start --head --num-cpus 2          # or any running cluster with Winnow on every node
    python bench/ray_bench.py [--address auto] [--workers 2] [--problems N]
                              [--samples ../shared/pools/codegen16b-humaneval/samples.jsonl]
                              [--self-tests .../self_tests.jsonl] [--trivial 2000]

Each path starts from a cold cache of its own (a fresh SQLite file), so every pair is executed
by both. ``--problems`` keeps the first N problems of the pool (all by default). The per-job
overhead of the Ray path is measured on ``--trivial`` jobs that do nothing (one ``pass`` test
each), run through both: (Ray time - local time) / jobs. Output is a ``key: value`` block.

The limits are wall-clock (0.1 s per self-test), so on a busy machine a test near its limit can
time out in one run and not in the next, whichever the path: the pairs that differ are counted
apart when one side is a timeout, and ``--control`` runs the local path a second time (its own
cold cache) to show how many pairs differ between two local runs under the same load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

Timings = dict[str, float]  # seconds: "label", "matrix", "trivial"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "pools" / "codegen16b-humaneval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="auto", help="the Ray cluster: auto or ray://h:p")
    parser.add_argument("--samples", type=Path, default=SHARED / "samples.jsonl")
    parser.add_argument("--self-tests", type=Path, default=SHARED / "self_tests.jsonl")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--problems", type=int, default=None, help="the first N problems only")
    parser.add_argument("--trivial", type=int, default=2000, help="jobs for the overhead")
    parser.add_argument("--suite", default="humaneval")
    parser.add_argument("--control", action="store_true", help="run the local path twice")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="winnow-ray-bench-"))
    os.environ["WINNOW_HOME"] = str(work / "home")
    # Imported after WINNOW_HOME is set: the harness reads it.
    from harness.data.pools import import_pool
    from harness.data.suites import load_suite
    from harness.execution.cache import ExecCache
    from harness.execution.executor import Executor, Runner
    from harness.execution.launch import SandboxConfig
    from harness.execution.raycluster import RayCluster
    from harness.execution.sandbox import Job, Sandbox

    suite = load_suite(args.suite)
    pool = import_pool(args.samples, suite, args.self_tests)
    tasks = list(pool.samples)[: args.problems]
    rows = [(t, s) for t in tasks for s in pool.samples[t]]
    programs = [suite.tasks[t].hidden_program(s.completion) for t, s in rows]
    requests = [
        (
            suite.tasks[t].prompt + s.completion,
            list(dict.fromkeys((pool.self_tests or {}).get(t, []))),
        )
        for t, s in rows
    ]
    pairs = sum(len(tests) for _, tests in requests)
    trivial = [Job(f"x = {i}", ("pass",), 1.0, 1.0) for i in range(args.trivial)]
    print(f"problems: {len(tasks)}")
    print(f"candidates: {len(programs)}")
    print(f"matrix_pairs: {pairs}")
    print(f"workers: {args.workers}")

    def measure(runner: Runner, cache: Path) -> tuple[list[str], list[list[str]], Timings]:
        """Labels and matrix (statuses) through ``runner`` from a cold cache, with the times
        of both and of the trivial jobs."""
        executor = Executor(runner, ExecCache(cache))
        started = time.monotonic()
        labels = [o.status for o in executor.label(programs)]
        label_s = time.monotonic() - started
        started = time.monotonic()
        matrix = [[o.status for o in row] for row in executor.self_test(requests)]
        matrix_s = time.monotonic() - started
        started = time.monotonic()
        done = runner.run(trivial)
        trivial_s = time.monotonic() - started
        assert all(r.tests[0].status == "passed" for r in done)
        return labels, matrix, {"label": label_s, "matrix": matrix_s, "trivial": trivial_s}

    config = SandboxConfig(workers=args.workers)
    with Sandbox(config) as box:
        print(f"local_sandbox: {box.level}")
        local_labels, local_matrix, local_t = measure(box, work / "local.sqlite")
        if args.control:
            again_labels, again_matrix, _ = measure(box, work / "control.sqlite")
    cluster = RayCluster(args.address, config)
    try:
        print(f"ray_nodes: {len(cluster.nodes)}")
        print(f"ray_cpus: {sum(node.cpus for node in cluster.nodes)}")
        print(f"ray_sandbox: {','.join(cluster.levels)}")
        ray_labels, ray_matrix, ray_t = measure(cluster, work / "ray.sqlite")
    finally:
        cluster.close()
    timings = {"local": local_t, "ray": ray_t}

    for path in ("local", "ray"):
        t = timings[path]
        print(f"{path}_label_s: {t['label']:.1f}")
        print(f"{path}_matrix_s: {t['matrix']:.1f}")
        print(f"{path}_matrix_pairs_per_s: {pairs / t['matrix']:.0f}")
        print(f"{path}_trivial_s: {t['trivial']:.2f}")
    overhead = (timings["ray"]["trivial"] - timings["local"]["trivial"]) / len(trivial)
    print(f"ray_overhead_ms_per_job: {overhead * 1000:.2f}")
    label_jobs = len(programs)
    extra = (timings["ray"]["label"] - timings["local"]["label"]) / label_jobs
    print(f"ray_label_extra_ms_per_candidate: {extra * 1000:.2f}")
    label_diff, matrix_diff = differences(local_labels, local_matrix, ray_labels, ray_matrix)
    print(f"labels_compared: {len(local_labels)}")
    print(f"labels_differ: {len(label_diff)}")
    print(f"matrix_pairs_compared: {sum(map(len, local_matrix))}")
    print(f"matrix_pairs_differ: {len(matrix_diff)}")
    timing = [(i, j) for i, j in matrix_diff if "timeout" in (local_matrix[i][j], ray_matrix[i][j])]
    print(f"matrix_pairs_differ_by_a_timeout: {len(timing)}")
    if args.control:
        control = differences(local_labels, local_matrix, again_labels, again_matrix)
        print(f"control_local_vs_local_labels_differ: {len(control[0])}")
        print(f"control_local_vs_local_matrix_pairs_differ: {len(control[1])}")
    for i in label_diff[:10]:
        task, sample = rows[i]
        print(f"  label differs: {task} #{sample.index}: {local_labels[i]} vs {ray_labels[i]}")
    for i, j in matrix_diff[:10]:
        task, sample = rows[i]
        print(
            f"  pair differs: {task} #{sample.index} test {j}: "
            f"{local_matrix[i][j]} vs {ray_matrix[i][j]}"
        )
    shutil.rmtree(work, ignore_errors=True)


def differences(
    labels: list[str], matrix: list[list[str]], other_labels: list[str], other: list[list[str]]
) -> tuple[list[int], list[tuple[int, int]]]:
    """The candidates whose labels differ, and the (candidate, test) pairs that differ."""
    label_diff = [i for i, (a, b) in enumerate(zip(labels, other_labels, strict=True)) if a != b]
    matrix_diff = [
        (i, j)
        for i, (a, b) in enumerate(zip(matrix, other, strict=True))
        for j, (x, y) in enumerate(zip(a, b, strict=True))
        if x != y
    ]
    return label_diff, matrix_diff


if __name__ == "__main__":
    main()
