"""Recording an ``EvalResult`` (or ``winnow eval --json``: ``EvalResult.to_json(picks=True)``).

The object is validated into ``EvalResult`` before anything is written: a missing key or a value
of the wrong type is a LedgerError naming the key, and the transaction writes nothing. Every row
is then derived from the validated result (``ledger/models.py`` says which columns hold what).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert
from sqlmodel import Session, select

from harness.results import EvalResult, ModelCall
from ledger.database import utc_now
from ledger.errors import LedgerError, invalid_record
from ledger.models import (
    ARM_COLUMNS,
    ARM_SCORES,
    CHECK_COLUMNS,
    CHECKS,
    EVALUATION_COLUMNS,
    PICK_COLUMNS,
    PROBLEM_RESULTS,
    Evaluation,
    LlmCall,
)


def insert_evaluation(
    session: Session,
    run_id: int,
    experiment_id: int,
    result: EvalResult | dict[str, Any],
    arm: str,
) -> int:
    """Write one evaluation and its children in the caller's transaction; return its id.

    The scorer's model calls (``llm_calls``, present with ``to_json(calls=True)``) go to the
    ``llm_calls`` table with their purpose (``scorer``).
    """
    result = validate(result)
    evaluation = evaluation_row(experiment_id, result, arm)
    calls = _call_rows(run_id, experiment_id, result.llm_calls)
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
    key = {"evaluation_id": evaluation.id}
    arms = [key | {"arm": name} | ARM_COLUMNS.row(value) for name, value in result.arms.items()]
    checks = [
        key | {"position": position} | CHECK_COLUMNS.row(check)
        for position, check in enumerate(result.checks)
    ]
    picks = [
        key | {"position": position} | PICK_COLUMNS.row(pick)
        for position, pick in enumerate(result.picks)
    ]
    for table, rows in ((ARM_SCORES, arms), (CHECKS, checks), (PROBLEM_RESULTS, picks)):
        if rows:
            session.execute(insert(table), rows)
    for row in calls:
        row["evaluation_id"] = evaluation.id
    if calls:
        session.execute(insert(LlmCall), calls)
    return evaluation.id


def validate(result: EvalResult | dict[str, Any]) -> EvalResult:
    """The result itself, or its JSON object validated into one; what the ledger needs beyond
    the model (a budget, picks of scored arms) is checked here too."""
    if not isinstance(result, EvalResult):
        if not isinstance(result, dict):
            raise LedgerError("evaluation: expected a JSON object (EvalResult.to_json(picks=True))")
        if "picks" not in result:  # the model's default: [] would hide a forgotten picks=True
            raise LedgerError("evaluation: key 'picks' is missing (EvalResult.to_json(picks=True))")
        try:
            text = json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise LedgerError(f"evaluation: not JSON-serialisable: {exc}") from exc
        try:
            # The JSON path of strict validation: statuses as their values, ints as floats.
            result = EvalResult.model_validate_json(text)
        except ValidationError as exc:
            raise invalid_record("evaluation", exc) from exc
    if result.budget is None:  # budget_json is NOT NULL: an evaluation runs under a budget
        raise LedgerError("evaluation: key 'budget' must not be null")
    for position, pick in enumerate(result.picks):
        if pick.arm not in result.arms:
            raise LedgerError(
                f"evaluation: key 'picks[{position}].arm' names {pick.arm!r}, which has no score"
            )
    return result


def evaluation_row(experiment_id: int, result: EvalResult, arm: str) -> Evaluation:
    """The ``evaluations`` row: the result's own columns and the ledger's."""
    assert result.budget is not None
    return Evaluation(
        **EVALUATION_COLUMNS.row(result),
        experiment_id=experiment_id,
        arm=arm,
        warnings_json=json.dumps(result.warnings),
        calibration_json=(
            None
            if result.calibration is None
            else json.dumps(result.calibration.model_dump(mode="json"), sort_keys=True)
        ),
        budget_json=json.dumps(result.budget.model_dump(mode="json"), sort_keys=True),
        # Nothing the harness said is lost: the whole object but its picks and calls.
        raw_json=json.dumps(result.to_json(), sort_keys=True),
        recorded_at=utc_now(),
    )


def call_row(run_id: int, experiment_id: int | None, call: ModelCall) -> dict[str, Any]:
    """One ``llm_calls`` row: the call's purpose says who asked; several completions (a list)
    are stored as a JSON list, one text as itself."""
    response = call.response
    return {
        "run_id": run_id,
        "experiment_id": experiment_id,
        "purpose": str(call.purpose),
        "model": call.model,
        "messages_json": json.dumps(call.messages, sort_keys=True),
        "response": json.dumps(response) if isinstance(response, list) else response,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "cost_usd": call.cost_usd,
        "latency_s": call.latency_s,
        "error": call.error,
        "created_at": utc_now(),
    }


def _call_rows(run_id: int, experiment_id: int, calls: list[ModelCall]) -> list[dict[str, Any]]:
    return [call_row(run_id, experiment_id, call) for call in calls]
