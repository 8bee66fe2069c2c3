"""The paired design: the same k-subsets of every problem for every arm.

For each problem, ``repeats`` k-subsets of its samples are drawn, seeded by the run seed and the
task id (``harness/judge/metrics.draw_subsets``; one subset when the problem has exactly k
samples). Every arm, the selector under research and every wiring re-run score exactly these
subsets, so any two arms can be compared problem by problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.errors import InputError
from harness.judge.metrics import draw_subsets
from harness.judge.problems import JudgedPool, ProblemData
from harness.judge.problems import frozen as read_only


@dataclass(frozen=True)
class Design:
    """A judged pool at one k: each problem's subsets (an (R, k) array of sample indices)."""

    judged: JudgedPool
    k: int
    seed: int
    subsets: tuple[np.ndarray, ...]

    @property
    def problems(self) -> tuple[ProblemData, ...]:
        return self.judged.problems

    @property
    def repeats(self) -> int:
        """Subsets per problem (one on a problem with exactly k samples)."""
        return max(len(s) for s in self.subsets)

    def pairs(self) -> list[tuple[ProblemData, np.ndarray]]:
        """(problem, its subsets) in problem order."""
        return list(zip(self.problems, self.subsets, strict=True))


def check_design(k: int | None, repeats: int, seed: int) -> None:
    """The command line's --k, --repeats and --seed, checked before any work."""
    if k is not None and k < 1:
        raise InputError(f"k={k}: k must be at least 1")
    if repeats < 1:
        raise InputError(f"repeats={repeats}: repeats must be at least 1")
    if seed < 0:
        raise InputError(f"seed={seed}: the seed must not be negative")


def design(judged: JudgedPool, k: int | None, repeats: int, seed: int, where: str) -> Design:
    """Draw the paired subsets at ``k`` (default: the smallest pool size of the problems)."""
    check_design(k, repeats, seed)
    k = k or min(p.n for p in judged.problems)
    for data in judged.problems:
        if k > data.n:
            raise InputError(f"k={k} is larger than the pool: {data.task_id} has {data.n}", where)
    subsets = tuple(
        read_only(draw_subsets(p.n, k, repeats, seed, p.task_id)) for p in judged.problems
    )
    return Design(judged=judged, k=k, seed=seed, subsets=subsets)
