"""What ``winnow run`` shows while it works: a live status line on a terminal (a real pty),
plain ``#<n> <stage>`` lines in a pipe. A real run on the synthetic pool, offline proposer."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from loopkit import finish, make_repo, winnow
from synthkit import write_synthetic

STAGES = ("labelling", "self-tests", "evaluating", "checks", "deciding", "proposing")


def args(suite: Path, pool: Path, tag: str) -> list[str]:
    return ["run", "--tag", tag, "--suite", str(suite), "--pool", str(pool),
            "--proposer", "search", "--max-experiments", "2"]  # fmt: skip


def test_plain_stage_lines_when_not_a_terminal(tmp_path: Path, winnow_home: Path) -> None:
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    repo = make_repo(tmp_path / "repo")
    code, out = finish(winnow(args(suite, pool, "pipe"), Path(str(repo.working_tree_dir)),
                              winnow_home))  # fmt: skip
    assert code == 0, out
    lines = out.splitlines()
    for stage in STAGES:
        assert any(re.fullmatch(rf"#\d+ {stage}", line) for line in lines), (stage, out)
    assert "\x1b" not in out and "experiment 1 ·" not in out  # no status line, no escapes


def test_a_status_line_on_a_terminal(tmp_path: Path, winnow_home: Path) -> None:
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    repo = make_repo(tmp_path / "repo")
    leader, follower = pty.openpty()
    env = os.environ | {"WINNOW_HOME": str(winnow_home), "TERM": "xterm", "COLUMNS": "160"}
    proc = subprocess.Popen([sys.executable, "-P", "-m", "agent", *args(suite, pool, "tty")],
                            cwd=Path(str(repo.working_tree_dir)), env=env, stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty is closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=240) == 0
    shown = b"".join(chunks).decode(errors="replace")
    assert re.search(r"experiment 1 · (labelling|self-tests|evaluating)", shown), shown
    assert re.search(r"experiment 2 · \w+.* · 0:00:\d\d · best 0\.\d{4}", shown), shown
    assert "run tty finished" in shown
