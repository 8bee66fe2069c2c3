"""An outcome cache in PostgreSQL, shared by every machine that names the same database.

Chosen by ``WINNOW_EXEC_CACHE=postgresql://user@host:5432/db`` (``cache.open_cache``); the keys,
rows and interface are the SQLite cache's (``cache.py``), so an outcome found here is exactly
the one a machine would have found in its own ``exec.sqlite``. One table per cache
(``cache_exec``, ``cache_rewards``), created on first use. Imported only when that variable is
set: psycopg is the optional extra ``winnow[postgres]``.

Several machines write at once: a key that another writer stored first is left as it is
(``INSERT ... ON CONFLICT DO NOTHING``: one key, one outcome, whoever ran it first), and two
processes creating the table at once take an advisory lock, since ``CREATE TABLE IF NOT EXISTS``
alone can still collide in PostgreSQL's catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg
from psycopg import sql

from harness.errors import InputError
from harness.home import CACHE_URL

CONNECT_TIMEOUT_S = 10  # seconds to reach the server before the URL is refused
CHUNK = 10_000  # keys per query
SCHEMA_LOCK = 0x77696E6E6F77  # the advisory lock held while a table is created ("winnow")


def shown(url: str) -> str:
    """The URL as an error may print it: without its password."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresCache:
    """(status, detail) by key in table ``table`` of the database at ``url``."""

    def __init__(self, url: str, table: str):
        try:
            self.db = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise InputError(f"cannot connect to {shown(url)}: {reason}", CACHE_URL) from None
        self.table = sql.Identifier(table)
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
            self.db.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, status text NOT NULL, "
                    "detail text NOT NULL)"
                ).format(self.table)
            )

    def get(self, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        keys = list(keys)
        query = sql.SQL("SELECT key, status, detail FROM {} WHERE key = ANY(%s)").format(self.table)
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(keys), CHUNK):
            for key, status, detail in self.db.execute(query, [keys[start : start + CHUNK]]):
                found[key] = (status, detail)
        return found

    def put(self, rows: Iterable[tuple[str, str, str]]) -> None:
        rows = list(rows)
        query = sql.SQL(
            "INSERT INTO {} (key, status, detail) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
            "ON CONFLICT (key) DO NOTHING"
        ).format(self.table)
        for start in range(0, len(rows), CHUNK):
            keys, statuses, details = zip(*rows[start : start + CHUNK], strict=True)
            self.db.execute(query, [list(keys), list(statuses), list(details)])

    def close(self) -> None:
        self.db.close()
