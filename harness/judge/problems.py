"""What the judge knows about each problem of a pool, built once and never changed.

``judge_pool`` labels every candidate on the hidden tests and runs it on every distinct
self-test (both sandboxed and cached), and returns a :class:`JudgedPool`: one
:class:`ProblemData` per problem of the split that the pool covers. Reward scores, when a scorer
is configured, are passed in when the data is built (``with_rewards``), never patched in later.
Everything here is immutable: the arrays are read-only, so no arm, probe or check can change
what another one reads. The hidden labels (``correct``, ``statuses``) never leave this process.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np

from harness.api import Candidate
from harness.data.calls import assert_forms, harvest_inputs
from harness.data.examples import Example, example_tests, parse_examples
from harness.data.pools import Pool, Sample
from harness.data.suites import Suite, Task
from harness.errors import InputError
from harness.execution.executor import Executor
from harness.execution.outputs import (
    ERROR,
    canonical,
    output_program,
    output_test,
    read_output,
)
from harness.execution.sandbox import Outcome
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
    outputs: np.ndarray  # (n, m) str: each candidate's canonical output on each input
    output_codes: np.ndarray  # (n, m) int: equal outputs of one input share a code
    output_ok: np.ndarray  # (n, m) bool: the output is a value (not an error or a timeout)
    example_pass: np.ndarray  # (n, e) bool: the candidate gives what each prompt example says
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
    inputs: tuple[str, ...]  # argument lists for the outputs signal (prompt, then self-tests)
    examples: tuple[Example, ...]  # the worked examples the prompt states (their inputs first)
    signals: Signals
    # The normalised asserts of the hidden tests, and of what is public (the prompt and the
    # self-tests): a selector's own test equal to a hidden one and to no public one is a test
    # remembered from the benchmark (harness/data/calls.py).
    hidden_forms: frozenset[str] = frozenset()
    public_forms: frozenset[str] = frozenset()
    test_column: Mapping[str, int] = field(default_factory=dict)  # test -> column of passes
    input_column: Mapping[str, int] = field(default_factory=dict)  # input -> column of outputs

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
    runs: Runs  # what execution said, pair by pair: two executors must give equal runs

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


@dataclass(frozen=True)
class Runs:
    """What execution said about every candidate of a judged pool, in task then sample order:
    its outcome on the hidden tests, its pass/fail on each distinct self-test ("0110..."), and
    its canonical output on each input."""

    statuses: list[str]
    passes: list[str]
    outputs: list[list[str]]


def judge_pool(
    suite: Suite,
    pool: Pool,
    split: str,
    executor: Executor,
    where: str,
    inputs_per_problem: int,
    progress: Progress | None = None,
    memo: Path | None = None,
) -> JudgedPool:
    """Label, self-test and run on its inputs every candidate of the pool's problems in
    ``split`` (all sandboxed and cached). ``memo``: a file that holds (or will hold) these
    runs, so that a later process reads them at once instead of asking the execution cache
    for every pair; the caller's key must cover everything that can change them."""
    check_split(split)
    tasks = [t for t in suite.select(split) if t.task_id in pool.samples]  # type: ignore[arg-type]
    if not tasks:
        raise InputError(f"the pool has no problems in the {split} split", where)
    distinct = {t.task_id: list(dict.fromkeys(pool.tests_of(t.task_id))) for t in tasks}
    examples = {t.task_id: stated_examples(t) for t in tasks}
    inputs = {
        t.task_id: harvest_inputs(
            t.prompt,
            distinct[t.task_id],
            t.entry_point,
            inputs_per_problem,
            first=[e.args for e in examples[t.task_id]],
        )
        for t in tasks
    }
    runs = recall(memo)
    if runs is not None:
        executor.recalled(
            len(runs.statuses) + sum(map(len, runs.passes)) + sum(map(len, runs.outputs))
        )
    else:
        runs = execute(tasks, pool, distinct, inputs, executor, progress)
        if memo is not None:
            remember(memo, runs)
    labels = [Outcome(status) for status in runs.statuses]
    matrix = [[Outcome("passed" if bit == "1" else "failed") for bit in r] for r in runs.passes]

    problems, row = [], 0
    for task in tasks:
        samples = tuple(pool.samples[task.task_id])
        n = len(samples)
        outcomes, tested = labels[row : row + n], matrix[row : row + n]
        texts = runs.outputs[row : row + n]
        values, codes, ok = output_arrays(texts, n, len(inputs[task.task_id]))
        column = {a: j for j, a in enumerate(inputs[task.task_id])}
        shown = [e for e in examples[task.task_id] if e.args in column]  # within the limit
        expected = [expected_text(e) for e in shown]
        passing = np.array(
            [
                [values[i, column[e.args]] == want for e, want in zip(shown, expected, strict=True)]
                for i in range(n)
            ],
            dtype=bool,
        ).reshape(n, len(shown))
        row += n
        tests = distinct[task.task_id]
        raw = pool.tests_of(task.task_id)
        passes = np.array([[o.passed for o in r] for r in tested], dtype=bool).reshape(
            n, len(tests)
        )
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
                inputs=tuple(inputs[task.task_id]),
                examples=tuple(shown),
                signals=Signals(
                    correct=frozen(np.array([o.passed for o in outcomes], dtype=bool)),
                    passes=frozen(passes),
                    weights=frozen(np.array([raw.count(t) for t in tests], dtype=float)),
                    logprobs=logprobs,
                    outputs=values,
                    output_codes=codes,
                    output_ok=ok,
                    example_pass=frozen(passing),
                ),
                hidden_forms=frozenset(assert_forms(task.test, task.entry_point)),
                public_forms=frozenset(
                    form
                    for text in (task.prompt, *tests, *example_tests(shown, task.entry_point))
                    for form in assert_forms(text, task.entry_point)
                ),
                input_column=MappingProxyType({a: j for j, a in enumerate(inputs[task.task_id])}),
                test_column=MappingProxyType({t: j for j, t in enumerate(tests)}),
            )
        )
    return JudgedPool(
        suite=suite,
        pool=pool,
        split=split,
        problems=tuple(problems),
        problems_in_suite=len(suite.select(split)),  # type: ignore[arg-type]
        runs=runs,
    )


