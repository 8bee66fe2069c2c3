"""Numbered migrations: applied once, in order, on open; a newer schema is refused. The schema
they build is the one the typed results describe: a new field or status needs a migration."""

from __future__ import annotations

import re
import sqlite3
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from racekit import open_at_once
from sqlmodel import SQLModel

import ledger.store
from harness.results import ArmResult, EvalResult, ExperimentStatus, RunStatus
from ledger import models
from ledger.columns import ResultColumns
from ledger.database import connect
from ledger.errors import LedgerError
from ledger.migrations import MIGRATIONS, MigrationSpec, migrate
from ledger.store import Ledger

EXTRA = MigrationSpec(
    MIGRATIONS[-1].number + 1, "runs get a note", ("ALTER TABLE runs ADD COLUMN note TEXT",)
)


def test_the_migrated_schema_is_the_one_the_models_describe(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    db = sqlite3.connect(path)
    for table in SQLModel.metadata.sorted_tables:
        info = db.execute(f"PRAGMA table_info({table.name})").fetchall()
        columns = {row[1]: (bool(row[3]) or bool(row[5])) for row in info}  # name: not null
        assert set(columns) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert columns[column.name] == (not column.nullable), f"{table.name}.{column.name}"


# The columns a table keeps beside those of the result it mirrors.
LEDGER_OWN = {
    "arm_scores": {"evaluation_id", "arm"},
    "checks": {"id", "evaluation_id", "position"},
    "problem_results": {"evaluation_id", "position"},
    "evaluations": {
        "id", "experiment_id", "arm", "warnings_json", "calibration_json", "budget_json",
        "raw_json", "recorded_at",
    },
}  # fmt: skip
MIRRORS: dict[str, ResultColumns[Any]] = {
    "arm_scores": models.ARM_COLUMNS,
    "checks": models.CHECK_COLUMNS,
    "problem_results": models.PICK_COLUMNS,
    "evaluations": models.EVALUATION_COLUMNS,
}


def migrated_columns(tmp_path: Path, table: str) -> set[str]:
    path = tmp_path / "l.sqlite"
    if not path.exists():
        Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


@pytest.mark.parametrize("table", sorted(MIRRORS))
def test_a_table_that_mirrors_a_result_has_exactly_its_fields_as_columns(
    tmp_path: Path, table: str
) -> None:
    derived = MIRRORS[table].names()
    assert len(derived) == len(set(derived)), f"{table}: two fields map to one column"
    assert migrated_columns(tmp_path, table) - LEDGER_OWN[table] == set(derived)


def test_a_field_added_to_a_result_without_a_migration_is_caught(tmp_path: Path) -> None:
    class WiderArm(ArmResult):
        spread: float | None = None
        """A new metric nobody migrated."""

    wider = ResultColumns(WiderArm, nested={"compute": ""})
    assert "spread" in wider.names()
    assert migrated_columns(tmp_path, "arm_scores") - LEDGER_OWN["arm_scores"] != set(wider.names())


def test_a_result_field_of_an_unforeseen_kind_must_be_placed(tmp_path: Path) -> None:
    # EvalResult's lists and nested records go to other tables and JSON columns, each named.
    with pytest.raises(TypeError, match="EvalResult.arms .* name it as kept elsewhere"):
        ResultColumns(EvalResult, nested={"harness": "harness_"})


def test_rows_are_the_results_flattened_and_read_back_whole() -> None:
    arm = ArmResult.model_validate_json(
        '{"sel_at_k": 0.5, "ci_low": 0.25, "ci_high": 0.75, "gap_closed": null,'
        ' "compute": {"executions": 3, "reward_tokens": null, "over_budget_problems": 2}}'
    )
    row = models.ARM_COLUMNS.row(arm)
    assert row["executions"] == 3.0 and row["reward_tokens"] is None and "compute" not in row
    assert models.ARM_COLUMNS.read(row) == arm


@pytest.mark.parametrize(
    ("table", "statuses"), [("runs", RunStatus), ("experiments", ExperimentStatus)]
)
def test_the_status_constraints_list_exactly_the_status_values(
    tmp_path: Path, table: str, statuses: type[StrEnum]
) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    found = re.search(r"CHECK \(status IN\s*\(([^)]*)\)\)", sql)
    assert found is not None, sql
    allowed = set(re.findall(r"'([^']*)'", found.group(1)))
    assert allowed == {s.value for s in statuses}


def test_pending_migrations_are_applied_once_and_keep_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as old:
        old.start_run("before", "b", {}, "h", "optuna", None, False)
    monkeypatch.setattr(ledger.store, "MIGRATIONS", MIGRATIONS + (EXTRA,))
    with pytest.raises(LedgerError, match="older than this Winnow's"):
        Ledger.open(path, readonly=True)
    engine = connect(path, readonly=False)
    assert migrate(engine, str(path), MIGRATIONS + (EXTRA,)) == [EXTRA.number]
    assert migrate(engine, str(path), MIGRATIONS + (EXTRA,)) == []
    engine.dispose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT tag, note FROM runs").fetchall() == [("before", None)]
        numbers = [row[0] for row in db.execute("SELECT number FROM migrations ORDER BY number")]
    assert numbers == [m.number for m in MIGRATIONS] + [EXTRA.number]
    with Ledger.open(path, readonly=True) as reader:
        assert reader.get_run().tag == "before"


def test_a_ledger_from_a_newer_winnow_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    engine = connect(path, readonly=False)
    migrate(engine, str(path), MIGRATIONS + (EXTRA,))
    engine.dispose()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(
            LedgerError,
            match=rf"schema version {EXTRA.number} is newer than this Winnow's "
            rf"\({MIGRATIONS[-1].number}\)",
        ):
            Ledger.open(path, readonly=readonly)
    assert path.read_bytes() == before


def test_a_gap_in_the_numbers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    skipping = MigrationSpec(EXTRA.number + 1, "skips one", ("SELECT 1",))
    engine = connect(path, readonly=False)
    with pytest.raises(LedgerError, match=f"migration {EXTRA.number} is missing"):
        migrate(engine, str(path), MIGRATIONS + (skipping,))
    engine.dispose()


def test_processes_creating_the_same_ledgers_at_once_apply_each_migration_once(
    tmp_path: Path,
) -> None:
    # Before the ledger asked again on a lock, about one open in twenty failed here.
    opened = "from ledger.store import Ledger"
    for path in open_at_once(tmp_path, opened, "Ledger.open(path).close()"):
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM migrations").fetchone() == (len(MIGRATIONS),)
            # The journal mode is the last closer's to set: WAL left, or handed back (see
            # test_ledger.test_a_ledger_is_in_wal_mode_while_open_and_handed_back_when_closed).


def test_a_ledger_of_an_earlier_schema_gets_the_error_control_columns_empty(
    tmp_path: Path,
) -> None:
    # Migration 3: each test's p-value and level, a kept change's holdout against the start.
    # A run recorded before it reads back with them NULL (it was never tested that way).
    path = tmp_path / "l.sqlite"
    engine = connect(path, readonly=False)
    assert migrate(engine, str(path), MIGRATIONS[:2]) == [1, 2]
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO runs (tag, branch, config_json, program_hash, proposer, simulated, "
            "status, started_at, host, pid) VALUES ('old', 'b', '{}', 'h', 'llm', 0, "
            "'finished', '2025-01-01T00:00:00+00:00', 'host', 1)"
        )
        db.execute(
            "INSERT INTO experiments (run_id, number, parent_commit, hypothesis, diff, proposer, "
            "status, host, pid, started_at, incumbent_number, dev_delta) VALUES (1, 2, 'p', "
            "'x', '', 'llm', 'kept', 'host', 1, '2025-01-01T00:00:00+00:00', 1, 0.25)"
        )
    with Ledger.open(path) as ledger:
        (old,) = ledger.experiments(ledger.get_run("old").id)
    assert old.dev_delta == 0.25 and old.status == "kept"
    assert (old.dev_p_value, old.dev_level, old.holdout_delta, old.confirmed) == (None,) * 4
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(number) FROM migrations").fetchone() == (
            MIGRATIONS[-1].number,
        )


