"""The probe a selector talks to: signals served from the prepared data, every request metered.

One :class:`ProblemProbe` serves one select() call (one problem, one k-subset). It answers only
about the candidates of that subset, counts what was asked (distinct executions, reward calls,
which signals), and refuses what is over the budget with ``BudgetExceeded`` while recording
that the budget was exceeded, so a selector that catches the refusal is still caught.

For the wiring checks a probe can *ablate* a signal: the values of that signal are shuffled
across the candidates (candidate i is answered with candidate p(i)'s results).

A test a selector runs that is not one of the problem's self-tests is run in the sandbox (and
metered); when its asserts are hidden tests of the problem that appear neither in the prompt
nor among the self-tests, it is recorded as ``memorized``: a selector built on a benchmark's
remembered tests measures nothing about production (``no_leakage`` fails, the test shown).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.api import BudgetExceeded, SignalUnavailable
from harness.config import BudgetConfig
from harness.data.calls import assert_forms
from harness.judge.problems import ProblemData

Runner = Callable[[str, list[str]], list[bool]]  # (program, tests) -> passes, sandboxed+cached
INPUT = "\0input:"  # marks an input, not a test, among the runs a candidate was metered for


@dataclass
class Meter:
    """Compute one selector consumed on one problem (summed over its subsets)."""

    executions: int = 0
    reward_calls: int = 0
    reward_tokens: int | None = 0  # tokens the asked-for scores took; None: not all reported
    generated_tokens: int = 0
    subsets: int = 0  # select() calls this meter covers
    over_budget: bool = False
    asked: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)  # signals the probe had to refuse
    memorized: list[str] = field(default_factory=list)  # hidden tests the selector ran


class ProblemProbe:
    def __init__(
        self,
        data: ProblemData,
        subset: np.ndarray,
        budget: BudgetConfig,
        meter: Meter,
        runner: Runner,
        ablate: dict[str, np.ndarray] | None = None,
    ):
        self.data = data
        self.meter = meter
        self.runner = runner
        self.ablate = ablate or {}
        self.index = {data.candidates[i].id: int(i) for i in subset}
        k = len(subset)
        self.max_executions = budget.executions(k, len(data.tests), len(data.inputs))
        self.max_rewards = budget.reward_calls(k)
        self.ran: dict[int, set[str]] = {}  # sample index -> the tests it ran on this subset
        self.executed = 0
        self.rewards = 0
        meter.subsets += 1

    def _source(self, signal: str, candidate_id: Any) -> int:
        """The sample index whose value answers for ``candidate_id`` (shuffled when ablating)."""
        if candidate_id not in self.index:
            raise KeyError(f"candidate {candidate_id!r} is not in this subset")
        i = self.index[candidate_id]
        return int(self.ablate[signal][i]) if signal in self.ablate else i

    def handle(self, method: str, args: dict[str, Any]) -> Any:
        handlers: dict[str, Callable[..., Any]] = {
            "self_tests": self._self_tests,
            "run": self._run,
            "inputs": self._inputs,
            "outputs": self._outputs,
            "examples": self._examples,
            "check_examples": self._check_examples,
            "logprob": self._logprob,
            "reward": self._reward,
        }
        handler = handlers.get(method)
        if handler is None:
            raise ValueError(f"unknown probe method {method!r}")
        return handler(**args)

    def _self_tests(self) -> list[str]:
        self.meter.asked.add("self_tests")
        return list(self.data.raw_tests)

    def _run(self, candidates: list[str], tests: list[str]) -> list[list[bool]]:
        if not all(isinstance(t, str) for t in tests):
            raise ValueError("tests must be strings")
        self.meter.asked.add("self_tests")
        sources = [self._source("self_tests", c) for c in candidates]
        self._meter(sources, tests)
        column, passes = self.data.test_column, self.data.signals.passes
        unknown = [t for t in dict.fromkeys(tests) if t not in column]
        self._remembered(unknown)
        if not unknown:  # the common case, answered from the matrix at once
            block: list[list[bool]] = passes[np.ix_(sources, [column[t] for t in tests])].tolist()
            return block
        known = [t for t in tests if t in column]
        results = []
        for i in sources:
            row = dict(zip(known, (bool(passes[i, column[t]]) for t in known), strict=True))
            program = self.data.candidates[i].program
            row.update(zip(unknown, self.runner(program, unknown), strict=True))
            results.append([row[t] for t in tests])
        return results

    def _meter(self, sources: list[int], keys: list[str]) -> None:
        """Count the distinct (candidate, test or input) runs asked for; refuse (and record)
        what goes over the budget."""
        asked = set(keys)
        fresh = {i: asked - self.ran.get(i, set()) for i in dict.fromkeys(sources)}
        count = sum(len(new) for new in fresh.values())
        if self.executed + count > self.max_executions:
            self.meter.over_budget = True
            raise BudgetExceeded(
                f"{self.executed + count} executions asked, budget {self.max_executions}"
            )
        for i, new in fresh.items():
            self.ran.setdefault(i, set()).update(new)
        self.executed += count
        self.meter.executions += count

    def _remembered(self, tests: list[str]) -> None:
        """Record the selector's own tests that are hidden tests and nothing public."""
        entry = self.data.task.entry_point
        for test in tests:
            forms = assert_forms(test, entry)
            secret = forms & self.data.hidden_forms - self.data.public_forms
            if secret and test not in self.meter.memorized:
                self.meter.memorized.append(test)

    def _inputs(self) -> list[str]:
        self.meter.asked.add("outputs")
        return list(self.data.inputs)

    def _outputs(self, candidates: list[str], inputs: list[str]) -> list[list[str]]:
        if not all(isinstance(a, str) for a in inputs):
            raise ValueError("inputs must be strings")
        self.meter.asked.add("outputs")
        column = self.data.input_column
        unknown = [a for a in inputs if a not in column]
        if unknown:
            raise ValueError(
                f"not one of this problem's inputs (see probe.inputs()): {unknown[0]!r}"
            )
        sources = [self._source("outputs", c) for c in candidates]
        self._meter(sources, [INPUT + a for a in inputs])
        texts = self.data.signals.outputs
        block: list[list[str]] = texts[np.ix_(sources, [column[a] for a in inputs])].tolist()
        return block

    def _examples(self) -> list[list[str]]:
        self.meter.asked.add("prompt_examples")
        return [[e.args, e.expected] for e in self.data.examples]

    def _check_examples(self, candidates: list[str]) -> list[list[bool]]:
        self.meter.asked.add("prompt_examples")
        sources = [self._source("prompt_examples", c) for c in candidates]
        self._meter(sources, [INPUT + e.args for e in self.data.examples])
        passing: list[list[bool]] = self.data.signals.example_pass[sources].tolist()
        return passing

    def _logprob(self, candidate: str) -> float:
        self.meter.asked.add("logprob")
        values = self.data.signals.logprobs
        if values is None:
            self.meter.unavailable.add("logprob")
            raise SignalUnavailable("this pool has no logprobs")
        return float(values[self._source("logprob", candidate)])

    def _reward(self, candidate: str) -> float:
        self.meter.asked.add("reward_model")
        rewards = self.data.rewards
        if rewards is None:
            self.meter.unavailable.add("reward_model")
            raise SignalUnavailable("no reward model or judge is configured")
        self.rewards += 1
        self.meter.reward_calls += 1
        if self.rewards > self.max_rewards:
            self.meter.over_budget = True
            raise BudgetExceeded(f"{self.rewards} reward calls asked, budget {self.max_rewards}")
        source = self._source("reward_model", candidate)
        if rewards.values is None:  # the scorer failed: recorded, so carrying on is caught
            self.meter.unavailable.add("reward_model")
            raise SignalUnavailable(f"the scorer failed: {rewards.error}")
        if self.meter.reward_tokens is not None:
            tokens = rewards.tokens([source])
            self.meter.reward_tokens = None if tokens is None else self.meter.reward_tokens + tokens
        return float(rewards.values[source])
