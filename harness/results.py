"""Typed outcomes of an evaluation. ``to_json`` gives the ``winnow eval --json`` object.

A metric that was not measured is ``None``, never 0: a crashed or invalid evaluation keeps its
status and its reason, and its numbers stay empty.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Compute:
    """What an arm consumed per problem (means over problems), beyond seeing its k candidates."""

    executions: float = 0.0  # (candidate, test) executions asked of the probe
    reward_calls: float = 0.0  # reward-model or judge scores asked for
    generated_tokens: float = 0.0  # tokens generated on the arm's behalf
    over_budget_problems: int = 0  # problems on which the budget was exceeded


@dataclass
class ArmResult:
    sel_at_k: float | None
    ci_low: float | None
    ci_high: float | None
    gap_closed: float | None
    diff_vs_random: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    compute: Compute = field(default_factory=Compute)


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class ProblemPick:
    """One arm on one problem: its mean value over the subsets and its pick on the first."""

    task_id: str
    arm: str
    value: float
    pick: int  # sample index of the first candidate in the tied top set (first subset)
    tied: int  # size of that tied set
    correct: bool  # whether that candidate passes the hidden tests


@dataclass
class HarnessInfo:
    hash: str
    commit: str | None
    dirty: bool | None


@dataclass
class EvalResult:
    suite: str
    pool: str
    simulated: bool
    split: str
    problems: int
    n: int
    k: int
    repeats: int
    seed: int
    pass_at_1: float | None
    pass_at_k: float | None
    arms: dict[str, ArmResult]
    executions: int
    cache_hits: int
    sandbox: str
    elapsed_s: float
    harness: HarnessInfo
    valid: bool = True
    status: str = "ok"  # ok | invalid | crashed
    reason: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems_in_suite: int = 0
    picks: list[ProblemPick] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    budget: dict[str, Any] = field(default_factory=dict)

    def to_json(self, picks: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not picks:
            data.pop("picks")
        return data
