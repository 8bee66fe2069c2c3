"""The ledger on a real PostgreSQL server (see ``clusterkit.py``): the same migrations, the same
records and the same readers as on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clusterkit import postgres_schemas, psycopg_installed
from ledgerkit import record_run

from ledger.errors import LedgerError
from ledger.migrations import MIGRATIONS
from ledger.report.summary import build_report
from ledger.store import Ledger

VARYING = {"started_at", "finished_at", "recorded_at", "created_at", "generated_at", "pid"}
VARYING |= {"duration_s", "elapsed_s", "experiment_seconds"}
VARYING |= {"id", "run_id", "experiment_id", "evaluation_id"}


def steady(value: Any) -> Any:
    """``value`` without what differs between two recordings of the same run (times, ids)."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def test_a_run_recorded_in_postgresql_reads_back_as_from_sqlite(tmp_path: Path) -> None:
    with postgres_schemas() as (url,):
        with record_run(url) as ledger:
            in_postgres = build_report(ledger, None).to_json()
        with Ledger.open(url, readonly=True) as reader:
            assert reader.get_run().tag == "overnight"
            again = build_report(reader, None).to_json()
    with record_run(tmp_path / "ledger.sqlite") as ledger:
        in_sqlite = build_report(ledger, None).to_json()
    assert steady(again) == steady(in_postgres)
    assert steady(in_postgres) == steady(in_sqlite)
    statuses = [e["shown_status"] for e in in_postgres["experiments"]]
    assert statuses == ["kept", "discarded", "invalid", "discarded", "crashed", "running (stale)"]


def test_the_migrations_are_applied_once_and_a_reader_never_writes() -> None:
    psycopg_installed()  # skips (or fails in CI) first
    import psycopg

    with postgres_schemas() as (url,):
        with pytest.raises(LedgerError, match="empty, not yet a ledger"):
            Ledger.open(url, readonly=True)
        for _ in range(2):
            Ledger.open(url).close()
        with psycopg.connect(url) as db:
            numbers = [n for (n,) in db.execute("SELECT number FROM migrations ORDER BY number")]
        assert numbers == [m.number for m in MIGRATIONS]
        with Ledger.open(url) as ledger:
            run = ledger.start_run("t1", "b", {}, "h", "search", None, False)
            exp = ledger.start_experiment(run, 1, "p", "h", "d", "search")
            ledger.finish_experiment(exp, "kept", "r", "c", 0.1, delta=1 / 3)
        with Ledger.open(url, readonly=True) as reader:
            (row,) = reader.experiments(run)
            assert row.dev_delta == 1 / 3 and row.cost_usd == 0.1  # 8-byte floats, as in SQLite
            with pytest.raises(LedgerError, match="read-only"):
                reader.start_run("t2", "b", {}, "h", "search", None, False)
            with pytest.raises(LedgerError, match="read-only"), reader.read() as session:
                session.connection().exec_driver_sql("DELETE FROM runs")
        with Ledger.open(url) as ledger:
            with pytest.raises(LedgerError, match="run tag 't1' already exists"):
                ledger.start_run("t1", "b", {}, "h", "search", None, False)
            assert [r.tag for r in ledger.runs()] == ["t1"]


def test_a_bad_ledger_url_is_one_line_without_the_password() -> None:
    with pytest.raises(LedgerError) as caught:
        Ledger.open("postgresql://me:secret@127.0.0.1:9/db")
    message = str(caught.value)
    assert message.startswith("postgresql://me:***@127.0.0.1:9/db: ") and "secret" not in message
    assert "\n" not in message
