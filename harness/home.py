"""Where Winnow keeps its state: ``WINNOW_HOME`` (default ``./.winnow``).

Layout: ``cache/`` (execution results, pools), ``ledger.sqlite``, ``logs/``, ``optuna/``,
``worktrees/``. Nothing in here is ever visible to a sandboxed candidate or selector.
"""

from __future__ import annotations

import os
from pathlib import Path


def winnow_home() -> Path:
    """The state directory, created on first use."""
    home = Path(os.environ.get("WINNOW_HOME", ".winnow")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_dir() -> Path:
    path = winnow_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def ledger_path() -> Path:
    return winnow_home() / "ledger.sqlite"
