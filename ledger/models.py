"""The ledger's tables. The schema itself is created by ``ledger/migrations.py``; these classes
and tables map onto it, and tests keep the two in step.

The tables that mirror a typed result are derived from it (``ledger/columns.py``): an arm's
scores from ``ArmResult``, a check from ``CheckResult``, a pick from ``ProblemPick``, and the
evaluation's own columns from ``EvalResult``. Statuses are the enums of ``harness/results.py``;
the migrations' CHECK constraints list their values.

Conventions: times are ISO 8601 UTC text (readable in ``sqlite3`` and datasette); structured
values are JSON text in ``*_json`` columns; a metric that was not measured is NULL, never 0.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table
from sqlmodel import Field, SQLModel

from harness.results import ArmResult, CheckResult, EvalResult, ProblemPick
from ledger.columns import ResultColumns


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
    status: str  # a RunStatus
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
    status: str  # an ExperimentStatus
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
    dev_p_value: float | None = None  # 1 / the betting e-value; NULL when not tested
    dev_level: float | None = None  # the level the run's procedure held it to
    holdout_delta: float | None = None  # a kept change minus the run's start, on holdout
    holdout_delta_low: float | None = None  # its 95% paired bootstrap interval
    holdout_delta_high: float | None = None
    directive_hash: str | None = Field(default=None, foreign_key="directives.hash")


class Directive(SQLModel, table=True):
    """A version of the research directive (``program.md``), kept once by its hash."""

    __tablename__ = "directives"
    hash: str = Field(primary_key=True)
    text: str
    recorded_at: str


class Evaluation(SQLModel, table=True):
    """One harness evaluation of an experiment on one split (``winnow eval --json``).

    Its result columns are ``EVALUATION_COLUMNS`` (rows are built from them); the others are
    the ledger's own: which experiment, which arm is researched, JSON columns, the raw object.
    """

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
    status: str  # an EvalStatus
    reason: str
    warnings_json: str
    calibration_json: str | None
    budget_json: str
    raw_json: str  # the whole object but its picks and calls: nothing the harness said is lost
    recorded_at: str


EVALUATION_COLUMNS = ResultColumns(
    EvalResult,
    nested={"harness": "harness_"},
    renamed={"pool": "pool_id"},
    elsewhere=frozenset(
        {
            "arms",  # ARM_SCORES
            "checks",  # CHECKS
            "picks",  # PROBLEM_RESULTS
            "llm_calls",  # llm_calls, purpose 'scorer'
            "failures",  # raw_json: the proposer's error analysis, not a metric
            "warnings",  # warnings_json
            "calibration",  # calibration_json
            "budget",  # budget_json
            "scorer",  # raw_json only
        }
    ),
)
"""The columns of ``evaluations`` that hold an ``EvalResult``'s own fields."""

ARM_COLUMNS = ResultColumns(ArmResult, nested={"compute": ""})
CHECK_COLUMNS = ResultColumns(CheckResult)
PICK_COLUMNS = ResultColumns(ProblemPick)

ARM_SCORES = Table(
    "arm_scores",
    SQLModel.metadata,
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), primary_key=True),
    Column("arm", String, primary_key=True),
    *ARM_COLUMNS.columns(),
)
"""Each arm's ``ArmResult`` in an evaluation, by arm name."""

CHECKS = Table(
    "checks",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True),
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
    Column("position", Integer, nullable=False),
    *CHECK_COLUMNS.columns(),
)
"""Each rigid check of an evaluation (a ``CheckResult``) and its place in the list."""

PROBLEM_RESULTS = Table(
    "problem_results",
    SQLModel.metadata,
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
    Column("position", Integer, nullable=False),  # the harness's problem order
    *PICK_COLUMNS.columns(),
    PrimaryKeyConstraint("evaluation_id", "arm", "task_id"),
)
"""Which candidate each arm picked on each problem, and whether it was correct
(a ``ProblemPick``)."""


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
    """How many of a problem's samples pass the hidden tests of a suite (for the pass@k curve):
    one pool may be judged under several suites (official and blind prompts, say)."""

    __tablename__ = "pool_problems"
    pool_id: str = Field(foreign_key="pools.id", primary_key=True)
    suite: str = Field(primary_key=True)
    task_id: str = Field(primary_key=True)
    samples: int
    correct: int