def execute(
    tasks: list[Task],
    pool: Pool,
    distinct: dict[str, list[str]],
    inputs: dict[str, list[str]],
    executor: Executor,
    progress: Progress | None,
) -> Runs:
    """Every candidate on the hidden tests, its distinct self-tests and its inputs."""
    samples = [(task, s) for task in tasks for s in pool.samples[task.task_id]]
    programs = [s.program(task.prompt) for task, s in samples]
    hidden = [task.hidden_program(p) for (task, _), p in zip(samples, programs, strict=True)]
    labels = executor.label(hidden, ticker(progress, "hidden tests", len(hidden)))
    requests = [(p, distinct[task.task_id]) for (task, _), p in zip(samples, programs, strict=True)]
    total = sum(len(tests) for _, tests in requests)
    matrix = executor.self_test(requests, ticker(progress, "self-tests", total))
    runs_on = [
        (output_program(p), [output_test(task.entry_point, a) for a in inputs[task.task_id]])
        for (task, _), p in zip(samples, programs, strict=True)
    ]
    total = sum(len(tests) for _, tests in runs_on)
    outputs = executor.self_test(runs_on, ticker(progress, "outputs", total))
    return Runs(
        statuses=[o.status for o in labels],
        passes=["".join("1" if o.passed else "0" for o in row) for row in matrix],
        outputs=[[read_output(o) for o in row] for row in outputs],
    )


def recall(memo: Path | None) -> Runs | None:
    """The runs a memo file holds; None when there is none (or it cannot be read: then the
    runs are asked of the execution cache again)."""
    if memo is None or not memo.exists():
        return None
    try:
        with gzip.open(memo, "rt", encoding="utf-8") as handle:
            return Runs(**json.load(handle))
    except (OSError, ValueError, TypeError, EOFError):
        return None


def remember(memo: Path, runs: Runs) -> None:
    """Write the memo atomically: a reader sees the whole file or none."""
    memo.parent.mkdir(parents=True, exist_ok=True)
    partial = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=1) as handle:
        json.dump(asdict(runs), handle)
    partial.replace(memo)


def stated_examples(task: Task) -> list[Example]:
    """The prompt's worked examples whose expected value the canonical form can read."""
    return [e for e in parse_examples(task.prompt, task.entry_point) if expected_text(e)]


def expected_text(example: Example) -> str:
    """What an example says the function returns, as the canonical text of outputs ("" when
    the value cannot be read back, which never happens for a literal the parser kept)."""
    try:
        return canonical(ast.literal_eval(example.expected))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ""


def output_arrays(
    texts: list[list[str]], n: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outputs as texts, as codes (equal texts of one input share a code), and whether
    each is a value."""
    outputs = np.array(texts, dtype=object).reshape(n, m)
    codes = np.zeros((n, m), dtype=np.int64)
    for j in range(m):
        _, codes[:, j] = np.unique(outputs[:, j].astype(str), return_inverse=True)
    ok = np.array([[not t.startswith(ERROR) for t in row] for row in texts], dtype=bool)
    return frozen(outputs), frozen(codes), frozen(ok.reshape(n, m))


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
