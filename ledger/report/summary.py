"""The morning review's data: what ``winnow report`` shows, as one typed, JSON-able object.

Built from one read snapshot of the ledger, in the order a researcher asks: the verdict (did a
kept change beat the incumbent and the best baseline, does it hold on the holdout:
``verdict.py``), what was tried, what it cost, and where selection still loses
(``losses.py``). Nothing here is estimated that was not measured: the best selector is
compared with each baseline on the per-problem values the harness recorded for both (paired
bootstrap, on the evaluation's own resamples); the pool's pass@k curve is drawn only from
recorded per-problem counts; a missing value stays None.

The keep rate counts changes: the run's starting point (kept without being compared with
anything) is neither a change nor a keep.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy
from pydantic_core import to_jsonable_python
from sqlalchemy import case
from sqlmodel import Session, col, func, select

from harness.results import ArmResult, ExperimentStatus
from ledger.database import utc_now
from ledger.models import PROBLEM_RESULTS, LlmCall, PoolProblem, PoolRecord, Run
from ledger.report.losses import SplitLosses, build_losses
from ledger.report.picks import picks_of, values_of
from ledger.report.stats import curve_ks, paired_difference, pass_at_k
from ledger.report.verdict import Verdict, build_verdict
from ledger.store import Ledger
from ledger.views import DECIDED, ExperimentView, RunView, experiment_views, run_view

SPLITS = ("dev", "holdout")


@dataclass
class Baselines:
    """The baseline arms of one split, as measured in one experiment's evaluation."""

    split: str
    experiment: int  # the experiment whose evaluation measured them
    k: int
    problems: int
    pass_at_1: float | None
    pass_at_k: float | None
    arms: dict[str, ArmResult]


@dataclass
class Comparison:
    """The best selector minus one baseline on one split (paired over problems)."""

    split: str
    baseline: str
    selector: float | None
    baseline_value: float | None
    difference: float | None
    low: float | None
    high: float | None
    problems: int


@dataclass
class FailedCheck:
    experiment: int
    split: str
    name: str
    detail: str


@dataclass
class Spend:
    llm_calls: int
    llm_errors: int
    unpriced_calls: int  # calls whose cost is unknown (not counted in cost_usd)
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    evaluations: int
    executions: int  # run in the sandbox
    cache_hits: int  # answered by the execution cache instead
    evaluation_seconds: float
    experiment_seconds: float
    wall_seconds: float | None


@dataclass
class RunLine:
    """One run of the ledger, beside the others (several loops write one ledger)."""

    tag: str
    branch: str
    status: str  # as shown: "running (stale)" when its writer is gone
    host: str
    started_at: str
    experiments: int
    kept: int
    best: int | None  # its latest kept experiment
    best_dev: float | None  # that experiment's dev sel@k


@dataclass
class Report:
    run: RunView
    pool: dict[str, Any] | None
    experiments: list[ExperimentView]
    best: int | None  # number of the incumbent: the latest kept experiment
    baselines: dict[str, Baselines]
    comparisons: list[Comparison]
    kept: int  # kept changes (the starting point is not one)
    decided: int  # changes decided: kept, discarded, crashed or invalid
    statuses: dict[str, int]
    verdict: Verdict
    losses: dict[str, SplitLosses]
    failed_checks: list[FailedCheck]
    failed_check_counts: dict[str, int]
    spend: Spend
    confirmed: int = 0  # kept changes whose holdout interval against the start is above 0
    holdout_looks: int = 0  # evaluations of the holdout split in the run (each one a look)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    runs: list[RunLine] = field(default_factory=list)  # every run of the ledger, oldest first
    generated_at: str = ""

    @property
    def keep_rate(self) -> float | None:
        return self.kept / self.decided if self.decided else None

    @property
    def simulated(self) -> bool:
        evaluated = any(e.simulated for x in self.experiments for e in x.evaluations.values())
        return self.run.simulated or bool(self.pool and self.pool["simulated"]) or evaluated

    def comparison(self, split: str, baseline: str) -> Comparison | None:
        return next(
            (c for c in self.comparisons if c.split == split and c.baseline == baseline), None
        )

    def experiment(self, number: int | None) -> ExperimentView | None:
        return next((e for e in self.experiments if e.number == number), None)

    @property
    def directive_changes(self) -> list[tuple[int, str]]:
        """(experiment, directive hash) where program.md differed from the experiment before's
        (older rows, without a hash, are skipped)."""
        changes, last = [], None
        for e in self.experiments:
            if e.directive_hash is None:
                continue
            if last is not None and e.directive_hash != last:
                changes.append((e.number, e.directive_hash))
            last = e.directive_hash
        return changes

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable_python(self)
        data["run"] = self.run.to_json()
        data["experiments"] = [e.to_json() for e in self.experiments]
        data["keep_rate"] = self.keep_rate
        data["simulated"] = self.simulated
        data["directive_changes"] = self.directive_changes
        return data


