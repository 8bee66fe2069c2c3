"""How ``winnow run`` starts or resumes: what is checked before anything changes, and the branch.

A resume is refused, untouched, when another live process holds the run or its suite, pool or
``[eval]`` config differ from the run's; a new run is checked (``agent.branch.check_start``)
before its branch is made, after undoing a start killed before its run was recorded.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import git

from agent.branch import (
    ResearchBranch,
    check_start,
    create_branch,
    discard_unrecorded_start,
    reopen_branch,
)
from agent.run import RunSpec, untyped_none
from harness.config import EvalConfig, RunConfig
from harness.errors import InputError
from harness.judge.significance import OnlineFdr
from ledger.errors import LedgerError
from ledger.store import Ledger
from ledger.views import RunView


def previous_run(
    ledger: Ledger, spec: RunSpec, config: RunConfig
) -> tuple[RunView | None, RunConfig]:
    """The run this command resumes (None: a new run) and the config with the run's k, refused
    — before anything changes — when another live process holds it or its suite, pool or
    [eval] config differ."""
    run = ledger.find_run(spec.tag)
    if run is None:
        return None, config
    me = (socket.gethostname(), os.getpid())
    if run.status == "running" and not run.stale and (run.host, run.pid) != me:
        raise LedgerError(
            f"run {run.tag!r} is being run by pid {run.pid} on {run.host}; stop it first"
        )
    stored = run.config.get("spec", {})
    started = {k: untyped_none(stored.get(k)) for k in ("suite", "pool")}
    given = {"suite": spec.suite, "pool": spec.pool}
    if started != given:
        shown = " ".join(f"--{k} {v}" for k, v in started.items() if v is not None)
        raise InputError(
            f"run {run.tag!r} was started with {shown}; resume it with the same, or start a new tag"
        )
    evaluated = run.config.get("run", {}).get("eval")
    if evaluated is not None:  # keys added since the run started read as their defaults
        evaluated = EvalConfig.model_validate(evaluated).model_dump()
    if evaluated is not None and config.eval.k is None:
        config = config.with_eval(k=evaluated.get("k"))
    if evaluated is not None and evaluated != config.eval.model_dump():
        raise InputError(
            f"run {run.tag!r} was started with [eval] {evaluated}; "
            "resume it with the same config, or start a new tag"
        )
    return run, config


def open_run_branch(
    repo: git.Repo,
    spec: RunSpec,
    home: Path,
    previous: RunView | None,
    say: Callable[[str], None],
) -> ResearchBranch:
    """The run's branch: reopened for a resume; else made anew, after undoing what a start
    killed before its run was recorded left behind."""
    if previous is not None:
        return reopen_branch(repo, spec.tag, home)
    check_start(repo, spec.tag, home, spec.program.as_posix())
    if discard_unrecorded_start(repo, spec.tag, home):
        say(f"a start of {spec.tag} stopped before it was recorded was undone")
    return create_branch(repo, spec.tag, home)


def replay_tests(ledger: Ledger, run_id: int, config: RunConfig, tag: str) -> OnlineFdr:
    """The run's error control after the tests the ledger holds, in order (each test's
    p-value and level are recorded with its decision, in one transaction)."""
    tests = [
        (e.dev_p_value, e.dev_level, e.status == "kept")
        for e in ledger.experiments(run_id)
        if e.dev_p_value is not None and e.dev_level is not None
    ]
    try:
        return OnlineFdr.replay(config.eval.fdr, config.eval.fdr_horizon, tests)
    except ValueError as wrong:
        raise LedgerError(f"run {tag!r}: its ledger does not follow the run's "
                          f"error control: {wrong}") from None  # fmt: skip
