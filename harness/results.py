"""The typed outcomes every layer shares: statuses, results, model calls. Imports nothing internal.

These models are the one definition of what the judge returns (``winnow eval --json`` is
``EvalResult.to_json()``), what the ledger validates and stores, and what the reports read back.
Each field's docstring says what it means. A metric that was not measured is ``None``, never 0:
a crashed or invalid evaluation keeps its status and its reason, and its numbers stay empty.

Every model is frozen: a result is assembled once, in one place (``harness/judge/evaluate.py``),
and never patched afterwards.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """A frozen, strictly validated record: unknown keys and wrong types are refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True
    )


class EvalStatus(StrEnum):
    """How an evaluation ended."""

    OK = "ok"
    INVALID = "invalid"
    CRASHED = "crashed"


class RunStatus(StrEnum):
    """A research run: ``running`` until it finishes, is stopped, or fails."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class ExperimentStatus(StrEnum):
    """One experiment of a run: ``running`` until its decision is recorded."""

    RUNNING = "running"
    KEPT = "kept"
    DISCARDED = "discarded"
    CRASHED = "crashed"
    INVALID = "invalid"
    INTERRUPTED = "interrupted"


class OutcomeStatus(StrEnum):
    """A sandboxed run of one test: ``failed`` is an assert that failed, ``error`` anything else
    (an exception, exiting before the end, a worker that died)."""

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"


class Purpose(StrEnum):
    """Who asked a model: the research agent, the pool sampler, or the reward scorer."""

    PROPOSER = "proposer"
    SAMPLER = "sampler"
    SCORER = "scorer"


class CalibrationStatus(StrEnum):
    OK = "ok"
    UNAVAILABLE = "unavailable"


class Compute(Record):
    """What an arm consumed per problem and subset (means over problems), beyond seeing its k
    candidates."""

    executions: float = 0.0
    """(candidate, test) executions asked of the probe."""
    reward_calls: float = 0.0
    """Reward-model or judge scores asked for."""
    reward_tokens: float | None = 0.0
    """Tokens those scores took; None when the scorer did not report them."""
    generated_tokens: float = 0.0
    """Tokens generated on the arm's behalf."""
    over_budget_problems: int = 0
    """Problems on which the arm asked for more than the budget."""


class ArmResult(Record):
    """One arm's sel@k over the problems of an evaluation, with its intervals."""

    sel_at_k: float | None
    """Mean over problems of the expected correctness of the arm's pick (ties: the tied set's
    mean), over the problem's k-subsets; None when the arm did not run."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval of sel@k (over problems)."""
    ci_high: float | None
    """Upper end of that interval."""
    gap_closed: float | None
    """(sel@k - pass@1) / (pass@k - pass@1); None when there is no gap or no sel@k."""
    gap_ci_low: float | None = None
    """Lower end of the 95% percentile bootstrap interval of the gap closed (each resample of
    the problems recomputes sel@k, pass@1 and pass@k together); None with no gap."""
    gap_ci_high: float | None = None
    """Upper end of that interval."""
    diff_vs_random: float | None = None
    """sel@k minus the ``random`` arm's, paired by problem."""
    diff_ci_low: float | None = None
    """Lower end of the paired 95% bootstrap interval of that difference."""
    diff_ci_high: float | None = None
    """Upper end of that interval."""
    compute: Compute = Compute()
    """What the arm consumed."""


class CheckResult(Record):
    """One rigid check and its evidence."""

    name: str
    """The check's name (``harness/judge/checks.py``)."""
    passed: bool
    """Whether the evaluation satisfied it."""
    detail: str
    """The evidence, in one line."""


class ProblemPick(Record):
    """One arm on one problem: its mean value over the subsets and its pick on the first."""

    task_id: str
    arm: str
    value: float
    """Mean correctness of the arm's picks over the problem's subsets."""
    pick: int
    """Sample index of the first candidate of the tied top set, on the first subset."""
    tied: int
    """Size of that tied set."""
    correct: bool
    """Whether that candidate passes the hidden tests."""


class ModelCall(Record):
    """One request to a language model, failed ones included, as the ledger records it."""

    purpose: Purpose
    """Who asked: the proposer, the sampler or the scorer."""
    model: str
    """The model name as it was asked for (a litellm name, or a served model's)."""
    messages: list[dict[str, Any]]
    """The chat messages sent (a text prompt is one user message)."""
    response: str | list[str] | None
    """The answer's text (several texts when one request asked for several completions);
    None when the request failed."""
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    """The call's price; None when it could not be priced (never guessed as 0)."""
    latency_s: float | None
    """Wall time of the request."""
    error: str | None = None
    """Why the request failed, in full; None when it succeeded."""
    attempts: int = 1
    """Requests made for this call, retries included."""
    task_id: str | None = None
    """The problem the call was about (sampler and scorer calls)."""
    params: dict[str, Any] = {}
    """The request's generation settings worth keeping (sampler calls)."""


class ScorerSummary(Record):
    """What the configured reward model or judge did in one evaluation."""

    kind: str
    """``judge`` or ``reward_model``."""
    model: str
    how: str
    """The judge's method setting, or the reward model's endpoint."""
    key: str
    """Hash of the scorer settings that can change a score (the cache key)."""
    scores: int
    """Candidates scored."""
    failed: int
    """Candidates left without a score (the signal is unavailable there)."""
    cached: int
    """Of the scores, how many came from the cache."""
    methods: dict[str, int]
    """Scores per method: logprobs, grade, classify..."""
    requests: int
    """Requests sent in this evaluation, retries included."""
    failed_requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    """None when no request could be priced."""
    errors: list[str] = []
    """The first few failures."""


