"""Reading ``problem_results``: which candidate each arm picked on each problem of an evaluation.

Rows come back in the harness's problem order (their recorded ``position``): the order its
bootstrap resamples index, so an interval computed on them here is the evaluation's own.
"""

from __future__ import annotations

import sqlalchemy
from sqlmodel import Session

from harness.results import ProblemPick
from ledger.models import PICK_COLUMNS, PROBLEM_RESULTS

Picks = dict[str, dict[str, ProblemPick]]  # arm -> task id -> its pick, in problem order


def picks_of(session: Session, evaluation_id: int) -> Picks:
    """Every arm's pick on every problem of one evaluation."""
    query = (
        sqlalchemy.select(PROBLEM_RESULTS)
        .where(PROBLEM_RESULTS.c.evaluation_id == evaluation_id)
        .order_by(PROBLEM_RESULTS.c.position)
    )
    found: Picks = {}
    for row in session.execute(query).mappings():
        pick = PICK_COLUMNS.read(row)
        found.setdefault(pick.arm, {})[pick.task_id] = pick
    return found


def values_of(picks: Picks, arm: str) -> dict[str, float]:
    """An arm's per-problem values (the mean correctness of its picks over the subsets)."""
    return {task: pick.value for task, pick in picks.get(arm, {}).items()}
