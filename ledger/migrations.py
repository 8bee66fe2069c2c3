"""Numbered schema migrations, applied in order when a ledger is opened for writing.

Each migration is a list of SQL statements run in one transaction together with the row that
records it in ``migrations``; a crash half-way leaves the previous version intact. A ledger
whose highest applied number is unknown to this code was written by a newer Winnow and is
refused rather than guessed at. Never edit a released migration: add the next number.

The statements are written for SQLite and run on PostgreSQL as well, with the two differences
that matter rewritten on the way (:func:`for_dialect`): an ``id INTEGER PRIMARY KEY`` numbers its
rows itself on SQLite and needs an identity on PostgreSQL, and ``REAL`` is 8 bytes on SQLite but
4 on PostgreSQL (``DOUBLE PRECISION`` there, so a score reads back as it was written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, text

from ledger.database import utc_now
from ledger.errors import LedgerError


@dataclass(frozen=True)
class MigrationSpec:
    number: int
    name: str
    statements: tuple[str, ...]
    # Run after ``statements`` on SQLite only: what moves rows of ledgers older than PostgreSQL
    # support (a PostgreSQL ledger is created with every migration at once, so it has none).
    sqlite_only: tuple[str, ...] = ()


_INITIAL = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        tag TEXT NOT NULL UNIQUE,
        branch TEXT NOT NULL,
        config_json TEXT NOT NULL,
        program_hash TEXT NOT NULL,
        proposer TEXT NOT NULL,
        pool_id TEXT,
        simulated BOOLEAN NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'stopped', 'failed')),
        reason TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        resumes INTEGER NOT NULL DEFAULT 0,
        sweep_path TEXT
    )""",
    """CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        number INTEGER NOT NULL,
        parent_commit TEXT NOT NULL,
        commit_sha TEXT,
        hypothesis TEXT NOT NULL,
        diff TEXT NOT NULL,
        proposer TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('running', 'kept', 'discarded', 'crashed', 'invalid', 'interrupted')),
        reason TEXT,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        cost_usd REAL,
        incumbent_number INTEGER,
        dev_delta REAL,
        dev_delta_lower REAL,
        min_effect REAL,
        UNIQUE (run_id, number)
    )""",
    """CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        split TEXT NOT NULL,
        arm TEXT NOT NULL,
        suite TEXT NOT NULL,
        pool_id TEXT NOT NULL,
        simulated BOOLEAN NOT NULL,
        problems INTEGER NOT NULL,
        problems_in_suite INTEGER,
        n INTEGER NOT NULL,
        k INTEGER NOT NULL,
        repeats INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        pass_at_1 REAL,
        pass_at_k REAL,
        executions INTEGER,
        cache_hits INTEGER,
        sandbox TEXT NOT NULL,
        elapsed_s REAL,
        harness_hash TEXT NOT NULL,
        harness_commit TEXT,
        harness_dirty BOOLEAN,
        valid BOOLEAN NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        warnings_json TEXT NOT NULL,
        calibration_json TEXT,
        budget_json TEXT NOT NULL,
        raw_json TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        UNIQUE (experiment_id, split)
    )""",
    """CREATE TABLE arm_scores (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
        arm TEXT NOT NULL,
        sel_at_k REAL,
        ci_low REAL,
        ci_high REAL,
        gap_closed REAL,
        diff_vs_random REAL,
        diff_ci_low REAL,
        diff_ci_high REAL,
        executions REAL,
        reward_calls REAL,
        reward_tokens REAL,
        generated_tokens REAL,
        over_budget_problems INTEGER,
        PRIMARY KEY (evaluation_id, arm)
    )""",
    """CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        passed BOOLEAN NOT NULL,
        detail TEXT NOT NULL
    )""",
    """CREATE TABLE problem_results (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
        arm TEXT NOT NULL,
        task_id TEXT NOT NULL,
        value REAL NOT NULL,
        pick INTEGER NOT NULL,
        tied INTEGER NOT NULL,
        correct BOOLEAN NOT NULL,
        PRIMARY KEY (evaluation_id, arm, task_id)
    )""",
    """CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        experiment_id INTEGER REFERENCES experiments(id),
        evaluation_id INTEGER REFERENCES evaluations(id),
        purpose TEXT NOT NULL,
        model TEXT NOT NULL,
        messages_json TEXT NOT NULL,
        response TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost_usd REAL,
        latency_s REAL,
        error TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE pools (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        backend TEXT NOT NULL,
        model TEXT,
        params_json TEXT NOT NULL,
        problems INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        simulated BOOLEAN NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    """CREATE TABLE pool_problems (
        pool_id TEXT NOT NULL REFERENCES pools(id),
        task_id TEXT NOT NULL,
        samples INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        PRIMARY KEY (pool_id, task_id)
    )""",
    "CREATE INDEX experiments_by_status ON experiments (run_id, status)",
    "CREATE INDEX evaluations_by_experiment ON evaluations (experiment_id)",
    "CREATE INDEX checks_by_evaluation ON checks (evaluation_id)",
    "CREATE INDEX llm_calls_by_run ON llm_calls (run_id, experiment_id)",
)

# A pool is its candidates, whatever suite judges them; how many of a problem's candidates pass
# depends on the suite's hidden tests: the counts are kept per suite (the pools row keeps the
# suite it was first recorded with).
_COUNTS_PER_SUITE = (
    """CREATE TABLE pool_problems_by_suite (
        pool_id TEXT NOT NULL REFERENCES pools(id),
        suite TEXT NOT NULL,
        task_id TEXT NOT NULL,
        samples INTEGER NOT NULL,
        correct INTEGER NOT NULL,
        PRIMARY KEY (pool_id, suite, task_id)
    )""",
    """INSERT INTO pool_problems_by_suite (pool_id, suite, task_id, samples, correct)
        SELECT pool_problems.pool_id, pools.suite, pool_problems.task_id,
               pool_problems.samples, pool_problems.correct
        FROM pool_problems JOIN pools ON pools.id = pool_problems.pool_id""",
    "DROP TABLE pool_problems",
    "ALTER TABLE pool_problems_by_suite RENAME TO pool_problems",
)

_RUN_ERROR = (
    # The run's error control (harness/judge/significance.py): each tested experiment's p-value
    # (1 / its betting e-value) and the level the run's procedure held it to; NULL for an
    # experiment that was not tested (the baseline, invalid, crashed, reused, interrupted).
    "ALTER TABLE experiments ADD COLUMN dev_p_value REAL",
    "ALTER TABLE experiments ADD COLUMN dev_level REAL",
    # A kept change against the start of the run on the holdout: the mean paired difference and
    # its 95% bootstrap interval (confirmed when the interval is above 0). Never decides.
    "ALTER TABLE experiments ADD COLUMN holdout_delta REAL",
    "ALTER TABLE experiments ADD COLUMN holdout_delta_low REAL",
    "ALTER TABLE experiments ADD COLUMN holdout_delta_high REAL",
)

_GAP_INTERVAL = (  # ArmResult.gap_ci_low / gap_ci_high (issue 16); NULL in older rows
    "ALTER TABLE arm_scores ADD COLUMN gap_ci_low REAL",
    "ALTER TABLE arm_scores ADD COLUMN gap_ci_high REAL",
)

_DIRECTIVES = (  # program.md, read at every step (issue 15): each version once, by its hash
    """CREATE TABLE directives (
        hash TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    # The version each experiment was proposed under; NULL in older rows.
    "ALTER TABLE experiments ADD COLUMN directive_hash TEXT REFERENCES directives(hash)",
)