def build_report(ledger: Ledger, tag: str | None) -> Report:
    """The report of run ``tag`` (the latest run when None), from one consistent snapshot."""
    with ledger.read() as session:
        run = run_view(session, tag, ledger.shown)
        experiments = experiment_views(session, run.id, None)
        best = _best(experiments)
        baselines = _baselines(experiments, best)
        statuses = Counter(e.shown_status for e in experiments)
        changes = Counter(e.shown_status for e in experiments if not e.is_start)
        failed = [
            FailedCheck(e.number, split, c.name, c.detail)
            for e in experiments
            for split, ev in e.evaluations.items()
            for c in ev.checks
            if not c.passed
        ]
        return Report(
            run=run,
            pool=_pool(session, run.pool_id),
            experiments=experiments,
            best=best.number if best else None,
            baselines=baselines,
            comparisons=_comparisons(session, best) if best else [],
            kept=changes[ExperimentStatus.KEPT],
            decided=sum(changes[s] for s in DECIDED),
            statuses=dict(statuses),
            verdict=build_verdict(session, experiments),
            losses=build_losses(session, best),
            failed_checks=failed,
            failed_check_counts=dict(Counter(f.name for f in failed)),
            spend=_spend(session, run, experiments),
            confirmed=sum(bool(e.confirmed) for e in experiments),
            holdout_looks=sum("holdout" in e.evaluations for e in experiments),
            curves=_curves(session, run.pool_id, experiments, best),
            runs=_runs(session, ledger.shown),
            generated_at=utc_now(),
        )


def _runs(session: Session, where: str) -> list[RunLine]:
    lines = []
    for tag in session.exec(select(Run.tag).order_by(col(Run.id))).all():
        run = run_view(session, tag, where)
        experiments = experiment_views(session, run.id, None)
        best = _best(experiments)
        lines.append(
            RunLine(
                run.tag,
                run.branch,
                run.shown_status,
                run.host,
                run.started_at,
                len(experiments),
                sum(e.status == ExperimentStatus.KEPT for e in experiments),
                best.number if best else None,
                best.sel_at_k("dev") if best else None,
            )
        )
    return lines


def _best(experiments: list[ExperimentView]) -> ExperimentView | None:
    kept = [e for e in experiments if e.status == ExperimentStatus.KEPT]
    return kept[-1] if kept else None


def _baselines(
    experiments: list[ExperimentView], best: ExperimentView | None
) -> dict[str, Baselines]:
    """Per split: the baselines of the best experiment's evaluation, else the latest one."""
    found: dict[str, Baselines] = {}
    ordered = ([best] if best else []) + experiments[::-1]
    for split in SPLITS:
        for exp in ordered:
            ev = exp.evaluations.get(split)
            if ev is None or not ev.arms:
                continue
            arms = {name: arm for name, arm in ev.arms.items() if name != ev.arm}
            found[split] = Baselines(
                split, exp.number, ev.k, ev.problems, ev.pass_at_1, ev.pass_at_k, arms
            )
            break
    return found


def _comparisons(session: Session, best: ExperimentView) -> list[Comparison]:
    rows = []
    for split in SPLITS:
        ev = best.evaluations.get(split)
        if ev is None or ev.score is None:
            continue
        # In the harness's problem order, which its bootstrap resamples index (so the
        # intervals here are the evaluation's own).
        picks = picks_of(session, ev.id)
        mine = values_of(picks, ev.arm)
        for name, arm in ev.arms.items():
            if name == ev.arm:
                continue
            theirs = values_of(picks, name)
            tasks = [task for task in mine if task in theirs]
            diff = None
            if tasks and len(tasks) == len(mine) == len(theirs):
                diff = paired_difference(
                    [mine[t] for t in tasks], [theirs[t] for t in tasks], ev.seed
                )
            rows.append(
                Comparison(
                    split=split,
                    baseline=name,
                    selector=ev.score.sel_at_k,
                    baseline_value=arm.sel_at_k,
                    difference=diff.estimate if diff else None,
                    low=diff.low if diff else None,
                    high=diff.high if diff else None,
                    problems=len(tasks),
                )
            )
    return rows


