"""A run a user never repairs by hand: ``winnow run`` killed (SIGKILL, and separately SIGINT) at
many instants over its start and first experiments, then the same command again, must resume or
start cleanly and say which; afterwards no row is ``running``, numbering is contiguous, the
branch head is the last kept commit, and the budget counts finished experiments. Real
processes, real signals, a real git repository and ledger; the offline proposer (no model)."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import git
import pytest
from loopkit import experiments, finish, make_repo, winnow
from synthkit import write_synthetic

MOST = 3  # --max-experiments: the baseline and two changes


def args(tag: str, suite: Path, pool: Path, most: int = MOST) -> list[str]:
    return ["run", "--tag", tag, "--suite", str(suite), "--pool", str(pool),
            "--proposer", "search", "--max-experiments", str(most)]  # fmt: skip


def rows(home: Path, tag: str) -> list[tuple[int, str]]:
    """(number, status) of the run's experiments, read with plain sqlite3 (cheap to poll)."""
    path = home / "ledger.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(
                "SELECT e.number, e.status FROM experiments e JOIN runs r ON e.run_id = r.id "
                "WHERE r.tag = ? ORDER BY e.number",
                (tag,),
            ).fetchall()
    except sqlite3.OperationalError:  # the schema is still being created
        return []


def has_run(home: Path, tag: str) -> bool:
    path = home / "ledger.sqlite"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT 1 FROM runs WHERE tag = ?", (tag,)).fetchone() is not None
    except sqlite3.OperationalError:
        return False


Event = Callable[[git.Repo, Path, str], bool]


def started(n: int, status: str | None = None) -> Event:
    """Experiment ``n`` is recorded (and finished, when ``status`` is 'done')."""

    def event(repo: git.Repo, home: Path, tag: str) -> bool:
        found = dict(rows(home, tag))
        return n in found and (status is None or found[n] != "running")

    return event


def committed(n: int) -> Event:
    def event(repo: git.Repo, home: Path, tag: str) -> bool:
        return bool(repo.git.for_each_ref(f"refs/winnow/{tag}/{n}"))

    return event


EVENTS: dict[str, Event] = {
    "launched": lambda repo, home, tag: True,
    "branch": lambda repo, home, tag: f"winnow/{tag}" in [h.name for h in repo.heads],
    "worktree": lambda repo, home, tag: any((home / "worktrees").glob("*/.git")),
    "run row": lambda repo, home, tag: has_run(home, tag),
    "#1 running": started(1),
    "#1 done": started(1, "done"),
    "#2 running": started(2),
    "#2 committed": committed(2),
    "#2 done": started(2, "done"),
    "#3 committed": committed(3),
}
# (event, seconds after it): 14 instants per signal, from the interpreter's start to the third
# experiment; "done" + 0 is the window between an experiment's record and the next step.
INSTANTS = [
    ("launched", 0.3), ("launched", 1.0), ("branch", 0.0), ("worktree", 0.0),
    ("worktree", 0.2), ("run row", 0.0), ("#1 running", 0.0), ("#1 running", 0.3),
    ("#1 done", 0.0), ("#2 running", 0.0), ("#2 committed", 0.0), ("#2 done", 0.0),
    ("#2 done", 0.1), ("#3 committed", 0.0),
]  # fmt: skip


def kill_at(
    cmd: list[str], repo: git.Repo, home: Path, tag: str, event: str, delay: float, sig: int
) -> str:
    root = Path(str(repo.working_tree_dir))
    proc = winnow(cmd, root, home)
    deadline = time.monotonic() + 120
    while not EVENTS[event](repo, home, tag):
        assert proc.poll() is None, f"exited before {event}: {proc.communicate()[0]}"
        assert time.monotonic() < deadline, f"{event} not reached"
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert "Traceback" not in out, out
    if sig == signal.SIGINT:  # stopped cleanly (0); or while importing or before the
        # interpreter's handler: 130 or killed by the signal, with at most one line
        assert proc.returncode in (0, 130, -sig), out
        if proc.returncode != 0:
            assert out in ("", "winnow: interrupted\n"), out
    return out


