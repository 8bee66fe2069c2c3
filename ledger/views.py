"""What the ledger reads back: typed views of runs, experiments and their evaluations.

An evaluation's arms and checks read back as the results the harness gave (``ArmResult``,
``CheckResult``); statuses as the enums of ``harness/results.py``.

A ``running`` row whose writer process is gone is *stale*: the views say so (the database is
never changed by a reader; ``Ledger.recover`` does that when the loop resumes).
"""

from __future__ import annotations

import json
import os
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
    Evaluation,
    Experiment,
    Run,
)

V = TypeVar("V")


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
    host: str
    pid: int
    stale: bool
    evaluations: dict[str, EvaluationView] = field(default_factory=dict)  # by split

    @property
    def shown_status(self) -> str:
        return shown_status(self.status, self.stale)

    @property
    def dev(self) -> EvaluationView | None:
        return self.evaluations.get("dev")

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
        data["dev"] = _split_json(self.dev)
        if data["dev"] is not None:
            data["dev"].update(
                delta=self.dev_delta, delta_lower=self.dev_delta_lower,
                incumbent=self.incumbent_number,
            )  # fmt: skip
        data["holdout"] = _split_json(self.holdout)
        return data


def _split_json(evaluation: EvaluationView | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    score = evaluation.score
    return {
        "sel_at_k": score.sel_at_k if score else None,
        "ci_low": score.ci_low if score else None,
        "ci_high": score.ci_high if score else None,
        "gap_closed": score.gap_closed if score else None,
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
