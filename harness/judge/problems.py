"""What the judge knows about each problem of a pool, built once and never changed.

``judge_pool`` labels every candidate on the hidden tests and runs it on every distinct
self-test (both sandboxed and cached), and returns a :class:`JudgedPool`: one
:class:`ProblemData` per problem of the split that the pool covers. Reward scores, when a scorer
is configured, are passed in when the data is built (``with_rewards``), never patched in later.
Everything here is immutable: the arrays are read-only, so no arm, probe or check can change
what another one reads. The hidden labels (``correct``, ``statuses``) never leave this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from harness.api import Candidate
from harness.data.pools import Pool, Sample
from harness.data.suites import Suite, Task
from harness.errors import InputError
from harness.execution.executor import Executor
from harness.results import OutcomeStatus
from harness.reward.scorer import ProblemRewards

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SPLITS = ("all", "dev", "holdout")


def frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only (a view: the data is not copied)."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class Signals:
    """What the trusted arms may read about one problem's candidates (sample order)."""

    correct: np.ndarray  # (n,) bool: the hidden labels; only the oracle arm reads them
    passes: np.ndarray  # (n, t) bool: candidate x distinct self-test
    weights: np.ndarray  # (t,) float: how many times each distinct test was generated
    logprobs: np.ndarray | None  # (n,) mean token logprobs, None when the pool has none
    rewards: ProblemRewards | None = None  # the scorer's scores; None when none is configured

    @property
    def reward_values(self) -> np.ndarray | None:
        """(n,) scores, or None when no scorer is configured or it failed on this problem."""
        return None if self.rewards is None else self.rewards.values


@dataclass(frozen=True)
class ProblemData:
    """One problem: its samples, their hidden outcomes, its self-tests and the signals, all in
    sample order."""

    task: Task
    samples: tuple[Sample, ...]
    candidates: tuple[Candidate, ...]
    statuses: tuple[OutcomeStatus, ...]  # each sample's outcome on the hidden tests
    tests: tuple[str, ...]  # distinct self-tests, in order of first appearance
    raw_tests: tuple[str, ...]  # as generated, duplicates kept (what a selector is shown)
    signals: Signals
    test_column: Mapping[str, int] = field(default_factory=dict)  # test -> column of passes

    @property
    def task_id(self) -> str:
        return self.task.task_id

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def correct(self) -> np.ndarray:
        return self.signals.correct

    @property
    def rewards(self) -> ProblemRewards | None:
        return self.signals.rewards


@dataclass(frozen=True)
class JudgedPool:
    """A pool judged on one split of a suite: what every evaluation of it reads."""

    suite: Suite
    pool: Pool
    split: str
    problems: tuple[ProblemData, ...]
    problems_in_suite: int  # problems of the split in the suite (the pool may cover fewer)

    def with_rewards(self, rewards: list[ProblemRewards] | None) -> JudgedPool:
        """The same pool with the scorer's results (one per problem, in order), or none."""
        given = rewards if rewards is not None else [None] * len(self.problems)
        if len(given) != len(self.problems):
            raise ValueError("one ProblemRewards per problem is required")
        problems = tuple(
            replace(p, signals=replace(p.signals, rewards=r))
            for p, r in zip(self.problems, given, strict=True)
        )
        return replace(self, problems=problems)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r} (all, dev or holdout)")


def judge_pool(
    suite: Suite,
    pool: Pool,
    split: str,
    executor: Executor,
    where: str,
    progress: Progress | None = None,
) -> JudgedPool:
    """Label and self-test every candidate of the pool's problems in ``split`` (all cached)."""
    check_split(split)
    tasks = [t for t in suite.select(split) if t.task_id in pool.samples]  # type: ignore[arg-type]
    if not tasks:
        raise InputError(f"the pool has no problems in the {split} split", where)
    programs = [
        task.hidden_program(s.completion) for task in tasks for s in pool.samples[task.task_id]
    ]
    labels = executor.label(programs, ticker(progress, "hidden tests", len(programs)))

    distinct = {t.task_id: list(dict.fromkeys(pool.tests_of(t.task_id))) for t in tasks}
    requests = [
        (task.prompt + sample.completion, distinct[task.task_id])
        for task in tasks
        for sample in pool.samples[task.task_id]
    ]
    total = sum(len(tests) for _, tests in requests)
    matrix = executor.self_test(requests, ticker(progress, "self-tests", total))

    problems, row = [], 0
    for task in tasks:
        samples = tuple(pool.samples[task.task_id])
        n = len(samples)
        outcomes, runs = labels[row : row + n], matrix[row : row + n]
        row += n
        tests = distinct[task.task_id]
        raw = pool.tests_of(task.task_id)
        passes = np.array([[o.passed for o in r] for r in runs], dtype=bool).reshape(n, len(tests))
        logprobs = None
        if all(s.logprob_mean is not None for s in samples):
            logprobs = frozen(np.array([s.logprob_mean for s in samples], dtype=float))
        problems.append(
            ProblemData(
                task=task,
                samples=samples,
                candidates=tuple(pool.candidates(task.task_id, task.prompt)),
                statuses=tuple(OutcomeStatus(o.status) for o in outcomes),
                tests=tuple(tests),
                raw_tests=tuple(raw),
                signals=Signals(
                    correct=frozen(np.array([o.passed for o in outcomes], dtype=bool)),
                    passes=frozen(passes),
                    weights=frozen(np.array([raw.count(t) for t in tests], dtype=float)),
                    logprobs=logprobs,
                ),
                test_column=MappingProxyType({t: j for j, t in enumerate(tests)}),
            )
        )
    return JudgedPool(
        suite=suite,
        pool=pool,
        split=split,
        problems=tuple(problems),
        problems_in_suite=len(suite.select(split)),  # type: ignore[arg-type]
    )


def ticker(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    """A ``tick(count)`` that reports ``stage`` progress; None without a progress callback."""
    if progress is None:
        return None
    done = [0]
    progress(stage, 0, total)

    def tick(count: int) -> None:
        done[0] += count
        progress(stage, done[0], total)

    return tick
