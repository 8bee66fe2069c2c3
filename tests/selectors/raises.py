"""Raises on every call."""

USES: set[str] = set()


def select(problem, candidates, probe):
    raise RuntimeError(f"cannot rank {problem.task_id}")
