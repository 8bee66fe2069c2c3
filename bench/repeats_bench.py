"""How many k-subsets per problem a headline number needs: the spread of sel@k across seeds.

    WINNOW_HOME=/path/to/warm/home python bench/repeats_bench.py \\
        --pool ../shared/pools/codegen16b-humaneval [--k 10] [--repeats 10,30,60,100] \\
        [--seeds 20] [--split all] [--json out.json]

With k below the pool's n, sel@k is a mean over R random k-subsets per problem; another seed
draws other subsets and gives another number. For each R this runs every baseline arm exactly
as ``winnow eval`` does (the judge's own functions, the same cache), once per seed, and prints
per arm the standard deviation of sel@k across the seeds (what a different draw of subsets
moves the headline by) beside the width of its 95% bootstrap interval over problems (what a
different draw of problems moves it by), and the time the baselines took per seed. The
selector under research pays the same per subset as a baseline arm does, plus its sandbox's
round trip, so evaluation time grows linearly in R.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.judge.aggregate import arm_results
from harness.judge.design import design
from harness.judge.session import EvalSpec, Session

SHOWN = ("random", "most_passed", "cluster", "codet", "output_cluster", "mbr_exec", "srank")


def spread(session: Session, spec: EvalSpec, k: int, repeats: int, seeds: int) -> dict[str, Any]:
    judged = session.judged(spec)
    values: dict[str, list[float]] = {}
    widths: dict[str, list[float]] = {}
    started = time.monotonic()
    for seed in range(seeds):
        at_k = design(judged, k, repeats, seed, spec.source)
        for name, arm in arm_results(at_k, session.baselines(at_k)).items():
            if arm.sel_at_k is None or arm.ci_low is None or arm.ci_high is None:
                continue
            values.setdefault(name, []).append(arm.sel_at_k)
            widths.setdefault(name, []).append(arm.ci_high - arm.ci_low)
    seconds = (time.monotonic() - started) / seeds
    return {
        "problems": len(judged.problems),
        "seconds_per_seed": seconds,
        "arms": {
            name: {
                "mean": statistics.fmean(v),
                "sd": statistics.stdev(v),
                "ci_width": statistics.fmean(widths[name]),
            }
            for name, v in values.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--suite", default="humaneval")
    parser.add_argument("--split", default="all")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", default="10,30,60,100")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    spec = EvalSpec(suite=args.suite, pool=str(Path(args.pool).resolve()), split=args.split)
    results: dict[int, Any] = {}
    with Session(RunConfig()) as session:
        for repeats in (int(r) for r in args.repeats.split(",")):
            results[repeats] = spread(session, spec, args.k, repeats, args.seeds)
            row = results[repeats]
            print(
                f"R = {repeats}: {row['problems']} problems, k = {args.k}, {args.seeds} seeds, "
                f"{row['seconds_per_seed']:.1f} s per seed (baselines)",
                flush=True,
            )
            for name in SHOWN:
                arm = row["arms"].get(name)
                if arm is not None:
                    print(
                        f"  {name:<16} mean {arm['mean']:.4f}  SD across seeds {arm['sd']:.4f}  "
                        f"95% CI width {arm['ci_width']:.3f}",
                        flush=True,
                    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
