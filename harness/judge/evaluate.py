"""One evaluation, as a one-way pipeline: a pool judged on a suite split, every baseline arm on
the paired subsets, optionally a selector under every rigid check, and one frozen result.

    judged pool (session.py: labels and self-test matrix, sandboxed, cached, built once)
      -> design (design.py: reward scores passed in, the paired k-subsets)
      -> runs (runners.py: every baseline arm of arms.py; the sandboxed selector)
      -> figures (aggregate.py: pass@1, pass@k, sel@k, intervals, gap closed, compute)
      -> checks (checks.py: each returns a CheckResult, none changes anything)
      -> EvalResult (assembled here, once)

The hidden labels never leave this process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from harness.data.jsonl import write_jsonl
from harness.errors import InputError
from harness.execution.selector import SelectorFailure, SelectorProcess
from harness.judge import checks
from harness.judge.aggregate import arm_results, design_pass_rates
from harness.judge.design import Design
from harness.judge.failures import failure_cases
from harness.judge.integrity import harness_hash, harness_info
from harness.judge.problems import Progress, ticker
from harness.judge.runners import ArmRun, failed, run_selector
from harness.judge.session import EvalSpec, Session
from harness.results import (
    Budget,
    Calibration,
    CalibrationStatus,
    CheckResult,
    EvalResult,
    EvalStatus,
)
from harness.reward.calibration import calibrate
from harness.reward.scorer import summarize_scorer

__all__ = ["EvalSpec", "Session", "evaluate"]


def evaluate(spec: EvalSpec, session: Session, progress: Progress | None = None) -> EvalResult:
    """Evaluate the baselines and, when given, a selector file under every rigid check."""
    started = time.monotonic()
    before = harness_hash()
    if spec.selector is not None and not spec.selector.is_file():  # before minutes of labelling
        raise InputError("no such selector file", spec.selector)
    design = session.design(spec, progress)
    runs = baseline_runs(design, session)
    selector_checks: list[CheckResult] = []
    if spec.selector is not None:
        runs["selector"], selector_checks = judge_selector(
            design, runs, spec.selector, session, progress
        )
    result = assemble(design, runs, selector_checks, session, started, before)
    if spec.labels_out is not None:  # last: bad input (a selector that does not load) leaves none
        write_labels(spec.labels_out, design)
    return result


def baseline_runs(design: Design, session: Session) -> dict[str, ArmRun]:
    """Every baseline arm whose signals this evaluation has (run once per design)."""
    return session.baselines(design)


def judge_selector(
    design: Design,
    runs: Mapping[str, ArmRun],
    path: Path,
    session: Session,
    progress: Progress | None = None,
) -> tuple[ArmRun, list[CheckResult]]:
    """Run the selector at ``path`` on the design, sandboxed, and every check that concerns it."""
    try:
        source = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read the selector ({exc.strerror})", path) from None
    config = session.config
    budget = config.budget
    try:
        process = SelectorProcess(
            source, path.name, config.sandbox, session.sandbox.level, config.exec.select_timeout
        )
    except SelectorFailure as exc:
        if exc.raised and not exc.attempts:  # bad input, like a malformed line: exit status 2
            raise InputError(f"the selector does not load: {exc}", path, exc.line) from None
        run = failed(f"the selector did not load: {exc}")
        found = [checks.no_leakage(exc.attempts), checks.no_execution(exc.attempts)]
        return run, [checks.selector_runs(run, design), *found]
    with process:
        tick = ticker(progress, "selector", len(design.problems))
        main = run_selector(design, process, budget, session.run_tests, progress=tick)
        if main.failure is not None:
            return main, [
                checks.selector_runs(main, design),
                checks.compute_parity(main, design, budget),
                checks.no_leakage(process.attempts, main),
                checks.no_execution(process.attempts),
            ]
        arm = arm_results(design, {"random": runs["random"], "selector": main})["selector"]
        rerun = checks.rerun_for(design, process, budget, session.run_tests)
        found = [
            checks.selector_runs(main, design),
            checks.compute_parity(main, design, budget),
            checks.signals_declared(process.uses, main),
            checks.signals_wired(process.uses, design, main, rerun),
            checks.not_random(arm, process.uses),
            *checks.stability(main, design, rerun),
            checks.no_leakage(process.attempts, main),
            checks.no_execution(process.attempts),
        ]
    return main, found


def assemble(
    design: Design,
    runs: dict[str, ArmRun],
    selector_checks: list[CheckResult],
    session: Session,
    started: float,
    before: str,
) -> EvalResult:
    """The one place an EvalResult is built: figures, every check, warnings, the verdict."""
    judged, config = design.judged, session.config
    arms = arm_results(design, runs)
    pass1, passk = design_pass_rates(design)
    found = list(selector_checks)
    if "selector" not in runs or runs["selector"].measured:
        found.append(checks.baseline_sanity(design, runs))
    if session.scorer is not None:
        found.append(checks.reward_signal(design))
    info = harness_info()
    found.append(checks.harness_integrity(before, info.hash, info.commit, info.dirty))
    failures = [c for c in found if not c.passed]
    warnings = pool_warnings(design, session)
    selector = arms.get("selector")
    if (
        selector is not None
        and selector.sel_at_k is not None
        and checks.indistinguishable(selector)
    ):
        warnings.append(f"INDISTINGUISHABLE FROM RANDOM: {checks.random_comparison(selector)}")
    if info.dirty:
        warnings.append("harness/ has uncommitted changes: compare with care")
    calls = session.scorer.take_calls() if session.scorer is not None else []
    rewards = [p.rewards for p in design.problems if p.rewards is not None]
    return EvalResult(
        suite=judged.suite.name,
        pool=judged.pool.id,
        simulated=judged.pool.simulated,
        split=judged.split,
        problems=len(design.problems),
        n=min(p.n for p in design.problems),
        k=design.k,
        repeats=design.repeats,
        seed=design.seed,
        pass_at_1=pass1,
        pass_at_k=passk,
        arms=arms,
        executions=session.executor.executions,
        cache_hits=session.executor.cache_hits,
        sandbox=session.executor.level,
        elapsed_s=time.monotonic() - started,
        harness=info,
        valid=not failures,
        status=EvalStatus.INVALID if failures else EvalStatus.OK,
        reason="; ".join(f"{c.name}: {c.detail}" for c in failures),
        checks=found,
        warnings=warnings,
        problems_in_suite=judged.problems_in_suite,
        picks=[p for run in runs.values() for p in run.picks],
        calibration=calibration(design, runs) if session.scorer is not None else None,
        budget=Budget(
            executions_per_candidate=config.budget.executions_per_candidate,
            reward_calls_per_candidate=config.budget.reward_calls_per_candidate,
            generated_tokens=config.budget.generated_tokens,
        ),
        scorer=summarize_scorer(session.scorer, rewards, calls) if session.scorer else None,
        llm_calls=calls,
        failures=failure_cases(design, runs["selector"], runs["oracle"])
        if "selector" in runs
        else [],
    )


def pool_warnings(design: Design, session: Session) -> list[str]:
    """What a reader must know about the pool and the sandbox before trusting any figure."""
    judged = design.judged
    warnings = []
    if len(design.problems) < judged.problems_in_suite:
        warnings.append(
            f"the pool covers {len(design.problems)} of the {judged.problems_in_suite} problems "
            f"of the {judged.split} split; evaluated on those"
        )
    if judged.pool.simulated:
        warnings.append("SIMULATED pool: candidates were made by mutating references")
    runner = session.runner
    if runner.fallback_reason:
        warnings.append(f"sandbox level 'process': {runner.fallback_reason}")
    if runner.shared_scratch:
        warnings.append(
            f"jobs share /tmp: {runner.shared_scratch}; a program may find files an earlier one "
            "left there"
        )
    return warnings


def calibration(design: Design, runs: Mapping[str, ArmRun]) -> Calibration:
    """The reward scores against the hidden labels (the scorer's calibration view)."""
    arm = runs["reward_model"]
    if arm.failure is not None:
        return Calibration(status=CalibrationStatus.UNAVAILABLE, reason=arm.failure)
    problems = design.problems
    return calibrate(
        [p.task_id for p in problems],
        [p.signals.reward_values for p in problems if p.signals.reward_values is not None],
        [p.correct for p in problems],
        arm.values,
        runs["random"].values,
        design.seed,
    )


def write_labels(path: Path, design: Design) -> None:
    """Each candidate's outcome on the hidden tests, in sample order."""
    rows = [
        {"task_id": p.task_id, "index": s.index, "passed": st == "passed", "status": str(st)}
        for p in design.problems
        for s, st in zip(p.samples, p.statuses, strict=True)
    ]
    write_jsonl(path, rows)
