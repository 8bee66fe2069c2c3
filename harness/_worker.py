"""The worker that runs untrusted code, one forked child per job. Standard library only.

Started by ``harness.sandbox`` as ``python -I -S _worker.py`` inside bubblewrap (as PID 1 of
its own PID namespace) or as a plain process. It speaks length-prefixed JSON on the two file
descriptors it was started with (stdin, stdout), which it moves out of the way so that no child
inherits them. See ``harness/sandbox.py`` for what is and is not covered.

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
import io
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time

GRACE = 0.5  # seconds past a test's own alarm before the worker kills the child
MAX_REPORT_BYTES = 1 << 20  # a child that writes more than this to its report pipe is killed
DETAIL_CHARS = 300  # characters of an exception message kept in a report

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


# -- seccomp: a child may signal only itself or its own process group --------------------------

_SECCOMP = {  # arch: (audit arch, kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, denied)
    "x86_64": (0xC000003E, 62, 200, 234, 129, 297, (101, 311, 424)),
    "aarch64": (0xC00000B7, 129, 130, 131, 138, 240, (117, 271, 424)),
}


def install_seccomp() -> bool:
    """Deny signals to other processes, ptrace, process_vm_writev and pidfd_send_signal."""
    spec = _SECCOMP.get(platform.machine())
    if spec is None:
        return False
    arch, kill, tkill, tgkill, sigq, tgsigq, denied = spec
    pid = os.getpid()
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    prog = [
        (ld, 0, 0, 4),  # arch
        (jeq, 1, 0, arch),
        (ret, 0, 0, eperm),
        (ld, 0, 0, 0),  # syscall number
        (jge, 0, 1, 0x40000000),  # x32 ABI: refuse
        (ret, 0, 0, eperm),
    ]
    for nr in denied:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    targeted = (kill, tkill, tgkill, sigq, tgsigq)
    for i, nr in enumerate(targeted):
        prog.append((jeq, len(targeted) - i, 0, nr))
    prog.append((ret, 0, 0, allow))
    prog += [
        (ld, 0, 0, 16),  # low word of args[0]: the target pid
        (jeq, 3, 0, pid),
        (jeq, 2, 0, 0),
        (jeq, 1, 0, (-pid) & 0xFFFFFFFF),
        (ret, 0, 0, eperm),
        (ret, 0, 0, allow),
    ]

    class Filter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        ]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(prog))(*[Filter(*ins) for ins in prog])
    program = Program(len(prog), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    return libc.prctl(22, 2, ctypes.byref(program), 0, 0) == 0  # PR_SET_SECCOMP, FILTER


# -- the child ----------------------------------------------------------------------------------


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


class _Sink(io.StringIO):
    """Keeps the first ``cap`` characters written; the rest is counted and dropped."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap

    def write(self, s: str) -> int:
        room = self.cap - self.tell()
        if room > 0:
            super().write(s[:room])
        return len(s)


class _NoInput(io.StringIO):
    def read(self, *args, **kwargs):
        raise OSError("stdin is not available")

    readline = read
    readlines = read


def _child(job: dict, indices: list[int], wfd: int, nonce: str, cfg: dict, run_dir: str) -> None:
    os.setsid()
    total = job["setup_timeout"] + job["timeout"] * len(indices)
    cpu = int(total) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cfg.get("child_uid") is not None:
        os.setgroups([])
        os.setgid(cfg["child_uid"])
        os.setuid(cfg["child_uid"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if cfg["seccomp"] and not install_seccomp():
        raise RuntimeError("seccomp filter could not be installed")
    os.chdir(run_dir)
    os.closerange(3, wfd)
    os.closerange(wfd + 1, 1 << 16)
    import random

    random.seed(0)
    out = _Sink(cfg["output_cap"])
    sys.stdout = sys.stderr = out
    sys.stdin = _NoInput()
    signal.signal(signal.SIGALRM, _alarm)

    def report(index: int, status: str, detail: str = "") -> None:
        line = f"{nonce} {json.dumps([index, status, detail[:DETAIL_CHARS]])}\n"
        os.write(wfd, line.encode())

    base: dict = {}
    status, detail = _execute(job["setup"], base, job["setup_timeout"], "<candidate>")
    report(-1, status, detail)
    if status == "passed":
        for i in indices:
            status, detail = _execute(job["tests"][i], dict(base), job["timeout"], f"<test {i}>")
            report(i, status, detail)
    line = f"{nonce} {json.dumps(['end', out.getvalue()[: cfg['output_cap']]])}\n"
    os.write(wfd, line.encode())


def _execute(source: str, namespace: dict, timeout: float, name: str) -> tuple[str, str]:
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            exec(compile(source, name, "exec"), namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        return "timeout", f"no result within {timeout:g} s"
    except AssertionError as exc:
        return "failed", f"AssertionError: {exc}"
    except BaseException as exc:  # anything else the program raised, SystemExit included
        return "error", f"{type(exc).__name__}: {exc}"
    return "passed", ""


# -- the worker ---------------------------------------------------------------------------------


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
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(rfd)
                _child(job, indices, wfd, nonce, self.cfg, run_dir)
            except BaseException:
                code = 70
            os._exit(code)
        os.close(wfd)
        try:
            reports, ended, lost = self._collect(pid, rfd, nonce, job)
        finally:
            os.close(rfd)
            self._clean()
            _remove_tree(run_dir)
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
                    for child in _children():
                        _kill_group(child)
                os.waitpid(-1, 0)
            except ChildProcessError:
                return


STATUSES = ("passed", "failed", "timeout", "error")


def _parse_report(line: bytes, prefix: bytes) -> list | None:
    """A report line written by the harness in the child, or None for anything else."""
    if not line.startswith(prefix):
        return None
    try:
        item = json.loads(line[len(prefix) :])
    except ValueError:
        return None
    if isinstance(item, list) and len(item) == 2 and item[0] == "end":
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


def _remove_tree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


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
        os.setgroups([])
        os.setgid(cfg["worker_uid"])
        os.setuid(cfg["worker_uid"])
    for name in PRELOAD:
        __import__(name)
    worker = Worker(cfg)
    write_msg(proto_out, {"ready": True, "pid1": worker.pid1, "uid": os.getuid()})
    while True:
        job = read_msg(proto_in)
        if job is None:
            return
        write_msg(proto_out, worker.run(job))


if __name__ == "__main__":
    main()
