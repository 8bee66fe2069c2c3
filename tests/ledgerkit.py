"""Real evaluations of the tiny suite, recorded into a ledger the way the loop records them.

The evaluations are run once per test session (in-process harness, real sandbox) and shared by
the ledger and report tests; the keep/discard decisions come from the harness's own rule.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from synthkit import write_synthetic

from harness.config import load_config
from harness.data.jsonl import read_jsonl
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.judge.significance import OnlineFdr, decide
from harness.results import ModelCall, Purpose
from ledger.poolrecords import counts_from_labels
from ledger.store import Ledger

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SUITE = DATA / "tiny_suite.jsonl"
POOL = DATA / "tiny_pool"
CODET = (ROOT / "experiments" / "selector.py").read_text()

SELECTORS = {
    "codet": CODET,
    "codet_big_groups": CODET.replace("SIZE_POWER = 0.5", "SIZE_POWER = 1.0"),
    "longest": (
        "USES = set()\n\n\ndef select(problem, candidates, probe):\n"
        "    return [float(len(c.completion)) for c in candidates]\n"
    ),
    "crash": (
        "USES = set()\n\n\ndef select(problem, candidates, probe):\n"
        "    raise RuntimeError('the proposer broke it')\n"
    ),
}


@dataclass(frozen=True)
class Measured:
    results: dict[tuple[str, str], dict[str, Any]]  # (selector, split) -> eval JSON
    counts: dict[str, tuple[int, int]]  # task -> (samples, correct), from --labels


@functools.cache
def measured() -> Measured:
    """``EvalResult.to_json(picks=True)`` for each selector on dev and holdout (k=4)."""
    root = Path(tempfile.mkdtemp(prefix="winnow-ledgerdata-"))
    config = load_config(None).with_eval(k=4, repeats=None, seed=None)
    results = {}
    labels = []
    with Session(config, cache=root / "cache") as session:
        for name, source in SELECTORS.items():
            path = root / f"{name}.py"
            path.write_text(source)
            for split in ("dev", "holdout"):
                out = root / f"labels-{name}-{split}.jsonl"
                spec = EvalSpec(
                    suite=str(SUITE), pool=str(POOL), selector=path, split=split, labels_out=out
                )
                results[(name, split)] = evaluate(spec, session).to_json(picks=True)
                if name == "codet":
                    labels += [row for _, row in read_jsonl(out)]
    shutil.rmtree(root)
    return Measured(results, counts_from_labels(labels))


def evaluations() -> dict[tuple[str, str], dict[str, Any]]:
    return measured().results


def values(result: dict[str, Any], arm: str = "selector") -> np.ndarray:
    picks = sorted((p["task_id"], p["value"]) for p in result["picks"] if p["arm"] == arm)
    return np.array([v for _, v in picks])


def record_run(path: Path | str, tag: str = "overnight", simulated: bool = False) -> Ledger:
    """A run as the loop would leave it: kept, discarded, invalid, crashed and stale rows."""
    results = evaluations()
    first = results[("codet", "dev")]
    ledger = Ledger.open(path)
    ledger.record_pool(
        first["pool"], first["suite"], "import", "codegen-16B (replayed)",
        {"temperature": 0.8, "top_p": 0.95, "n": first["n"]}, 8, 48, simulated,
        counts=measured().counts,
    )  # fmt: skip
    run = ledger.start_run(
        tag, f"research/{tag}", {"k": 4, "max_experiments": 6}, "sha256:program",
        "llm", first["pool"], simulated,
    )  # fmt: skip
    incumbent: tuple[int, np.ndarray] | None = None
    config = load_config(None).eval
    fdr = OnlineFdr(config.fdr, config.fdr_horizon)
    plan = [
        ("codet", "start: CodeT dual agreement, as shipped"),
        ("longest", "longer completions handle more edge cases"),
        ("crash", "rank by a helper that is not there yet"),
        ("codet_big_groups", "weight agreeing groups linearly: bigger clusters are right"),
    ]
    for number, (name, hypothesis) in enumerate(plan, 1):
        diff = (
            f"--- a/experiments/selector.py\n+++ b/experiments/selector.py\n@@\n-# was\n+# {name}\n"
        )
        exp = ledger.start_experiment(run, number, f"parent{number:02d}", hypothesis, diff, "llm")
        ledger.record_call(run, exp, proposer_call(
            "gpt-test", [{"role": "user", "content": hypothesis}], diff, 900 + number, 120,
            0.0125 * number, 1.5, None,
        ))  # fmt: skip
        dev = results[(name, "dev")]
        ledger.record_evaluation(exp, dev)
        if not dev["valid"]:
            ledger.finish_experiment(exp, "invalid", dev["reason"], None, 0.0125 * number)
            continue
        ledger.record_evaluation(exp, results[(name, "holdout")])
        new = values(dev)
        if incumbent is None:
            ledger.finish_experiment(exp, "kept", "the first incumbent", f"c{number:07d}", 0.0125)
            incumbent = (number, new)
            continue
        decision = decide(new, incumbent[1], seed=0, level=fdr.level())
        status = "kept" if decision.keep else "discarded"
        ledger.finish_experiment(
            exp, status, decision.reason, f"c{number:07d}", 0.0125 * number,
            incumbent=incumbent[0], delta=decision.difference, delta_lower=decision.lower,
            min_effect=decision.min_effect, p_value=decision.p_value, level=decision.level,
        )  # fmt: skip
        fdr = fdr.record(decision.keep)
        if decision.keep:
            incumbent = (number, new)
    crashed = ledger.start_experiment(
        run, 5, "parent05", "import numpy for speed", "+import numpy\n", "llm"
    )
    ledger.record_call(run, crashed, proposer_call(
        "gpt-test", [{"role": "user", "content": "x"}], None, None, None, None, 30.0,
        "Timeout: no answer in 30 s",
    ))  # fmt: skip
    ledger.finish_experiment(
        crashed, "crashed", "the selector did not import: SyntaxError", None, None
    )
    start_dead_writer(path, run, 6)
    return ledger


IMPROVING = {  # on the synthetic suite: CodeT counting only repeated self-tests, then all
    "weak": CODET.replace("MIN_TEST_VOTES = 1 ", "MIN_TEST_VOTES = 2 "),
    "better": CODET,
    "longest": SELECTORS["longest"],
    "constant": (
        "USES = {'self_tests'}\n\ndef select(problem, candidates, probe):\n"
        "    probe.self_tests()\n    return [0.0] * len(candidates)\n"
    ),
}


@functools.cache
def measured_improving() -> Measured:
    """Evaluations on a 160-problem synthetic suite (80 on dev: enough for the run's error
    control to keep the improvement, +0.177 with p = 5e-5; on 80 problems it is +0.118 with
    p = 0.041, above the first test's level) of a weak start, a real improvement, a worse
    change and a selector that is not wired."""
    assert IMPROVING["weak"] != IMPROVING["better"]
    root = Path(tempfile.mkdtemp(prefix="winnow-improving-"))
    suite, pool = write_synthetic(root / "data", problems=160)
    results = {}
    labels = []
    with Session(load_config(None), cache=root / "cache") as session:
        for name, source in IMPROVING.items():
            path = root / f"{name}.py"
            path.write_text(source)
            for split in ("dev", "holdout") if name in ("weak", "better") else ("dev",):
                out = root / f"labels-{name}-{split}.jsonl"
                spec = EvalSpec(
                    suite=str(suite), pool=str(pool), selector=path, split=split, labels_out=out
                )
                results[(name, split)] = evaluate(spec, session).to_json(picks=True)
                if name == "weak":
                    labels += [row for _, row in read_jsonl(out)]
    shutil.rmtree(root)
    return Measured(results, counts_from_labels(labels))


def record_improving_run(path: Path, tag: str = "improving") -> Ledger:
    """A run whose second experiment is a real improvement, kept by the harness's rule, then a
    worse change (discarded) and a selector that is not wired (invalid)."""
    data = measured_improving()
    results = data.results
    first = results[("weak", "dev")]
    ledger = Ledger.open(path)
    ledger.record_pool(first["pool"], first["suite"], "import", "synthetic", {"n": first["n"]},
                       80, 80 * first["n"], False, counts=data.counts)  # fmt: skip
    run = ledger.start_run(tag, f"research/{tag}", {"k": first["k"]}, "sha256:program", "llm",
                           first["pool"], False)  # fmt: skip
    plan = [
        ("weak", "baseline: the unmodified starting point"),
        ("better", "count every self-test, not only repeated ones"),
        ("longest", "longer completions handle more edge cases"),
        ("constant", "ignore the tests"),
    ]
    incumbent: tuple[int, np.ndarray] | None = None
    config = load_config(None).eval
    fdr = OnlineFdr(config.fdr, config.fdr_horizon)
    for number, (name, hypothesis) in enumerate(plan, 1):
        diff = f"--- a/experiments/selector.py\n+++ b/experiments/selector.py\n@@\n+# {name}\n"
        exp = ledger.start_experiment(run, number, f"p{number}", hypothesis, diff, "llm")
        dev = results[(name, "dev")]
        ledger.record_evaluation(exp, dev)
        if not dev["valid"]:
            ledger.finish_experiment(exp, "invalid", dev["reason"], f"c{number:07d}", 0.01)
            continue
        new = values(dev)
        if incumbent is None:
            ledger.record_evaluation(exp, results[(name, "holdout")])
            ledger.finish_experiment(exp, "kept", "the baseline", f"c{number:07d}", 0.0)
            incumbent = (number, new)
            continue
        decision = decide(new, incumbent[1], seed=0, level=fdr.level())
        status = "kept" if decision.keep else "discarded"
        if decision.keep:
            ledger.record_evaluation(exp, results[(name, "holdout")])
        ledger.finish_experiment(
            exp, status, decision.reason, f"c{number:07d}", 0.01, incumbent=incumbent[0],
            delta=decision.difference, delta_lower=decision.lower, min_effect=decision.min_effect,
            p_value=decision.p_value, level=decision.level,
        )  # fmt: skip
        fdr = fdr.record(decision.keep)
        if decision.keep:
            incumbent = (number, new)
    ledger.finish_run(run, "finished", "--max-experiments 4 reached")
    return ledger


def proposer_call(
    model: str,
    messages: list[dict[str, Any]],
    response: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: float | None,
    latency_s: float,
    error: str | None,
) -> ModelCall:
    """A proposer's call record, as the loop hands it to the ledger."""
    return ModelCall(
        purpose=Purpose.PROPOSER,
        model=model,
        messages=messages,
        response=response,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
        latency_s=latency_s,
        error=error,
    )


def start_dead_writer(path: Path | str, run_id: int, number: int) -> None:
    """Start an experiment from another process that then exits: a stale 'running' row.
    ``path``: the ledger's file or PostgreSQL URL."""
    code = (
        "import sys; from pathlib import Path; from ledger.store import Ledger\n"
        "where = sys.argv[1] if '://' in sys.argv[1] else Path(sys.argv[1])\n"
        "with Ledger.open(where) as l:\n"
        "    l.start_experiment(int(sys.argv[2]), int(sys.argv[3]), 'parent', "
        "'a writer that died', '+pass\\n', 'llm')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(run_id), str(number)], check=True, cwd=ROOT
    )
