"""What evaluations in one process share: the sandbox, the caches, the executor, the scorer,
and every pool already judged.

A pool is judged (labelled on the hidden tests, run on its self-tests and its inputs) once per
split and kept: every later evaluation of it in the process — each experiment of a ``winnow
run`` — starts from the same immutable :class:`JudgedPool` and pays only for its own arms and
checks. The runs behind it are also kept on disk (``cache/judged/``), keyed by everything that
can change them, so a later process reads them at once instead of asking the execution cache
for each of a million pairs.
The execution settings and the sandbox belong to the session, so a judged pool can never be
reused under other ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.config import RunConfig
from harness.data.pools import Pool, import_pool, load_pool
from harness.data.suites import Suite, load_suite
from harness.errors import InputError
from harness.execution.cache import EXEC_VERSION, open_cache
from harness.execution.executor import Executor
from harness.execution.sandbox import Sandbox
from harness.home import cache_dir
from harness.judge.arms import arms_for
from harness.judge.design import Design, check_design, design
from harness.judge.integrity import harness_hash
from harness.judge.problems import JudgedPool, Progress, check_split, judge_pool, ticker
from harness.judge.runners import ArmRun, run_arm
from harness.reward.scorer import Scorer, score_problems


@dataclass(frozen=True)
class EvalSpec:
    """What to evaluate: a serialisable recipe (the budget and limits are in RunConfig)."""

    suite: str = "humaneval"
    samples: Path | None = None  # samples.jsonl to import ...
    self_tests: Path | None = None
    pool: str | None = None  # ... or a pool id in the cache, or a directory
    selector: Path | None = None
    split: str = "all"
    labels_out: Path | None = None

    @property
    def source(self) -> str:
        """Where the pool comes from, for messages."""
        return str(self.samples or self.pool)


class Session:
    """The sandbox, the caches, the executor and the scorer, shared by evaluations in a process.

    ``scorer.calls`` holds the scorer's requests until an evaluation takes them into its result.
    """

    def __init__(self, config: RunConfig, cache: Path | None = None):
        self.config = config
        self.cache_path = cache or cache_dir()
        self.cache = open_cache(self.cache_path, "exec")
        try:
            # This machine's sandbox: the selector runs at its level, and so do the jobs unless
            # [exec] sends them to a Ray cluster.
            self.sandbox = Sandbox(config.sandbox)
            try:
                self.runner = config.exec.runner(self.sandbox)
            except BaseException:
                self.sandbox.close()
                raise
        except BaseException:
            self.cache.close()
            raise
        self.executor = Executor(self.runner, self.cache, config.exec.settings())
        self.scorer = Scorer(config.scorer, self.cache_path) if config.scorer else None
        self._suites: dict[str, Suite] = {}
        self._pools: dict[str, Pool] = {}  # by cache id: content-addressed, never stale
        self._judged: dict[tuple[str, str, str, int], JudgedPool] = {}
        self._digests: dict[Path, str] = {}
        self._designs: dict[tuple[object, ...], Design] = {}
        self._baselines: dict[int, tuple[Design, dict[str, ArmRun]]] = {}

    def configure(self, config: RunConfig) -> None:
        """Use ``config`` from now on; a changed scorer is rebuilt (same sandbox and caches).

        The sandbox and the execution settings belong to the session: a config that changes
        them needs a new session."""
        if (config.sandbox, config.exec) != (self.config.sandbox, self.config.exec):
            raise ValueError("a session's sandbox and execution settings cannot change")
        if config.scorer != self.config.scorer:
            if self.scorer is not None:
                self.scorer.close()
            self.scorer = Scorer(config.scorer, self.cache_path) if config.scorer else None
        self.config = config

    def run_tests(self, program: str, tests: list[str]) -> list[bool]:
        return [o.passed for o in self.executor.self_test([(program, tests)])[0]]

    def suite(self, spec: str) -> Suite:
        if spec not in self._suites:
            self._suites[spec] = load_suite(spec)
        return self._suites[spec]

    def pool(self, spec: EvalSpec, suite: Suite) -> Pool:
        """The pool of ``spec``: a cached pool by id is read once per session."""
        if spec.pool is not None:
            if spec.pool in self._pools:
                return self._pools[spec.pool]
            pool = load_pool(spec.pool, suite, self.cache_path)
            if pool.id == spec.pool:
                self._pools[pool.id] = pool
            return pool
        if spec.samples is None:
            raise InputError("give --samples (a samples.jsonl) or --pool (a pool id or directory)")
        return import_pool(spec.samples, suite, spec.self_tests, cache=self.cache_path)

    def judged(self, spec: EvalSpec, progress: Progress | None = None) -> JudgedPool:
        """The pool of ``spec`` judged on its split: built once per session, then reused."""
        check_split(spec.split)
        suite = self.suite(spec.suite)
        pool = self.pool(spec, suite)
        inputs = self.config.budget.inputs_per_problem
        key = (str(suite.path), pool.id, spec.split, inputs)
        if key not in self._judged:
            k = self.config.eval.k
            for task in suite.select(spec.split):  # type: ignore[arg-type]
                n = len(pool.samples.get(task.task_id, ()))
                if k is not None and 0 < n < k:  # before minutes of labelling
                    where = spec.source
                    raise InputError(
                        f"k={k} is larger than the pool: {task.task_id} has {n}", where
                    )
            self._judged[key] = judge_pool(
                suite,
                pool,
                spec.split,
                self.executor,
                spec.source,
                inputs,
                progress,
                memo=self.memo(suite, pool, spec.split),
            )
        return self._judged[key]

    def memo(self, suite: Suite, pool: Pool, split: str) -> Path:
        """Where the runs of a judged pool are kept between processes: keyed by everything that
        can change them (the judge's code, the suite's text, the pool, the split, the inputs
        allowance, the execution settings and the sandbox level, the cache's version)."""
        if suite.path not in self._digests:
            self._digests[suite.path] = hashlib.sha256(suite.path.read_bytes()).hexdigest()
        settings = self.executor.settings
        parts = [
            "judged-v1",
            EXEC_VERSION,
            harness_hash(),
            self._digests[suite.path],
            pool.id,
            split,
            self.config.budget.inputs_per_problem,
            [settings.hidden_timeout, settings.test_timeout, settings.setup_timeout],
            self.config.sandbox.memory_mb,
            self.executor.level,
        ]
        key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]
        return self.cache_path / "judged" / f"{key}.json.gz"

    def scored(self, spec: EvalSpec, progress: Progress | None = None) -> JudgedPool:
        """The judged pool with this evaluation's reward scores, when a scorer is configured
        (scored afresh each time, through the reward cache: the scorer may have changed)."""
        judged = self.judged(spec, progress)
        if self.scorer is None:
            return judged
        problems = [
            (p.task.problem, p.candidates, [s.index for s in p.samples]) for p in judged.problems
        ]
        tick = ticker(progress, "reward scores", sum(p.n for p in judged.problems))
        return judged.with_rewards(score_problems(self.scorer, problems, tick))

    def design(self, spec: EvalSpec, progress: Progress | None = None) -> Design:
        """The paired design of one evaluation: the scored pool and its subsets at the
        configured k."""
        settings = self.config.eval
        check_design(settings.k, settings.repeats, settings.seed)
        scored = self.scored(spec, progress)
        if self.scorer is not None:  # this evaluation's scores: nothing to reuse
            return design(scored, settings.k, settings.repeats, settings.seed, spec.source)
        key = (id(scored), settings.k, settings.repeats, settings.seed)
        if key not in self._designs:
            made = design(scored, settings.k, settings.repeats, settings.seed, spec.source)
            self._designs[key] = made
        return self._designs[key]

    def baselines(self, design: Design) -> dict[str, ArmRun]:
        """Every baseline arm whose signals the design has (see ``arms.arms_for``), run once per
        design: they do not depend on the selector under evaluation."""
        if id(design) not in self._baselines:
            available = set()
            if design.judged.pool.has_logprobs():
                available.add("logprob")
            if self.scorer is not None:
                available.add("reward_model")
            runs = {arm.name: run_arm(design, arm) for arm in arms_for(available)}
            if self.scorer is not None:  # a design with scores is never reused: keep just one
                self._baselines.clear()
            self._baselines[id(design)] = (design, runs)
        return dict(self._baselines[id(design)][1])

    def close(self) -> None:
        self.runner.close()
        self.sandbox.close()
        self.cache.close()
        if self.scorer is not None:
            self.scorer.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
