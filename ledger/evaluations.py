"""Turning ``winnow eval --json`` (``EvalResult.to_json(picks=True)``) into ledger rows.

The object is checked key by key before anything is written: a missing key or a value of the
wrong type is a LedgerError naming the key, and the transaction writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, select

from ledger.database import utc_now
from ledger.errors import LedgerError
from ledger.models import ArmScore, Check, Evaluation, LlmCall, ProblemResult

Rows = list[tuple[type[SQLModel], list[dict[str, Any]]]]

_NUMBER = (int, float)
_COMPUTE = ("executions", "reward_calls", "generated_tokens", "over_budget_problems")
_ARM = ("sel_at_k", "ci_low", "ci_high", "gap_closed", "diff_vs_random", "diff_ci_low",
        "diff_ci_high")  # fmt: skip


def insert_evaluation(
    session: Session, run_id: int, experiment_id: int, data: dict[str, Any], arm: str
) -> int:
    """Write one evaluation and its children in the caller's transaction; return its id.

    The scorer's model calls (``llm_calls``, present with ``to_json(calls=True)``) go to the
    ``llm_calls`` table with their purpose (``scorer``).
    """
    evaluation, children = evaluation_rows(experiment_id, data, arm)
    calls = _call_rows(run_id, experiment_id, data.get("llm_calls") or [])
    taken = session.exec(
        select(Evaluation.id).where(
            Evaluation.experiment_id == experiment_id, Evaluation.split == evaluation.split
        )
    ).first()
    if taken is not None:
        raise LedgerError(
            f"experiment id {experiment_id} already has a {evaluation.split} evaluation"
        )
    session.add(evaluation)
    session.flush()
    assert evaluation.id is not None
    for table, rows in children:
        for row in rows:
            row["evaluation_id"] = evaluation.id
        if rows:
            session.execute(insert(table), rows)
    for row in calls:
        row["evaluation_id"] = evaluation.id
    if calls:
        session.execute(insert(LlmCall), calls)
    return evaluation.id


def evaluation_rows(experiment_id: int, data: dict[str, Any], arm: str) -> tuple[Evaluation, Rows]:
    """The evaluation row and its children (arm scores, checks, per-problem picks)."""
    if not isinstance(data, dict):
        raise LedgerError("evaluation: expected a JSON object (EvalResult.to_json(picks=True))")
    harness = _need(data, "harness", dict)
    arms = _need(data, "arms", dict)
    evaluation = Evaluation(
        experiment_id=experiment_id,
        split=_need(data, "split", str),
        arm=arm,
        suite=_need(data, "suite", str),
        pool_id=_need(data, "pool", str),
        simulated=_need(data, "simulated", bool),
        problems=_need(data, "problems", int),
        problems_in_suite=_maybe(data, "problems_in_suite", int),
        n=_need(data, "n", int),
        k=_need(data, "k", int),
        repeats=_need(data, "repeats", int),
        seed=_need(data, "seed", int),
        pass_at_1=_maybe(data, "pass_at_1", _NUMBER),
        pass_at_k=_maybe(data, "pass_at_k", _NUMBER),
        executions=_maybe(data, "executions", int),
        cache_hits=_maybe(data, "cache_hits", int),
        sandbox=_need(data, "sandbox", str),
        elapsed_s=_maybe(data, "elapsed_s", _NUMBER),
        harness_hash=_need(harness, "hash", str, "harness."),
        harness_commit=_maybe(harness, "commit", str, "harness."),
        harness_dirty=_maybe(harness, "dirty", bool, "harness."),
        valid=_need(data, "valid", bool),
        status=_need(data, "status", str),
        reason=_need(data, "reason", str),
        warnings_json=json.dumps(_need(data, "warnings", list)),
        calibration_json=_json_or_null(_maybe(data, "calibration", dict)),
        budget_json=json.dumps(_need(data, "budget", dict), sort_keys=True),
        raw_json=json.dumps(
            {k: v for k, v in data.items() if k not in ("picks", "llm_calls")}, sort_keys=True
        ),
        recorded_at=utc_now(),
    )
    return evaluation, [
        (ArmScore, [_arm_row(name, values) for name, values in arms.items()]),
        (Check, _check_rows(_need(data, "checks", list))),
        (ProblemResult, _pick_rows(_need(data, "picks", list), set(arms))),
    ]


def _arm_row(name: str, values: Any) -> dict[str, Any]:
    where = f"arms.{name}."
    if not isinstance(values, dict):
        raise LedgerError(f"evaluation: key 'arms.{name}' must be an object")
    row: dict[str, Any] = {"arm": name}
    for key in _ARM:
        row[key] = _maybe(values, key, _NUMBER, where)
    compute = _need(values, "compute", dict, where)
    for key in _COMPUTE:
        row[key] = _maybe(compute, key, _NUMBER, where + "compute.")
    # reward_tokens came later to the harness: an older result without it is NULL, not 0.
    row["reward_tokens"] = (
        _maybe(compute, "reward_tokens", _NUMBER, where + "compute.")
        if "reward_tokens" in compute
        else None
    )
    return row


def _call_rows(run_id: int, experiment_id: int, calls: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for _, where, call in _objects(calls, "llm_calls"):
        rows.append(
            {
                "run_id": run_id,
                "experiment_id": experiment_id,
                "purpose": _need(call, "purpose", str, where),
                "model": _need(call, "model", str, where),
                "messages_json": json.dumps(_need(call, "messages", list, where)),
                "response": _maybe(call, "response", str, where),
                "prompt_tokens": _maybe(call, "prompt_tokens", int, where),
                "completion_tokens": _maybe(call, "completion_tokens", int, where),
                "cost_usd": _maybe(call, "cost_usd", _NUMBER, where),
                "latency_s": _maybe(call, "latency_s", _NUMBER, where),
                "error": _maybe(call, "error", str, where),
                "created_at": utc_now(),
            }
        )
    return rows


def _check_rows(checks: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for position, where, check in _objects(checks, "checks"):
        rows.append(
            {
                "position": position,
                "name": _need(check, "name", str, where),
                "passed": _need(check, "passed", bool, where),
                "detail": _need(check, "detail", str, where),
            }
        )
    return rows


def _pick_rows(picks: list[Any], arms: set[str]) -> list[dict[str, Any]]:
    rows = []
    for _, where, pick in _objects(picks, "picks"):
        arm = _need(pick, "arm", str, where)
        if arm not in arms:
            raise LedgerError(f"evaluation: key '{where}arm' names {arm!r}, which has no score")
        rows.append(
            {
                "arm": arm,
                "task_id": _need(pick, "task_id", str, where),
                "value": float(_need(pick, "value", _NUMBER, where)),
                "pick": _need(pick, "pick", int, where),
                "tied": _need(pick, "tied", int, where),
                "correct": _need(pick, "correct", bool, where),
            }
        )
    return rows


def _objects(items: list[Any], key: str) -> list[tuple[int, str, dict[str, Any]]]:
    """(position, key prefix for errors, object) for a list that must hold JSON objects."""
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise LedgerError(f"evaluation: key '{key}[{position}]' must be an object")
    return [(position, f"{key}[{position}].", item) for position, item in enumerate(items)]


def _need(data: dict[str, Any], key: str, kind: Any, where: str = "") -> Any:
    if key not in data:
        raise LedgerError(f"evaluation: key '{where}{key}' is missing")
    value = data[key]
    if value is None:
        raise LedgerError(f"evaluation: key '{where}{key}' must not be null")
    return _typed(value, key, kind, where)


def _maybe(data: dict[str, Any], key: str, kind: Any, where: str = "") -> Any:
    """A value that may be null (not measured) but must be present."""
    if key not in data:
        raise LedgerError(f"evaluation: key '{where}{key}' is missing")
    value = data[key]
    return None if value is None else _typed(value, key, kind, where)


def _typed(value: Any, key: str, kind: Any, where: str) -> Any:
    # bool is an int in Python: a True where a count belongs is a bug, not a 1.
    wrong_bool = isinstance(value, bool) and kind is not bool
    if wrong_bool or not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "number"
        raise LedgerError(f"evaluation: key '{where}{key}' must be a {name}, not {value!r:.40}")
    return value


def _json_or_null(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)
