"""A research repository in a temp dir, and a way to run ``winnow run`` on it as a real process.

The repository holds what a Winnow checkout holds for a run: ``harness/`` (a copy of the harness
under test, so the loop's integrity check passes), ``experiments/``, ``program.md``. Its starting
selector is CodeT with ``MIN_TEST_VOTES = 2`` (only tests generated twice count), which is
weaker than plain CodeT on the synthetic pool: a proposal that sets it back to 1 is a real,
measurable improvement.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import git

from harness.judge.integrity import HARNESS_DIR
from ledger.store import Ledger

PROJECT = Path(__file__).resolve().parents[1]


def make_repo(root: Path) -> git.Repo:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HARNESS_DIR, root / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "experiments").mkdir()
    selector = (PROJECT / "experiments" / "selector.py").read_text()
    weak = selector.replace("MIN_TEST_VOTES = 1 ", "MIN_TEST_VOTES = 2 ")
    assert weak != selector
    (root / "experiments" / "selector.py").write_text(weak)
    shutil.copy(PROJECT / "experiments" / "search_space.toml", root / "experiments")
    shutil.copy(PROJECT / "program.md", root / "program.md")
    (root / ".gitignore").write_text(".winnow/\n__pycache__/\n")
    repo = git.Repo.init(root)
    repo.git.add("--all")
    repo.index.commit("start", author=git.Actor("t", "t@t"), committer=git.Actor("t", "t@t"))
    return repo


def winnow(args: list[str], cwd: Path, home: Path, **kwargs) -> subprocess.Popen[str]:
    """Start ``winnow <args>`` as a real process (``python -m agent``)."""
    env = os.environ | {"WINNOW_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "agent", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def wait_for(
    condition,
    proc: subprocess.Popen[str] | None = None,
    timeout: float = 180,
    every: float = 0.05,
) -> None:
    """Poll ``condition``; fail early (with the process's output) if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the process exited ({proc.returncode}) first:\n{out}")
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Kill the loop (only the loop: its sandboxes die with it through --die-with-parent)."""
    proc.send_signal(sig)
    proc.communicate(timeout=60)


def experiments(home: Path, tag: str) -> list:
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    try:
        return ledger.experiments(ledger.get_run(tag).id)
    finally:
        ledger.close()


def running_number(home: Path, tag: str) -> int | None:
    """The number of the experiment marked running, if the ledger exists and has one."""
    if not (home / "ledger.sqlite").exists():
        return None
    try:
        rows = experiments(home, tag)
    except Exception:  # the run row may not exist yet
        return None
    running = [e.number for e in rows if e.status == "running"]
    return running[-1] if running else None
