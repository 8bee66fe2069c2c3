"""Tries to open the ledger (earlier results, kept and discarded). The test fills in @LEDGER@."""

import contextlib
import sqlite3

USES: set[str] = set()
LEDGER = "@LEDGER@"


def select(problem, candidates, probe):
    with contextlib.suppress(sqlite3.Error):
        sqlite3.connect(f"file:{LEDGER}?mode=ro", uri=True).execute("SELECT 1").fetchall()
    with contextlib.suppress(OSError), open(LEDGER, "rb") as handle:
        handle.read(16)
    return [0.0] * len(candidates)
