"""Runs side by side: ``winnow report --run A --run B`` (two nights, two directives).

Each run is summarised from its own report (``summary.build_report``): its directive (the hash
of ``program.md`` when it started, and the commit it started from: the ledger keeps no more of
the directive), proposer, pool and design (k, subsets, seed), what it tried and kept, its best
selector against its start and its best baseline on dev and holdout, and what it cost. Where two
runs' best selectors were evaluated on the same problems of the same pool with the same k, subsets
and seed, they are also compared directly: the paired difference of their per-problem values,
with the bootstrap interval of ``stats.paired_difference``; otherwise the table says why not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python

from ledger.report.picks import picks_of, values_of
from ledger.report.stats import paired_difference
from ledger.report.summary import Report, build_report, running_best
from ledger.report.verdict import Delta
from ledger.store import Ledger
from ledger.views import EvaluationView

SPLITS = ("dev", "holdout")


@dataclass
class RunRow:
    """One run, as the comparison shows it."""

    tag: str
    status: str
    started_at: str
    proposer: str
    program_hash: str  # program.md when the run started
    start_commit: str | None
    pool_id: str | None
    simulated: bool
    k: int | None
    repeats: int | None
    seed: int | None
    experiments: int
    kept: int  # kept changes
    decided: int  # changes decided
    keep_rate: float | None
    best: int | None
    best_hypothesis: str
    best_values: dict[str, float | None]
    vs_start: dict[str, Delta]
    baseline: str | None
    baseline_values: dict[str, float | None]
    vs_baseline: dict[str, Delta]
    cost_usd: float
    llm_calls: int
    executions: int
    wall_seconds: float | None
    headline: str
    steps: list[tuple[float, float]]  # the running best on dev, by experiment
    holdout_steps: list[tuple[float, float]]  # the same commits on the holdout


@dataclass
class Pairing:
    """The best selector of ``a`` minus the best of ``b`` on one split, where they are paired."""

    a: str
    b: str
    split: str
    delta: Delta | None
    why_not: str = ""  # why there is no paired difference


@dataclass
class RunsComparison:
    runs: list[RunRow]
    pairs: list[Pairing] = field(default_factory=list)
    same_directive: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_jsonable_python(self)
        return data


def compare_runs(ledger: Ledger, tags: list[str]) -> RunsComparison:
    """The runs ``tags`` side by side, each against the first (see the module)."""
    reports = [build_report(ledger, tag) for tag in tags]
    comparison = RunsComparison(runs=[_row(r) for r in reports])
    comparison.same_directive = len({r.run.program_hash for r in reports}) == 1
    first = reports[0]
    with ledger.read() as session:
        for other in reports[1:]:
            for split in SPLITS:
                mine, theirs = _best_evaluation(first, split), _best_evaluation(other, split)
                pairing = Pairing(first.run.tag, other.run.tag, split, None)
                pairing.why_not = _unpaired(mine, theirs)
                if not pairing.why_not and mine is not None and theirs is not None:
                    a = values_of(picks_of(session, mine.id), mine.arm)
                    b = values_of(picks_of(session, theirs.id), theirs.arm)
                    if list(a) != list(b):
                        pairing.why_not = "not the same problems"
                    else:
                        diff = paired_difference(list(a.values()), list(b.values()), mine.seed)
                        pairing.delta = Delta(diff.estimate, diff.low, diff.high, len(a))
                comparison.pairs.append(pairing)
    return comparison


def _best_evaluation(report: Report, split: str) -> EvaluationView | None:
    best = report.experiment(report.best)
    ev = best.evaluations.get(split) if best else None
    return ev if ev is not None and ev.score is not None else None


def _unpaired(a: EvaluationView | None, b: EvaluationView | None) -> str:
    """Why two evaluations cannot be paired problem by problem ("" when they can)."""
    if a is None or b is None:
        return "no best selector with a score in both"
    design = (
        ("pool", a.pool_id, b.pool_id), ("k", a.k, b.k), ("subsets", a.repeats, b.repeats),
        ("seed", a.seed, b.seed),
    )  # fmt: skip
    for what, mine, theirs in design:
        if mine != theirs:
            return f"different {what} ({mine} and {theirs})"
    return ""


def _row(r: Report) -> RunRow:
    eval_config = r.run.config.get("run", {}).get("eval", {}) if r.run.config else {}
    dev = r.baselines.get("dev")
    best = r.experiment(r.best)
    steps, holdout = running_best(r.experiments) if r.experiments else ([], [])
    return RunRow(
        tag=r.run.tag,
        status=r.run.shown_status,
        started_at=r.run.started_at,
        proposer=r.run.proposer,
        program_hash=r.run.program_hash,
        start_commit=r.run.config.get("start_commit") if r.run.config else None,
        pool_id=r.run.pool_id,
        simulated=r.simulated,
        k=dev.k if dev else eval_config.get("k"),
        repeats=eval_config.get("repeats"),
        seed=eval_config.get("seed"),
        experiments=len(r.experiments),
        kept=r.kept,
        decided=r.decided,
        keep_rate=r.keep_rate,
        best=r.best,
        best_hypothesis=best.hypothesis if best else "",
        best_values=r.verdict.best_values,
        vs_start=r.verdict.vs_start,
        baseline=r.verdict.baseline,
        baseline_values=r.verdict.baseline_values,
        vs_baseline=r.verdict.vs_baseline,
        cost_usd=r.spend.cost_usd,
        llm_calls=r.spend.llm_calls,
        executions=r.spend.executions,
        wall_seconds=r.spend.wall_seconds,
        headline=r.verdict.headline,
        steps=steps,
        holdout_steps=holdout,
    )
