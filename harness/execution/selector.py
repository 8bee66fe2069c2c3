"""Running a selector file in its own sandboxed process, with the probe served from here.

The selector's process (``harness/execution/_selector_host.py``) gets problems and candidates
without hidden tests and asks for probe results over a pipe; this side answers from a
:class:`ProbeServer`, which meters every request. A selector that fails to load, raises, hangs
past its time limit, or returns the wrong number of scores or a non-finite one is reported as
a :class:`SelectorFailure`, never as a traceback and never as a score.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import harness.api
from harness.api import BudgetExceeded, Candidate, Problem, SignalUnavailable
from harness.execution.launch import STDLIB, SandboxConfig, launch, send_msg

HOST_SCRIPT = Path(__file__).with_name("_selector_host.py")
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
CONFINE_SCRIPT = Path(__file__).with_name("_confine.py")
CHILD_SCRIPT = Path(__file__).with_name("_child.py")
SELECT_TIMEOUT = 60.0  # seconds a select() call may take, not counting probe service time
STARTUP_ALLOWANCE = 10.0  # extra seconds for loading: the sandbox, interpreter and numpy start
SELECTOR_UID_OFFSET = 500  # the selector runs as base_uid + this when started as root
MAX_MESSAGE = 64 << 20


class SelectorFailure(RuntimeError):
    """The selector could not be loaded or did not return valid scores.

    ``raised``: the selector's own code raised (rather than hanging or dying), at ``line`` of
    its file when known. ``attempts``: what the audit hook recorded before a failed load.
    """

    def __init__(self, message: str, line: int | None = None, raised: bool = False):
        super().__init__(message)
        self.line = line
        self.raised = raised
        self.attempts: list[str] = []


class ProbeServer(Protocol):
    def handle(self, method: str, args: dict[str, Any]) -> Any: ...


def _numpy_dirs() -> list[Path]:
    spec = importlib.util.find_spec("numpy")
    if spec is None or spec.origin is None:
        return []
    package = Path(spec.origin).parent
    libs = package.parent / "numpy.libs"
    return [package] + ([libs] if libs.is_dir() else [])


class SelectorProcess:
    """One sandboxed selector process for one selector source. Use as a context manager."""

    def __init__(
        self,
        source: str,
        filename: str,
        config: SandboxConfig,
        level: str,
        timeout: float = SELECT_TIMEOUT,
    ):
        self.timeout = timeout
        self.attempts: list[str] = []
        self.stage = Path(tempfile.mkdtemp(prefix="winnow-selector-"))
        os.chmod(self.stage, 0o755)
        shutil.copy(HOST_SCRIPT, self.stage / "main.py")
        shutil.copy(WORKER_SCRIPT, self.stage / "_worker.py")
        shutil.copy(CONFINE_SCRIPT, self.stage / "_confine.py")
        shutil.copy(CHILD_SCRIPT, self.stage / "_child.py")
        (self.stage / "lib" / "harness").mkdir(parents=True)
        (self.stage / "lib" / "harness" / "__init__.py").write_text("")
        shutil.copy(harness.api.__file__, self.stage / "lib" / "harness" / "api.py")
        binds = [(str(self.stage), "/opt/winnow")]
        for directory in _numpy_dirs():
            inside = self.stage / "lib" / directory.name
            if level == "bwrap":
                inside.mkdir()
                binds.append((str(directory), f"/opt/winnow/lib/{directory.name}"))
            else:
                inside.symlink_to(directory)
        binds.append((str(self.stage / "main.py"), "/opt/winnow/main.py"))
        for path in self.stage.rglob("*"):
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        slot = SELECTOR_UID_OFFSET
        self.proc, self.tmp, settings = launch(config, level, slot, binds)
        if self.tmp is not None and settings["child_uid"] is not None:
            # Process level as root: the selector runs as another uid and must be able to
            # write its scratch files here (else tempfile falls back to /tmp, outside its view).
            os.chown(self.tmp.name, settings["child_uid"], settings["child_uid"])
        inside_stage = "/opt/winnow" if level == "bwrap" else str(self.stage)
        # Under bwrap all of /tmp is private, but a host path under /tmp (a WINNOW_HOME, a
        # suite) must still count as an attempt: the selector's own directory is a sub-folder.
        work = "/tmp/selector" if level == "bwrap" else settings["tmp"]
        allowed = [inside_stage, work, "/dev/null", "/dev/urandom", STDLIB]
        allowed += [str(d) for d in _numpy_dirs()] if level != "bwrap" else []
        # What the import system may load after the selector file: never its scratch directory.
        modules = [f"{inside_stage}/lib", STDLIB]
        modules += [str(d) for d in _numpy_dirs()] if level != "bwrap" else []
        host_settings = {
            "uid": settings["worker_uid"] if level == "bwrap" else settings["child_uid"],
            "rlimits": settings["rlimits"],
            "seccomp": settings["seccomp"],
            "tmp": work,
            "allowed": allowed,
            "modules": modules,
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        send_msg(self.proc.stdin, host_settings)
        try:
            load = {"op": "load", "source": source, "filename": filename}
            reply = self._exchange(load, None, STARTUP_ALLOWANCE)
        except SelectorFailure as exc:
            self.close()
            exc.attempts = self.attempts
            raise
        except BaseException:
            self.close()
            raise
        self.uses = set(reply["uses"])
        self.sent: set[str] = set()  # candidate ids the process already holds

    def select(
        self, problem: Problem, candidates: list[Candidate], server: ProbeServer
    ) -> list[float]:
        """The selector's scores for ``candidates`` (in that order). A candidate is sent to the
        process once; later calls (other subsets, the wiring re-runs) name it by its id."""
        fresh = [c for c in candidates if c.id not in self.sent]
        message = {
            "op": "select",
            "problem": vars(problem),
            "candidates": [vars(c) for c in fresh],
            "order": [c.id for c in candidates],
        }
        reply = self._exchange(message, server)
        self.sent.update(c.id for c in fresh)
        return list(reply["scores"])

    def _exchange(self, message: dict, server: ProbeServer | None, extra: float = 0.0) -> dict:
        assert self.proc.stdin is not None
        try:
            send_msg(self.proc.stdin, message)
        except OSError as exc:
            raise SelectorFailure(f"the selector process is gone: {exc}") from None
        limit = self.timeout + extra
        deadline = time.monotonic() + limit
        while True:
            reply = self._receive(deadline, limit)
            self.attempts.extend(str(a) for a in reply.pop("attempts", []))
            if reply.get("op") != "probe":
                break
            started = time.monotonic()
            answer = self._serve(server, reply)
            deadline += time.monotonic() - started
            send_msg(self.proc.stdin, answer)
        if "error" in reply:
            # "kind" is set only when the selector's code raised, not when the host broke.
            raise SelectorFailure(str(reply["error"]), reply.get("line"), "kind" in reply)
        return reply

    def _serve(self, server: ProbeServer | None, request: dict) -> dict:
        if server is None:
            return {"error": "SignalUnavailable", "message": "no probe while loading"}
        try:
            method = str(request.get("method"))
            result = server.handle(method, request.get("args", {}))
            if method == "run":  # pass/fail rows travel as "0110..." strings (see the host)
                result = ["".join("1" if ok else "0" for ok in row) for row in result]
            return {"result": result}
        except SignalUnavailable as exc:
            return {"error": "SignalUnavailable", "message": str(exc)}
        except BudgetExceeded as exc:
            return {"error": "BudgetExceeded", "message": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": "ValueError", "message": f"bad probe request: {exc}"}

    def _receive(self, deadline: float, limit: float) -> dict:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        header = self._read(fd, 4, deadline, limit)
        size = struct.unpack(">I", header)[0]
        if size > MAX_MESSAGE:
            raise SelectorFailure("the selector sent an oversized message")
        body = self._read(fd, size, deadline, limit)
        try:
            obj = json.loads(body)
        except ValueError:
            raise SelectorFailure("the selector process sent garbage") from None
        if not isinstance(obj, dict):
            raise SelectorFailure("the selector process sent garbage")
        return obj

    def _read(self, fd: int, size: int, deadline: float, limit: float) -> bytes:
        chunks = []
        while size:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                self.close()
                raise SelectorFailure(f"the selector did not answer within {limit:g} s")
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:
                self.close()
                raise SelectorFailure("the selector process died")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.tmp is not None:
            self.tmp.cleanup()
        shutil.rmtree(self.stage, ignore_errors=True)

    def __enter__(self) -> SelectorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