# The problems of an evaluation in the harness's order (its bootstrap resamples by index), kept
# as a column: SQLite's rowid held it implicitly, and PostgreSQL has no insertion order.
_PROBLEM_POSITION = ("ALTER TABLE problem_results ADD COLUMN position INTEGER NOT NULL DEFAULT 0",)
_PROBLEM_POSITION_FROM_ROWID = ("UPDATE problem_results SET position = rowid",)

MIGRATIONS: tuple[MigrationSpec, ...] = (
    MigrationSpec(1, "initial schema", _INITIAL),
    MigrationSpec(2, "pool counts per suite", _COUNTS_PER_SUITE),
    MigrationSpec(3, "the run's error control and the holdout against the start", _RUN_ERROR),
    MigrationSpec(4, "arm_scores: the gap closed's interval", _GAP_INTERVAL),
    MigrationSpec(5, "the research directive's versions", _DIRECTIVES),
    MigrationSpec(
        6, "problem results keep their position", _PROBLEM_POSITION, _PROBLEM_POSITION_FROM_ROWID
    ),
)

_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS migrations (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def for_dialect(statement: str, dialect: str) -> str:
    """``statement`` as the database ``dialect`` (``sqlite``, ``postgresql``) must read it."""
    if dialect != "postgresql":
        return statement
    statement = statement.replace(
        "id INTEGER PRIMARY KEY", "id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)


def applied_version(connection: Connection) -> int | None:
    """The highest applied migration, 0 for an empty database, None when it is not a ledger."""
    tables = set(inspect(connection).get_table_names())
    if "migrations" not in tables:
        return 0 if not tables else None
    return int(connection.execute(text("SELECT coalesce(max(number), 0) FROM migrations")).one()[0])


def check_version(version: int | None, where: str, migrations: tuple[MigrationSpec, ...]) -> int:
    """Refuse a file that is not a ledger, or one written by a newer Winnow."""
    latest = migrations[-1].number
    if version is None:
        raise LedgerError(f"{where}: not a Winnow ledger (it has tables but no 'migrations' table)")
    if version > latest:
        raise LedgerError(
            f"{where}: ledger schema version {version} is newer than this Winnow's ({latest}); "
            "upgrade Winnow to read it"
        )
    return version


def migrate(
    engine: Engine, where: str, migrations: tuple[MigrationSpec, ...] = MIGRATIONS
) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the numbers applied."""
    applied: list[int] = []
    for spec in migrations:
        # BEGIN IMMEDIATE, or PostgreSQL's write lock (see database.connect): two processes
        # opening a new ledger at once queue here, and the second one sees the first one's work
        # and skips it.
        with engine.begin() as connection:
            dialect = connection.dialect.name
            version = check_version(applied_version(connection), where, migrations)
            if spec.number <= version:
                continue
            if spec.number != version + 1:
                raise LedgerError(f"{where}: migration {version + 1} is missing from the code")
            connection.execute(text(_MIGRATIONS_TABLE))
            for statement in spec.statements:
                connection.execute(text(for_dialect(statement, dialect)))
            if dialect == "sqlite":
                for statement in spec.sqlite_only:
                    connection.execute(text(statement))
            connection.execute(
                text("INSERT INTO migrations (number, name, applied_at) VALUES (:n, :name, :at)"),
                {"n": spec.number, "name": spec.name, "at": utc_now()},
            )
            applied.append(spec.number)
    return applied
