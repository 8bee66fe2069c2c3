"""The ledger: what the research loop writes, one transaction per record.

A run is written before its first experiment; an experiment is written as ``running`` (with
the writer's host and pid) before it is evaluated and finalized after, so a process killed
half-way leaves an honest trail: the next ``recover()`` marks it ``interrupted``, and the
reports show a ``running`` row whose writer is gone as "running (stale)". Nothing is ever
deleted; a second record of the same thing is refused, not overwritten.

The ledger validates what it is given into the typed results of ``harness/results.py`` (the one
part of ``harness`` it imports, with the metrics) and never imports ``agent``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from harness.results import EvalResult, ExperimentStatus, ModelCall, RunStatus
from ledger.database import (
    BUSY_TIMEOUT_S,
    Where,
    connect,
    enable_wal,
    for_reading,
    hand_back,
    is_url,
    shown,
    transaction,
    translated,
    utc_now,
)
from ledger.errors import LedgerError
from ledger.evaluations import call_row, insert_evaluation
from ledger.migrations import MIGRATIONS, applied_version, check_version, migrate
from ledger.models import Directive, Experiment, LlmCall, PoolRecord, Run
from ledger.poolrecords import insert_pool
from ledger.views import (
    ExperimentView,
    RunView,
    experiment_views,
    problem_values,
    run_view,
    writer_alive,
)

S = TypeVar("S", RunStatus, ExperimentStatus)


class Ledger:
    """A ledger: a SQLite file, or a PostgreSQL database that several machines' loops share.
    Open it with :meth:`Ledger.open`; use it as a context manager."""

    def __init__(self, path: Where, engine: Engine, readonly: bool, busy_timeout: float):
        self.path = path
        self.shown = shown(path)  # for messages: a URL without its password
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self._engine = engine

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Where,
        *,
        create: bool = True,
        readonly: bool = False,
        busy_timeout: float = BUSY_TIMEOUT_S,
    ) -> Ledger:
        """Open (and, for a writer, create and migrate) the ledger at ``path``: a SQLite file,
        or a ``postgresql://`` URL (the database must exist; the tables are created in it).

        Raises LedgerError for a missing file (unless ``create`` and not ``readonly``), a file
        or database that is not a ledger, a schema newer than this code (or older, for a
        reader, which must not migrate), and a lock held past ``busy_timeout`` seconds.
        """
        if not is_url(path):
            path = Path(path)
            if not path.exists() and (readonly or not create):
                raise LedgerError(f"{path}: no ledger here (start one with `winnow run`)")
            if path.is_dir():
                raise LedgerError(f"{path}: is a directory, not a ledger file")
            if not readonly:
                path.parent.mkdir(parents=True, exist_ok=True)
        where = shown(path)
        engine = connect(path, readonly, busy_timeout)
        try:
            with translated(path, busy_timeout):
                # Look before touching: a foreign or newer file is refused unchanged.
                with for_reading(engine).begin() as connection:
                    version = check_version(applied_version(connection), where, MIGRATIONS)
                if readonly and version == 0:
                    raise LedgerError(f"{where}: empty, not yet a ledger")
                if readonly and version < MIGRATIONS[-1].number:
                    raise LedgerError(
                        f"{where}: ledger schema version {version} is older than this "
                        f"Winnow's ({MIGRATIONS[-1].number}); the next `winnow run` on it "
                        "upgrades it (readers never write)"
                    )
                if not readonly:
                    if not is_url(path):
                        enable_wal(engine, busy_timeout)
                    if version < MIGRATIONS[-1].number:
                        migrate(engine, where)
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine, readonly, busy_timeout)

    def close(self) -> None:
        if not self.readonly and not is_url(self.path):  # a SQLite file's journal mode
            hand_back(self._engine)
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (all or nothing)."""
        if self.readonly:
            raise LedgerError(f"{self.shown}: opened read-only; cannot record")
        with transaction(self._engine, self.path, self.busy_timeout) as session:
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """One read transaction: every query inside sees the same snapshot."""
        with transaction(for_reading(self._engine), self.path, self.busy_timeout) as session:
            yield session

    # -- runs -----------------------------------------------------------------------------

    def start_run(
        self,
        tag: str,
        branch: str,
        config: dict[str, Any],
        program_hash: str,
        proposer: str,
        pool_id: str | None,
        simulated: bool,
    ) -> int:
        """Record a new run (tags are unique) owned by this process; return its id."""
        with self.write() as session:
            if session.exec(select(Run.id).where(Run.tag == tag)).first() is not None:
                raise LedgerError(f"run tag {tag!r} already exists in {self.shown}")
            run = Run(
                tag=tag,
                branch=branch,
                config_json=_dumps(config, "config"),
                program_hash=program_hash,
                proposer=proposer,
                pool_id=pool_id,
                simulated=simulated,
                status=RunStatus.RUNNING,
                started_at=utc_now(),
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(run)
            session.flush()
            assert run.id is not None
            return run.id

    def get_run(self, tag: str | None = None) -> RunView:
        """The run with this tag, or the latest run when ``tag`` is None."""
        with self.read() as session:
            return run_view(session, tag, self.shown)

    def find_run(self, tag: str) -> RunView | None:
        """The run with this tag, or None when the ledger has none."""
        with self.read() as session:
            if session.exec(select(Run.id).where(Run.tag == tag)).first() is None:
                return None
            return run_view(session, tag, self.shown)

    def runs(self) -> list[RunView]:
        """Every run, oldest first."""
        with self.read() as session:
            ids = session.exec(select(Run.tag).order_by(col(Run.id))).all()
            return [run_view(session, tag, self.shown) for tag in ids]

    def finish_run(self, run_id: int, status: str, reason: str) -> None:
        """Close a run: ``finished``, ``stopped`` or ``failed``, with the reason."""
        final = _status(RunStatus, status, "run", final=True)
        with self.write() as session:
            run = _get(session, Run, run_id, "run")
            run.status, run.reason, run.finished_at = final, reason, utc_now()
            session.add(run)

    def set_sweep(self, run_id: int, sweep_path: str) -> None:
        """Attach a sweep page (``winnow sweep``) to the run; the report links it."""
        with self.write() as session:
            run = _get(session, Run, run_id, "run")
            if run.sweep_path not in (None, sweep_path):
                raise LedgerError(f"run {run.tag!r} already links sweep {run.sweep_path}")
            run.sweep_path = sweep_path
            session.add(run)

    def recover(self, run_id: int) -> list[int]:
        """Resume a run in this process: mark its unfinished experiments ``interrupted``.

        Refuses when a ``running`` experiment's writer is still alive on this host (another
        loop is on this run). The run itself is claimed by this process and set ``running``
        again; its previous status and reason are kept in its reason. Returns the numbers
        marked interrupted.
        """
        me = (socket.gethostname(), os.getpid())
        with self.write() as session:
            run = _get(session, Run, run_id, "run")
            running = session.exec(
                select(Experiment)
                .where(Experiment.run_id == run_id, Experiment.status == ExperimentStatus.RUNNING)
                .order_by(col(Experiment.number))
            ).all()
            for exp in running:
                if (exp.host, exp.pid) != me and writer_alive(exp.host, exp.pid):
                    raise LedgerError(
                        f"run {run.tag!r}: experiment {exp.number} is still being run by pid "
                        f"{exp.pid} on {exp.host}; stop that process first"
                    )
            finished = utc_now()
            for exp in running:
                exp.status = ExperimentStatus.INTERRUPTED
                exp.reason = (
                    f"the writer (pid {exp.pid} on {exp.host}) stopped before finishing; "
                    f"found by pid {me[1]} at {finished}"
                )
                exp.finished_at = finished
                session.add(exp)
            previous = f"resumed; before: {run.status}" + (f" ({run.reason})" if run.reason else "")
            run.status, run.reason, run.finished_at = RunStatus.RUNNING, previous, None
            run.host, run.pid, run.resumes = me[0], me[1], run.resumes + 1
            session.add(run)
            return [exp.number for exp in running]

    # -- experiments ------------------------------------------------------------------------

    def next_number(self, run_id: int) -> int:
        """The number the run's next experiment gets (1 for the first)."""
        with self.read() as session:
            _get(session, Run, run_id, "run")
            highest = session.exec(
                select(func.max(Experiment.number)).where(Experiment.run_id == run_id)
            ).one()
            return 1 if highest is None else int(highest) + 1

    def start_experiment(
        self,
        run_id: int,
        number: int,
        parent_commit: str,
        hypothesis: str,
        diff: str,
        proposer: str,
        directive: tuple[str, str] | None = None,
    ) -> int:
        """Record an experiment as ``running`` before anything is evaluated; return its id.
        ``directive`` is (hash, text) of the program.md it was proposed under (a new version is
        kept in ``directives``)."""
        with self.write() as session:
            if directive is not None and session.get(Directive, directive[0]) is None:
                session.add(Directive(hash=directive[0], text=directive[1], recorded_at=utc_now()))
            run = _get(session, Run, run_id, "run")
            taken = session.exec(
                select(Experiment.id).where(
                    Experiment.run_id == run_id, Experiment.number == number
                )
            ).first()
            if taken is not None:
                raise LedgerError(f"run {run.tag!r} already has an experiment {number}")
            exp = Experiment(
                run_id=run_id,
                number=number,
                parent_commit=parent_commit,
                hypothesis=hypothesis,
                diff=diff,
                proposer=proposer,
                directive_hash=directive[0] if directive is not None else None,
                status=ExperimentStatus.RUNNING,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=utc_now(),
            )
            session.add(exp)
            session.flush()
            assert exp.id is not None
            return exp.id

    def finish_experiment(
        self,
        experiment_id: int,
        status: str,
        reason: str,
        commit: str | None,
        cost_usd: float | None,
        *,
        incumbent: int | None = None,
        delta: float | None = None,
        delta_lower: float | None = None,
        min_effect: float | None = None,
        p_value: float | None = None,
        level: float | None = None,
        holdout: tuple[float, float, float] | None = None,
    ) -> None:
        """Finalize a ``running`` experiment with its decision against the incumbent (if any).

        ``delta`` is the mean dev difference to experiment number ``incumbent`` and
        ``delta_lower`` its one-sided lower bound; ``p_value`` the test's p-value and ``level``
        the level the run's procedure held it to; ``holdout`` a kept change's (difference, low,
        high) against the start of the run on the holdout. None where it was not measured.
        """
        final = _status(ExperimentStatus, status, "experiment", final=True)
        with self.write() as session:
            exp = _get(session, Experiment, experiment_id, "experiment")
            if exp.status != ExperimentStatus.RUNNING:
                raise LedgerError(
                    f"experiment {exp.number} is already {exp.status}; it cannot be finished again"
                )
            finished = utc_now()
            exp.status, exp.reason, exp.commit_sha, exp.cost_usd = final, reason, commit, cost_usd
            exp.incumbent_number, exp.dev_delta = incumbent, delta
            exp.dev_delta_lower, exp.min_effect = delta_lower, min_effect
            exp.dev_p_value, exp.dev_level = p_value, level
            if holdout is not None:
                exp.holdout_delta, exp.holdout_delta_low, exp.holdout_delta_high = holdout
            exp.finished_at = finished
            exp.duration_s = _seconds_between(exp.started_at, finished)
            session.add(exp)

    def record_evaluation(
        self, experiment_id: int, result: EvalResult | dict[str, Any], arm: str = "selector"
    ) -> int:
        """Record an evaluation of an experiment, all in one transaction: an ``EvalResult``,
        or its JSON object ``EvalResult.to_json(picks=True, calls=True)``, validated first.

        ``arm`` names the arm under research (its sel@k is the experiment's score).
        """
        with self.write() as session:
            exp = _get(session, Experiment, experiment_id, "experiment")
            return insert_evaluation(session, exp.run_id, experiment_id, result, arm)

    def directive_text(self, directive_hash: str) -> str:
        """A recorded version of program.md."""
        with self.read() as session:
            text: str = _get(session, Directive, directive_hash, "directive").text
            return text

    def values(self, experiment_id: int, split: str) -> dict[str, float]:
        """The researched arm's value per problem (task id) in an experiment's evaluation on
        ``split``; empty when there is no such evaluation."""
        with self.read() as session:
            return problem_values(session, experiment_id, split)

    def experiments(self, run_id: int, status: str | None = None) -> list[ExperimentView]:
        """The run's experiments in order, with their dev and holdout scores; only those with
        ``status`` (an ``ExperimentStatus`` value) when it is given."""
        wanted = None if status is None else _status(ExperimentStatus, status, "experiment")
        with self.read() as session:
            _get(session, Run, run_id, "run")
            return experiment_views(session, run_id, wanted)

    # -- calls, pools, money ------------------------------------------------------------------

    def record_call(self, run_id: int, experiment_id: int | None, call: ModelCall) -> int:
        """Record one model call, failed or not (None where a value is unknown).

        Its ``purpose`` says who asked: ``proposer`` (the research agent), ``sampler`` or
        ``scorer``. Several completions (a list) are stored as a JSON list, one text as itself.
        """
        _dumps(call.messages, "messages")  # refused, whole, before anything is written
        with self.write() as session:
            _get(session, Run, run_id, "run")
            row = LlmCall(**call_row(run_id, experiment_id, call))
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def record_pool(
        self,
        pool_id: str,
        suite: str,
        backend: str,
        model: str | None,
        params: dict[str, Any],
        problems: int,
        samples: int,
        simulated: bool,
        counts: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        """Record a pool once; ``counts`` maps task id to (samples, correct ones).

        Recording the same pool again is a no-op when it says the same, and refused when it
        differs (pools are content-addressed: the same id must mean the same pool). Counts
        can be added to a pool recorded without them.
        """
        record = PoolRecord(
            id=pool_id,
            suite=suite,
            backend=backend,
            model=model,
            params_json=_dumps(params, "params"),
            problems=problems,
            samples=samples,
            simulated=simulated,
            recorded_at=utc_now(),
        )
        with self.write() as session:
            insert_pool(session, record, counts or {})

    def spent(self, run_id: int) -> float:
        """Money spent on model calls in this run, in USD (calls without a price add 0:
        the report counts them separately)."""
        with self.read() as session:
            _get(session, Run, run_id, "run")
            total = session.exec(
                select(func.sum(LlmCall.cost_usd)).where(LlmCall.run_id == run_id)
            ).one()
            return float(total or 0.0)


def _get(session: Session, table: Any, key: int | str, what: str) -> Any:
    row = session.get(table, key)
    if row is None:
        raise LedgerError(f"no {what} with id {key} in the ledger")
    return row


def _status(kind: type[S], status: str, what: str, final: bool = False) -> S:
    """``status`` as a ``kind``; a final one (not ``running``) when ``final``."""
    allowed = [s for s in kind if not (final and s is kind.RUNNING)]
    if status not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise LedgerError(f"{what} status {status!r} is not one of {names}")
    return kind(status)


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"{what} is not JSON-serialisable: {exc}") from exc


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
