"""The public selector API: what a selector file sees, and nothing more.

A selector is a Python file that defines::

    USES = {"self_tests"}          # the signals it relies on (checked by the harness)

    def select(problem: Problem, candidates: list[Candidate], probe: Probe) -> list[float]:
        ...                        # one score per candidate, higher is better

The harness picks the argmax; ties are scored as the expected correctness over the tied set,
so a constant selector scores exactly like random.

This module imports nothing from the rest of Winnow: it is the only harness code a selector's
sandboxed process loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SIGNALS = frozenset({"self_tests", "outputs", "prompt_examples", "logprob", "reward_model"})
"""Signals a selector may declare in ``USES``: ``self_tests`` (``self_tests``, ``run``,
``run_many``), ``outputs`` (``inputs``, ``outputs``: what candidates return on the same
inputs), ``prompt_examples`` (``examples``, ``check_examples``: the worked examples the prompt
states), ``logprob`` (``logprob``) and ``reward_model`` (``reward``: a reward model or an LLM
judge, whichever scorer is configured)."""


class SignalUnavailable(RuntimeError):
    """A signal was asked for but cannot be given (not configured, failed, or missing).

    A selector must let this propagate. Catching it and carrying on with a default is the
    failure Winnow exists to catch: the wiring checks will find it.
    """


class BudgetExceeded(RuntimeError):
    """The selector asked the probe for more compute than the run's budget allows."""


@dataclass(frozen=True)
class Problem:
    """A task as a selector sees it: never the hidden tests."""

    task_id: str
    prompt: str
    entry_point: str


@dataclass(frozen=True)
class Candidate:
    """One sampled completion. ``program`` is ``prompt + completion``, ready to run."""

    id: str
    completion: str
    program: str
    logprob_mean: float | None
    num_tokens: int | None


class Probe(Protocol):
    """Everything a selector may learn beyond the candidate texts. Every call is metered."""

    def self_tests(self) -> list[str]:
        """The model-generated assert statements for this problem (duplicates kept)."""
        ...

    def run(self, candidate: Candidate, tests: list[str]) -> list[bool]:
        """Run ``tests`` against ``candidate`` in the sandbox; one pass flag per test."""
        ...

    def run_many(self, candidates: list[Candidate], tests: list[str]) -> list[list[bool]]:
        """``run`` for several candidates at once (one round trip)."""
        ...

    def inputs(self) -> list[str]:
        """Argument lists for the entry point, as source text (``"[1, 2], 3"``), harvested
        without hidden tests: the calls in the prompt's examples, then the calls inside the
        self-tests; distinct, in that stable order, at most the budget's ``inputs_per_problem``.
        """
        ...

    def outputs(self, candidates: list[Candidate], inputs: list[str]) -> list[list[str]]:
        """What each candidate returns on each input (inputs taken from ``inputs()``), as a
        canonical text: values that compare equal read the same (``1``, ``1.0`` and ``True``
        read ``1``; sets and dicts sorted; long values end with a hash of the whole); an
        exception reads ``!TypeName``, a timeout ``!timeout``, a program that does not load
        ``!load``. Each (candidate, input) is one metered execution."""
        ...

    def examples(self) -> list[tuple[str, str]]:
        """The worked examples the prompt states, as (argument list, expected value) source
        texts: ``("[1, 2], 3", "4")``. Empty when the prompt states none (what does not parse
        as literals is left out, never guessed)."""
        ...

    def check_examples(self, candidates: list[Candidate]) -> list[list[bool]]:
        """Whether each candidate returns what each example says (compared as canonical
        outputs, see ``outputs``); one metered execution per (candidate, example)."""
        ...

    def logprob(self, candidate: Candidate) -> float:
        """The candidate's mean token logprob; raises SignalUnavailable when the pool has none."""
        ...

    def reward(self, candidate: Candidate) -> float:
        """The configured reward model's or judge's score (higher: more likely correct);
        raises SignalUnavailable when none is configured or it failed on this problem."""
        ...
