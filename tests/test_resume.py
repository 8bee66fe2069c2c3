"""Killing the loop at any moment loses nothing recorded and leaves the branch at a kept commit
or at the commit under test; running it again resumes. Real processes, real signals."""

from __future__ import annotations

import signal
from pathlib import Path

import git
import pytest
from loopkit import experiments, finish, kill, make_repo, running_number, wait_for, winnow
from synthkit import write_synthetic

from harness.judge.significance import OnlineFdr

TAG = "night"


@pytest.fixture
def research(tmp_path: Path, winnow_home: Path):
    suite, pool = write_synthetic(tmp_path / "data")
    repo = make_repo(tmp_path / "repo")
    return repo, suite, pool, winnow_home


def args(suite: Path, pool: Path, most: int) -> list[str]:
    return [
        "run",
        "--tag",
        TAG,
        "--suite",
        str(suite),
        "--pool",
        str(pool),
        "--max-experiments",
        str(most),
    ]


def refs(repo: git.Repo) -> dict[int, str]:
    listed = repo.git.for_each_ref("--format=%(refname) %(objectname)", f"refs/winnow/{TAG}")
    pairs = (row.split() for row in listed.splitlines())
    return {int(name.rsplit("/", 1)[1]): sha for name, sha in pairs}


def check_after_kill(repo: git.Repo, home: Path, before: list, killed: int) -> None:
    """The ledger opens; earlier rows are intact; the killed experiment shows as a stale
    'running' row; the branch is at a kept commit or at the killed experiment's commit."""
    rows = experiments(home, TAG)
    by_number = {e.number: e for e in rows}
    for old in before:
        if old.status != "running":
            assert by_number[old.number].status == old.status
            assert by_number[old.number].commit == old.commit
    assert by_number[killed].status == "running" and by_number[killed].stale
    head = repo.heads[f"winnow/{TAG}"].commit.hexsha
    kept = {e.commit for e in rows if e.status == "kept"} | {repo.head.commit.hexsha}
    under_test = refs(repo).get(killed)
    if under_test is None:  # killed between its commit and its ref: the head is that commit
        message = repo.commit(head).message
        under_test = head if f"Winnow-Experiment: {killed}\n" in message else None
    assert head in kept | {under_test}


def test_sigkill_at_several_points_then_resume(research) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)

    # 1. Killed while the baseline (experiment 1) is being evaluated.
    proc = winnow(args(suite, pool, 8), root, home)
    wait_for(lambda: running_number(home, TAG) == 1, proc)
    kill(proc)
    check_after_kill(repo, home, [], 1)

    # 2. Resumed, then killed while experiment 3 is being evaluated.
    before = experiments(home, TAG)
    proc = winnow(args(suite, pool, 8), root, home)
    wait_for(lambda: running_number(home, TAG) == 4, proc)  # 2 is interrupted 1's re-run baseline
    kill(proc)
    check_after_kill(repo, home, before, 4)
    rows = experiments(home, TAG)
    assert rows[0].status == "interrupted" and rows[1].status == "kept"  # the new baseline

    # 3. Resumed, then killed between two experiments: right after one is finished.
    before = experiments(home, TAG)
    proc = winnow(args(suite, pool, 8), root, home)
    wait_for(
        lambda: any(e.number == 5 and e.status not in ("running",) for e in experiments(home, TAG)),
        proc,
        every=0.02,
    )
    kill(proc)
    rows = experiments(home, TAG)
    for old in before:
        if old.status != "running":
            assert next(e for e in rows if e.number == old.number).status == old.status
    head = repo.heads[f"winnow/{TAG}"].commit.hexsha
    running = [e.number for e in rows if e.status == "running"]
    allowed = {e.commit for e in rows if e.status == "kept"}
    allowed |= {refs(repo).get(n) for n in running}
    assert head in allowed

    # 4. Resumed to the end: every killed experiment is interrupted, numbering is contiguous,
    #    nothing earlier changed, and the branch ends on the last kept commit.
    before = experiments(home, TAG)
    code, out = finish(winnow(args(suite, pool, 8), root, home))
    assert code == 0, out
    rows = experiments(home, TAG)
    assert [e.number for e in rows] == list(range(1, len(rows) + 1))
    assert len([e for e in rows if e.status != "interrupted"]) == 8  # the budget: finished ones
    assert "running" not in {e.status for e in rows}
    for old in before:
        if old.status != "running":
            assert next(e for e in rows if e.number == old.number).status == old.status
    interrupted = [e.number for e in rows if e.status == "interrupted"]
    assert 1 in interrupted and 4 in interrupted
    kept = [e for e in rows if e.status == "kept"]
    assert repo.heads[f"winnow/{TAG}"].commit.hexsha == kept[-1].commit
    assert "resuming" in out
    # Written to a pipe, a line is never broken (rich wraps at 80 columns on its own): the
    # start line holds the proposer and the worktree's path whole.
    start = [line for line in out.splitlines() if line.startswith(f"run {TAG} on winnow/")]
    assert start and ", proposer " in start[0] and f"worktree {home}" in start[-1]

    # 5. The run's error control survived the kills: its tests are exactly the experiments
    #    decided against an incumbent (the baselines, the interrupted and the reused ones spent
    #    nothing), each held to the level due after the tests before it, as if never killed.
    tests = [e for e in rows if e.dev_p_value is not None]
    decided = [e.number for e in rows if e.incumbent_number is not None and e.dev_delta is not None]
    assert [e.number for e in tests] == decided
    assert all(e.dev_level is not None for e in tests)
    assert not {e.status for e in tests} & {"interrupted", "invalid", "crashed"}
    state = OnlineFdr.replay(0.05, 10, [(e.dev_p_value, e.dev_level, e.status == "kept")
                                        for e in tests])  # fmt: skip
    assert state.tests == len(tests) and state.keeps == sum(e.status == "kept" for e in tests)
    assert "tests so far" in out and "the next at level" in out


def test_sigterm_finishes_the_record_and_exits_cleanly(research) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    proc = winnow(args(suite, pool, 20), root, home)
    wait_for(lambda: running_number(home, TAG) == 2, proc)
    kill(proc, signal.SIGTERM)
    assert proc.returncode == 0
    rows = experiments(home, TAG)
    assert rows[0].status == "kept"
    assert rows[1].status == "interrupted" and "stopped" in (rows[1].reason or "")
    assert repo.heads[f"winnow/{TAG}"].commit.hexsha == rows[0].commit
    worktree = git.Repo(next((home / "worktrees").iterdir()))
    assert not worktree.is_dirty(untracked_files=True)
