"""What a forked child of the sandbox's worker does: confine itself, then run the candidate
program and each test, reporting every outcome with the child's nonce. Standard library only;
imported by ``_worker.py`` from beside it (see ``harness/execution/sandbox.py``).
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys

from _confine import become, drop_capabilities, install_seccomp, private_scratch

DETAIL_CHARS = 300  # characters of an exception message kept in a report
_QUOTE = json.encoder.encode_basestring_ascii  # C: a str as a JSON literal, for the reports
_TEXT = io.StringIO.getvalue  # C: what a _Sink holds, even if the program rebinds its methods


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


def _confine(job: dict, indices: list[int], wfd: int, cfg: dict, run_dir: str) -> None:
    """What the child does to itself before any of the program's code runs."""
    os.setsid()
    total = job["setup_timeout"] + job["timeout"] * len(indices)
    cpu = int(total) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cfg.get("private_scratch"):  # the process level as root: scratch space of its own
        if not private_scratch(cfg["tmp_mb"]):
            raise RuntimeError("a private /tmp could not be mounted")
        run_dir = "/tmp/work"  # the worker's own directory is under the /tmp now hidden
        os.mkdir(run_dir, 0o700)
        if cfg.get("child_uid") is not None:
            os.chown(run_dir, cfg["child_uid"], cfg["child_uid"])
        os.environ["HOME"] = os.environ["TMPDIR"] = run_dir
    if cfg.get("child_uid") is not None:
        become(cfg["child_uid"])
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    # Still uid 0 only at the process level as root with an interpreter other uids cannot
    # read. uid 0 is exempt from RLIMIT_NPROC whatever its capabilities, so such a child may
    # start threads but no process (a fork bomb would otherwise fill the machine's pid table),
    # and it gives up every capability (reboot, mount, ptrace, others' files...).
    root = os.getuid() == 0
    if root:
        drop_capabilities()
    if cfg["seccomp"] and not install_seccomp(spawn=not root):
        raise RuntimeError("seccomp filter could not be installed")
    os.chdir(run_dir)
    os.closerange(3, wfd)
    os.closerange(wfd + 1, 1 << 16)


def child(job: dict, indices: list[int], wfd: int, nonce: str, cfg: dict, run_dir: str) -> None:
    try:
        _confine(job, indices, wfd, cfg, run_dir)
    except Exception as exc:  # the sandbox failed, not the program: never a label
        os.write(wfd, f'{nonce} ["fault", {_QUOTE(f"{type(exc).__name__}: {exc}")}]\n'.encode())
        raise
    import random

    random.seed(0)
    cap = cfg["output_cap"]
    out = _Sink(cap)
    sys.stdout = sys.stderr = out
    sys.stdin = _NoInput()
    signal.signal(signal.SIGALRM, _alarm)
    # From here on the program runs in this process and may rebind any builtin or module
    # attribute (builtins.exec, json.dumps, os.write, this module's functions). The loop
    # therefore calls only C functions held in its own locals, taken before the program ran,
    # so that no rebinding can skip a test or rewrite a report. Reaching into this frame or
    # this process's memory is another matter: see "Not covered" in harness/execution/sandbox.py.
    run, build, write, quote, timer, text = exec, compile, os.write, _QUOTE, signal.setitimer, _TEXT
    timeout, failure, anything, real = _Timeout, AssertionError, BaseException, signal.ITIMER_REAL
    base: dict = {}
    steps = [(-1, job["setup"], job["setup_timeout"], "<candidate>")]
    steps += [(i, job["tests"][i], job["timeout"], f"<test {i}>") for i in indices]
    for index, source, seconds, name in steps:
        namespace = base if index < 0 else base.copy()  # each test in a copy of the program's
        try:
            timer(real, seconds)
            try:
                run(build(source, name, "exec"), namespace)
            finally:
                timer(real, 0)
            status, detail = "passed", ""
        except timeout:
            status, detail = "timeout", f"no result within {seconds:g} s"
        except failure as exc:
            status, detail = "failed", f"AssertionError: {exc}"
        except anything as exc:  # anything else the program raised, SystemExit included
            status, detail = "error", f"{type(exc).__name__}: {exc}"
        write(wfd, f'{nonce} [{index}, "{status}", {quote(detail[:DETAIL_CHARS])}]\n'.encode())
        if index < 0 and status != "passed":
            break
    write(wfd, f'{nonce} ["end", {quote(text(out)[:cap])}]\n'.encode())


# -- the worker ---------------------------------------------------------------------------------
