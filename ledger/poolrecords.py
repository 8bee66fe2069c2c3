"""Pools in the ledger: recorded once, never silently redefined.

Pools are content-addressed, so the same id must always describe the same pool: recording it
again with different facts is refused. The suite is not one of those facts: one pool may be
judged under several suites (the official prompts and the blind ones share their candidates),
and the per-problem counts of correct samples (from the harness's ``--labels`` output, for the
report's pass@k curve) are kept per suite.
"""

from __future__ import annotations

from sqlmodel import Session, select

from ledger.errors import LedgerError
from ledger.models import PoolProblem, PoolRecord

_KEYS = ("backend", "model", "params_json", "problems", "samples", "simulated")


def insert_pool(session: Session, record: PoolRecord, counts: dict[str, tuple[int, int]]) -> None:
    """Write a pool (a no-op when it is already there, identical) and any new counts, under the
    record's suite."""
    existing = session.get(PoolRecord, record.id)
    if existing is None:
        session.add(record)
        session.flush()
    else:
        differ = [k for k in _KEYS if getattr(existing, k) != getattr(record, k)]
        if differ:
            raise LedgerError(f"pool {record.id} is already recorded with a different {differ[0]}")
    known = {
        row.task_id: (row.samples, row.correct)
        for row in session.exec(
            select(PoolProblem).where(
                PoolProblem.pool_id == record.id, PoolProblem.suite == record.suite
            )
        )
    }
    for task_id, (samples, correct) in sorted(counts.items()):
        if not 0 <= correct <= samples:
            raise LedgerError(f"pool {record.id}: {task_id} has {correct} correct of {samples}")
        if task_id in known:
            if known[task_id] != (samples, correct):
                raise LedgerError(
                    f"pool {record.id}: {task_id} is already recorded with counts {known[task_id]}"
                )
            continue
        session.add(
            PoolProblem(
                pool_id=record.id,
                suite=record.suite,
                task_id=task_id,
                samples=samples,
                correct=correct,
            )
        )


def counts_from_labels(rows: list[dict[str, object]]) -> dict[str, tuple[int, int]]:
    """(samples, correct) per task from the rows ``winnow eval --labels`` writes."""
    counts: dict[str, list[int]] = {}
    for line, row in enumerate(rows, 1):
        task_id, passed = row.get("task_id"), row.get("passed")
        if not isinstance(task_id, str) or not isinstance(passed, bool):
            raise LedgerError(f"labels row {line}: needs a string 'task_id' and a bool 'passed'")
        tally = counts.setdefault(task_id, [0, 0])
        tally[0] += 1
        tally[1] += int(passed)
    return {task_id: (n, c) for task_id, (n, c) in counts.items()}
