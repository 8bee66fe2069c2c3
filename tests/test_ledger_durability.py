"""Durability with real processes: concurrent writers, a reader meanwhile, SIGKILL, locks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ledgerkit import ROOT, evaluations

from ledger.errors import LedgerError
from ledger.store import Ledger

WRITER = """
import json, sys
from harness.results import ModelCall, Purpose
from ledger.store import Ledger
path, tag, count, result = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.load(open(sys.argv[4]))
with Ledger.open(path) as ledger:
    run = ledger.start_run(tag, "b", {}, "h", "optuna", None, False)
    for number in range(1, count + 1):
        exp = ledger.start_experiment(run, number, "p", f"{tag} {number}", "+x\\n", "optuna")
        ledger.record_evaluation(exp, result)
        ledger.record_call(run, exp, ModelCall(
            purpose=Purpose.PROPOSER, model="m", messages=[], response="r", prompt_tokens=1,
            completion_tokens=1, cost_usd=0.001, latency_s=0.1,
        ))
        ledger.finish_experiment(exp, "discarded", "no", f"c{number}", 0.001)
        print(number, flush=True)
    ledger.finish_run(run, "finished", "done")
"""


def eval_file(tmp_path: Path, name: str = "codet", split: str = "dev") -> Path:
    path = tmp_path / f"{name}-{split}.json"
    path.write_text(json.dumps(evaluations()[(name, split)]))
    return path


def writer(path: Path, tag: str, count: int, result: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), tag, str(count), str(result)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_write_while_a_third_reads(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    result = eval_file(tmp_path)
    writers = [writer(path, tag, 12, result) for tag in ("alpha", "beta")]
    seen = []
    with Ledger.open(path, readonly=True) as reader:
        while any(w.poll() is None for w in writers):
            seen.append(sum(len(reader.experiments(r.id)) for r in reader.runs()))
            time.sleep(0.05)
    for w in writers:
        _, err = w.communicate()
        assert w.returncode == 0, err
    assert seen == sorted(seen)  # a reader sees the ledger grow, never shrink or break
    with Ledger.open(path, readonly=True) as reader:
        for tag in ("alpha", "beta"):
            run = reader.get_run(tag)
            views = reader.experiments(run.id)
            assert run.status == "finished"
            assert [e.number for e in views] == list(range(1, 13))
            assert all(e.dev is not None and e.dev.arms for e in views)
            assert reader.spent(run.id) == pytest.approx(0.012)


def test_sigkill_mid_experiment_leaves_an_honest_trail(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    stall = (
        "print(number, flush=True)\n"
        "        if number == 3:\n"
        '            ledger.start_experiment(run, 4, "p", "killed", "+y\\n", "optuna")\n'
        '            print("evaluating", flush=True)\n'
        "            import time; time.sleep(120)"
    )
    code = WRITER.replace("print(number, flush=True)", stall)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), "night", "10", str(eval_file(tmp_path))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "evaluating":
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Ledger.open(path, readonly=True) as reader:
        run = reader.get_run("night")
        assert run.shown_status == "running (stale)"
        assert [e.shown_status for e in reader.experiments(run.id)] == ["discarded"] * 3 + [
            "running (stale)"
        ]
    with Ledger.open(path) as ledger:
        assert ledger.recover(run.id) == [4]
        views = ledger.experiments(run.id)
    assert [e.status for e in views] == ["discarded"] * 3 + ["interrupted"]
    assert views[3].hypothesis == "killed" and views[3].diff == "+y\n"
    arms = json.loads(eval_file(tmp_path).read_text())["arms"]  # every arm it was given
    assert all(e.dev is not None and set(e.dev.arms) == set(arms) for e in views[:3])
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_sigkill_during_writes_never_leaves_half_a_record(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    proc = writer(path, "busy", 10_000, eval_file(tmp_path))
    assert proc.stdout is not None
    for line in proc.stdout:
        if int(line) >= 5:
            break
    time.sleep(0.137)  # somewhere inside a later record
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    recorded = evaluations()[("codet", "dev")]
    whole = (len(recorded["arms"]), len(recorded["picks"]), len(recorded["checks"]))
    for evaluation_id, arms, problem_rows, checks in db.execute(
        "SELECT e.id, (SELECT count(*) FROM arm_scores a WHERE a.evaluation_id = e.id), "
        "(SELECT count(*) FROM problem_results p WHERE p.evaluation_id = e.id), "
        "(SELECT count(*) FROM checks c WHERE c.evaluation_id = e.id) FROM evaluations e"
    ):
        assert (arms, problem_rows, checks) == whole, evaluation_id
    counts = db.execute("SELECT count(*) FROM experiments").fetchone()[0]
    assert counts >= 5
    with Ledger.open(path) as ledger:
        ledger.recover(ledger.get_run("busy").id)
        statuses = {e.status for e in ledger.experiments(ledger.get_run("busy").id)}
    assert statuses <= {"discarded", "interrupted"}


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE" if sys.argv[2] == "exclusive" else "BEGIN IMMEDIATE")
db.execute("UPDATE runs SET reason = reason")
print("holding", flush=True)
time.sleep(60)
"""


def hold_lock(path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_a_writer_waits_then_fails_with_one_line_when_locked(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        run = ledger.start_run("r", "b", {}, "h", "optuna", None, False)
    with Ledger.open(path, busy_timeout=0.3) as ledger:  # open, the file is in WAL mode
        holder = hold_lock(path, "shared")
        try:
            with pytest.raises(LedgerError, match=r"locked by another process \(waited 0.3 s\)"):
                ledger.start_experiment(run, 1, "p", "h", "d", "optuna")
            # a reader is not blocked by a writer in WAL mode
            assert ledger.get_run().tag == "r"
        finally:
            holder.kill()
            holder.wait()
    with Ledger.open(path) as ledger:
        assert ledger.experiments(run) == []
        ledger.start_experiment(run, 1, "p", "h", "d", "optuna")


def test_opening_an_exclusively_locked_ledger_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start_run("r", "b", {}, "h", "optuna", None, False)
    holder = hold_lock(path, "exclusive")
    try:
        for readonly in (False, True):
            with pytest.raises(LedgerError, match="locked by another process"):
                Ledger.open(path, readonly=readonly, busy_timeout=0.3)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
def test_the_sqlite3_command_reads_while_a_write_is_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:  # a run under way: the file is in WAL mode
        ledger.start_run("r", "b", {}, "h", "optuna", None, False)
        holder = hold_lock(path, "shared")
        try:
            out = subprocess.run(
                ["sqlite3", "-readonly", str(path), "SELECT tag, status FROM runs"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
        finally:
            holder.kill()
            holder.wait()
    assert out.stdout.strip() == "r|running"
