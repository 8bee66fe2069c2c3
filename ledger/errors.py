"""The ledger's one error type: bad input or an unusable database, said in one line."""

from __future__ import annotations


class LedgerError(Exception):
    """A ledger that cannot be used as asked: missing, locked, too new, or a bad record.

    The message is one line naming the file, the run tag or the key; the command line prints it
    as ``winnow: error: ...`` and exits with status 2. Nothing is written when it is raised.
    """
