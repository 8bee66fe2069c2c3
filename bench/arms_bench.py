"""Every baseline arm on a real pool, per suite, split and k, beside CodeT: the README's table.

    WINNOW_HOME=/path/to/warm/home python bench/arms_bench.py \\
        --pool ../shared/pools/codegen16b-humaneval \\
        --suite humaneval --suite ../shared/suites/humaneval-blind.jsonl \\
        [--ks 10,100] [--seeds 5] [--repeats 60] [--json out.json]

For each suite (the prompts: the official ones carry worked examples, the blind ones do not, so
the inputs the outputs signal runs on differ), split (dev, holdout, all) and k, it runs every
baseline exactly as ``winnow eval`` does (the judge's own functions, the same sandbox and
cache) and prints per arm: sel@k with its 95% interval, the gap it closes with its interval,
the paired difference to CodeT with its interval, and the executions it used per subset against
CodeT's. With k below the pool's n, every figure is from seed 0 and ``--repeats`` subsets per
problem, and the spread of sel@k over ``--seeds`` seeds (their standard deviation) is printed
beside it; with k = n there is one subset and no spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import RunConfig
from harness.judge.aggregate import arm_results
from harness.judge.design import design
from harness.judge.metrics import bootstrap_indices, gap_interval, interval, pass_rates
from harness.judge.session import EvalSpec, Session

SPLITS = ("dev", "holdout", "all")
REFERENCE = "codet"


def figures(session: Session, spec: EvalSpec, k: int, seeds: int, repeats: int) -> dict[str, Any]:
    judged = session.judged(spec)
    n = min(p.n for p in judged.problems)
    draws = range(seeds) if k < n else range(1)
    per_seed: dict[str, list[float]] = {}
    first: dict[str, Any] = {}
    for seed in draws:
        at_k = design(judged, k, repeats if k < n else 1, seed, spec.source)
        runs = session.baselines(at_k)
        arms = arm_results(at_k, runs)
        for name, arm in arms.items():
            per_seed.setdefault(name, []).append(arm.sel_at_k or float("nan"))
        if seed == 0:
            correct = np.array([int(p.correct.sum()) for p in judged.problems])
            sizes = np.array([p.n for p in judged.problems])
            pass1, passk = pass_rates(correct, sizes, k)
            resamples = bootstrap_indices(len(sizes), 0)
            reference = runs[REFERENCE].values
            spent = arms[REFERENCE].compute.executions
            for name, run in runs.items():
                arm = arms[name]
                gap = gap_interval(run.values, pass1, passk, resamples)
                diff = interval(run.values - reference, resamples)
                first[name] = {
                    "sel_at_k": arm.sel_at_k,
                    "ci": [arm.ci_low, arm.ci_high],
                    "gap_closed": None if gap is None else gap.estimate,
                    "gap_ci": None if gap is None else [gap.low, gap.high],
                    "vs_codet": diff.estimate,
                    "vs_codet_ci": [diff.low, diff.high],
                    "executions": arm.compute.executions,
                    "executions_vs_codet": arm.compute.executions / spent if spent else None,
                }
            first["_pool"] = {
                "problems": len(sizes),
                "pass_at_1": float(pass1.mean()),
                "pass_at_k": float(passk.mean()),
                "inputs_per_problem": float(np.mean([len(p.inputs) for p in judged.problems])),
                "subsets": repeats if k < n else 1,
            }
    for name, values in per_seed.items():
        first[name]["seed_sd"] = statistics.stdev(values) if len(values) > 1 else None
    return first


def show(suite: str, split: str, k: int, table: dict[str, Any]) -> None:
    pool = table["_pool"]
    print(
        f"\n{suite} / {split} / k = {k}: {pool['problems']} problems, pass@1 "
        f"{pool['pass_at_1']:.3f}, pass@k {pool['pass_at_k']:.3f}, {pool['subsets']} subsets, "
        f"{pool['inputs_per_problem']:.1f} inputs per problem"
    )
    print(
        f"  {'arm':<18}{'sel@k':>7} {'95% CI':>16} {'sd/seeds':>9} {'gap':>6} {'gap CI':>16} "
        f"{'- codet':>8} {'95% CI':>18} {'exec':>8} {'x codet':>8}"
    )
    for name, row in table.items():
        if name.startswith("_"):
            continue
        sd = "—" if row["seed_sd"] is None else f"{row['seed_sd']:.4f}"
        gap = "—" if row["gap_closed"] is None else f"{row['gap_closed']:.0%}"
        gap_ci = (
            "—" if row["gap_ci"] is None else f"[{row['gap_ci'][0]:.0%}, {row['gap_ci'][1]:.0%}]"
        )
        ratio = "—" if row["executions_vs_codet"] is None else f"{row['executions_vs_codet']:.2f}"
        print(
            f"  {name:<18}{row['sel_at_k']:>7.3f} [{row['ci'][0]:.3f}, {row['ci'][1]:.3f}] "
            f"{sd:>9} {gap:>6} {gap_ci:>16} {row['vs_codet']:>+8.3f} "
            f"[{row['vs_codet_ci'][0]:+.3f}, {row['vs_codet_ci'][1]:+.3f}] "
            f"{row['executions']:>8.0f} {ratio:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--suite", action="append", default=[])
    parser.add_argument("--ks", default="10,100")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with Session(RunConfig()) as session:
        for suite in args.suite or ["humaneval"]:
            for split in SPLITS:
                spec = EvalSpec(suite=suite, pool=str(Path(args.pool).resolve()), split=split)
                for k in (int(x) for x in args.ks.split(",")):
                    table = figures(session, spec, k, args.seeds, args.repeats)
                    results[f"{suite}|{split}|{k}"] = table
                    show(Path(suite).stem, split, k, table)
                    sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
