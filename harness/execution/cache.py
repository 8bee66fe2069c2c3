"""The execution cache: the outcome of every (program, test) pair ever run.

Keyed by a hash of the program, the test and the execution settings that can change an
outcome (timeouts, memory, the sandbox level, the harness's execution version), so
re-evaluating a pool, or evaluating another selector on it, re-executes nothing. The reward
scores (``harness/reward/scorer.py``) are kept the same way, in a cache of their own.

Where they live is chosen in one place, :func:`open_cache`: in SQLite under
``WINNOW_HOME/cache`` (``exec.sqlite``, ``rewards.sqlite``), which no sandbox can see; or, when
``WINNOW_EXEC_CACHE`` holds a ``postgresql://`` URL, in that database (tables ``cache_exec`` and
``cache_rewards``, ``harness/execution/pgcache.py``), which several machines share.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol

import tenacity

from harness.errors import InputError
from harness.home import CACHE_URL, cache_url

# Bump when a change to execution can change an outcome. 2: a job can no longer find what an
# earlier job of its slot left behind (files in the host's /tmp at the process level, System V
# IPC objects at both levels), so outcomes recorded before cannot be trusted: under version 2
# none of them is found, and every pair runs again once. 3: every job hashes strings with
# PYTHONHASHSEED=0 (before, -I made each worker process pick a seed of its own), so outcomes
# that depend on set order were recorded under whatever seed the slot had.
EXEC_VERSION = 3
CHUNK = 500  # keys per lookup query
BUSY_TIMEOUT_S = 30.0  # seconds to wait for another process's lock


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pair_key(program_hash: str, test_hash: str, settings: str) -> str:
    joined = f"{EXEC_VERSION}\0{settings}\0{program_hash}\0{test_hash}"
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


CacheName = Literal["exec", "rewards"]  # execution outcomes; reward scores


class OutcomeCache(Protocol):
    """(status, detail) by key; a key is written once and never changes meaning."""

    def get(self, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        """The rows found among ``keys``."""
        ...

    def put(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Store (key, status, detail) rows; a key stored by another process meanwhile is fine."""
        ...

    def close(self) -> None: ...


def open_cache(folder: Path, name: CacheName) -> OutcomeCache:
    """The cache ``name``: in the PostgreSQL database ``WINNOW_EXEC_CACHE`` names, else in
    ``folder/<name>.sqlite``."""
    url = cache_url()
    if url is None:
        return ExecCache(folder / f"{name}.sqlite")
    if not url.startswith(("postgresql://", "postgres://")):
        raise InputError(
            "must be a postgresql://user@host:port/database URL (unset it for SQLite under "
            "WINNOW_HOME)",
            CACHE_URL,
        )
    try:
        # Imported here: psycopg is an optional extra, needed only for a shared cache.
        from harness.execution.pgcache import PostgresCache
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("psycopg"):
            raise
        raise InputError(
            "is a PostgreSQL URL but psycopg is not installed: pip install 'winnow[postgres]'",
            CACHE_URL,
        ) from None
    return PostgresCache(url, f"cache_{name}")


class ExecCache:
    """The SQLite store (WAL mode: several processes of one machine read and write at once)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        # Two processes switching a new file to WAL at once can deadlock on its locks: SQLite
        # then answers "database is locked" at once, without waiting. Ask again until the timeout.
        tenacity.Retrying(
            retry=tenacity.retry_if_exception_message(match=".*(locked|busy)"),
            wait=tenacity.wait_fixed(0.02),
            stop=tenacity.stop_after_delay(BUSY_TIMEOUT_S),
            reraise=True,
        )(self.db.execute, "PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS outcomes (key TEXT PRIMARY KEY, status TEXT NOT NULL, "
            "detail TEXT NOT NULL) WITHOUT ROWID"
        )

    def get(self, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        keys = list(keys)
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, status, detail FROM outcomes WHERE key IN ({marks})"
            for key, status, detail in self.db.execute(query, chunk):
                found[key] = (status, detail)
        return found

    def put(self, rows: Iterable[tuple[str, str, str]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self.db.close()
