"""The ledger's tables. The schema itself is created by ``ledger/migrations.py``; these classes
map onto it, and a test keeps the two in step.

Conventions: times are ISO 8601 UTC text (readable in ``sqlite3`` and datasette); structured
values are JSON text in ``*_json`` columns; a metric that was not measured is NULL, never 0.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

RUN_STATUSES = ("running", "finished", "stopped", "failed")
EXPERIMENT_STATUSES = ("running", "kept", "discarded", "crashed", "invalid", "interrupted")
FINAL_STATUSES = EXPERIMENT_STATUSES[1:]  # what finish_experiment may set ('interrupted' too)


class Migration(SQLModel, table=True):
    """One applied schema migration (the schema version is the highest number)."""

    __tablename__ = "migrations"
    number: int = Field(primary_key=True)
    name: str
    applied_at: str


class Run(SQLModel, table=True):
    """One ``winnow run``: a research branch, its directive and its config."""

    __tablename__ = "runs"
    id: int | None = Field(default=None, primary_key=True)
    tag: str
    branch: str
    config_json: str
    program_hash: str  # hash of program.md when the run started
    proposer: str
    pool_id: str | None
    simulated: bool
    status: str  # running | finished | stopped | failed
    reason: str | None = None
    started_at: str
    finished_at: str | None = None
    host: str  # the writer's host and pid: a dead writer makes 'running' stale
    pid: int
    resumes: int = 0
    sweep_path: str | None = None  # a sweep page (issue 7) the report links to


class Experiment(SQLModel, table=True):
    """One proposal: its diff (kept or not), its hypothesis and the decision on it."""

    __tablename__ = "experiments"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    number: int
    parent_commit: str
    commit_sha: str | None = None
    hypothesis: str
    diff: str
    proposer: str
    status: str  # see EXPERIMENT_STATUSES
    reason: str | None = None
    host: str
    pid: int
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    cost_usd: float | None = None
    incumbent_number: int | None = None  # the experiment it was compared with on dev
    dev_delta: float | None = None  # mean dev difference to the incumbent
    dev_delta_lower: float | None = None  # its one-sided 95% lower bound
    min_effect: float | None = None


class Evaluation(SQLModel, table=True):
    """One harness evaluation of an experiment on one split (``winnow eval --json``)."""

    __tablename__ = "evaluations"
    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiments.id")
    split: str
    arm: str  # the arm under research (the experiment's selector)
    suite: str
    pool_id: str
    simulated: bool
    problems: int
    problems_in_suite: int | None
    n: int
    k: int
    repeats: int
    seed: int
    pass_at_1: float | None
    pass_at_k: float | None
    executions: int | None
    cache_hits: int | None
    sandbox: str
    elapsed_s: float | None
    harness_hash: str
    harness_commit: str | None
    harness_dirty: bool | None
    valid: bool
    status: str
    reason: str
    warnings_json: str
    calibration_json: str | None
    budget_json: str
    raw_json: str  # the whole object but its picks and calls: nothing the harness said is lost
    recorded_at: str


class ArmScore(SQLModel, table=True):
    """One arm's sel@k in an evaluation, with its intervals and the compute it used."""

    __tablename__ = "arm_scores"
    evaluation_id: int = Field(foreign_key="evaluations.id", primary_key=True)
    arm: str = Field(primary_key=True)
    sel_at_k: float | None
    ci_low: float | None
    ci_high: float | None
    gap_closed: float | None
    diff_vs_random: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None
    executions: float | None
    reward_calls: float | None
    reward_tokens: float | None
    generated_tokens: float | None
    over_budget_problems: int | None


class Check(SQLModel, table=True):
    """One rigid check of an evaluation and its evidence."""

    __tablename__ = "checks"
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluations.id")
    position: int
    name: str
    passed: bool
    detail: str


class ProblemResult(SQLModel, table=True):
    """Which candidate an arm picked on one problem, and whether it was correct."""

    __tablename__ = "problem_results"
    evaluation_id: int = Field(foreign_key="evaluations.id", primary_key=True)
    arm: str = Field(primary_key=True)
    task_id: str = Field(primary_key=True)
    value: float  # mean correctness of the arm's picks over the subsets
    pick: int  # sample index picked on the first subset
    tied: int
    correct: bool


class LlmCall(SQLModel, table=True):
    """One call to a language model: what was asked, what came back, what it cost."""

    __tablename__ = "llm_calls"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    experiment_id: int | None = Field(default=None, foreign_key="experiments.id")
    evaluation_id: int | None = Field(default=None, foreign_key="evaluations.id")
    purpose: str  # proposer (the research agent) | sampler (pool sampling) | scorer (judge, RM)
    model: str
    messages_json: str
    response: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_s: float | None
    error: str | None
    created_at: str


class PoolRecord(SQLModel, table=True):
    """A candidate pool: where it came from and how it was sampled."""

    __tablename__ = "pools"
    id: str = Field(primary_key=True)
    suite: str
    backend: str
    model: str | None
    params_json: str
    problems: int
    samples: int
    simulated: bool
    recorded_at: str


class PoolProblem(SQLModel, table=True):
    """How many of a problem's samples pass the hidden tests (for the pass@k curve)."""

    __tablename__ = "pool_problems"
    pool_id: str = Field(foreign_key="pools.id", primary_key=True)
    task_id: str = Field(primary_key=True)
    samples: int
    correct: int
