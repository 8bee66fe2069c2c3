"""The executor and the level it runs at: the execution cache in front of the sandbox, grouping of
pairs by program, and which sandbox level is recorded. Real sandboxes and a real SQLite cache
throughout."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from racekit import open_at_once

from harness.execution.cache import ExecCache, pair_key, text_hash
from harness.execution.executor import Executor
from harness.execution.launch import RunLevel, SandboxConfig, SandboxError, SandboxLevel
from harness.execution.sandbox import Job, JobResult, Sandbox, bwrap_available

PROGRAM = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(1, 2) == 4", "raise ValueError('not an assert')"]
STATUSES = ["passed", "failed", "error"]
SLOW = "import time\ndef add(a, b):\n    time.sleep(0.4)\n    return a + b\n"
KILLER = "import os\nos.kill(os.getppid(), 9)\n" + PROGRAM  # takes its worker down with it
WHERE = "import os\nprint(os.getppid())"  # 1 only inside bwrap's PID namespace


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(level="process", workers=2)) as box:
        yield box


def one_test(test: str) -> Job:
    return Job("", (test,), 1.0, 1.0)


def rows(cache: ExecCache) -> int:
    return cache.db.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0]


def test_second_run_executes_nothing_and_returns_the_same_outcomes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "cache.sqlite"
    executor = Executor(sandbox, ExecCache(path))
    first = executor.run([(PROGRAM, TESTS)], 1.0, 1.0)
    assert [o.status for o in first[0]] == STATUSES
    assert (executor.executions, executor.cache_hits) == (3, 0)
    assert executor.run([(PROGRAM, TESTS)], 1.0, 1.0) == first
    assert (executor.executions, executor.cache_hits) == (3, 3)

    # A sandbox that is closed cannot run anything, so a fresh executor on the same cache file
    # that still answers can only have answered from the cache.
    sandbox.close()
    again = Executor(sandbox, ExecCache(path))
    with pytest.raises(AssertionError):
        again.run([(PROGRAM, ["assert True"])], 1.0, 1.0)
    assert again.run([(PROGRAM, TESTS)], 1.0, 1.0) == first
    assert again.executions == 0


def test_a_different_timeout_is_a_different_key(sandbox: Sandbox, tmp_path: Path) -> None:
    executor = Executor(sandbox, ExecCache(tmp_path / "cache.sqlite"))
    short = executor.run([(SLOW, TESTS[:1])], 0.2, 1.0)
    assert short[0][0].status == "timeout"
    long = executor.run([(SLOW, TESTS[:1])], 2.0, 1.0)  # not the cached timeout: run again
    assert long[0][0].status == "passed"
    executor.run([(SLOW, TESTS[:1])], 2.0, 3.0)  # the program's own timeout counts too
    assert executor.executions == 3
    assert executor.run([(SLOW, TESTS[:1])], 0.2, 1.0) == short
    assert executor.executions == 3


def test_an_outcome_from_a_dead_worker_is_never_cached(tmp_path: Path) -> None:
    # Without the seccomp filter a program can kill its process-level worker: the outcome is a
    # lost job, which must be run again next time rather than remembered as the program's own.
    config = SandboxConfig(level="process", workers=1, seccomp=False)
    with Sandbox(config) as box:
        cache = ExecCache(tmp_path / "cache.sqlite")
        executor = Executor(box, cache)
        requests = [(KILLER, TESTS[:1]), (PROGRAM, TESTS[:1])]
        first = executor.run(requests, 1.0, 1.0)
        assert first[0][0].status == "error" and "worker died" in first[0][0].detail
        assert first[1][0].passed  # on the replaced worker
        assert box.restarts == 1
        assert rows(cache) == 1  # only the healthy pair
        executor.run(requests, 1.0, 1.0)
        assert (executor.executions, executor.cache_hits) == (3, 1)
        assert box.restarts == 2


LEVELS: list[SandboxLevel] = ["process", "bwrap"] if bwrap_available() else ["process"]


@pytest.mark.parametrize("level", LEVELS)
def test_a_child_the_sandbox_cannot_confine_is_an_error_not_a_label(
    level: SandboxLevel, tmp_path: Path
) -> None:
    # RLIMIT_NOFILE above the kernel's nr_open cannot be set, even by root: every child fails
    # to confine itself before the program runs. That is the sandbox failing, so the run must
    # stop with the reason; a label ("error") would blame the program, and be cached.
    config = SandboxConfig(level=level, workers=1, max_open_files=1 << 40)
    with Sandbox(config) as box:
        cache = ExecCache(tmp_path / "cache.sqlite")
        executor = Executor(box, cache)
        with pytest.raises(SandboxError, match="could not confine a program: ValueError"):
            executor.run([(PROGRAM, TESTS[:1])], 1.0, 1.0)
        assert rows(cache) == 0


def test_duplicate_programs_run_once(sandbox: Sandbox, tmp_path: Path) -> None:
    executor = Executor(sandbox, ExecCache(tmp_path / "cache.sqlite"))
    jobs: list[int] = []  # tests per sandbox job, reported as each job finishes
    other = PROGRAM.replace("a + b", "b + a")
    requests = [(PROGRAM, TESTS[:1]), (other, TESTS[:1]), (PROGRAM, TESTS[:2]), (PROGRAM, [])]
    outcomes = executor.run(requests, 1.0, 1.0, progress=jobs.append)
    assert sorted(jobs) == [1, 2]  # one job per distinct program, each distinct test once
    assert executor.executions == 3
    assert [[o.status for o in row] for row in outcomes] == [
        ["passed"],
        ["passed"],
        ["passed", "failed"],
        [],
    ]


class TwoLevels:
    """A runner that deals its jobs to two real sandboxes in turn, one at each level: what a
    Ray cluster whose nodes run at different levels gives the executor."""

    def __init__(self, strong: Sandbox, weak: Sandbox):
        self.boxes = (strong, weak)
        self.config = weak.config
        self.levels: tuple[RunLevel, ...] = (strong.level, weak.level)
        self.fallback_reason = ""
        self.shared_scratch = None

    def run(
        self, jobs: Sequence[Job], done: Callable[[int], None] | None = None
    ) -> list[JobResult]:
        results: dict[int, JobResult] = {}
        for turn, box in enumerate(self.boxes):
            dealt = list(range(turn, len(jobs), 2))
            results.update(zip(dealt, box.run([jobs[i] for i in dealt]), strict=True))
        return [results[i] for i in range(len(jobs))]

    def close(self) -> None:
        pass  # the sandboxes belong to the test


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")
def test_each_outcome_is_kept_under_the_level_it_ran_at(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    programs = [PROGRAM.replace("a + b", f"a + b + {i}") for i in range(4)]
    requests = [(p, TESTS[:2]) for p in programs]
    with (
        Sandbox(SandboxConfig(level="bwrap", workers=1)) as strong,
        Sandbox(SandboxConfig(level="process", workers=1)) as weak,
    ):
        mixed = Executor(TwoLevels(strong, weak), ExecCache(path))
        first = mixed.run(requests, 1.0, 1.0)
        assert mixed.level == "process"  # every outcome ran at this level or a stronger one
        ran_at = ["bwrap", "process", "bwrap", "process"]  # one job per program, dealt in turn
        settings = "timeout=1.0;setup=1.0;memory=2048;level="
        with sqlite3.connect(path) as db:
            stored = {key for (key,) in db.execute("SELECT key FROM outcomes")}
        assert stored == {
            pair_key(text_hash(program), text_hash(test), settings + level)
            for program, level in zip(programs, ran_at, strict=True)
            for test in TESTS[:2]
        }

        again = Executor(TwoLevels(strong, weak), ExecCache(path))
        assert again.run(requests, 1.0, 1.0) == first
        assert (again.executions, again.cache_hits) == (0, 8)
        # A machine at one level finds only what ran at its level, and runs the rest.
        for box in (weak, strong):
            alone = Executor(box, ExecCache(path))
            assert alone.run(requests, 1.0, 1.0) == first
            assert (alone.executions, alone.cache_hits) == (4, 4)


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")
def test_auto_records_bwrap_where_it_runs() -> None:
    with Sandbox(SandboxConfig(level="auto", workers=1)) as box:
        assert (box.level, box.fallback_reason) == ("bwrap", "")
        result = box.run([one_test(WHERE)])[0]
    assert result.output.strip() == "1"  # the recorded level is the one that ran


def test_process_level_records_process() -> None:
    with Sandbox(SandboxConfig(level="process", workers=1)) as box:
        assert (box.level, box.fallback_reason) == ("process", "")
        result = box.run([one_test(WHERE)])[0]
    assert result.output.strip() not in ("", "1")


def test_bwrap_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no bwrap on the PATH
    with pytest.raises(SandboxError, match="not installed"):
        Sandbox(SandboxConfig(level="bwrap", workers=1))
    with Sandbox(SandboxConfig(level="auto", workers=1)) as box:  # falls back, and says so
        assert box.level == "process"
        assert "bwrap" in box.fallback_reason
        result = box.run([one_test(WHERE)])[0]
    assert result.tests[0].passed and result.output.strip() != "1"


def test_processes_creating_the_same_cache_at_once_all_open_it(tmp_path: Path) -> None:
    opened = "from harness.execution.cache import ExecCache"
    put = 'cache = ExecCache(path); cache.put([(str(time.time_ns()), "passed", "")]); cache.close()'
    for path in open_at_once(tmp_path, opened, put):
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM outcomes").fetchone() == (3,)
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_exception_message_no_database_can_store_is_kept_escaped(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A program chooses its exception messages: a NUL (PostgreSQL's text refuses it) or a lone
    # surrogate (not UTF-8: SQLite refused the whole batch) must not stop the run.
    tests = ["raise ValueError('a' + chr(0) + 'b')", "raise ValueError(chr(0xD800))"]
    path = tmp_path / "cache.sqlite"
    first = Executor(sandbox, ExecCache(path)).run([(PROGRAM, tests)], 1.0, 1.0)
    assert [(o.status, o.detail) for o in first[0]] == [
        ("error", "ValueError: a\\x00b"),
        ("error", "ValueError: \\ud800"),
    ]
    again = Executor(sandbox, ExecCache(path))
    assert again.run([(PROGRAM, tests)], 1.0, 1.0) == first
    assert again.executions == 0


# A candidate whose result depends on the order of a set of strings (HumanEval/1 #46 of the
# shared pool zips two sets): its outcome must not depend on which worker process ran it.
SET_ORDER = "order = ''.join(set('({[<'))\n"


@pytest.mark.parametrize("level", LEVELS)
def test_every_worker_hashes_strings_with_the_same_seed(level: SandboxLevel) -> None:
    seen = set()
    for _ in range(2):  # two sandboxes: fresh worker processes
        with Sandbox(SandboxConfig(level=level, workers=2)) as box:
            results = box.run([Job(SET_ORDER, ("assert False, order",), 1.0, 1.0)] * 6)
            seen |= {r.tests[0].detail for r in results}
    assert len(seen) == 1, seen
