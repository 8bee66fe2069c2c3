"""Imports a module that does not exist, so the file does not import."""

import winnow_no_such_module  # noqa: F401

USES: set[str] = set()


def select(problem, candidates, probe):
    return [0.0] * len(candidates)