def test_arm_rows_written_before_the_gap_interval_read_back_without_one(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    engine = connect(path, readonly=False)
    migrate(engine, str(path), MIGRATIONS[:3])
    engine.dispose()
    with sqlite3.connect(path) as db:  # an arm score as schema 3 kept it
        db.execute(
            "INSERT INTO arm_scores (evaluation_id, arm, sel_at_k, ci_low, ci_high, gap_closed, "
            "executions, reward_calls, reward_tokens, generated_tokens, over_budget_problems) "
            "VALUES (1, 'codet', 0.5, 0.4, 0.6, 0.3, 12, 0, 0, 0, 0)"
        )
    Ledger.open(path).close()  # a writer migrates
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM arm_scores").fetchone()
    arm = models.ARM_COLUMNS.read(dict(row))
    assert arm.gap_closed == 0.3 and arm.gap_ci_low is None and arm.gap_ci_high is None


def test_problem_results_recorded_before_their_position_keep_their_order(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    engine = connect(path, readonly=False)
    assert migrate(engine, str(path), MIGRATIONS[:5]) == [1, 2, 3, 4, 5]
    engine.dispose()
    with sqlite3.connect(path) as db:  # version 5: the order was only the rowid's
        db.execute("PRAGMA foreign_keys = OFF")
        for task in ("b", "a", "c"):
            db.execute(
                "INSERT INTO problem_results VALUES (1, 'selector', ?, 1.0, 0, 1, 1)", (task,)
            )
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT task_id FROM problem_results ORDER BY position").fetchall()
    assert found == [("b",), ("a",), ("c",)]
