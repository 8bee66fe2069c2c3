"""The morning's first answer: did anything beat the incumbent and the best baseline, and does it
hold on the holdout split.

Every difference here is paired over the problems both evaluations scored, with the percentile
bootstrap interval of ``stats.paired_difference`` on the evaluation's own resamples: a kept
change against the incumbent it was compared with (on dev, where it was decided, and on the
holdout, which never decides), the best selector against the run's start, and against the best
baseline (the baseline arm with the highest dev sel@k; ``oracle`` is the ceiling, not a
baseline). A difference is *better* or *worse* when its interval excludes 0, else unclear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from ledger.report.picks import picks_of, values_of
from ledger.report.stats import paired_difference
from ledger.views import DECIDED, ExperimentView

SPLITS = ("dev", "holdout")
CEILING = "oracle"  # an arm that is not a baseline one could ship
RESEARCHED = "selector"


@dataclass
class Delta:
    """A paired difference (new minus old) on one split, with its 95% interval."""

    estimate: float
    low: float
    high: float
    problems: int

    @property
    def reading(self) -> str:
        """better | worse | unclear: whether the interval excludes 0."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "unclear"


@dataclass
class KeptChange:
    """A change the keep rule kept, against the incumbent it was compared with."""

    number: int
    hypothesis: str
    commit: str | None
    incumbent: int | None
    dev: Delta | None  # where it was decided
    holdout: Delta | None  # never used to decide
    p_value: float | None
    confirmed: bool | None  # the keep rule's own mark, where the ledger records one

    @property
    def holds(self) -> str:
        """What the holdout says of it: holds (better there too), refuted (worse there),
        unclear, or not measured."""
        if self.holdout is None:
            return "not measured"
        return {"better": "holds", "worse": "refuted"}.get(self.holdout.reading, "unclear")


@dataclass
class Verdict:
    best: int | None  # the incumbent at the end: the latest kept experiment
    start: int | None  # the run's starting point
    changes: list[KeptChange] = field(default_factory=list)
    vs_start: dict[str, Delta] = field(default_factory=dict)  # best minus start, by split
    baseline: str | None = None  # the best baseline on dev
    baseline_values: dict[str, float | None] = field(default_factory=dict)
    best_values: dict[str, float | None] = field(default_factory=dict)
    vs_baseline: dict[str, Delta] = field(default_factory=dict)  # best minus baseline
    beaten_by: list[str] = field(default_factory=list)  # worse than these on every split
    headline: str = ""


def build_verdict(session: Session, experiments: list[ExperimentView]) -> Verdict:
    """The verdict of a run's experiments (see the module)."""
    kept = [e for e in experiments if e.status == "kept"]
    start = next((e for e in kept if e.is_start), None)
    best = kept[-1] if kept else None
    by_number = {e.number: e for e in experiments}
    values = _Values(session)
    verdict = Verdict(best=best.number if best else None, start=start.number if start else None)
    for e in kept:
        if e.is_start:
            continue
        old = by_number.get(e.incumbent_number or -1)
        verdict.changes.append(
            KeptChange(
                number=e.number,
                hypothesis=e.hypothesis,
                commit=e.commit,
                incumbent=e.incumbent_number,
                dev=values.delta(e, old, "dev"),
                holdout=values.delta(e, old, "holdout"),
                p_value=e.decision_p,
                confirmed=_confirmed(e),
            )
        )
    if best is None:
        verdict.headline = "Nothing was kept: the run has no selector to report yet."
        return verdict
    for split in SPLITS:
        verdict.best_values[split] = best.sel_at_k(split)
        if start is not None and start is not best:
            delta = values.delta(best, start, split)
            if delta is not None:
                verdict.vs_start[split] = delta
    _against_baselines(verdict, best, values)
    decided = [e for e in experiments if not e.is_start and e.status in DECIDED]
    verdict.headline = _headline(verdict, len(decided))
    return verdict


