"""The loop's side of the ledger: its experiments' records (one running at a time), whether a
budget is spent, the summary a run ends with, and the state a resumed run continues from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.branch import ResearchBranch, unmark_start
from agent.run import RunSpec, RunSummary
from agent.runstart import replay_tests
from harness.config import RunConfig
from harness.judge.significance import OnlineFdr
from harness.results import ModelCall
from ledger.store import Ledger
from ledger.views import RunView


class Records:
    """The experiments of one run as the ledger holds them. Until a started experiment is
    finished, a Stop marks it interrupted and moves the branch back to its parent."""

    def __init__(self, ledger: Ledger, run_id: int, branch: ResearchBranch):
        self.ledger, self.run_id, self.branch = ledger, run_id, branch
        self.running: tuple[int, int, str] | None = None  # (id, number, parent commit)
        self.unpriced: str | None = None  # a model whose calls cannot be priced

    def start(
        self,
        number: int,
        parent: str,
        hypothesis: str,
        diff: str,
        proposer: str,
        directive: tuple[str, str] | None,
    ) -> int:
        exp = self.ledger.start_experiment(
            self.run_id, number, parent, hypothesis, diff, proposer, directive
        )
        self.running = (exp, number, parent)
        return exp

    def finish(self, exp: int, *args: Any, **kwargs: Any) -> None:
        self.ledger.finish_experiment(exp, *args, **kwargs)
        self.running = None

    def interrupt(self, reason: str = "stopped while running") -> None:
        """After a Stop (or a broken sandbox): finish the running experiment with its commit,
        if it got as far as one (kept under refs/winnow/<tag>/<number>); the branch back."""
        if self.running is None:
            return
        exp, number, parent = self.running
        self.finish(exp, "interrupted", reason, self.branch.kept_ref(number), None)
        self.branch.reset(parent)

    def calls(self, calls: list[ModelCall], exp: int | None) -> None:
        for call in calls:
            if call.cost_usd is None and call.error is None:
                self.unpriced = call.model
            self.ledger.record_call(self.run_id, exp, call)


def spent_budget(
    spec: RunSpec,
    ledger: Ledger,
    run_id: int,
    elapsed_s: float,
    unpriced: str | None,
    failures: int,
) -> str | None:
    """Why the run stops now, or None. Budgets count finished experiments (an interrupted one
    is not one)."""
    done = len([e for e in ledger.experiments(run_id) if e.status != "interrupted"])
    if spec.max_experiments is not None and done >= spec.max_experiments:
        return f"--max-experiments {spec.max_experiments} reached"
    if spec.max_hours is not None and elapsed_s >= spec.max_hours * 3600:
        return f"--max-hours {spec.max_hours} reached"
    if spec.max_cost is not None and unpriced is not None:
        return (
            f"--max-cost is set but calls to {unpriced} have no known price: "
            "set [proposer] input_usd_per_mtok and output_usd_per_mtok"
        )
    if spec.max_cost is not None and ledger.spent(run_id) >= spec.max_cost:
        return f"--max-cost {spec.max_cost} reached (spent {ledger.spent(run_id):.4f})"
    if failures >= spec.max_failures:
        return f"{failures} consecutive crashed or invalid experiments"
    return None


def summary(ledger: Ledger, run_id: int, tag: str, status: str, reason: str) -> RunSummary:
    views = ledger.experiments(run_id)
    counts: dict[str, int] = {}
    for e in views:
        counts[e.status] = counts.get(e.status, 0) + 1
    scores = [
        e.dev.score.sel_at_k
        for e in views
        if e.status == "kept" and e.dev and e.dev.score and e.dev.score.sel_at_k is not None
    ]
    best = max(scores) if scores else None
    return RunSummary(tag, status, reason, len(views), counts.get("kept", 0), best, counts)


@dataclass
class Resumed:
    fdr: OnlineFdr  # the run's error control, rebuilt from the tests recorded
    interrupted: list[int]  # experiments found running, now marked interrupted
    commit: str  # the last kept commit, the branch reset to it
    seen: dict[str, tuple[int, str, float | None]]  # experiments/ tree -> (n, status, dev)


def resume(
    ledger: Ledger, run: RunView, config: RunConfig, branch: ResearchBranch, home: Path
) -> Resumed:
    """Continue a run: its tests replayed (refused, untouched, when they do not follow the
    procedure), running experiments marked interrupted, the branch back at the last kept
    commit, and every finished experiment's files known, so none is evaluated twice."""
    fdr = replay_tests(ledger, run.id, config, run.tag)
    interrupted = ledger.recover(run.id)
    unmark_start(home, run.tag)
    kept = [e for e in ledger.experiments(run.id) if e.status == "kept" and e.commit]
    commit = kept[-1].commit if kept else run.config["start_commit"]
    assert commit is not None
    branch.reset(commit)  # also when at it: a killed commit may have left files
    seen: dict[str, tuple[int, str, float | None]] = {}
    for e in ledger.experiments(run.id):
        if e.commit and e.status in ("kept", "discarded", "invalid", "crashed"):
            score = e.dev.score if e.dev is not None else None
            dev = score.sel_at_k if score is not None else None
            seen[branch.experiments_hash(e.commit)] = (e.number, e.status, dev)
    return Resumed(fdr, interrupted, commit, seen)
