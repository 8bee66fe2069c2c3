"""The worker that runs untrusted code, one forked child per job. Standard library only.

Started by ``harness.execution.sandbox`` as ``python -s -P -S _worker.py`` inside bubblewrap (as
PID 1 of its own PID namespace) or as a plain process. It speaks length-prefixed JSON on the two
file descriptors it was started with (stdin, stdout), which it moves out of the way so that no
child inherits them. See ``harness/execution/sandbox.py`` for what is and is not covered.

A job is ``{"setup", "tests", "timeout", "setup_timeout"}``: the child executes ``setup`` (the
candidate program) in a fresh namespace, then each test in a copy of it, and reports each test
as ``passed``, ``failed`` (AssertionError), ``timeout`` or ``error``. A report carries a
per-child nonce; a test counts as passed only when its report arrives, i.e. only when the child
got past the end of the test. A child that exits, is killed or hangs loses the test it was on;
the remaining tests run again in a fresh child.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _child import child  # noqa: E402  (beside this file, in the sandbox and on the host)
from _confine import become, private_scratch  # noqa: E402

GRACE = 0.5  # seconds past a test's own alarm before the worker kills the child
MAX_REPORT_BYTES = 1 << 20  # a child that writes more than this to its report pipe is killed

PRELOAD = [
    "typing",
    "math",
    "re",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "string",
    "bisect",
    "fractions",
    "decimal",
    "statistics",
    "hashlib",
    "random",
    "copy",
    "json",
    "operator",
    "datetime",
]


def read_msg(fd: int) -> dict | None:
    header = _read_exact(fd, 4)
    if header is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def write_msg(fd: int, obj: dict) -> None:
    data = json.dumps(obj).encode()
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class Worker:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.pid1 = os.getpid() == 1
        self.runs = 0
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: children cannot ptrace or read our memory
        if not self.pid1:
            libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: escaped descendants come to us

    def run(self, job: dict) -> dict:
        started = time.monotonic()
        tests = job["tests"]
        results: list[list[str] | None] = [None] * len(tests)
        remaining = list(range(len(tests)))
        setup: list[str] | None = None
        output = ""
        forks = 0
        while setup is None or (setup[0] == "passed" and remaining):
            forks += 1
            pending = set(remaining)
            reports, ended, lost = self._fork(job, remaining)
            for index, status, detail in reports:
                if index == -1:
                    setup = [status, detail]
                elif index == "end":
                    output = status
                elif index in pending:
                    results[index] = [status, detail]
            if setup is None:  # the child never got through the candidate program
                setup = list(lost) if not ended else ["error", "no report for the program"]
                break
            remaining = [i for i in remaining if results[i] is None]
            if remaining and setup[0] == "passed":
                lost_as = ("error", "no report for this test") if ended else lost
                results[remaining.pop(0)] = list(lost_as)
        if setup[0] != "passed":
            reason = f"the program did not load: {setup[1]}"
            status = "timeout" if setup[0] == "timeout" else "error"
            results = [r or [status, reason] for r in results]
        results = [r or ["error", "no report for this test"] for r in results]
        return {
            "setup": setup,
            "results": results,
            "output": output,
            "forks": forks,
            "seconds": time.monotonic() - started,
        }

    def _fork(self, job: dict, indices: list[int]) -> tuple[list, bool, tuple[str, str]]:
        self.runs += 1
        nonce = os.urandom(16).hex()
        run_dir = os.path.join(self.cfg["tmp"], f"run{self.runs}")
        os.mkdir(run_dir, 0o700)
        if self.cfg.get("child_uid") is not None:
            os.chown(run_dir, self.cfg["child_uid"], self.cfg["child_uid"])
        rfd, wfd = os.pipe()
        exit_now = os._exit  # held before the program can rebind os._exit
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.close(rfd)
                child(job, indices, wfd, nonce, self.cfg, run_dir)
                code = 0
            finally:  # whatever was raised, the child never returns into the worker's loop
                exit_now(code)
        os.close(wfd)
        try:
            reports, ended, lost = self._collect(pid, rfd, nonce, job)
        finally:
            os.close(rfd)
            self._clean()
            _empty(self.cfg["tmp"])
        return reports, ended, lost

    def _collect(self, pid: int, rfd: int, nonce: str, job: dict):
        """Read the child's reports until it ends, dies or misses a deadline; reap it.

        The child's process group is killed before the child is reaped, so its id cannot have
        been reused by an unrelated process when the signal is sent.
        """
        reports: list = []
        buffer = b""
        received = 0
        deadline = time.monotonic() + job["setup_timeout"] + GRACE
        prefix = nonce.encode() + b" "
        outcome: tuple[bool, tuple[str, str]] | None = None
        while outcome is None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([rfd], [], [], wait)[0]:
                outcome = (False, ("timeout", "killed: no result in time"))
                break
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_REPORT_BYTES:
                outcome = (False, ("error", "killed: flooded its report channel"))
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                item = _parse_report(line, prefix)
                if item is None:
                    continue  # not written by the harness: ignored
                if item[0] == "fault":
                    raise Fault(item[1])
                if item[0] == "end":
                    reports.append(("end", item[1], ""))
                    outcome = (True, ("passed", ""))
                    break
                reports.append(tuple(item))
                deadline = time.monotonic() + job["timeout"] + GRACE
        _kill_group(pid)
        _, status = os.waitpid(pid, 0)
        if outcome is not None:
            return reports, outcome[0], outcome[1]
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            return reports, False, ("timeout", "killed: CPU time limit")
        how = (
            f"signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exit status {os.WEXITSTATUS(status)}"
        )
        return reports, False, ("error", f"exited before the end ({how})")

    def _clean(self) -> None:
        """Kill and reap everything the child started, escaped sessions included.

        Orphans are re-parented to this process (PID 1 of the namespace, or a child
        subreaper), so waiting for children finds every one of them.
        """
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) != (0, 0):
                    continue  # reaped one; look again
                if self.pid1:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(-1, signal.SIGKILL)  # every other process in the namespace
                else:
                    for orphan in _children():
                        _kill_group(orphan)
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


STATUSES = ("passed", "failed", "timeout", "error")


class Fault(Exception):
    """A child could not be confined (limits, uid, seccomp): the sandbox is broken, and no
    outcome of the job may be reported as the program's."""


