"""The research loop behind ``winnow run``.

One step: propose -> refuse anything outside ``experiments/`` (invalid, no commit) -> record the
experiment as ``running`` -> commit -> evaluate on the dev split with every check -> decide with
the significance rule against the incumbent, at the level the run's error control gives this
test -> record -> keep (the branch advances; the holdout split is evaluated and compared with the
start of the run, recorded, never used to decide) or reset. Identical ``experiments/`` contents
are never evaluated twice.

The run's error control (``harness/judge/significance.py``: e-LOND) counts the experiments that
were tested — those with a valid dev evaluation compared with the incumbent — and the keeps among
them; both are in the ledger (each test's p-value and level), so a resumed run rebuilds the state
from it and checks that every recorded test followed the procedure.

Durability: the ledger holds a ``running`` row before anything is evaluated, every commit stays
reachable as ``refs/winnow/<tag>/<n>``, and on start an unfinished experiment is marked
``interrupted`` and the branch reset to the last kept commit. ``kill -9`` at any moment leaves the
branch at a kept commit or at the commit under test, and loses nothing that was recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from agent.branch import (
    ResearchBranch,
    check_tag,
    open_repository,
    unmark_start,
)
from agent.evaluator import SELECTOR, Evaluator
from agent.pages.sweeppage import sweep_for_run
from agent.poolsource import PoolSource, sampling_cost
from agent.proposal import (
    NothingNew,
    Outcome,
    Proposal,
    ProposalFailed,
    Proposer,
    ProposerDown,
    outside_experiments,
    unified_diff,
)
from agent.run import (
    Display,
    Incumbent,
    RunSpec,
    RunSummary,
    Stop,
    against_start,
    calls_cost,
    directive_hash,
    fmt,
    jsonable,
    sel,
    stoppable,
    values_by_task,
    weigh,
)
from agent.runledger import Records, resume, spent_budget, summary
from agent.runstart import open_run_branch, previous_run
from agent.settings import ProposerConfig
from agent.summary import commit_message, proposal_context
from harness.config import RunConfig
from harness.data.pools import Pool, load_pool
from harness.data.suites import load_suite
from harness.errors import InputError
from harness.execution.launch import SandboxError
from harness.judge.evaluate import Session
from harness.judge.significance import Decision, OnlineFdr
from harness.results import EvalResult, ExperimentStatus, ModelCall
from ledger.errors import LedgerError
from ledger.store import Ledger
from ledger.views import RunView


class Loop:
    def __init__(
        self,
        spec: RunSpec,
        config: RunConfig,
        proposer_config: ProposerConfig,
        make_proposer: Callable[[ResearchBranch], Proposer],
        ledger: Ledger,
        home: Path,
        cwd: Path,
        say: Callable[[str], None] = print,
        display: Display | None = None,  # a live status; its say() then replaces ``say``
    ):
        self.spec, self.config, self.proposer_config = spec, config, proposer_config
        self.make_proposer, self.ledger, self.home = make_proposer, ledger, home
        self.display = display
        self.say = display.say if display is not None else say
        self.repo = open_repository(cwd)
        self.root = Path(self.repo.working_tree_dir or cwd)
        self.program_path = self.root / spec.program  # the user's, read fresh at every step
        self.run_id = 0  # the run's id in the ledger, once opened
        self.directive: tuple[str, str] | None = None  # (hash, text) of program.md, last read
        self.opened = False
        self.signals: list[str] = []  # SIGINT/SIGTERM received (stoppable)
        self.started = time.monotonic()
        self.failures = 0
        self.start_pool: str | None = None  # the pool the run started from (on resume)
        self.seen: dict[str, tuple[int, str, float | None]] = {}  # tree -> (n, status, dev)
        self.fdr = OnlineFdr(config.eval.fdr, config.eval.fdr_horizon)  # rebuilt on resume
        self.start_holdout: dict[str, float] = {}  # the start's holdout values, by task

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Start the run or resume it, and step until a budget, a stop or a failure ends it."""
        with stoppable() as self.signals:
            try:
                return self._run()
            except Stop as stop:  # outside an experiment: while starting, resuming or finishing
                if not self.opened:
                    reason = f"stopped by {stop} before the run was opened"
                    self.say(f"run {self.spec.tag} {reason}; the same command starts it again")
                    return RunSummary(self.spec.tag, "stopped", reason, 0, 0, None)
                self.records.interrupt()
                return self._finish("stopped", f"stopped by {stop}")

    def _run(self) -> RunSummary:
        spec = self.spec
        check_tag(spec.tag)
        # a resume that differs is refused here, untouched
        previous, self.config = previous_run(self.ledger, spec, self.config)
        self.start_pool = previous.pool_id if previous is not None else None
        self.pools = PoolSource(spec.suite, spec.pool, self.home, self.config.sampler)
        self.pools.check(self.repo, previous is None)
        if not self.program_path.exists():
            raise InputError("no research directive", self.program_path)
        if spec.max_experiments == 0:
            self.say(f"run {spec.tag}: --max-experiments 0, nothing to run")
            return RunSummary(spec.tag, "finished", "--max-experiments 0", 0, 0, None)
        status, reason, incumbent = "finished", "budget reached", None
        with Session(self.config) as session:
            self.session = session
            load_suite(spec.suite)
            if spec.pool is not None:  # the replayed pool loads before anything is created
                self.pools.pool_for(self.root, session)
            self.branch = branch = open_run_branch(self.repo, spec, self.home, previous, self.say)
            pool = self.pools.pool_for(branch.path, session)
            self.run_id, incumbent_commit = self._open_run(previous, pool)
            self.records = Records(self.ledger, self.run_id, branch)
            self.opened = True
            session.configure(self.config)  # k is now fixed for the whole run
            start = pool
            if self.start_pool not in (None, pool.id):  # resumed after a kept sampling change
                start = load_pool(self.start_pool, load_suite(spec.suite), session.cache_path)
            self.start_cost = sampling_cost(start, self._k())
            self.pools.flush(self.ledger, self.run_id, None)
            self.judge = Evaluator(
                spec, self.config, self.home, self.ledger, self.run_id, branch, self.pools,
                session, self.start_cost, lambda stage: self._show(None, stage), self.display,
                self.say,
            )  # fmt: skip
            self.proposer = self.make_proposer(branch)
            label = " (SIMULATED)" if pool.simulated else ""
            cost = "" if self.start_cost is None else f", sampling {self.start_cost}"
            self.say(
                f"run {spec.tag} on {branch.name}: pool {pool.id}{label}, "
                f"k={self._k()}{cost}, proposer {self.proposer.name}, worktree {branch.path}"
            )
            try:
                incumbent = self._baseline(incumbent_commit)
                if incumbent is None:
                    return self._finish(
                        "failed", "the starting selector is not valid: see experiment 1"
                    )
                while (why := self._should_stop()) is None:
                    incumbent = self._step(incumbent)
                reason = why
            except Stop as stop:
                status, reason = "stopped", f"stopped by {stop}"
                self.records.interrupt()
            except SandboxError as broken:
                status, reason = "failed", f"the sandbox failed: {broken}"
                self.records.interrupt(reason)
            except NothingNew as done:
                reason = f"the proposer has nothing new to try: {done}"
            except ProposerDown as down:
                self.records.calls(down.calls, None)
                status, reason = "failed", f"the proposer is down: {down}"
        if status == "finished" and spec.sweep_ks and incumbent is not None:
            self._sweep(incumbent)
        return self._finish(status, reason)

    def _sweep(self, incumbent: Incumbent) -> None:
        """Sweep the best kept selector on its pool's holdout split (the split never used to
        decide) and link the page from the run; a sweep that fails is said, not recorded."""
        path = self.home / "sweeps" / f"{self.spec.tag}.html"
        selector = self.branch.path / SELECTOR
        try:
            sweep_for_run(incumbent.pool, selector, self.spec.sweep_ks, path, self.config,
                          self.spec.suite, split="holdout")  # fmt: skip
        except (InputError, LedgerError) as exc:
            self.say(f"sweep not written: {exc}")
            return
        self.ledger.set_sweep(self.run_id, str(path))
        self.say(f"sweep of the best selector (#{incumbent.number}): {path}")

    def _k(self) -> int:
        assert self.config.eval.k is not None
        return self.config.eval.k

    def _open_run(self, previous: RunView | None, pool: Pool) -> tuple[int, str]:
        """Start the run's record, or resume it. The run's k is fixed here: every experiment,
        whatever pool it samples, chooses among the same number of candidates."""
        program_hash = directive_hash(self.program_path.read_bytes())
        if previous is None:
            if self.config.eval.k is None:
                self.config = self.config.with_eval(k=pool.min_n())
            run_id = self.ledger.start_run(
                tag=self.spec.tag,
                branch=self.branch.name,
                config={
                    "run": self.config.model_dump(mode="json"),
                    "spec": jsonable(asdict(self.spec)),
                    "start_commit": self.branch.head,
                    "proposer": self.proposer_config.model_dump(mode="json")
                    | {"api_key_env": "(hidden)"},
                },
                program_hash=program_hash,
                proposer=self.proposer_config.resolved_kind(),
                pool_id=pool.id,
                simulated=pool.simulated,
            )
            unmark_start(self.home, self.spec.tag)
            self.say(f"starting {self.spec.tag}")
            return run_id, self.branch.head
        resumed = resume(self.ledger, previous, self.config, self.branch, self.home)
        self.fdr, self.seen = resumed.fdr, resumed.seen
        interrupted = resumed.interrupted
        marked = f"experiments {interrupted} marked interrupted" if interrupted else "nothing lost"
        self.say(
            f"resuming {self.spec.tag}: {marked}; {self.fdr.tests} tests so far, "
            f"{self.fdr.keeps} kept, the next at level {self.fdr.level():.3g}"
        )
        return previous.id, resumed.commit

    def _finish(self, status: str, reason: str) -> RunSummary:
        self.ledger.finish_run(self.run_id, status, reason)
        self.say(f"run {self.spec.tag} {status}: {reason}")
        return summary(self.ledger, self.run_id, self.spec.tag, status, reason)

    def _should_stop(self) -> str | None:
        if self.signals:  # a Stop raised where it could not propagate
            raise Stop(self.signals[-1])
        elapsed = time.monotonic() - self.started
        return spent_budget(
            self.spec, self.ledger, self.run_id, elapsed, self.records.unpriced, self.failures
        )

    # -- experiments ---------------------------------------------------------------------------

    def _baseline(self, commit: str) -> Incumbent | None:
        """Experiment 1 is always the unmodified start; on resume, re-score the incumbent."""
        kept = [e for e in self.ledger.experiments(self.run_id) if e.status == "kept"]
        if kept:
            self.start_holdout = self.ledger.values(kept[0].id, "holdout")
            self._show(kept[-1].number, "evaluating")  # the incumbent, re-scored
            result = self.judge.evaluate("dev", None)
            if self.display is not None:
                self.display.best(sel(result))
            return Incumbent(kept[-1].number, commit, result, result.pool)
        number = self.ledger.next_number(self.run_id)
        self._show(number, "evaluating")
        self._read_directive()
        exp = self.records.start(
            number, commit, "baseline: the unmodified starting point", "", "baseline",
            self.directive,
        )  # fmt: skip
        self.branch.keep_ref(number, commit)
        dev = self.judge.recorded(exp, "dev")
        if dev is None or not dev.valid:
            status, reason = self.judge.failure if dev is None else ("invalid", dev.reason)
            self.records.finish(exp, status, f"the starting point: {reason}", commit, 0.0)
            self.say(f"#{number} baseline {status}: {reason}")
            return None
        holdout = self.judge.recorded(exp, "holdout")
        if holdout is not None and holdout.valid:
            self.start_holdout = values_by_task(holdout)
        self.records.finish(exp, "kept", "the baseline every change is compared with", commit, 0.0)
        self.seen[self.branch.experiments_hash(commit)] = (number, "kept", sel(dev))
        self._tell_seed(dev, Outcome(number, ExperimentStatus.KEPT, commit))
        self.say(f"#{number} baseline: dev {fmt(sel(dev))}, holdout {fmt(sel(holdout))}")
        if self.display is not None:
            self.display.best(sel(dev))
        return Incumbent(number, commit, dev, dev.pool)

    def _tell_seed(self, dev: EvalResult, outcome: Outcome) -> None:
        seed_with = getattr(self.proposer, "seed_with", None)
        if seed_with is not None:
            seed_with(self.branch.experiment_files(), sel(dev), outcome)

    def _step(self, incumbent: Incumbent) -> Incumbent:
        files = self.branch.experiment_files()
        context = proposal_context(
            self._read_directive(), files, incumbent.dev, self.ledger.experiments(self.run_id)
        )
        number = self.ledger.next_number(self.run_id)
        self._show(number, "proposing")
        try:
            proposal = self.proposer.propose(context)
        except ProposalFailed as failed:
            return self._reject(
                incumbent, number, "(no usable proposal)", "", failed.calls, str(failed), "llm"
            )
        except InputError as bad:
            return self._reject(
                incumbent, number, "(no usable proposal)", "", [], str(bad), self.proposer.name
            )
        diff = unified_diff(files, proposal.files)
        outside = outside_experiments(list(proposal.files))
        if outside:
            self.proposer.tell(proposal, None, Outcome(number, ExperimentStatus.INVALID, None))
            return self._reject(
                incumbent,
                number,
                proposal.hypothesis,
                diff,
                proposal.calls,
                f"touches files outside experiments/: {', '.join(outside)}",
                proposal.proposer,
            )
        return self._try(incumbent, number, proposal, diff)

    def _reject(
        self,
        incumbent: Incumbent,
        number: int,
        hypothesis: str,
        diff: str,
        calls: list[ModelCall],
        reason: str,
        proposer: str,
    ) -> Incumbent:
        exp = self.records.start(
            number, incumbent.commit, hypothesis, diff, proposer, self.directive
        )
        self.records.calls(calls, exp)
        self.records.finish(exp, "invalid", reason, None, calls_cost(calls))
        self.failures += 1
        self.say(f"#{number} invalid: {reason}")
        return incumbent

    def _try(self, incumbent: Incumbent, number: int, proposal: Proposal, diff: str) -> Incumbent:
        exp = self.records.start(
            number, incumbent.commit, proposal.hypothesis, diff, proposal.proposer, self.directive
        )
        self.records.calls(proposal.calls, exp)
        cost = calls_cost(proposal.calls)
        tag = self.spec.tag
        commit = self.branch.commit(
            proposal.files, commit_message(proposal.hypothesis, tag, number, "running")
        )
        self.branch.keep_ref(number, commit)
        dev = holdout = decision = confirmation = None
        try:
            tree = self.branch.experiments_hash()
            if tree in self.seen:
                first, status, score = self.seen[tree]
                status = status if status in ("invalid", "crashed") else "discarded"
                reason = f"identical to experiment {first}; its result is reused (dev {fmt(score)})"
            else:
                dev = self.judge.recorded(exp, "dev")
                status, reason, decision = self._decide(dev, incumbent)
                if status == "kept":
                    holdout = self.judge.recorded(exp, "holdout")
                    confirmation = against_start(holdout, self.start_holdout, self.config.eval.seed)
                self.seen[tree] = (number, status, sel(dev) if dev else None)
        except Stop:
            self.proposer.tell(
                proposal, None, Outcome(number, ExperimentStatus.INTERRUPTED, commit)
            )
            raise
        message = commit_message(
            proposal.hypothesis,
            tag,
            number,
            status,
            reason,
            dev,
            holdout,
            decision,
            incumbent.number,
            confirmation,
        )
        commit = self.branch.amend(message)
        self.branch.keep_ref(number, commit)
        if status != "kept":
            self.branch.reset(incumbent.commit)
        self.records.finish(
            exp,
            status,
            reason,
            commit,
            cost,
            incumbent=incumbent.number,
            delta=decision.difference if decision else None,
            delta_lower=decision.lower if decision else None,
            min_effect=decision.min_effect if decision else None,
            p_value=decision.p_value if decision else None,
            level=decision.level if decision else None,
            holdout=(
                (confirmation.difference, confirmation.low, confirmation.high)
                if confirmation
                else None
            ),
        )
        if decision is not None:  # a test of the run, now recorded
            self.fdr = self.fdr.record(decision.keep)
        self.proposer.tell(
            proposal,
            sel(dev) if dev is not None and dev.valid else None,
            Outcome(number, ExperimentStatus(status), commit),
        )
        self.failures = self.failures + 1 if status in ("invalid", "crashed") else 0
        shown = reason if reason.startswith(status) else f"{status}: {reason}"
        self.say(f"#{number} {shown}")
        if status == "kept" and dev is not None:
            if self.display is not None:
                self.display.best(sel(dev))
            return Incumbent(number, commit, dev, dev.pool)
        return incumbent

    def _decide(
        self, dev: EvalResult | None, incumbent: Incumbent
    ) -> tuple[str, str, Decision | None]:
        if dev is None:
            return self.judge.failure[0], self.judge.failure[1], None
        return weigh(dev, incumbent.dev, self.fdr.level(), self.config.eval)

    def _read_directive(self) -> str:
        """program.md as the user's checkout has it now (uncommitted edits steer the run);
        the experiments recorded from here on carry its hash."""
        try:
            text = self.program_path.read_text()
        except OSError as gone:
            raise InputError(f"the research directive cannot be read: {gone}") from None
        self.directive = (directive_hash(text.encode()), text)
        return text

    def _show(self, number: int | None, stage: str) -> None:
        """Tell the display (if any) the experiment under way and its stage."""
        if self.display is None:
            return
        if number is not None:
            self.display.experiment(number, stage)
        else:
            self.display.stage(stage)
