"""Where Winnow keeps its state: ``WINNOW_HOME`` (default ``./.winnow``).

Layout: ``cache/`` (execution results, pools), ``ledger.sqlite``, ``logs/``, ``optuna/``,
``worktrees/``. Nothing in here is ever visible to a sandboxed candidate or selector.

``WINNOW_EXEC_CACHE``, when set, moves the execution and reward caches into a PostgreSQL
database that several machines share (``harness/execution/cache.py``); ``WINNOW_LEDGER`` (or
``--ledger``) names the ledger: a SQLite file, or a PostgreSQL database several loops share.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import InputError

CACHE_URL = "WINNOW_EXEC_CACHE"  # the variable naming the shared caches' database
LEDGER_VARIABLE = "WINNOW_LEDGER"  # the variable naming the ledger (a file or a URL)
LEDGER_SCHEMES = ("postgresql://", "postgres://")


def winnow_home() -> Path:
    """The state directory, created on first use."""
    home = Path(os.environ.get("WINNOW_HOME", ".winnow")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_dir() -> Path:
    path = winnow_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_url() -> str | None:
    """The shared caches' database URL; None when ``WINNOW_EXEC_CACHE`` is unset (SQLite under
    ``cache/``). Set but blank is refused: an unset variable, not an empty one, means SQLite."""
    url = os.environ.get(CACHE_URL)
    if url is not None and not url.strip():
        raise InputError("is set but empty: give a postgresql:// URL, or unset it", CACHE_URL)
    return url


def ledger_path() -> Path:
    return winnow_home() / "ledger.sqlite"


def ledger_location(given: str | None = None) -> Path | str:
    """The ledger: ``given`` (``--ledger``), else ``WINNOW_LEDGER``, else
    ``WINNOW_HOME/ledger.sqlite``. A ``postgresql://`` URL is returned as text, anything else
    as a file path; another URL scheme, or a variable set but blank, is refused."""
    key = "--ledger"
    if given is None:
        given, key = os.environ.get(LEDGER_VARIABLE), LEDGER_VARIABLE
        if given is not None and not given.strip():
            raise InputError("is set but empty: give a file or a postgresql:// URL", key)
    if given is None:
        return ledger_path()
    if given.startswith(LEDGER_SCHEMES):
        return given
    if "://" in given:
        raise InputError("must be a ledger file or a postgresql://user@host:port/database URL", key)
    return Path(given)