def check_settled(repo: git.Repo, home: Path, tag: str) -> None:
    """No running row, contiguous numbers, MOST finished experiments, head = last kept."""
    found = experiments(home, tag)
    assert [e.number for e in found] == list(range(1, len(found) + 1))
    assert "running" not in {e.status for e in found}
    assert len([e for e in found if e.status != "interrupted"]) == MOST
    kept = [e for e in found if e.status == "kept"]
    assert kept and repo.heads[f"winnow/{tag}"].commit.hexsha == kept[-1].commit
    assert not list((home / "worktrees").glob("*.starting"))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_anywhere_the_same_command_resumes_or_starts(
    tmp_path: Path, winnow_home: Path, sig: int
) -> None:
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    repo = make_repo(tmp_path / "repo")
    home = winnow_home
    root = Path(str(repo.working_tree_dir))
    for i, (event, delay) in enumerate(INSTANTS):
        tag = f"k{i}"
        cmd = args(tag, suite, pool)
        kill_at(cmd, repo, home, tag, event, delay, sig)
        if i == len(INSTANTS) - 1 and sig == signal.SIGKILL:
            # git killed mid-write leaves its locks; the resume clears them (it holds the run)
            worktree = git.Repo(next(p for p in (home / "worktrees").iterdir() if p.is_dir()
                                     and p.name.startswith(tag)))  # fmt: skip
            (Path(worktree.git_dir) / "index.lock").write_text("")
            (Path(repo.git_dir) / "refs" / "heads" / "winnow" / f"{tag}.lock").write_text("")
        had_run = has_run(home, tag)
        code, out = finish(winnow(cmd, root, home))
        assert code == 0, f"{event}+{delay}: {out}"
        said = f"resuming {tag}" if had_run else f"starting {tag}"
        assert said in out, f"{event}+{delay}: {out}"
        check_settled(repo, home, tag)


def test_stale_branch_without_a_run_is_one_line(tmp_path: Path, winnow_home: Path) -> None:
    """A branch this WINNOW_HOME did not make (another home's run, or left by hand) is refused
    in one line, before anything is created; so is a resume with another suite or pool."""
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    repo = make_repo(tmp_path / "repo")
    root = Path(str(repo.working_tree_dir))
    code, out = finish(winnow(args("a", suite, pool, 1), root, winnow_home))
    assert code == 0, out
    other = tmp_path / "other-home"
    code, out = finish(winnow(args("a", suite, pool, 1), root, other))
    assert code == 2 and "Traceback" not in out and "another WINNOW_HOME" in out, out
    assert len(out.strip().splitlines()) == 1
    assert not (other / "worktrees").exists()

    repo.create_head("winnow/left")
    code, out = finish(winnow(args("left", suite, pool, 1), root, winnow_home))
    assert code == 2 and "branch winnow/left exists" in out, out

    before = experiments(winnow_home, "a")
    other_pool = tmp_path / "data2"
    _, pool2 = write_synthetic(other_pool, problems=12, seed=8)
    code, out = finish(winnow(args("a", suite, pool2, 3), root, winnow_home))
    assert code == 2 and "was started with" in out and "Traceback" not in out, out
    assert experiments(winnow_home, "a") == before


def test_bad_settings_create_nothing(tmp_path: Path, winnow_home: Path) -> None:
    """--proposer llm without a model, and --max-experiments 0, touch neither git nor ledger."""
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    repo = make_repo(tmp_path / "repo")
    root = Path(str(repo.working_tree_dir))
    cmd = ["run", "--tag", "x", "--suite", str(suite), "--pool", str(pool), "--proposer", "llm"]
    code, out = finish(winnow(cmd, root, winnow_home))
    assert code == 2 and "needs a model" in out and "Traceback" not in out, out
    code, out = finish(winnow(args("x", suite, pool, 0), root, winnow_home))
    assert code == 0 and "nothing to run" in out, out
    assert "winnow/x" not in [h.name for h in repo.heads]
    assert not has_run(winnow_home, "x")