class ProblemCalibration(Record):
    """How the scores of one problem's candidates relate to their correctness."""

    task_id: str
    n: int
    correct: int
    mean_correct: float | None
    """None when no candidate is correct."""
    mean_wrong: float | None
    """None when every candidate is correct."""
    auc: float | None
    """P(score of a correct > score of a wrong), ties half; None with one class only."""
    argmax_correct: float
    """The reward_model arm's sel@k on this problem."""
    random: float
    """The random arm's value on this problem."""


class Calibration(Record):
    """Whether the reward signal tells correct from wrong, and whether its argmax picks well.

    "Real signal, weak selector": AUC above 0.5 on most mixed problems, yet ``argmax_correct``
    no better than ``random``. "No signal": AUC indistinguishable from 0.5.
    """

    status: CalibrationStatus
    reason: str = ""
    problems: list[ProblemCalibration] = []
    mixed_problems: int = 0
    """Problems with both correct and wrong candidates."""
    correct_higher: int = 0
    """Of those, how many give correct candidates the higher mean."""
    mean_correct: float | None = None
    """Over all correct candidates."""
    mean_wrong: float | None = None
    """Over all wrong candidates."""
    auc: float | None = None
    """Mean of the per-problem AUCs (what selection needs)."""
    auc_low: float | None = None
    """Its 95% bootstrap interval over problems."""
    auc_high: float | None = None
    auc_pooled: float | None = None
    """Over all candidates at once (mixes problem difficulty)."""
    argmax_correct: float | None = None
    """The reward_model arm's sel@k."""
    random: float | None = None
    """The random arm's sel@k."""
    reading: str = ""
    """One line: what the numbers say."""


class HarnessInfo(Record):
    """The judge that produced a result: the hash of every file under ``harness/``, the git
    commit, and whether ``harness/`` had uncommitted changes (None when not in a repository)."""

    hash: str
    commit: str | None
    dirty: bool | None


class Budget(Record):
    """The compute a selector may ask of the probe, per problem and k-subset."""

    executions_per_candidate: int
    """Executions allowed on top of one run of every distinct self-test per candidate."""
    reward_calls_per_candidate: int
    generated_tokens: int


class BehaviourGroup(Record):
    """Candidates of one subset that behave alike: they pass the same self-tests and return the
    same outputs on the problem's inputs."""

    size: int
    tests_passed: float
    """Self-tests the group passes, counted as often as each was generated."""
    tests_total: float
    """Self-tests of the problem, counted the same way."""
    output_agreement: float
    """Mean share of (other candidate, input) pairs on which a member gives the same value."""
    examples_passed: int
    """Worked examples of the prompt the group gives the stated value on."""
    examples_total: int
    picked: bool
    """The selector's pick is in this group."""
    correct: int
    """Members that pass the hidden tests (how many, never which tests)."""


class FailureCase(Record):
    """A problem where a correct candidate was in the subset and the selector picked wrong: the
    error analysis a proposer is shown (never a hidden test's text)."""

    task_id: str
    entry_point: str
    lost: float
    """The oracle's value minus the selector's on this problem, over its subsets."""
    candidates: int
    """Candidates in the subset shown."""
    subset: int = 0
    """Which of the problem's subsets is shown (0: the first): the first holding a correct
    candidate on which the selector picked a wrong one."""
    groups: list[BehaviourGroup]
    """The largest groups, and always the picked one and those holding correct candidates."""


class EvalResult(Record):
    """One evaluation: a pool on a suite split, every baseline arm and, optionally, a selector
    under every rigid check. ``winnow eval --json`` prints ``to_json()``."""

    suite: str
    pool: str
    """The pool's content id."""
    simulated: bool
    """Whether the pool was made by the simulated sampler."""
    split: str
    """``all``, ``dev`` or ``holdout``."""
    problems: int
    """Problems evaluated (those of the split the pool covers)."""
    n: int
    """The smallest number of samples of a problem."""
    k: int
    """Candidates each arm chooses from."""
    repeats: int
    """k-subsets drawn per problem (one where a problem has exactly k samples)."""
    seed: int
    pass_at_1: float | None
    """Mean share of correct samples per problem."""
    pass_at_k: float | None
    """Unbiased pass@k (Chen et al. 2021), the oracle's ceiling."""
    arms: dict[str, ArmResult]
    """Every arm by name, in report order; ``selector`` when one was evaluated."""
    executions: int
    """(program, test) runs executed in this process."""
    cache_hits: int
    """Runs answered by the execution cache."""
    sandbox: str
    """The isolation level used: ``bwrap`` or ``process``."""
    elapsed_s: float
    harness: HarnessInfo
    valid: bool = True
    """False when any check failed."""
    status: EvalStatus = EvalStatus.OK
    reason: str = ""
    """Every failed check with its evidence, ``; ``-separated."""
    checks: list[CheckResult] = []
    warnings: list[str] = []
    problems_in_suite: int = 0
    """Problems of the split in the suite (the pool may cover fewer)."""
    picks: list[ProblemPick] = []
    """Per arm and problem: the value and the pick (for the ledger)."""
    calibration: Calibration | None = None
    """The reward view, when a scorer is configured."""
    budget: Budget | None = None
    """The budget in force."""
    scorer: ScorerSummary | None = None
    """What the scorer did, when one is configured."""
    llm_calls: list[ModelCall] = []
    """The scorer's requests (for the ledger)."""
    failures: list[FailureCase] = []
    """Where the selector lost: a few problems it got wrong with a correct candidate in view."""

    def to_json(self, picks: bool = False, calls: bool = False) -> dict[str, Any]:
        """The ``winnow eval --json`` object; picks and calls only when asked for."""
        exclude = {name for name, wanted in (("picks", picks), ("llm_calls", calls)) if not wanted}
        return self.model_dump(mode="json", exclude=exclude)