class _Values:
    """Per-problem values of evaluations, read once each."""

    def __init__(self, session: Session):
        self.session = session
        self.cache: dict[int, dict[str, dict[str, float]]] = {}

    def of(self, e: ExperimentView, split: str, arm: str = RESEARCHED) -> dict[str, float] | None:
        ev = e.evaluations.get(split)
        if ev is None:
            return None
        if ev.id not in self.cache:
            picks = picks_of(self.session, ev.id)
            self.cache[ev.id] = {name: values_of(picks, name) for name in picks}
        found = self.cache[ev.id].get(arm)
        return found or None

    def delta(
        self, new: ExperimentView, old: ExperimentView | None, split: str, arm: str = RESEARCHED
    ) -> Delta | None:
        """``new``'s selector minus ``old``'s (or minus ``arm`` of ``new``'s own evaluation)."""
        mine = self.of(new, split)
        theirs = self.of(old, split) if old is not None else self.of(new, split, arm)
        ev = new.evaluations.get(split)
        if mine is None or theirs is None or ev is None:
            return None
        tasks = [task for task in mine if task in theirs]
        if not tasks:
            return None
        diff = paired_difference([mine[t] for t in tasks], [theirs[t] for t in tasks], ev.seed)
        return Delta(diff.estimate, diff.low, diff.high, len(tasks))


def _against_baselines(verdict: Verdict, best: ExperimentView, values: _Values) -> None:
    dev = best.dev
    if dev is None:
        return
    candidates = {
        name: arm.sel_at_k
        for name, arm in dev.arms.items()
        if name not in (RESEARCHED, CEILING) and arm.sel_at_k is not None
    }
    if not candidates:
        return
    verdict.baseline = max(candidates, key=lambda name: (candidates[name], name))
    worse_than: dict[str, int] = {}
    measured = 0
    for split in SPLITS:
        ev = best.evaluations.get(split)
        if ev is None or ev.score is None:
            continue
        measured += 1
        arm = ev.arms.get(verdict.baseline)
        verdict.baseline_values[split] = arm.sel_at_k if arm else None
        for name in ev.arms:
            if name in (RESEARCHED, CEILING):
                continue
            delta = values.delta(best, None, split, name)
            if delta is None:
                continue
            if name == verdict.baseline:
                verdict.vs_baseline[split] = delta
            if delta.reading == "worse":
                worse_than[name] = worse_than.get(name, 0) + 1
    verdict.beaten_by = sorted(name for name, n in worse_than.items() if n == measured)


def _confirmed(e: ExperimentView) -> bool | None:
    mark = getattr(e, "confirmed", None)  # the keep rule's mark, where the ledger records it
    return mark if isinstance(mark, bool) else None


def _headline(v: Verdict, decided: int) -> str:
    """One or two sentences: the best against the start, then against the best baseline."""
    kept = len(v.changes)
    if kept == 0:
        first = f"Nothing beat the start (#{v.start}): 0 of {decided} changes kept."
    else:
        first = f"#{v.best} is the best ({kept} of {decided} changes kept)"
        dev, holdout = v.vs_start.get("dev"), v.vs_start.get("holdout")
        if dev is not None:
            first += f": {_signed(dev)} on dev against the start (#{v.start})"
            if holdout is None:
                first += "; not measured on the holdout."
            else:
                says = {"better": "holds", "worse": "is reversed", "unclear": "is unclear"}
                first += (
                    f", and the gain {says[holdout.reading]} on the holdout ({_signed(holdout)})."
                )
        else:
            first += "."
    if v.baseline is None:
        return first
    readings = {split: d.reading for split, d in v.vs_baseline.items()}
    against = f"Against the best baseline, {v.baseline}"
    if readings and all(r == "better" for r in readings.values()):
        second = f"{against}: better on {' and '.join(readings)}."
    elif readings and all(r == "worse" for r in readings.values()):
        second = f"{against}: worse on {' and '.join(readings)}."
    else:
        shown = ", ".join(f"{split} {_signed(d)}" for split, d in v.vs_baseline.items())
        second = f"{against}: no clear difference ({shown})."
    others = [name for name in v.beaten_by if name != v.baseline]
    if others:
        second += f" Also better than it on every split: {', '.join(others)}."
    return f"{first} {second}"


def _signed(d: Delta) -> str:
    return f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
