"""Where Winnow keeps its state: ``WINNOW_HOME`` (default ``./.winnow``).

Layout: ``cache/`` (execution results, pools), ``ledger.sqlite``, ``logs/``, ``optuna/``,
``worktrees/``. Nothing in here is ever visible to a sandboxed candidate or selector.

``WINNOW_EXEC_CACHE``, when set, moves the execution and reward caches into a PostgreSQL
database that several machines share (``harness/execution/cache.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import InputError

CACHE_URL = "WINNOW_EXEC_CACHE"  # the variable naming the shared caches' database


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
