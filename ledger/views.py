"""What the ledger reads back: typed views of runs, experiments and their evaluations.

An evaluation's arms and checks read back as the results the harness gave (``ArmResult``,
``CheckResult``); statuses as the enums of ``harness/results.py``.

A ``running`` row whose writer process is gone is *stale*: the views say so (the database is
never changed by a reader; ``Ledger.recover`` does that when the loop resumes).
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
from pydantic_core import to_jsonable_python
from sqlmodel import Session, SQLModel, col, select

from harness.results import ArmResult, CheckResult, EvalStatus, ExperimentStatus, RunStatus
from ledger.errors import LedgerError
from ledger.models import (
    ARM_COLUMNS,
    ARM_SCORES,
    CHECK_COLUMNS,
    CHECKS,
    PROBLEM_RESULTS,
    Evaluation,
    Experiment,
    Run,
)

V = TypeVar("V")
DECIDED = (  # an experiment's statuses that are a decision: what the keep rate counts
    ExperimentStatus.KEPT,
    ExperimentStatus.DISCARDED,
    ExperimentStatus.CRASHED,
    ExperimentStatus.INVALID,
)


def writer_alive(host: str, pid: int) -> bool:
    """Whether the process that wrote a row still runs (assumed so on another host)."""
    if host != socket.gethostname():
        return True  # cannot see another machine's processes: do not call it stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def shown_status(status: RunStatus | ExperimentStatus, stale: bool) -> str:
    return "running (stale)" if stale else status.value


@dataclass
class RunView:
    id: int
    tag: str
    branch: str
    config: dict[str, Any]
    program_hash: str
    proposer: str
    pool_id: str | None
    simulated: bool
    status: RunStatus
    reason: str | None
    started_at: str
    finished_at: str | None
    host: str
    pid: int
    resumes: int
    sweep_path: str | None
    stale: bool  # status is 'running' but its writer is gone

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.stale)

    def to_json(self) -> dict[str, Any]:
        return to_jsonable_python(self) | {"shown_status": self.shown_status}


@dataclass
class EvaluationView:
    id: int
    split: str
    arm: str  # the arm under research
    suite: str  # the suite whose hidden tests judged it
    pool_id: str
    simulated: bool
    problems: int
    n: int
    k: int
    repeats: int
    seed: int  # the evaluation's seed: its bootstrap resamples are drawn from it
    pass_at_1: float | None
    pass_at_k: float | None
    executions: int | None
    cache_hits: int | None
    elapsed_s: float | None
    harness_hash: str
    harness_dirty: bool | None
    sandbox: str
    valid: bool
    status: EvalStatus
    reason: str
    warnings: list[str]
    arms: dict[str, ArmResult] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def score(self) -> ArmResult | None:
        """The researched arm's result (None when the evaluation has no such arm)."""
        return self.arms.get(self.arm)

    def to_json(self) -> dict[str, Any]:
        return to_jsonable_python(self)


