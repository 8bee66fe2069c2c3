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

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from agent.branch import (
    ResearchBranch,
    check_tag,
    open_repository,
    unmark_start,
)
from agent.pages.sweeppage import sweep_for_run
from agent.poolsource import PoolSource, sampling_cost
from agent.proposal import (
    Context,
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
    OverBudget,
    RunSpec,
    RunSummary,
    Stop,
    calls_cost,
    directive_hash,
    fmt,
    jsonable,
    sel,
    stoppable,
    values_by_task,
    weigh,
)
from agent.runstart import open_run_branch, previous_run, replay_tests
from agent.settings import ProposerConfig
from agent.summary import baselines_view, commit_message, failures_view, history_view
from harness.api import __file__ as API_FILE
from harness.config import RunConfig, with_scorer_overrides
from harness.data.jsonl import read_jsonl
from harness.data.pools import Pool, load_pool
from harness.data.suites import load_suite
from harness.errors import InputError
from harness.execution.launch import SandboxError
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.judge.significance import Confirmation, Decision, OnlineFdr, confirm
from harness.results import EvalResult, ExperimentStatus, ModelCall
from ledger.errors import LedgerError
from ledger.poolrecords import counts_from_labels
from ledger.store import Ledger
from ledger.views import RunView

SELECTOR = "experiments/selector.py"
SCORER = "experiments/scorer.toml"


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
        self._failure: tuple[str, str] = ("crashed", "")
        self.unpriced: str | None = None  # a model whose calls cannot be priced
        self.start_pool: str | None = None  # the pool the run started from (on resume)
        self._open: tuple[int, int, str] | None = None  # running: (id, number, parent commit)
        self.counted: set[tuple[str, str]] = set()  # (pool, split) whose counts are recorded
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
                self._interrupt_open()
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
            self.opened = True
            session.configure(self.config)  # k is now fixed for the whole run
            start = pool
            if self.start_pool not in (None, pool.id):  # resumed after a kept sampling change
                start = load_pool(self.start_pool, load_suite(spec.suite), session.cache_path)
            self.start_cost = sampling_cost(start, self._k())
            self.pools.flush(self.ledger, self.run_id, None)
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
                self._interrupt_open()
            except SandboxError as broken:
                status, reason = "failed", f"the sandbox failed: {broken}"
                self._interrupt_open(reason)
            except NothingNew as done:
                reason = f"the proposer has nothing new to try: {done}"
            except ProposerDown as down:
                self._record_calls(down.calls, None)
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
        run = previous
        # before anything is written: refused untouched
        self.fdr = replay_tests(self.ledger, run.id, self.config, self.spec.tag)
        interrupted = self.ledger.recover(run.id)
        unmark_start(self.home, self.spec.tag)
        marked = f"experiments {interrupted} marked interrupted" if interrupted else "nothing lost"
        self.say(
            f"resuming {self.spec.tag}: {marked}; {self.fdr.tests} tests so far, "
            f"{self.fdr.keeps} kept, the next at level {self.fdr.level():.3g}"
        )
        kept = [e for e in self.ledger.experiments(run.id) if e.status == "kept" and e.commit]
        commit = kept[-1].commit if kept else run.config["start_commit"]
        assert commit is not None
        self.branch.reset(commit)  # also when at it: a killed commit may have left files
        for e in self.ledger.experiments(run.id):
            if e.commit and e.status in ("kept", "discarded", "invalid", "crashed"):
                score = e.dev.score if e.dev is not None else None
                dev = score.sel_at_k if score is not None else None
                self.seen[self.branch.experiments_hash(e.commit)] = (e.number, e.status, dev)
        return run.id, commit

    def _finish(self, status: str, reason: str) -> RunSummary:
        self.ledger.finish_run(self.run_id, status, reason)
        views = self.ledger.experiments(self.run_id)
        counts: dict[str, int] = {}
        for e in views:
            counts[e.status] = counts.get(e.status, 0) + 1
        scores = [
            e.dev.score.sel_at_k
            for e in views
            if e.status == "kept" and e.dev and e.dev.score and e.dev.score.sel_at_k is not None
        ]
        self.say(f"run {self.spec.tag} {status}: {reason}")
        return RunSummary(
            self.spec.tag,
            status,
            reason,
            len(views),
            counts.get("kept", 0),
            max(scores) if scores else None,
            counts,
        )

    def _should_stop(self) -> str | None:
        if self.signals:  # a Stop raised where it could not propagate
            raise Stop(self.signals[-1])
        spec = self.spec
        done = len([e for e in self.ledger.experiments(self.run_id) if e.status != "interrupted"])
        if spec.max_experiments is not None and done >= spec.max_experiments:
            return f"--max-experiments {spec.max_experiments} reached"
        if spec.max_hours is not None and time.monotonic() - self.started >= spec.max_hours * 3600:
            return f"--max-hours {spec.max_hours} reached"
        if spec.max_cost is not None and self.unpriced is not None:
            return (
                f"--max-cost is set but calls to {self.unpriced} have no known price: "
                "set [proposer] input_usd_per_mtok and output_usd_per_mtok"
            )
        if spec.max_cost is not None and self.ledger.spent(self.run_id) >= spec.max_cost:
            return (
                f"--max-cost {spec.max_cost} reached (spent {self.ledger.spent(self.run_id):.4f})"
            )
        if self.failures >= spec.max_failures:
            return f"{self.failures} consecutive crashed or invalid experiments"
        return None

    # -- experiments ---------------------------------------------------------------------------

    def _baseline(self, commit: str) -> Incumbent | None:
        """Experiment 1 is always the unmodified start; on resume, re-score the incumbent."""
        kept = [e for e in self.ledger.experiments(self.run_id) if e.status == "kept"]
        if kept:
            self.start_holdout = self.ledger.values(kept[0].id, "holdout")
            self._show(kept[-1].number, "evaluating")  # the incumbent, re-scored
            result = self._evaluate("dev", None)
            if self.display is not None:
                self.display.best(sel(result))
            return Incumbent(kept[-1].number, commit, result, result.pool)
        number = self.ledger.next_number(self.run_id)
        self._show(number, "evaluating")
        self._read_directive()
        exp = self._start_experiment(
            self.run_id, number, commit, "baseline: the unmodified starting point", "", "baseline"
        )
        self.branch.keep_ref(number, commit)
        dev = self._evaluate_recorded(exp, "dev")
        if dev is None or not dev.valid:
            status, reason = self._failure if dev is None else ("invalid", dev.reason)
            self._finish_experiment(exp, status, f"the starting point: {reason}", commit, 0.0)
            self.say(f"#{number} baseline {status}: {reason}")
            return None
        holdout = self._evaluate_recorded(exp, "holdout")
        if holdout is not None and holdout.valid:
            self.start_holdout = values_by_task(holdout)
        self._finish_experiment(
            exp, "kept", "the baseline every change is compared with", commit, 0.0
        )
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
        context = self._context(files, incumbent)
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
        exp = self._start_experiment(
            self.run_id, number, incumbent.commit, hypothesis, diff, proposer
        )
        self._record_calls(calls, exp)
        self._finish_experiment(exp, "invalid", reason, None, calls_cost(calls))
        self.failures += 1
        self.say(f"#{number} invalid: {reason}")
        return incumbent

    def _try(self, incumbent: Incumbent, number: int, proposal: Proposal, diff: str) -> Incumbent:
        exp = self._start_experiment(
            self.run_id, number, incumbent.commit, proposal.hypothesis, diff, proposal.proposer
        )
        self._record_calls(proposal.calls, exp)
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
                dev = self._evaluate_recorded(exp, "dev")
                status, reason, decision = self._decide(dev, incumbent)
                if status == "kept":
                    holdout = self._evaluate_recorded(exp, "holdout")
                    confirmation = self._confirm(holdout)
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
        self._finish_experiment(
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
            return self._failure[0], self._failure[1], None
        return weigh(dev, incumbent.dev, self.fdr.level(), self.config.eval)

    def _confirm(self, holdout: EvalResult | None) -> Confirmation | None:
        """A kept change against the start of the run on the holdout (never decides)."""
        if holdout is None or not holdout.valid or not self.start_holdout:
            return None
        new = values_by_task(holdout)
        if set(new) != set(self.start_holdout):
            return None
        tasks = sorted(new)
        return confirm(
            np.array([new[t] for t in tasks]),
            np.array([self.start_holdout[t] for t in tasks]),
            self.config.eval.seed,
        )

    def _evaluate(self, split: str, exp: int | None) -> EvalResult:
        if self.spec.pool is None:
            self._show(None, "sampling")  # answered from the cache when the config is unchanged
        try:
            pool = self.pools.pool_for(self.branch.path, self.session)
        finally:
            self.pools.flush(self.ledger, self.run_id, exp)
        cost = sampling_cost(pool, self._k())
        if cost is not None and self.start_cost is not None:
            over = cost.over(self.config.budget.sampling_ratio, self.start_cost)
            if over is not None:
                raise OverBudget(over)
        scorer = self.branch.path / SCORER
        if scorer.exists():  # the research side of the scorer (how it asks): harness/config.py
            self.session.configure(with_scorer_overrides(self.config, scorer))
        # The pool's per-problem counts (for the report's pass@k curve) do not depend on the
        # selector: they are taken once per pool and split, not at every experiment.
        count = (pool.id, split) not in self.counted
        labels = self.home / "tmp" / f"labels-{os.getpid()}.jsonl"
        labels.parent.mkdir(parents=True, exist_ok=True)
        spec = EvalSpec(
            suite=self.spec.suite,
            pool=pool.id,
            selector=self.branch.path / SELECTOR,
            split=split,
            labels_out=labels if count else None,
        )
        result = evaluate(spec, self.session, self.display.progress if self.display else None)
        self._show(None, "deciding")
        if count:
            rows = [row for _, row in read_jsonl(labels)]
            labels.unlink()
            self.pools.record(self.ledger, pool, counts_from_labels(rows))
            self.counted.add((pool.id, split))
        return result

    def _evaluate_recorded(self, exp: int, split: str) -> EvalResult | None:
        """Evaluate and record. None on failure, with (status, reason) in ``self._failure``:
        ``invalid`` when a file under experiments/ is bad input, ``crashed`` when it broke."""
        try:
            result = self._evaluate(split, exp)
        except InputError as bad:
            self._failure = ("invalid", f"bad input: {bad}")
            return None
        except OverBudget as over:
            self._failure = ("invalid", f"compute_parity: {over}")
            return None
        except (Stop, SandboxError):  # not the experiment's doing: the run ends
            raise
        except Exception as exc:  # the evaluation broke: recorded as a crash, never a score
            self._failure = ("crashed", f"{type(exc).__name__}: {exc}")
            self.say(traceback.format_exc())
            return None
        self.ledger.record_evaluation(exp, result.to_json(picks=True, calls=True))
        return result

    def _read_directive(self) -> str:
        """program.md as the user's checkout has it now (uncommitted edits steer the run);
        the experiments recorded from here on carry its hash."""
        try:
            text = self.program_path.read_text()
        except OSError as gone:
            raise InputError(f"the research directive cannot be read: {gone}") from None
        self.directive = (directive_hash(text.encode()), text)
        return text

    def _context(self, files: dict[str, str], incumbent: Incumbent) -> Context:
        history, best, failed = history_view(self.ledger.experiments(self.run_id))
        return Context(
            program=self._read_directive(),
            api=Path(API_FILE).read_text(),
            files=files,
            baselines=baselines_view(incumbent.dev),
            history=history,
            best=best,
            failed_checks=failed,
            failures=failures_view(incumbent.dev),  # the dev split's, never the holdout's
        )

    def _start_experiment(
        self, run_id: int, number: int, parent: str, hypothesis: str, diff: str, proposer: str
    ) -> int:
        """Record an experiment as running; until it is finished, a Stop marks it interrupted
        and moves the branch back to ``parent`` (the incumbent)."""
        exp = self.ledger.start_experiment(
            run_id, number, parent, hypothesis, diff, proposer, self.directive
        )
        self._open = (exp, number, parent)
        return exp

    def _finish_experiment(self, exp: int, *args: Any, **kwargs: Any) -> None:
        self.ledger.finish_experiment(exp, *args, **kwargs)
        self._open = None

    def _interrupt_open(self, reason: str = "stopped while running") -> None:
        """After a Stop (or a broken sandbox): finish the running experiment, put the branch
        back."""
        if self._open is None:
            return
        exp, number, parent = self._open
        # Its commit, if it got as far as one (kept under refs/winnow/<tag>/<number>).
        self._finish_experiment(exp, "interrupted", reason, self.branch.kept_ref(number), None)
        self.branch.reset(parent)

    def _show(self, number: int | None, stage: str) -> None:
        """Tell the display (if any) the experiment under way and its stage."""
        if self.display is None:
            return
        if number is not None:
            self.display.experiment(number, stage)
        else:
            self.display.stage(stage)

    def _record_calls(self, calls: list[ModelCall], exp: int | None) -> None:
        for call in calls:
            if call.cost_usd is None and call.error is None:
                self.unpriced = call.model
            self.ledger.record_call(self.run_id, exp, call)
