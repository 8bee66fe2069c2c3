"""A run's nouns and rules: its spec and summary, the incumbent, how a change is weighed against
it, how SIGINT/SIGTERM stop it, and what it shows (``agent/loop.py`` runs it)."""

from __future__ import annotations

import hashlib
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import numpy as np

from harness.config import EvalConfig
from harness.judge.significance import Confirmation, Decision, confirm, decide
from harness.results import EvalResult, ModelCall


class Stop(Exception):
    """SIGINT or SIGTERM: finish the current record and leave cleanly."""


class OverBudget(Exception):
    """A proposal's pool costs more to sample than the run's budget allows."""


@dataclass(frozen=True)
class RunSpec:
    tag: str
    suite: str = "humaneval"
    pool: str | None = None  # replay this pool instead of sampling from experiments/sampling.toml
    max_experiments: int | None = None
    max_hours: float | None = None
    max_cost: float | None = None
    max_failures: int = 5  # consecutive crashed or invalid experiments before stopping
    program: Path = Path("program.md")
    sweep_ks: tuple[int, ...] = ()  # when finished, sweep the best kept selector over these ks


@dataclass
class Incumbent:
    number: int
    commit: str
    dev: EvalResult
    pool: str


@dataclass
class RunSummary:
    tag: str
    status: str  # finished | stopped | failed
    reason: str
    experiments: int
    kept: int
    best: float | None
    counts: dict[str, int] = field(default_factory=dict)


def values_by_task(result: EvalResult) -> dict[str, float]:
    return {p.task_id: p.value for p in result.picks if p.arm == "selector"}


def weigh(
    dev: EvalResult, incumbent: EvalResult, level: float, config: EvalConfig
) -> tuple[str, str, Decision | None]:
    """(status, reason, decision) of a change's dev evaluation against the incumbent's, as a
    test held to ``level``; no decision (not a test) when the evaluation is not valid."""
    if not dev.valid:
        return "invalid", dev.reason, None
    new, old = values_by_task(dev), values_by_task(incumbent)
    if set(new) != set(old):
        return "invalid", "not scored on the same problems as the incumbent", None
    tasks = sorted(new)
    decision = decide(
        np.array([new[t] for t in tasks]),
        np.array([old[t] for t in tasks]),
        config.seed,
        level,
        config.min_effect,
    )
    return ("kept" if decision.keep else "discarded"), decision.reason, decision


@contextmanager
def stoppable() -> Iterator[list[str]]:
    """SIGINT/SIGTERM raise Stop in the loop (the current record is then finished cleanly).

    Yields the signals received: a Stop raised where Python cannot propagate it (a weakref
    callback, a ``__del__``) is lost, so the loop also stops at its next step when the list is
    not empty, and such a Stop is not printed as an "Exception ignored" traceback."""
    received: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        raise Stop(received[-1])

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, Stop):
            hook(info)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        sys.unraisablehook = hook


class Display(Protocol):
    """What the loop shows while it works (``agent/commands/runstatus.py`` draws it)."""

    def say(self, line: str) -> None: ...

    def experiment(self, number: int, stage: str) -> None: ...

    def stage(self, name: str) -> None: ...

    def best(self, value: float | None) -> None: ...

    def progress(self, stage: str, done: int, total: int) -> None: ...


def sel(result: EvalResult | None) -> float | None:
    if result is None or "selector" not in result.arms:
        return None
    return result.arms["selector"].sel_at_k


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def calls_cost(calls: list[ModelCall]) -> float | None:
    """The calls' total cost; None when any call could not be priced (never guessed as 0)."""
    if not calls:
        return 0.0
    costs = [c.cost_usd for c in calls]
    return None if any(c is None for c in costs) else float(sum(c for c in costs if c is not None))


def directive_hash(text: bytes) -> str:
    """The id of a version of program.md (the first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(text).hexdigest()[:16]


def jsonable(value: Any) -> Any:
    """Settings as JSON types (numbers, lists, null), so SQL's json_extract reads them."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value


def untyped_none(value: Any) -> Any:
    """Runs recorded before settings were typed JSON stored None as the string 'None'."""
    return None if value == "None" else value


def against_start(
    holdout: EvalResult | None, start: dict[str, float], seed: int
) -> Confirmation | None:
    """A kept change against the start of the run on the holdout (never decides), paired by
    task; None when either was not scored on the same problems."""
    if holdout is None or not holdout.valid or not start:
        return None
    new = values_by_task(holdout)
    if set(new) != set(start):
        return None
    tasks = sorted(new)
    return confirm(np.array([new[t] for t in tasks]), np.array([start[t] for t in tasks]), seed)