@dataclass
class ExperimentView:
    id: int
    number: int
    parent_commit: str
    commit: str | None
    hypothesis: str
    diff: str
    proposer: str
    status: ExperimentStatus
    reason: str | None
    started_at: str
    finished_at: str | None
    duration_s: float | None
    cost_usd: float | None
    incumbent_number: int | None
    dev_delta: float | None
    dev_delta_lower: float | None
    min_effect: float | None
    dev_p_value: float | None
    dev_level: float | None
    holdout_delta: float | None
    holdout_delta_low: float | None
    holdout_delta_high: float | None
    directive_hash: str | None  # the program.md it was proposed under (directive_text)
    host: str
    pid: int
    stale: bool
    evaluations: dict[str, EvaluationView] = field(default_factory=dict)  # by split

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.stale)

    @property
    def is_start(self) -> bool:
        """The run's starting point (experiment 1, the unmodified selector): kept without being
        compared with anything. It is not a change, and not counted as a keep."""
        return self.status == ExperimentStatus.KEPT and self.incumbent_number is None

    @property
    def decision_p(self) -> float | None:
        """The decision's p-value: the one the ledger records (``dev_p_value``, since the run's
        error control), else the one the decision's reason states ("sign-flip p = 0.065")."""
        if self.dev_p_value is not None:
            return self.dev_p_value
        found = _P_VALUE.search(self.reason or "")
        return float(found.group(1)) if found else None

    def why(self) -> str:
        """Why it ended as it did, in a word or two: ``p=0.065``, ``not_random``, ``worse``,
        ``same as #3``, ``RuntimeError``, ``start``."""
        reason = self.reason or ""
        if self.stale:
            return "writer gone"
        if self.status == ExperimentStatus.RUNNING:
            return "running"
        if self.is_start:
            return "start"
        if self.status == ExperimentStatus.INTERRUPTED:
            return "stopped"
        if (same := _IDENTICAL.match(reason)) is not None:
            return f"same as #{same.group(1)}"
        if self.status == ExperimentStatus.INVALID:
            failed = [c.name for ev in self.evaluations.values() for c in ev.checks if not c.passed]
            if failed:
                return ",".join(dict.fromkeys(failed))
            return _short_reason(reason)
        if self.status == ExperimentStatus.CRASHED:
            error = _ERROR.search(reason)
            return error.group(1) if error else _short_reason(reason)
        p = self.decision_p
        if self.status == ExperimentStatus.DISCARDED and self.dev_delta is not None:
            if self.dev_delta < 0:
                return "worse"
            if self.dev_delta == 0:
                return "no change"
        if p is None:
            return _short_reason(reason)
        return "p<0.001" if p < 0.001 else f"p={p:.3f}"

    @property
    def dev(self) -> EvaluationView | None:
        return self.evaluations.get("dev")

    @property
    def confirmed(self) -> bool | None:
        """A kept change the holdout agrees with: its 95% paired interval against the start of
        the run, on the holdout, is above 0. None when it was not compared (not kept, the start
        itself, or no holdout evaluation)."""
        if self.holdout_delta_low is None:
            return None
        return self.holdout_delta_low > 0.0

    @property
    def holdout(self) -> EvaluationView | None:
        return self.evaluations.get("holdout")

    def sel_at_k(self, split: str) -> float | None:
        evaluation = self.evaluations.get(split)
        score = evaluation.score if evaluation else None
        return score.sel_at_k if score else None

    def to_json(self, diff: bool = True) -> dict[str, Any]:
        """The ``winnow log --json`` object (and the report's experiment rows)."""
        data = {
            key: value
            for key, value in to_jsonable_python(self, exclude={"evaluations"}).items()
            if diff or key != "diff"
        }
        data["shown_status"] = self.shown_status
        data["confirmed"] = self.confirmed
        data["why"] = self.why()
        data["dev"] = _split_json(self.dev)
        if data["dev"] is not None:
            data["dev"].update(
                delta=self.dev_delta, delta_lower=self.dev_delta_lower,
                incumbent=self.incumbent_number, p_value=self.dev_p_value, level=self.dev_level,
            )  # fmt: skip
        data["holdout"] = _split_json(self.holdout)
        if data["holdout"] is not None:
            data["holdout"].update(
                delta=self.holdout_delta, delta_low=self.holdout_delta_low,
                delta_high=self.holdout_delta_high,
            )  # fmt: skip
        return data


_P_VALUE = re.compile(r"\bp = ([0-9.]+(?:e[-+]?[0-9]+)?)")
_IDENTICAL = re.compile(r"identical to experiment (\d+)")
_ERROR = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Exit|Interrupt))\b")
_SHORT_REASON = 3  # words of a free-form reason kept by ExperimentView.why


def _short_reason(reason: str) -> str:
    """The first words of a reason, before any colon: 'touches files outside experiments/'."""
    head = reason.split(":", 1)[0].strip()
    words = head.split()
    return " ".join(words[:_SHORT_REASON]) + (" …" if len(words) > _SHORT_REASON else "")


SCORE_FIELDS = ("sel_at_k", "ci_low", "ci_high", "gap_closed", "gap_ci_low", "gap_ci_high")


def score_fields(evaluation: EvaluationView | None) -> dict[str, float | None]:
    """The selector's score of an evaluation by field (None where nothing was scored)."""
    score = evaluation.score if evaluation else None
    return {name: getattr(score, name) if score else None for name in SCORE_FIELDS}


