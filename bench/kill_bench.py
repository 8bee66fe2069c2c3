"""Kill ``winnow run`` on the embedded defaults at many instants; the same command must recover.

The embedded defaults: the built-in HumanEval suite, the default ``[sampler]`` (simulated, no
model) and ``experiments/sampling.toml``, the offline proposer (``--proposer search``). A fresh
research repository holding this checkout's ``harness/``, ``experiments/`` and ``program.md``
(``loop_bench.research_repo``), one ``WINNOW_HOME``. First one uninterrupted run of
``--max-experiments N`` gives the run's length T (and warms the execution cache); then, for each
kill, a new tag: ``winnow run`` as a real process, killed (SIGKILL or SIGINT) at an instant spread
evenly over (0, T), then the same command again, to the end. After it: exit status 0, it said
``starting`` or ``resuming``, no experiment is ``running``, numbering is contiguous, N experiments
finished and the branch head is the last kept commit.

    python bench/kill_bench.py [--kills 25] [--experiments 3] [--signals KILL,INT]

Prints one line per kill and a summary: kills, resumed, started afresh, failed checks, and the
median time of the command after a kill.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loop_bench import ROOT, checkout, research_repo  # bench/ is the script's directory


def winnow(tag: str, repo: Path, home: Path, most: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-P", "-m", "agent", "run", "--tag", tag, "--proposer", "search",
           "--max-experiments", str(most)]  # fmt: skip
    env = os.environ | {"WINNOW_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=repo, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def problems(repo: Path, home: Path, tag: str, most: int, out: str, code: int) -> list[str]:
    """What is wrong after the command that followed a kill (nothing: an empty list)."""
    wrong = [] if code == 0 else [f"exit {code}"]
    if f"starting {tag}" not in out and f"resuming {tag}" not in out:
        wrong.append("said neither starting nor resuming")
    with sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT e.number, e.status, e.commit_sha FROM experiments e JOIN runs r "
            "ON e.run_id = r.id WHERE r.tag = ? ORDER BY e.number",
            (tag,),
        ).fetchall()
    if [n for n, _, _ in rows] != list(range(1, len(rows) + 1)):
        wrong.append("numbering not contiguous")
    if any(s == "running" for _, s, _ in rows):
        wrong.append("a row left running")
    if len([s for _, s, _ in rows if s != "interrupted"]) != most:
        wrong.append("budget not met by finished experiments")
    kept = [c for _, s, c in rows if s == "kept"]
    head = subprocess.run(["git", "rev-parse", f"winnow/{tag}"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not kept or head != kept[-1]:
        wrong.append("branch head is not the last kept commit")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=25, help="kills per signal")
    parser.add_argument("--experiments", type=int, default=3, help="--max-experiments")
    parser.add_argument("--signals", default="KILL,INT", help="KILL, INT or both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        repo = research_repo(checkout(None, where), where)
        home = where / "home"
        started = time.monotonic()
        out, _ = winnow("reference", repo, home, args.experiments).communicate()
        length = time.monotonic() - started
        print(f"uninterrupted run of {args.experiments} experiments: {length:.1f} s (cold cache)")
        started = time.monotonic()
        out, _ = winnow("warm", repo, home, args.experiments).communicate()
        length = time.monotonic() - started
        print(f"uninterrupted run of {args.experiments} experiments: {length:.1f} s (warm)")
        outcomes: dict[str, int] = {"resumed": 0, "started": 0, "failed": 0}
        recovery: list[float] = []
        for name in args.signals.split(","):
            sig = signal.Signals[f"SIG{name}"]
            for i in range(args.kills):
                tag = f"{name.lower()}{i}"
                at = length * (i + 1) / (args.kills + 1)
                proc = winnow(tag, repo, home, args.experiments)
                time.sleep(at)
                proc.send_signal(sig)
                killed, _ = proc.communicate()
                traceback = "Traceback" in killed
                began = time.monotonic()
                again = winnow(tag, repo, home, args.experiments)
                out, _ = again.communicate()
                recovery.append(time.monotonic() - began)
                wrong = problems(repo, home, tag, args.experiments, out, again.returncode)
                wrong += ["a traceback when killed"] if traceback else []
                said = "resumed" if f"resuming {tag}" in out else "started"
                outcomes["failed" if wrong else said] += 1
                print(f"{sig.name} at {at:5.1f} s: {said}, {recovery[-1]:.1f} s"
                      + (f" — {'; '.join(wrong)}" if wrong else ""), flush=True)  # fmt: skip
        total = sum(outcomes.values())
        print(f"kills: {total}; resumed {outcomes['resumed']}, started afresh "
              f"{outcomes['started']}, failed checks {outcomes['failed']}; the command after a "
              f"kill took {statistics.median(recovery):.1f} s (median)")  # fmt: skip


if __name__ == "__main__":
    main()
