"""What the loop writes for people: commit messages, and the run summary a proposer reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.proposal import Context
from harness.api import __file__ as API_FILE
from harness.judge.significance import Confirmation, Decision
from harness.results import EvalResult, ExperimentStatus
from ledger.views import ExperimentView

HISTORY = 8  # recent experiments shown to the proposer
FAILED_CHECKS = 6  # failed checks shown to the proposer
FAILURE_CASES = 5  # problems the incumbent loses shown to the proposer (the worst first)


def score_line(label: str, result: EvalResult | None) -> str:
    if result is None:
        return f"{label}: not evaluated"
    arm = result.arms.get("selector")
    if arm is None or arm.sel_at_k is None:
        return f"{label}: no score ({result.status}: {result.reason[:200]})"
    return (
        f"{label} sel@{result.k} {arm.sel_at_k:.4f} [{arm.ci_low:.4f}, {arm.ci_high:.4f}] "
        f"(pass@1 {result.pass_at_1:.4f}, pass@k {result.pass_at_k:.4f}, "
        f"{result.problems} problems)"
    )


def commit_message(
    hypothesis: str,
    tag: str,
    number: int,
    status: str,
    reason: str = "",
    dev: EvalResult | None = None,
    holdout: EvalResult | None = None,
    decision: Decision | None = None,
    incumbent: int | None = None,
    confirmation: Confirmation | None = None,
) -> str:
    """A one-line summary, the results with intervals, and trailers git can parse."""
    lines = [hypothesis.splitlines()[0][:72] if hypothesis else f"experiment {number}", ""]
    if status != "running":
        lines.append(score_line("dev", dev))
        if decision is not None and incumbent is not None:
            lines.append(
                f"vs experiment {incumbent}: {decision.difference:+.4f}, one-sided 95% lower "
                f"bound {decision.lower:+.4f} (minimum effect {decision.min_effect:+.4f}), "
                f"p = {decision.p_value:.3g} at level {decision.level:.3g}"
            )
        if holdout is not None:
            lines.append(score_line("holdout", holdout))
        if confirmation is not None:
            verdict = "confirmed" if confirmation.confirmed else "not confirmed"
            lines.append(
                f"holdout vs the start: {confirmation.difference:+.4f} [{confirmation.low:+.4f}, "
                f"{confirmation.high:+.4f}]: {verdict}"
            )
        if reason:
            lines.append(f"reason: {reason}")
        lines.append("")
    lines += [f"Winnow-Run: {tag}", f"Winnow-Experiment: {number}", f"Winnow-Status: {status}"]
    return "\n".join(lines) + "\n"


def baselines_view(result: EvalResult | None) -> dict[str, Any]:
    """The incumbent's dev evaluation as the proposer prompt shows it."""
    if result is None:
        return {}
    return {
        "k": result.k,
        "problems": result.problems,
        "simulated": result.simulated,
        "pass_at_1": result.pass_at_1,
        "pass_at_k": result.pass_at_k,
        "arms": {
            name: {"sel_at_k": a.sel_at_k, "ci_low": a.ci_low, "ci_high": a.ci_high}
            for name, a in result.arms.items()
        },
    }


def failures_view(result: EvalResult | None) -> list[dict[str, Any]]:
    """Where the incumbent loses, as the proposer prompt shows it (a dev evaluation only: the
    holdout split is never shown to a proposer)."""
    if result is None or result.split != "dev":
        return []
    return [case.model_dump(mode="json") for case in result.failures[:FAILURE_CASES]]


def history_view(
    experiments: list[Any],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[str]]:
    """(recent experiments, best kept, recent failed checks) from the ledger's views."""
    rows = []
    best: dict[str, Any] | None = None
    failed: list[str] = []
    for e in experiments:
        score = e.dev.score if e.dev is not None else None
        dev = score.sel_at_k if score is not None else None
        row = {
            "number": e.number,
            "status": e.status,
            "dev": dev,
            "hypothesis": e.hypothesis,
            "reason": (e.reason or "")[:300],
        }
        rows.append(row)
        kept = e.status == ExperimentStatus.KEPT
        if kept and dev is not None and (best is None or dev > best["dev"]):
            best = row
        if e.dev is not None:
            failed += [
                f"#{e.number} {c.name}: {c.detail[:300]}" for c in e.dev.checks if not c.passed
            ]
    return rows[-HISTORY:], best, failed[-FAILED_CHECKS:]


def proposal_context(
    program: str,
    files: dict[str, str],
    incumbent: EvalResult,
    experiments: list[ExperimentView],
) -> Context:
    """What a proposer sees at a step: the directive, the selector API, the files under
    experiments/, the incumbent's baselines and dev failure cases (never the holdout's), and
    the run so far."""
    history, best, failed = history_view(experiments)
    return Context(
        program=program,
        api=Path(API_FILE).read_text(),
        files=files,
        baselines=baselines_view(incumbent),
        history=history,
        best=best,
        failed_checks=failed,
        failures=failures_view(incumbent),
    )