def _split_json(evaluation: EvaluationView | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return score_fields(evaluation) | {
        "k": evaluation.k,
        "pass_at_1": evaluation.pass_at_1,
        "pass_at_k": evaluation.pass_at_k,
        "valid": evaluation.valid,
        "status": evaluation.status.value,
    }


def _view(cls: type[V], row: SQLModel, **computed: Any) -> V:
    """A view dataclass from a table row: same-named columns, plus the computed fields."""
    names = {f.name for f in fields(cls)} - set(computed)  # type: ignore[arg-type]
    return cls(**row.model_dump(include=names), **computed)


def run_view(session: Session, tag: str | None, where: Path | str) -> RunView:
    """The run with ``tag``, or the latest one when ``tag`` is None."""
    query = select(Run)
    query = query.where(Run.tag == tag) if tag is not None else query.order_by(col(Run.id).desc())
    run = session.exec(query).first()
    if run is None:
        if tag is None:
            raise LedgerError(f"{where}: the ledger has no runs yet")
        raise LedgerError(f"{where}: no run tagged {tag!r}")
    assert run.id is not None
    status = RunStatus(run.status)
    return _view(
        RunView,
        run,
        config=json.loads(run.config_json),
        status=status,
        stale=status == RunStatus.RUNNING and not writer_alive(run.host, run.pid),
    )


def experiment_views(
    session: Session, run_id: int, status: ExperimentStatus | None
) -> list[ExperimentView]:
    """The run's experiments by number, each with its evaluations, arms and checks."""
    query = select(Experiment).where(Experiment.run_id == run_id)
    if status is not None:
        query = query.where(Experiment.status == status)
    experiments = session.exec(query.order_by(col(Experiment.number))).all()
    ids = [e.id for e in experiments]
    evaluations = session.exec(
        select(Evaluation)
        .where(col(Evaluation.experiment_id).in_(ids))
        .order_by(col(Evaluation.id))
    ).all()
    eval_ids = [e.id for e in evaluations]
    arms: dict[int, dict[str, ArmResult]] = {}
    scores = sqlalchemy.select(ARM_SCORES).where(ARM_SCORES.c.evaluation_id.in_(eval_ids))
    # By name, said explicitly: each database has an order of its own otherwise.
    by_name = scores.order_by(ARM_SCORES.c.evaluation_id, ARM_SCORES.c.arm)
    for row in session.execute(by_name).mappings():
        arms.setdefault(row["evaluation_id"], {})[row["arm"]] = ARM_COLUMNS.read(row)
    checks: dict[int, list[CheckResult]] = {}
    query_checks = sqlalchemy.select(CHECKS).where(CHECKS.c.evaluation_id.in_(eval_ids))
    ordered = query_checks.order_by(CHECKS.c.evaluation_id, CHECKS.c.position)
    for row in session.execute(ordered).mappings():
        checks.setdefault(row["evaluation_id"], []).append(CHECK_COLUMNS.read(row))
    by_experiment: dict[int, dict[str, EvaluationView]] = {}
    for ev in evaluations:
        assert ev.id is not None
        by_experiment.setdefault(ev.experiment_id, {})[ev.split] = _view(
            EvaluationView,
            ev,
            status=EvalStatus(ev.status),
            warnings=json.loads(ev.warnings_json),
            arms=arms.get(ev.id, {}),
            checks=checks.get(ev.id, []),
        )
    views = []
    for exp in experiments:
        assert exp.id is not None
        exp_status = ExperimentStatus(exp.status)
        views.append(
            _view(
                ExperimentView,
                exp,
                commit=exp.commit_sha,
                status=exp_status,
                stale=exp_status == ExperimentStatus.RUNNING
                and not writer_alive(exp.host, exp.pid),
                evaluations=by_experiment.get(exp.id, {}),
            )
        )
    return views


def problem_values(session: Session, experiment_id: int, split: str) -> dict[str, float]:
    """The researched arm's value per problem in an experiment's evaluation on ``split``."""
    evaluation = session.exec(
        select(Evaluation).where(
            Evaluation.experiment_id == experiment_id, Evaluation.split == split
        )
    ).first()
    if evaluation is None:
        return {}
    picks = PROBLEM_RESULTS.c
    rows = session.execute(
        sqlalchemy.select(picks.task_id, picks.value).where(
            picks.evaluation_id == evaluation.id, picks.arm == evaluation.arm
        )
    )
    return {task: float(value) for task, value in rows}
