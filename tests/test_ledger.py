"""The ledger's record API on a real SQLite file: everything kept, nothing made up."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ledgerkit import ROOT, evaluations, proposer_call

from harness.results import EvalResult
from ledger.errors import LedgerError
from ledger.store import Ledger

DIFF = "--- a/experiments/selector.py\n+++ b/experiments/selector.py\n@@\n-old\n+new\n"


def new_run(ledger: Ledger, tag: str = "t1") -> int:
    return ledger.start_run(tag, f"research/{tag}", {"k": 4}, "hash", "optuna", "pool1", False)


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_a_new_ledger_is_in_wal_mode_with_its_migrations_recorded(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(path, "SELECT number, name FROM migrations") == [
        (1, "initial schema"),
        (2, "pool counts per suite"),
        (3, "problem results keep their position"),
    ]


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "l.sqlite")
    with pytest.raises(LedgerError, match="FOREIGN"), ledger.write() as session:
        session.connection().exec_driver_sql(
            "INSERT INTO experiments (run_id, number, parent_commit, hypothesis, diff, "
            "proposer, status, host, pid, started_at) VALUES (99, 1, 'p', 'h', 'd', 'x', "
            "'running', 'h', 1, 'now')"
        )
    ledger.close()


def test_an_evaluation_is_recorded_whole(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    result = evaluations()[("codet", "dev")]
    with Ledger.open(path) as ledger:
        run = new_run(ledger)
        exp = ledger.start_experiment(run, 1, "p1", "CodeT as shipped", DIFF, "optuna")
        ledger.record_evaluation(exp, result)
        ledger.finish_experiment(exp, "kept", "first", "c1", 0.02, incumbent=None)
        (view,) = ledger.experiments(run)
    assert view.status == "kept" and view.commit == "c1" and view.diff == DIFF
    assert view.duration_s is not None and view.duration_s >= 0
    assert view.dev is not None and view.holdout is None
    assert view.sel_at_k("dev") == result["arms"]["selector"]["sel_at_k"]
    assert set(view.dev.arms) == set(result["arms"])
    assert [c.name for c in view.dev.checks] == [c["name"] for c in result["checks"]]
    assert rows(path, "SELECT count(*) FROM problem_results") == [(len(result["picks"]),)]
    (raw,) = rows(path, "SELECT raw_json FROM evaluations")
    assert json.loads(raw[0])["harness"] == result["harness"]


def test_an_eval_result_and_its_json_are_recorded_alike_and_read_back_whole(
    tmp_path: Path,
) -> None:
    data = evaluations()[("codet", "dev")]
    result = EvalResult.model_validate_json(json.dumps(data))
    recorded = []
    for name, given in (("json", data), ("model", result)):
        path = tmp_path / f"{name}.sqlite"
        with Ledger.open(path) as ledger:
            run = new_run(ledger)
            ledger.record_evaluation(ledger.start_experiment(run, 1, "p", "h", DIFF, "llm"), given)
            (view,) = ledger.experiments(run)
        assert view.dev is not None and view.dev.status == result.status
        assert view.dev.arms == result.arms and view.dev.checks == result.checks
        recorded.append(
            [rows(path, f"SELECT * FROM {t}") for t in ("arm_scores", "checks", "problem_results")]
            + [rows(path, "SELECT raw_json, budget_json, calibration_json FROM evaluations")]
        )
    assert recorded[0] == recorded[1]


def test_a_crash_is_null_with_its_status_never_zero(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    broken = evaluations()[("crash", "dev")]
    assert broken["status"] == "invalid"
    with Ledger.open(path) as ledger:
        run = new_run(ledger)
        exp = ledger.start_experiment(run, 1, "p1", "a broken helper", DIFF, "llm")
        ledger.record_evaluation(exp, broken)
        ledger.finish_experiment(exp, "invalid", broken["reason"], None, None)
        crashed = ledger.start_experiment(run, 2, "p1", "does not import", "+(\n", "llm")
        ledger.finish_experiment(crashed, "crashed", "SyntaxError", None, None)
        views = ledger.experiments(run)
    assert rows(
        path,
        "SELECT sel_at_k IS NULL, ci_low IS NULL, gap_closed IS NULL FROM arm_scores "
        "WHERE arm = 'selector'",
    ) == [(1, 1, 1)]
    assert rows(path, "SELECT cost_usd IS NULL, commit_sha IS NULL FROM experiments") == [
        (1, 1),
        (1, 1),
    ]
    assert views[0].sel_at_k("dev") is None and views[0].reason == broken["reason"]
    assert views[1].dev is None and views[1].diff == "+(\n"


def test_nothing_is_recorded_twice_or_overwritten(tmp_path: Path) -> None:
    result = evaluations()[("codet", "dev")]
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        run = new_run(ledger)
        with pytest.raises(LedgerError, match="tag 't1' already exists"):
            new_run(ledger)
        exp = ledger.start_experiment(run, 1, "p", "h", DIFF, "llm")
        with pytest.raises(LedgerError, match="already has an experiment 1"):
            ledger.start_experiment(run, 1, "p", "h", DIFF, "llm")
        ledger.record_evaluation(exp, result)
        with pytest.raises(LedgerError, match="already has a dev evaluation"):
            ledger.record_evaluation(exp, result)
        with pytest.raises(LedgerError, match="not one of"):
            ledger.finish_experiment(exp, "great", "", None, None)
        ledger.finish_experiment(exp, "discarded", "no better", "c", None)
        with pytest.raises(LedgerError, match="already discarded"):
            ledger.finish_experiment(exp, "kept", "", "c", None)
        with pytest.raises(LedgerError, match="run status"):
            ledger.finish_run(run, "done", "")
        assert ledger.next_number(run) == 2
        (view,) = ledger.experiments(run)
    assert view.status == "discarded" and view.reason == "no better"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("arms", "codet", "ci_low"), KeyError, "key 'arms.codet.ci_low' is missing"),
        (("problems",), True, "key 'problems' must be a valid integer, not True"),
        (("harness", "hash"), None, "key 'harness.hash' must not be null"),
        (("picks",), KeyError, "key 'picks' is missing"),
        (("picks", 0, "arm"), "nobody", r"key 'picks\[0\].arm' names 'nobody'"),
        (("status",), "great", "key 'status' must be 'ok', 'invalid' or 'crashed', not 'great'"),
        (("checks", 1, "passed"), 1, r"key 'checks\[1\].passed' must be a valid boolean"),
        (("harness", "host"), "x", "key 'harness.host' is not expected"),
        (
            ("llm_calls",),
            [
                {
                    "purpose": "scorer",
                    "model": "m",
                    "messages": [],
                    "response": 3,
                    "prompt_tokens": None,
                    "completion_tokens": None,
                    "cost_usd": None,
                    "latency_s": None,
                }
            ],
            r"key 'llm_calls\[0\].response' must be a valid string or a valid array, not 3",
        ),  # fmt: skip
    ],
)
def test_a_bad_evaluation_names_the_key_and_writes_nothing(
    tmp_path: Path, path: tuple[str | int, ...], value: object, message: str
) -> None:
    result = copy.deepcopy(evaluations()[("codet", "dev")])
    parent: Any = result
    for key in path[:-1]:
        parent = parent[key]
    if value is KeyError:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    db = tmp_path / "l.sqlite"
    with Ledger.open(db) as ledger:
        exp = ledger.start_experiment(new_run(ledger), 1, "p", "h", DIFF, "llm")
        with pytest.raises(LedgerError, match=message):
            ledger.record_evaluation(exp, result)
    for table in ("evaluations", "arm_scores", "checks", "problem_results"):
        assert rows(db, f"SELECT count(*) FROM {table}") == [(0,)]


def test_scorer_calls_in_an_evaluation_are_recorded_as_llm_calls(tmp_path: Path) -> None:
    result = copy.deepcopy(evaluations()[("codet", "dev")])
    result["llm_calls"] = [
        {"purpose": "scorer", "model": "judge", "messages": [{"role": "user", "content": "ok?"}],
         "response": "yes", "prompt_tokens": 10, "completion_tokens": 1, "cost_usd": None,
         "latency_s": 0.2, "error": None},
    ]  # fmt: skip
    db = tmp_path / "l.sqlite"
    with Ledger.open(db) as ledger:
        run = new_run(ledger)
        exp = ledger.start_experiment(run, 1, "p", "h", DIFF, "llm")
        ledger.record_evaluation(exp, result)
        ledger.record_call(run, exp, proposer_call("gpt", [], "a diff", 100, 20, 0.5, 3.0, None))
        ledger.record_call(
            run, None, proposer_call("gpt", [], None, None, None, None, 30.0, "timeout")
        )
        assert ledger.spent(run) == 0.5
    assert rows(db, "SELECT purpose, cost_usd, error FROM llm_calls ORDER BY id") == [
        ("scorer", None, None),
        ("proposer", 0.5, None),
        ("proposer", None, "timeout"),
    ]


def test_one_pool_is_counted_under_each_suite_that_judged_it(tmp_path: Path) -> None:
    """The official and the blind prompts share a pool's candidates; their hidden tests may
    count them differently. Both are kept, neither refused."""
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        for suite, correct in (("official", 3), ("blind", 2)):
            ledger.record_pool(
                "p1", suite, "imported", None, {}, 1, 4, False, counts={"t": (4, correct)}
            )
        ledger.record_pool("p1", "blind", "imported", None, {}, 1, 4, False, counts={"t": (4, 2)})
        with pytest.raises(LedgerError, match="already recorded with counts"):
            ledger.record_pool(
                "p1", "blind", "imported", None, {}, 1, 4, False, counts={"t": (4, 3)}
            )
    found = rows(tmp_path / "l.sqlite", "SELECT suite, correct FROM pool_problems ORDER BY suite")
    assert found == [("blind", 2), ("official", 3)]


def test_pools_are_recorded_once_and_never_redefined(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        args = ("p1", "tiny", "import", None, {"n": 6}, 8, 48, False)
        ledger.record_pool(*args, counts={"a": (6, 2)})
        ledger.record_pool(*args, counts={"a": (6, 2), "b": (6, 0)})
        with pytest.raises(LedgerError, match="different params_json"):
            ledger.record_pool("p1", "tiny", "import", None, {"n": 7}, 8, 48, False)
        with pytest.raises(LedgerError, match="already recorded with counts"):
            ledger.record_pool(*args, counts={"a": (6, 3)})
        with pytest.raises(LedgerError, match="7 correct of 6"):
            ledger.record_pool(*args, counts={"c": (6, 7)})


def test_a_reader_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        new_run(ledger)
    before = path.read_bytes()
    with Ledger.open(path, readonly=True) as reader:
        assert reader.get_run().tag == "t1"
        with pytest.raises(LedgerError, match="read-only"):
            new_run(reader, "t2")
        with pytest.raises(LedgerError, match="read-only"), reader.read() as session:
            session.connection().exec_driver_sql("DELETE FROM runs")
    assert path.read_bytes() == before


def test_missing_and_foreign_files_are_refused_untouched(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    with pytest.raises(LedgerError, match="no ledger here"):
        Ledger.open(missing, readonly=True)
    with pytest.raises(LedgerError, match="no ledger here"):
        Ledger.open(missing, create=False)
    assert not missing.exists()
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database, but a text someone cares about\n" * 100)
    for readonly in (False, True):
        with pytest.raises(LedgerError, match="not a SQLite ledger"):
            Ledger.open(garbage, readonly=readonly)
    assert garbage.read_text().startswith("not a database")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(LedgerError, match="not a Winnow ledger"):
        Ledger.open(other)
    assert rows(other, "SELECT name FROM sqlite_master") == [("accounts",)]


def test_unknown_run_tag_and_empty_ledger_are_errors(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        with pytest.raises(LedgerError, match="no runs yet"):
            ledger.get_run()
        new_run(ledger, "a")
        new_run(ledger, "b")
        assert ledger.get_run().tag == "b"
        assert ledger.get_run("a").tag == "a"
        with pytest.raises(LedgerError, match="no run tagged 'zzz'"):
            ledger.get_run("zzz")
        assert [r.tag for r in ledger.runs()] == ["a", "b"]


def test_recover_marks_dead_writers_interrupted_and_claims_the_run(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        run = new_run(ledger)
        done = ledger.start_experiment(run, 1, "p", "h", DIFF, "llm")
        ledger.finish_experiment(done, "discarded", "no", "c1", 0.1)
        ledger.finish_run(run, "stopped", "max experiments")
    code = (
        "import sys; from ledger.store import Ledger\n"
        "with Ledger.open(sys.argv[1]) as l: l.start_experiment(1, 2, 'p', 'h', 'd', 'llm')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=ROOT)
    with Ledger.open(path, readonly=True) as reader:
        assert [e.shown_status for e in reader.experiments(run)] == ["discarded", "running (stale)"]
    with Ledger.open(path) as ledger:
        assert ledger.recover(run) == [2]
        assert ledger.recover(run) == []
        views = ledger.experiments(run)
        resumed = ledger.get_run()
    assert [e.status for e in views] == ["discarded", "interrupted"]
    assert "stopped before finishing" in (views[1].reason or "")
    assert resumed.status == "running" and resumed.resumes == 2
    assert "stopped (max experiments)" in (resumed.reason or "")


def test_recover_refuses_while_the_writer_still_runs(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        run = new_run(ledger)
    code = (
        "import sys, time; from ledger.store import Ledger\n"
        "with Ledger.open(sys.argv[1]) as l: l.start_experiment(1, 1, 'p', 'h', 'd', 'llm')\n"
        "print('started', flush=True); time.sleep(60)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
        with Ledger.open(path) as ledger, pytest.raises(LedgerError, match="still being run"):
            ledger.recover(run)
        with Ledger.open(path, readonly=True) as reader:
            assert reader.experiments(run)[0].shown_status == "running"
    finally:
        writer.kill()
        writer.wait()