def _pool(session: Session, pool_id: str | None) -> dict[str, Any] | None:
    record = session.get(PoolRecord, pool_id) if pool_id else None
    if record is None:
        return None
    data = record.model_dump()
    data["params"] = json.loads(data.pop("params_json"))
    return data


def _curves(
    session: Session,
    pool_id: str | None,
    experiments: list[ExperimentView],
    best: ExperimentView | None,
) -> dict[str, list[tuple[int, float]]]:
    """pass@k against k over each split's evaluated problems, from recorded pool counts."""
    reference = best or next((e for e in reversed(experiments) if e.evaluations), None)
    if pool_id is None or reference is None:
        return {}
    curves = {}
    for split in SPLITS:
        ev = reference.evaluations.get(split)
        if ev is None or ev.pool_id != pool_id:
            continue
        counts = {
            row.task_id: (row.samples, row.correct)
            for row in session.exec(
                select(PoolProblem).where(
                    PoolProblem.pool_id == pool_id, PoolProblem.suite == ev.suite
                )
            )
        }
        picks = PROBLEM_RESULTS.c
        query = sqlalchemy.select(picks.task_id).where(picks.evaluation_id == ev.id).distinct()
        tasks = set(session.execute(query).scalars())
        if not tasks or not tasks <= set(counts):
            continue  # counts not recorded for every problem: no curve rather than a guess
        pairs = [counts[t] for t in sorted(tasks)]
        top = min(n for n, _ in pairs)
        curves[split] = [(k, pass_at_k(pairs, k)) for k in curve_ks(top)]
    return curves


def _spend(session: Session, run: RunView, experiments: list[ExperimentView]) -> Spend:
    # sqlalchemy's select: sqlmodel's typed one takes at most four columns.
    calls = session.execute(
        sqlalchemy.select(
            func.count(col(LlmCall.id)),
            func.count(col(LlmCall.error)),
            func.sum(case((col(LlmCall.cost_usd).is_(None), 1), else_=0)),
            func.coalesce(func.sum(LlmCall.prompt_tokens), 0),
            func.coalesce(func.sum(LlmCall.completion_tokens), 0),
            func.coalesce(func.sum(LlmCall.cost_usd), 0.0),
        ).where(col(LlmCall.run_id) == run.id)
    ).one()
    evaluations = [ev for e in experiments for ev in e.evaluations.values()]
    wall = None
    if run.finished_at:
        wall = (
            datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(run.started_at)
        ).total_seconds()
    return Spend(
        llm_calls=int(calls[0]),
        llm_errors=int(calls[1]),
        unpriced_calls=int(calls[2] or 0),
        prompt_tokens=int(calls[3]),
        completion_tokens=int(calls[4]),
        cost_usd=float(calls[5]),
        evaluations=len(evaluations),
        executions=sum(ev.executions or 0 for ev in evaluations),
        cache_hits=sum(ev.cache_hits or 0 for ev in evaluations),
        evaluation_seconds=sum(ev.elapsed_s or 0.0 for ev in evaluations),
        experiment_seconds=sum(e.duration_s or 0.0 for e in experiments),
        wall_seconds=wall,
    )


def running_best(
    exps: list[ExperimentView],
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The incumbent's dev sel@k after each kept experiment, and the same commits' holdout."""
    steps: list[tuple[float, float]] = []
    holdout: list[tuple[float, float]] = []
    for e in exps:
        if e.status != ExperimentStatus.KEPT:
            continue
        if (dev := e.sel_at_k("dev")) is not None:
            steps.append((e.number, dev))
        if (held := e.sel_at_k("holdout")) is not None:
            holdout.append((e.number, held))
    last = exps[-1].number
    for line in (steps, holdout):
        if line and line[-1][0] < last:
            line.append((last, line[-1][1]))
    return steps, holdout
