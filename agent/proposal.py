"""A proposal: a hypothesis and the full new contents of the files it changes.

Only files under ``experiments/`` may change. A proposal that touches anything else is
recorded as ``invalid`` and never committed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Protocol

from harness.results import ExperimentStatus, ModelCall

EXPERIMENTS = "experiments"


@dataclass
class Proposal:
    hypothesis: str
    files: dict[str, str]  # path relative to the repository -> full new contents
    proposer: str
    calls: list[ModelCall] = field(default_factory=list)
    trial: int | None = None  # the search proposer's trial number


class ProposalFailed(RuntimeError):
    """The proposer answered, but never with a usable proposal (after its retries)."""

    def __init__(self, reason: str, calls: list[ModelCall]):
        super().__init__(reason)
        self.calls = calls


class ProposerDown(RuntimeError):
    """The proposer's provider stayed unreachable after retries: the run ends cleanly."""

    def __init__(self, reason: str, calls: list[ModelCall]):
        super().__init__(reason)
        self.calls = calls


class NothingNew(RuntimeError):
    """The proposer can only repeat what was tried: the run is finished, not failed."""


@dataclass
class Context:
    """What a proposer is told before each step (fresh every time: no growing conversation)."""

    program: str  # program.md
    api: str  # the selector API (harness/api.py)
    files: dict[str, str]  # current files under experiments/
    baselines: dict[str, Any]  # the incumbent's dev evaluation: arms, pass@1, pass@k
    history: list[dict[str, Any]]  # recent experiments: number, status, dev, reason, hypothesis
    best: dict[str, Any] | None  # the best kept experiment so far
    failed_checks: list[str]  # failed checks of recent experiments, with evidence
    # Where the incumbent loses on the dev split (never the holdout): problems it got wrong
    # with a correct candidate in view, each candidate group's signals (agent/summary.py).
    failures: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What a proposal became: the experiment that recorded it and the decision on it."""

    number: int  # the experiment's number in the run
    status: ExperimentStatus  # kept, discarded, crashed, invalid or interrupted
    commit: str | None  # its commit on the research branch; None when it was never committed


class Proposer(Protocol):
    name: str

    def propose(self, context: Context) -> Proposal: ...

    def tell(self, proposal: Proposal, value: float | None, outcome: Outcome) -> None:
        """The dev sel@k the proposal reached (None: crashed, invalid or interrupted) and the
        experiment it became."""
        ...


def outside_experiments(paths: list[str]) -> list[str]:
    """The paths that are not plain files under ``experiments/``."""
    bad = []
    for path in paths:
        parts = PurePosixPath(path).parts
        if (
            path.startswith("/")
            or ".." in parts
            or len(parts) < 2
            or parts[0] != EXPERIMENTS
            or "\\" in path
        ):
            bad.append(path)
    return bad


def unified_diff(current: dict[str, str], proposed: dict[str, str]) -> str:
    """The diff a proposal makes, file by file (new files diff against nothing)."""
    chunks: list[str] = []
    for path in sorted(proposed):
        before = current.get(path, "").splitlines(keepends=True)
        after = proposed[path].splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    return "".join(chunks)
