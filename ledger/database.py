"""The ledger's connection: a SQLite file (the default) or a PostgreSQL database (a URL), with one
transaction per record either way.

SQLite: WAL, foreign keys, a busy timeout. Writers begin with ``BEGIN IMMEDIATE`` so that two
processes queue on the write lock (and wait up to the busy timeout) instead of failing half-way
through a transaction when a read lock cannot be upgraded. Readers open the file with
``mode=ro`` and ``query_only``: looking at the ledger can never change it.

Read-only media (a ledger copied to a DVD, a read-only mount): a WAL reader needs to create the
``-shm`` index beside the file, which it cannot there. So a writer hands the file back in
rollback-journal mode when it closes (``sqlite3 -readonly`` then opens a copy anywhere), and a
reader that finds the directory unwritable opens the file ``immutable`` when no write-ahead log
lies beside it, or reads a private copy of the file and its log when one does (``immutable``
would silently ignore the log's transactions).

PostgreSQL (``postgresql://user@host:port/db``, for loops on several machines): the same rules
by other means. A write transaction first takes one advisory lock (writers queue, as on
SQLite, for at most the busy timeout: ``lock_timeout``), so a record is written whole before the
next begins; a read transaction is ``REPEATABLE READ, READ ONLY`` (one snapshot, never a write),
and a reader's session is ``default_transaction_read_only``. psycopg is the optional extra
``winnow[postgres]``.

Errors of either become a one-line :class:`LedgerError` naming the file or the URL (without its
password).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tenacity
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from ledger.errors import LedgerError

BUSY_TIMEOUT_S = 30.0  # seconds a writer or reader waits for another process's lock
READ_OPTION = "winnow_read"  # execution option: a read transaction (plain BEGIN, no write lock)
WRITE_LOCK = 0x77696E6C6467  # PostgreSQL advisory lock every write transaction holds ("winldg")
CONNECT_TIMEOUT_S = 10  # seconds to reach a PostgreSQL server
SCHEMES = ("postgresql://", "postgres://")

Where = Path | str  # a SQLite file, or a postgresql:// URL


def is_url(where: Where) -> bool:
    """Whether ``where`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(where, str) and where.startswith(SCHEMES)


def shown(where: Where) -> str:
    """``where`` as a message may print it: a URL without its password."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", str(where))


def connect(where: Where, readonly: bool, busy_timeout: float = BUSY_TIMEOUT_S) -> Engine:
    """An engine on the SQLite file or PostgreSQL URL ``where``."""
    if is_url(where):
        return connect_postgres(str(where), readonly, busy_timeout)
    return connect_sqlite(Path(where), readonly, busy_timeout)


def connect_postgres(url: str, readonly: bool, busy_timeout: float) -> Engine:
    """An engine on a PostgreSQL database, through psycopg (3)."""
    try:
        # Imported here: psycopg is the optional extra winnow[postgres].
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        raise LedgerError(
            f"{shown(url)}: a PostgreSQL ledger needs psycopg: pip install 'winnow[postgres]'"
        ) from None
    engine = create_engine(
        "postgresql+psycopg://" + url.split("://", 1)[1],
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        poolclass=NullPool,
    )
    milliseconds = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection: Any, _record: Any) -> None:
        # Set here, not in the URL's options, which may already carry the caller's settings
        # (a search_path).
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            if readonly:
                cursor.execute("SET default_transaction_read_only = on")
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if readonly or connection.get_execution_options().get(READ_OPTION, False):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    return engine


def connect_sqlite(path: Path, readonly: bool, busy_timeout: float = BUSY_TIMEOUT_S) -> Engine:
    """An engine on ``path`` with the ledger's pragmas set on every connection."""
    # mode=ro: a reader cannot write even by mistake (it may still create the -shm file).
    url = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true" if readonly else f"sqlite:///{path}"
    copied = None
    if readonly and not os.access(path.parent, os.W_OK):
        url, copied = _read_only_media(path)
    # NullPool: every transaction gets a fresh connection, so a forked or long-lived process
    # never holds a stale read snapshot or a lock between records.
    engine = create_engine(url, connect_args={"timeout": busy_timeout}, poolclass=NullPool)
    milliseconds = int(busy_timeout * 1000)
    if copied is not None:
        event.listen(engine, "engine_disposed", lambda _: shutil.rmtree(copied, True))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # isolation_level None: the sqlite3 module stops issuing its own BEGINs, so the
        # "begin" hook below decides how each transaction takes its locks.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if readonly:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        reading = readonly or connection.get_execution_options().get(READ_OPTION, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def enable_wal(engine: Engine, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
    """Switch the file to write-ahead logging (persistent: readers see it too).

    Two processes switching a new file at once can deadlock on its locks, and SQLite then
    answers "database is locked" at once, without waiting in the busy handler: so this asks
    again until ``busy_timeout`` seconds have passed.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_message(match=".*(locked|busy)"),
        wait=tenacity.wait_fixed(0.02),
        stop=tenacity.stop_after_delay(busy_timeout),
        reraise=True,
    )
    mode = retrying(_switch_to_wal, engine)
    if mode != "wal":
        raise LedgerError(f"could not switch the ledger to WAL mode (journal_mode is {mode})")


@contextlib.contextmanager
def translated(where: Where, busy_timeout: float) -> Iterator[None]:
    """Turn database failures into one-line LedgerErrors that name the file or URL."""
    path = shown(where)
    try:
        yield
    except IntegrityError as exc:
        raise LedgerError(f"{path}: refused by the ledger: {_first_line(exc)}") from exc
    except (DBAPIError, sqlite3.Error) as exc:
        message = _first_line(exc)
        if "locked" in message or "busy" in message or "lock timeout" in message:
            raise LedgerError(
                f"{path}: the ledger is locked by another process (waited {busy_timeout:g} s)"
            ) from exc
        if "not a database" in message or "malformed" in message:
            raise LedgerError(f"{path}: not a SQLite ledger ({message})") from exc
        if "readonly" in message or "read-only" in message:
            raise LedgerError(f"{path}: the ledger is open read-only ({message})") from exc
        raise LedgerError(f"{path}: {message}") from exc


def for_reading(engine: Engine) -> Engine:
    """The same engine, beginning read transactions: they never wait for a writer (WAL)."""
    return engine.execution_options(**{READ_OPTION: True})


@contextlib.contextmanager
def transaction(engine: Engine, path: Where, busy_timeout: float) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back entirely if it raises."""
    with (
        translated(path, busy_timeout),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def _read_only_media(path: Path) -> tuple[str, Path | None]:
    """The URL that reads ``path`` where nothing can be created beside it, and the private
    folder it reads from (None: the file itself)."""
    wal = path.with_name(path.name + "-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        # Every transaction is in the file itself: nothing changes it, no lock is needed.
        return f"sqlite:///file:{quote(str(path))}?mode=ro&immutable=1&uri=true", None
    # Committed transactions wait in the log: read them from a copy SQLite may index.
    folder = Path(tempfile.mkdtemp(prefix="winnow-ledger-"))
    copy = folder / path.name
    shutil.copyfile(path, copy)
    shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    return f"sqlite:///file:{quote(str(copy))}?mode=ro&uri=true", folder


def hand_back(engine: Engine) -> None:
    """A writer's last act: the file back in rollback-journal mode, its log folded in, so a
    copy of it opens anywhere. Only when no other process has the file open (no waiting):
    otherwise the last one to close does it, and until then the file stays in WAL mode, which
    readers on read-only media still read (see :func:`connect`)."""
    with contextlib.suppress(sqlite3.OperationalError), engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout = 0")
        raw.execute("PRAGMA journal_mode = DELETE")


def _switch_to_wal(engine: Engine) -> str:
    with engine.connect() as connection:
        # journal_mode cannot change inside a transaction: run it on the raw connection.
        raw = connection.connection.driver_connection
        assert raw is not None
        mode: str = raw.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            mode = raw.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        return mode


def _first_line(exc: DBAPIError | sqlite3.Error) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def utc_now() -> str:
    """The current time as ISO 8601 UTC text, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
