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
    reward_tokens: float | None = 0.0  # tokens those scores took; None: the scorer reported none
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
class ScorerCall:
    """One request to a scorer, as the ledger's ``llm_calls`` table records it."""

    model: str
    messages: list[dict[str, Any]]
    response: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None  # None when it could not be priced (every self-served model)
    latency_s: float
    error: str | None = None


@dataclass
class ScorerSummary:
    """What the configured reward model or judge did in one evaluation."""

    kind: str  # judge | reward_model
    model: str
    how: str  # the judge's method setting, or the reward model's endpoint
    key: str  # hash of the scorer config that can change a score (the cache key)
    scores: int  # candidates scored
    failed: int  # candidates left without a score (the signal is unavailable there)
    cached: int  # of the scores, how many came from the cache
    methods: dict[str, int]  # scores per method: logprobs, grade, classify, ...
    requests: int  # requests sent in this evaluation, retries included
    failed_requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None when no request could be priced
    errors: list[str] = field(default_factory=list)  # the first few failures


@dataclass
class ProblemCalibration:
    """How the scores of one problem's candidates relate to their correctness."""

    task_id: str
    n: int
    correct: int
    mean_correct: float | None  # None when no candidate is correct
    mean_wrong: float | None  # None when every candidate is correct
    auc: float | None  # P(score of a correct > score of a wrong), ties half; None if one class
    argmax_correct: float  # the reward_model arm's sel@k on this problem
    random: float  # the random arm's value on this problem


@dataclass
class Calibration:
    """Whether the reward signal tells correct from wrong, and whether its argmax picks well.

    "Real signal, weak selector": AUC above 0.5 on most mixed problems, yet ``argmax_correct``
    no better than ``random``. "No signal": AUC indistinguishable from 0.5.
    """

    status: str  # ok | unavailable
    reason: str = ""
    problems: list[ProblemCalibration] = field(default_factory=list)
    mixed_problems: int = 0  # problems with both correct and wrong candidates
    correct_higher: int = 0  # of those, how many give correct candidates the higher mean
    mean_correct: float | None = None  # over all correct candidates
    mean_wrong: float | None = None  # over all wrong candidates
    auc: float | None = None  # mean of the per-problem AUCs (what selection needs)
    auc_low: float | None = None  # its 95% bootstrap interval over problems
    auc_high: float | None = None
    auc_pooled: float | None = None  # over all candidates at once (mixes problem difficulty)
    argmax_correct: float | None = None  # reward_model arm's sel@k
    random: float | None = None  # random arm's sel@k
    reading: str = ""  # one line: what the numbers say


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
    calibration: Calibration | None = None  # when a scorer is configured
    budget: dict[str, Any] = field(default_factory=dict)
    scorer: ScorerSummary | None = None  # when a scorer is configured
    llm_calls: list[ScorerCall] = field(default_factory=list)  # the scorer's requests

    def to_json(self, picks: bool = False, calls: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not picks:
            data.pop("picks")
        if not calls:
            data.pop("llm_calls")
        return data
