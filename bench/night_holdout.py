"""A night's final kept selector on the holdout, beside CodeT: the README's benchmark-night table.

    WINNOW_HOME=/path/to/warm/home python bench/night_holdout.py \\
        --pool ../shared/pools/codegen16b-humaneval --suite humaneval \\
        --selector <(git show winnow/<tag>:experiments/selector.py) [--ks 100,10] [--repeats 60]

For each k, the selector is evaluated on the split (default: the holdout, which never decided
anything in the night) exactly as ``winnow eval`` does — every check, the same sandbox and cache —
and the table gives, for the selector and for CodeT: sel@k with its 95% interval, the gap closed
(pass@1 to pass@k) with its interval, and the selector's paired difference to CodeT over the
split's problems with its 95% bootstrap interval (2000 resamples, seed 0).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import RunConfig
from harness.judge.evaluate import evaluate
from harness.judge.metrics import bootstrap_indices, interval
from harness.judge.session import EvalSpec, Session
from harness.results import EvalResult

REFERENCE = "codet"


def per_task(result: EvalResult, arm: str) -> dict[str, float]:
    return {p.task_id: p.value for p in result.picks if p.arm == arm}


def row(result: EvalResult, arm: str) -> dict[str, Any]:
    score = result.arms.get(arm)
    if score is None:
        raise SystemExit(f"no {arm} score in the evaluation: {result.reason}")
    return {
        "sel_at_k": score.sel_at_k,
        "ci": [score.ci_low, score.ci_high],
        "gap_closed": score.gap_closed,
        "gap_ci": [score.gap_ci_low, score.gap_ci_high],
    }


def measure(session: Session, spec: EvalSpec) -> dict[str, Any]:
    result = evaluate(spec, session)
    if not result.valid:
        raise SystemExit(f"the selector is not valid on {spec.split}: {result.reason}")
    mine, theirs = per_task(result, "selector"), per_task(result, REFERENCE)
    if set(mine) != set(theirs):
        raise SystemExit("the selector and CodeT were not scored on the same problems")
    tasks = sorted(mine)
    diff = np.array([mine[t] - theirs[t] for t in tasks])
    paired = interval(diff, bootstrap_indices(len(diff), 0))
    return {
        "problems": result.problems,
        "k": result.k,
        "subsets": result.repeats,
        "pass_at_1": result.pass_at_1,
        "pass_at_k": result.pass_at_k,
        "selector": row(result, "selector"),
        REFERENCE: row(result, REFERENCE),
        "vs_codet": paired.estimate,
        "vs_codet_ci": [paired.low, paired.high],
    }


def fmt(r: dict[str, Any]) -> str:
    gap = r["gap_closed"]
    low, high = r["gap_ci"]
    shown = "—" if gap is None else f"{gap:.0%}"
    if gap is not None and low is not None and high is not None:
        shown += f" [{low:.0%}, {high:.0%}]"
    return f"{r['sel_at_k']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {shown}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--suite", default="humaneval")
    parser.add_argument("--selector", type=Path, required=True)
    parser.add_argument("--split", default="holdout")
    parser.add_argument("--ks", default="100,10")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="winnow-night-"))
    selector = where / "selector.py"  # a copy: --selector may be a pipe
    selector.write_text(args.selector.read_text())
    results: dict[str, Any] = {}
    print("| k | arm | sel@k [95% CI] | gap closed [95% CI] | − CodeT [95% CI] |")
    print("|--:|---|--:|--:|--:|")
    try:
        for k in (int(x) for x in args.ks.split(",")):
            config = RunConfig().with_eval(k=k, repeats=args.repeats)
            with Session(config) as session:
                spec = EvalSpec(
                    suite=args.suite,
                    pool=str(Path(args.pool).resolve()),
                    selector=selector,
                    split=args.split,
                )
                r = measure(session, spec)
            results[str(k)] = r
            low, high = r["vs_codet_ci"]
            print(f"| {k} | CodeT | {fmt(r[REFERENCE])} | — |")
            print(f"| {k} | kept selector | {fmt(r['selector'])} | "
                  f"{r['vs_codet']:+.3f} [{low:+.3f}, {high:+.3f}] |")  # fmt: skip
        print(
            f"\n{args.split}: {r['problems']} problems; k = n: one subset, else {args.repeats} "
            "subsets per problem (seed 0)"
        )
    finally:
        shutil.rmtree(where)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
