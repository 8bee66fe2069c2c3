"""A null night on a real pool: how many of N changes that cannot be better each keep rule keeps.

    python bench/null_night.py [--pool ../shared/pools/codegen16b-humaneval] [--suite humaneval]
        [--warm-cache /path/to/WINNOW_HOME/cache/exec.sqlite] [--changes 150] [--k 100]

The incumbent starts as ``experiments/selector.py``. Change i is the incumbent with its ties
split by one more level of seeded coin flips: each candidate of every tied top set is demoted
with probability 1/4, so the new top set is a random part of the old one and, on every problem
and subset, the change's expected value is exactly the incumbent's (the null changes of
``tests/test_null_night.py``). Every change is a real selector, evaluated by the judge on the
dev split with every check (``harness.judge.evaluate``) and decided by the loop's own decision
path: today's per-experiment rule (``significance.per_experiment``: bootstrap bound > 0 and
sign-flip p < 0.05 at every experiment) and the run's rule (``agent.run.weigh`` at the level
``OnlineFdr`` gives, ``[eval]`` defaults), each with its own incumbent, replaced on a keep as
the loop does. Evaluations shared by both rules (while their incumbents agree) are made once.

State lives in a fresh temporary ``WINNOW_HOME``. With ``--warm-cache`` (an ``exec.sqlite``,
copied through SQLite's backup API, so a cache another process is writing is read whole), no
candidate runs; without it the first evaluation labels the pool and runs its self-test matrix.
Prints each keep as it happens, then both counts side by side.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agent.run import values_by_task, weigh
from harness.config import RunConfig
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.judge.significance import OnlineFdr, per_experiment
from harness.results import EvalResult

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT.parent / "shared" / "pools" / "codegen16b-humaneval"
DEMOTE = 64  # of 256: the chance a tied candidate is demoted at each level
SPLIT = f'''

def split(candidate):
    """Seeded coin flips, one level per seed, each smaller than the sum of the ones before."""
    total = 0.0
    for depth, seed in enumerate(SEEDS, start=1):
        digest = hashlib.sha256(f"{{seed}}:{{candidate.id}}".encode()).digest()
        total -= (digest[0] < {DEMOTE}) * 1e-6 * 2.0**-depth
    return total
'''


def null_change(start: str, seeds: tuple[int, ...]) -> str:
    """The starting selector with its ties split by ``seeds`` (its ``select`` must end in
    ``return scores`` and may return ``[0.0] * len(candidates)`` early)."""
    body = start.replace(
        "    return scores", "    return [s + split(c) for s, c in zip(scores, candidates)]"
    ).replace(
        "        return [0.0] * len(candidates)", "        return [split(c) for c in candidates]"
    )
    if "split(c)" not in body:
        raise SystemExit("the starting selector has no 'return scores' line to split ties on")
    return f"import hashlib\n{body}\nSEEDS = {list(seeds)!r}\n{SPLIT}"


def copy_cache(source: Path, home: Path) -> None:
    target = home / "cache" / "exec.sqlite"
    target.parent.mkdir(parents=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


class Night:
    def __init__(self, session: Session, args: argparse.Namespace, where: Path):
        self.session, self.args, self.where = session, args, where
        self.start = (ROOT / "experiments" / "selector.py").read_text()
        self.evaluated: dict[tuple[int, ...], EvalResult] = {}

    def evaluate(self, seeds: tuple[int, ...]) -> EvalResult:
        if seeds not in self.evaluated:
            path = self.where / f"selector-{len(self.evaluated)}.py"
            path.write_text(null_change(self.start, seeds))
            spec = EvalSpec(
                suite=self.args.suite, pool=str(self.args.pool), selector=path, split="dev"
            )
            self.evaluated[seeds] = evaluate(spec, self.session)
        return self.evaluated[seeds]


Rule = Callable[[EvalResult, EvalResult], bool]


def todays_rule(change: EvalResult, incumbent: EvalResult) -> bool:
    new, old = values_by_task(change), values_by_task(incumbent)
    tasks = sorted(new)
    return per_experiment(np.array([new[t] for t in tasks]), np.array([old[t] for t in tasks]), 0)


def the_runs_rule(config: RunConfig) -> Rule:
    state = [OnlineFdr(config.eval.fdr, config.eval.fdr_horizon)]

    def keep(change: EvalResult, incumbent: EvalResult) -> bool:
        status, reason, decision = weigh(change, incumbent, state[0].level(), config.eval)
        if decision is None:
            raise SystemExit(f"a null change was {status}: {reason}")
        state[0] = state[0].record(decision.keep)
        return decision.keep

    return keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, default=POOL)
    parser.add_argument("--suite", default="humaneval")
    parser.add_argument("--warm-cache", type=Path, help="an exec.sqlite to start from")
    parser.add_argument("--changes", type=int, default=150)
    parser.add_argument("--k", type=int, default=100, help="the run's k (default: 100)")
    args = parser.parse_args()
    config = RunConfig().with_eval(k=args.k)
    rules: dict[str, Rule] = {"today's rule": todays_rule, "the run's rule": the_runs_rule(config)}
    with tempfile.TemporaryDirectory(prefix="winnow-null-night-") as tmp:
        home = Path(tmp)
        started = time.monotonic()
        if args.warm_cache is not None:
            copy_cache(args.warm_cache, home)
            print(f"cache copied in {time.monotonic() - started:.0f} s")
        with Session(config, cache=home / "cache") as session:
            night = Night(session, args, home)
            first = night.evaluate(())
            if not first.valid:
                raise SystemExit(f"the starting selector is not valid: {first.reason}")
            elapsed = time.monotonic() - started
            print(f"start: dev sel@{first.k} {first.arms['selector'].sel_at_k:.4f} on "
                  f"{first.problems} problems, ready in {elapsed:.0f} s ({first.executions} "
                  f"executions run, {first.cache_hits} answered by the cache)")  # fmt: skip
            empty: tuple[int, ...] = ()
            chains = {name: (empty, first) for name in rules}
            kept: dict[str, list[int]] = {name: [] for name in rules}
            clock = time.monotonic()
            for change in range(args.changes):
                for name, keep in rules.items():
                    seeds, incumbent = chains[name]
                    result = night.evaluate((*seeds, change))
                    if not result.valid:
                        raise SystemExit(f"change {change} is not valid: {result.reason}")
                    if keep(result, incumbent):
                        kept[name].append(change)
                        chains[name] = ((*seeds, change), result)
                        print(f"change {change}: kept by {name}")
            seconds = (time.monotonic() - clock) / max(len(night.evaluated) - 1, 1)
    print(f"\n{args.changes} null changes on {first.problems} dev problems, k={first.k}; "
          f"{len(night.evaluated)} evaluations, {seconds:.2f} s each")  # fmt: skip
    for name, changes in kept.items():
        print(f"{name:>15}: kept {len(changes):3d} {changes}")


if __name__ == "__main__":
    main()
