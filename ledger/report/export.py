"""A run's experiments as one flat table, for notebooks: ``winnow log --tsv > results.tsv``.

One row per experiment, one column per figure (the dev and the holdout evaluation side by
side), tab-separated with a header row, written by Python's ``csv`` module: a field holding a
tab, a newline or a quote (a hypothesis, a reason) is quoted, so ``csv.DictReader(f,
delimiter="\\t")`` and ``pandas.read_csv("results.tsv", sep="\\t")`` read it back whole. A
value that was not measured is an empty cell, never 0; flags are ``true``/``false``.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from ledger.views import EvaluationView, ExperimentView, RunView, score_fields

SPLIT_COLUMNS = (
    "sel_at_k", "ci_low", "ci_high", "gap_closed", "gap_ci_low", "gap_ci_high", "pass_at_1",
    "pass_at_k", "k", "repeats", "problems", "valid", "executions",
)  # fmt: skip
COLUMNS = (
    "run", "number", "commit", "status", "why", "p_value", "incumbent", "delta",
    "delta_lower", "min_effect",
    *(f"{split}_{name}" for split in ("dev", "holdout") for name in SPLIT_COLUMNS),
    "cost_usd", "duration_s", "started_at", "finished_at", "proposer", "hypothesis", "reason",
)  # fmt: skip
"""The header, in order; ``tests/test_report.py`` reads every one back."""


def experiment_row(run: RunView, e: ExperimentView) -> dict[str, Any]:
    """One experiment as the table's columns (None where nothing was measured)."""
    row: dict[str, Any] = {
        "run": run.tag,
        "number": e.number,
        "commit": e.commit,
        "status": e.shown_status,
        "why": e.why(),
        "p_value": e.decision_p,
        "incumbent": e.incumbent_number,
        "delta": e.dev_delta,
        "delta_lower": e.dev_delta_lower,
        "min_effect": e.min_effect,
        "cost_usd": e.cost_usd,
        "duration_s": e.duration_s,
        "started_at": e.started_at,
        "finished_at": e.finished_at,
        "proposer": e.proposer,
        "hypothesis": e.hypothesis,
        "reason": e.reason,
    }
    for split in ("dev", "holdout"):
        row |= {f"{split}_{name}": value for name, value in _split(e.evaluations.get(split))}
    return row


def _split(ev: EvaluationView | None) -> list[tuple[str, Any]]:
    values = score_fields(ev) | {
        "pass_at_1": ev.pass_at_1 if ev else None,
        "pass_at_k": ev.pass_at_k if ev else None,
        "k": ev.k if ev else None,
        "repeats": ev.repeats if ev else None,
        "problems": ev.problems if ev else None,
        "valid": ev.valid if ev else None,
        "executions": ev.executions if ev else None,
    }
    return [(name, values[name]) for name in SPLIT_COLUMNS]


def write_tsv(run: RunView, experiments: list[ExperimentView], out: TextIO) -> None:
    """The header and one row per experiment, tab-separated, to ``out``."""
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in experiments:
        row = experiment_row(run, e)
        writer.writerow([_cell(row[name]) for name in COLUMNS])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
