"""Where selection still loses: the best selector problem by problem, on dev and on the holdout.

For each problem of the best experiment's evaluation: whether a correct candidate existed (the
pool's count of correct samples, and the share of the k-subsets holding one: the ``oracle``
arm's value), what the best selector recovered, what it lost (oracle minus selector), and which
arms did better there. For the problems it lost, the evaluation's failure cases (recorded by the
harness in its raw JSON, ``harness.results.FailureCase``) give the candidates of a subset on
which it picked wrong with a correct candidate in view, grouped by behaviour, with each group's
signals side by side: size, self-tests passed, output
agreement, the prompt's examples passed, whether the selector picked it, how many members are
correct. Per-candidate logprob and reward scores are not recorded; the ``logprob`` and reward
arms' own values on the problem stand for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlmodel import Session, select

from harness.results import FailureCase
from ledger.models import Evaluation, PoolProblem
from ledger.report.picks import picks_of
from ledger.views import EvaluationView, ExperimentView

RESEARCHED = "selector"
CEILING = "oracle"
SIGNAL_ARMS = ("logprob", "reward_model", "judge")  # picks shown for signals not in the groups


@dataclass
class ProblemLoss:
    """One problem the best selector did not always get right although a correct candidate was
    in view."""

    task_id: str
    samples: int | None  # the pool's samples of the problem, and how many are correct
    correct: int | None
    oracle: float  # share of its subsets holding a correct candidate
    value: float  # the best selector's value (share of subsets it picked right)
    lost: float  # oracle - value
    better: list[tuple[str, float]]  # arms that did better on it, best first
    signals: dict[str, float]  # the signal arms' values (share of subsets they got right)
    case: FailureCase | None  # its groups, where the harness described it


@dataclass
class ArmTally:
    """An arm against the best selector, problem by problem."""

    arm: str
    better: int  # problems where it did better
    worse: int  # problems where it did worse


@dataclass
class SplitLosses:
    split: str
    experiment: int
    k: int
    problems: int
    solvable: int  # problems with a correct candidate in some subset
    always_right: int  # problems the selector got right on every subset
    lost_problems: int
    lost_mean: float  # the mean over problems of oracle - selector: sel@k's distance to oracle
    tallies: list[ArmTally] = field(default_factory=list)
    rows: list[ProblemLoss] = field(default_factory=list)


def build_losses(session: Session, best: ExperimentView | None) -> dict[str, SplitLosses]:
    """Per split, where the best experiment's selector loses (see the module)."""
    if best is None:
        return {}
    found = {}
    for split, ev in best.evaluations.items():
        if ev.score is None or ev.score.sel_at_k is None:
            continue
        losses = _split_losses(session, best.number, ev)
        if losses is not None:
            found[split] = losses
    return found


def _split_losses(session: Session, number: int, ev: EvaluationView) -> SplitLosses | None:
    picks = picks_of(session, ev.id)
    mine, oracle = picks.get(RESEARCHED, {}), picks.get(CEILING, {})
    if not mine or not oracle:
        return None
    counts = {
        row.task_id: (row.samples, row.correct)
        for row in session.exec(select(PoolProblem).where(PoolProblem.pool_id == ev.pool_id))
    }
    cases = {case.task_id: case for case in _failure_cases(session, ev.id)}
    others = [arm for arm in picks if arm not in (RESEARCHED, CEILING)]
    tallies = {arm: ArmTally(arm, 0, 0) for arm in others}
    rows = []
    for task, pick in mine.items():
        for arm in others:
            theirs = picks[arm].get(task)
            if theirs is not None and theirs.value > pick.value + 1e-12:
                tallies[arm].better += 1
            elif theirs is not None and theirs.value < pick.value - 1e-12:
                tallies[arm].worse += 1
        ceiling = oracle[task].value if task in oracle else 0.0
        lost = ceiling - pick.value
        if lost <= 1e-12:
            continue
        better = sorted(
            ((arm, picks[arm][task].value) for arm in others
             if task in picks[arm] and picks[arm][task].value > pick.value + 1e-12),
            key=lambda item: (-item[1], item[0]),
        )  # fmt: skip
        samples, correct = counts.get(task, (None, None))
        rows.append(
            ProblemLoss(
                task_id=task,
                samples=samples,
                correct=correct,
                oracle=ceiling,
                value=pick.value,
                lost=lost,
                better=better,
                signals={
                    arm: picks[arm][task].correct
                    for arm in SIGNAL_ARMS
                    if arm in picks and task in picks[arm]
                },  # fmt: skip
                case=cases.get(task),
            )
        )
    rows.sort(key=lambda row: (-row.lost, row.task_id))
    return SplitLosses(
        split=ev.split,
        experiment=number,
        k=ev.k,
        problems=len(mine),
        solvable=sum(1 for task in mine if task in oracle and oracle[task].value > 0),
        always_right=sum(1 for p in mine.values() if p.value >= 1 - 1e-12),
        lost_problems=len(rows),
        lost_mean=sum(row.lost for row in rows) / len(mine),
        tallies=sorted(tallies.values(), key=lambda t: (-t.better, t.worse, t.arm)),
        rows=rows,
    )


def _failure_cases(session: Session, evaluation_id: int) -> list[FailureCase]:
    """The failure cases the harness recorded with the evaluation (none before it did)."""
    raw = session.exec(select(Evaluation.raw_json).where(Evaluation.id == evaluation_id)).one()
    cases = json.loads(raw).get("failures") or []
    return [FailureCase.model_validate_json(json.dumps(case)) for case in cases]
