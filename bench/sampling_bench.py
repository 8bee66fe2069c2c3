"""Time the simulated sampler and measure the pools it makes, from a cold cache.

    python bench/sampling_bench.py [--suite humaneval] [--n 20] [--k 20]
                                   [--temperatures 0.2,0.8,1.2] [--skip-eval]

In a fresh WINNOW_HOME (a temp dir) it samples the suite with the default config at each
temperature (the first run is cold: it builds the per-problem libraries in the sandbox; the
others reuse the execution cache), then evaluates each pool with every baseline at k. Output is
a ``key: value`` block: seconds per sampling run, pass@1, pass@k, and sel@k of random, CodeT,
most-passed and logprob.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="humaneval")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--temperatures", default="0.2,0.8,1.2")
    parser.add_argument("--skip-eval", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="winnow-sampling-bench-")
    os.environ["WINNOW_HOME"] = home

    from harness.config import RunConfig
    from harness.data.suites import load_suite
    from harness.judge.evaluate import EvalSpec, Session, evaluate
    from harness.sampling import SamplingSpec, sample_pool
    from harness.sampling.config import parse_sampling_config

    suite = load_suite(args.suite)
    print(f"suite: {suite.name} ({len(suite.tasks)} problems)")
    print(f"cpus: {os.cpu_count()}")
    with Session(RunConfig().with_eval(k=args.k)) as session:
        for temperature in (float(t) for t in args.temperatures.split(",")):
            config = parse_sampling_config({"temperature": temperature, "n": args.n}, "bench")
            started = time.monotonic()
            result = sample_pool(
                suite,
                SamplingSpec(config),  # the default [sampler]: the simulated backend
                limit=None,
                cache=session.cache_path,
                sandbox=session.sandbox,
            )
            tag = f"t{temperature:g}"
            print(f"{tag}_sample_s: {time.monotonic() - started:.1f}")
            print(f"{tag}_pool: {result.pool.id}")
            print(f"{tag}_generated_tokens: {result.compute.generated_tokens}")
            if args.skip_eval:
                continue
            spec = EvalSpec(suite=args.suite, pool=result.pool.id)
            started = time.monotonic()
            evaluated = evaluate(spec, session)
            print(f"{tag}_eval_s: {time.monotonic() - started:.1f}")
            print(f"{tag}_pass_at_1: {evaluated.pass_at_1:.3f}")
            print(f"{tag}_pass_at_{args.k}: {evaluated.pass_at_k:.3f}")
            for arm in ("random", "codet", "most_passed", "logprob", "cluster"):
                value = evaluated.arms[arm].sel_at_k
                print(f"{tag}_{arm}: {'null' if value is None else f'{value:.3f}'}")
    print(f"home: {home}")


if __name__ == "__main__":
    main()