def _parse_report(line: bytes, prefix: bytes) -> list | None:
    """A report line written by the harness in the child, or None for anything else."""
    if not line.startswith(prefix):
        return None
    try:
        item = json.loads(line[len(prefix) :])
    except ValueError:
        return None
    if isinstance(item, list) and len(item) == 2 and item[0] in ("end", "fault"):
        return item if isinstance(item[1], str) else None
    valid = (
        isinstance(item, list)
        and len(item) == 3
        and isinstance(item[0], int)
        and item[1] in STATUSES
        and isinstance(item[2], str)
    )
    return item if valid else None


def _kill_group(pid: int) -> None:
    for target in (-pid, pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if int(fields[1]) == me:
                found.append(int(entry))
    return found


def _empty(path: str) -> None:
    """Remove everything in the slot's temp directory, not only the run's own directory: a
    run can write anywhere in it, and the next run must not find its files or its full disk."""
    for _ in range(2):
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        if not os.listdir(path):
            return
        for root, dirs, _files in os.walk(path):  # left: directories made unreadable
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o700)


def _can_mount_scratch(size_mb: int) -> bool:
    """Whether a child can get a private /tmp here (tried in a throwaway child)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if private_scratch(size_mb) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def main() -> None:
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    cfg = read_msg(proto_in)
    if cfg is None:
        return
    if cfg.get("worker_uid") is not None:
        become(cfg["worker_uid"])
    for name in PRELOAD:
        __import__(name)
    shared = None
    if cfg.get("private_scratch") and not _can_mount_scratch(cfg["tmp_mb"]):
        cfg["private_scratch"] = False
        shared = "a private /tmp cannot be mounted here (no CAP_SYS_ADMIN)"
    worker = Worker(cfg)
    ready = {"ready": True, "pid1": worker.pid1, "uid": os.getuid(), "shared_scratch": shared}
    write_msg(proto_out, ready)
    while True:
        job = read_msg(proto_in)
        if job is None:
            return
        try:
            reply = worker.run(job)
        except Fault as fault:
            reply = {"fault": str(fault)}
        write_msg(proto_out, reply)


if __name__ == "__main__":
    main()
