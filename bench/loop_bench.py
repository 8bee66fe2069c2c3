"""How long one warm experiment of ``winnow run`` takes, today's code beside an older commit.

For each version (the working tree, and ``--baseline``, a commit of this repository): a fresh
research repository holding that version's ``harness/``, ``experiments/`` and ``program.md``; a
``WINNOW_HOME`` whose execution cache already holds the pool's labels and self-test matrix (a
copy of ``--warm-cache``, so no candidate runs); then ``winnow run --pool POOL --proposer
search --max-experiments N`` as a real process. An experiment's time is the gap between the
starts of consecutive experiments in the ledger: propose, commit, evaluate with every check,
decide, record, reset. The first two experiments (the baseline, which also evaluates the
holdout, and the first change, which loads the pool) are left out of the median.

    python bench/loop_bench.py --pool ../shared/pools/codegen16b-humaneval \\
        --warm-cache /path/to/WINNOW_HOME/cache/exec.sqlite [--experiments 40] [--baseline b202154]

Prints the median, quartiles and experiments per hour for each version, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout(commit: str | None, where: Path) -> Path:
    """The code of ``commit`` (None: the working tree) in a directory of its own."""
    code = where / "code"
    if commit is None:
        shutil.copytree(ROOT, code, ignore=shutil.ignore_patterns(".git", ".winnow", "__pycache__"))
    else:
        code.mkdir()
        archive = subprocess.run(
            ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code


def research_repo(code: Path, where: Path, research: Path | None = None) -> Path:
    """A repository with ``code``'s harness and ``research``'s (default: ``code``'s)
    experiments/ and program.md."""
    research = research or code
    repo = where / "repo"
    repo.mkdir()
    shutil.copytree(
        code / "harness", repo / "harness", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(research / "experiments", repo / "experiments")
    shutil.copy(research / "program.md", repo / "program.md")
    (repo / ".gitignore").write_text(".winnow/\n__pycache__/\n")
    env = os.environ | {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
                        "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    for args in (["init", "-q"], ["add", "--all"], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def starts(ledger: Path) -> list[datetime]:
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT started_at FROM experiments ORDER BY number").fetchall()
    return [datetime.fromisoformat(r[0]) for r in rows]


def measure(
    commit: str | None, pool: Path, cache: Path, count: int, research_from: str | None
) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="winnow-loop-bench-") as tmp:
        where = Path(tmp)
        code = checkout(commit, where)
        research = code
        if research_from is not None and research_from != commit:
            (where / "research").mkdir()
            research = checkout(research_from, where / "research")
        repo = research_repo(code, where, research)
        home = where / "home"
        (home / "cache").mkdir(parents=True)
        shutil.copy(cache, home / "cache" / "exec.sqlite")
        env = os.environ | {"WINNOW_HOME": str(home), "PYTHONPATH": str(code),
                            "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # fmt: skip
        command = [sys.executable, "-P", "-m", "agent", "run", "--tag", "bench", "--pool",
                   str(pool.resolve()), "--proposer", "search",
                   "--max-experiments", str(count)]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{commit or 'working tree'}: winnow run failed:\n{done.stdout}{done.stderr}")
        times = starts(home / "ledger.sqlite")
        print(f"  {commit or 'working tree'}: {len(times)} experiments in "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr)  # fmt: skip
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    return gaps[2:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, required=True)
    parser.add_argument("--warm-cache", type=Path, required=True, help="an exec.sqlite")
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--baseline", default="b202154", help="a commit to compare with")
    parser.add_argument(
        "--same-research",
        action="store_true",
        help="both versions search the baseline's experiments/ and program.md (the same "
        "selector and space), so only the harness and the loop differ",
    )
    args = parser.parse_args()
    results = {}
    for label, commit in (("now", None), (f"at {args.baseline}", args.baseline)):
        research = args.baseline if args.same_research else None
        gaps = measure(commit, args.pool, args.warm_cache, args.experiments, research)
        q1, median, q3 = statistics.quantiles(gaps, n=4)
        results[label] = median
        print(f"{label:>14}: median {median:.2f} s per experiment (quartiles {q1:.2f}-{q3:.2f}, "
              f"{len(gaps)} experiments), {3600 / median:.0f} per hour")  # fmt: skip
    now, before = results.values()
    print(f"ratio: {before / now:.2f}x faster now")


if __name__ == "__main__":
    main()
