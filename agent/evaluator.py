"""How the loop evaluates an experiment: the pool the files under ``experiments/`` ask for
(sampled or replayed), within the run's sampling budget, with the scorer they configure, judged
by the harness with every check, and recorded in the ledger."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.branch import ResearchBranch
from agent.poolsource import PoolSource, SamplingCost, sampling_cost
from agent.run import Display, OverBudget, RunSpec, Stop
from harness.config import RunConfig, with_scorer_overrides
from harness.data.jsonl import read_jsonl
from harness.errors import InputError
from harness.execution.launch import SandboxError
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.results import EvalResult
from ledger.poolrecords import counts_from_labels
from ledger.store import Ledger

SELECTOR = "experiments/selector.py"
SCORER = "experiments/scorer.toml"


@dataclass
class Evaluator:
    spec: RunSpec
    config: RunConfig  # the run's, its k fixed
    home: Path
    ledger: Ledger
    run_id: int
    branch: ResearchBranch
    pools: PoolSource
    session: Session
    start_cost: SamplingCost | None  # what the starting pool costs per problem at k
    show: Callable[[str], None]  # the stage under way
    display: Display | None
    say: Callable[[str], None]
    # (pool, split) whose per-problem counts are recorded: they do not depend on the selector
    counted: set[tuple[str, str]] = field(default_factory=set)
    # (status, reason) of the last evaluation that failed (see ``recorded``)
    failure: tuple[str, str] = ("crashed", "")

    def evaluate(self, split: str, exp: int | None) -> EvalResult:
        if self.spec.pool is None:
            self.show("sampling")  # answered from the cache when the config is unchanged
        try:
            pool = self.pools.pool_for(self.branch.path, self.session)
        finally:
            self.pools.flush(self.ledger, self.run_id, exp)
        assert self.config.eval.k is not None
        cost = sampling_cost(pool, self.config.eval.k)
        if cost is not None and self.start_cost is not None:
            over = cost.over(self.config.budget.sampling_ratio, self.start_cost)
            if over is not None:
                raise OverBudget(over)
        scorer = self.branch.path / SCORER
        if scorer.exists():  # the research side of the scorer (how it asks): harness/config.py
            self.session.configure(with_scorer_overrides(self.config, scorer))
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
        self.show("deciding")
        if count:
            rows = [row for _, row in read_jsonl(labels)]
            labels.unlink()
            self.pools.record(self.ledger, pool, counts_from_labels(rows))
            self.counted.add((pool.id, split))
        return result

    def recorded(self, exp: int, split: str) -> EvalResult | None:
        """Evaluate and record. None on failure, with (status, reason) in ``self.failure``:
        ``invalid`` when a file under experiments/ is bad input, ``crashed`` when it broke."""
        try:
            result = self.evaluate(split, exp)
        except InputError as bad:
            self.failure = ("invalid", f"bad input: {bad}")
            return None
        except OverBudget as over:
            self.failure = ("invalid", f"compute_parity: {over}")
            return None
        except (Stop, SandboxError):  # not the experiment's doing: the run ends
            raise
        except Exception as exc:  # the evaluation broke: recorded as a crash, never a score
            self.failure = ("crashed", f"{type(exc).__name__}: {exc}")
            self.say(traceback.format_exc())
            return None
        self.ledger.record_evaluation(exp, result.to_json(picks=True, calls=True))
        return result
