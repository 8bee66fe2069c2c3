"""Starting a sandboxed process and speaking to it: the bubblewrap command line or a plain
process with a scrubbed environment, the limits the started script applies to itself, and the
length-prefixed JSON both sides speak. Used by the sandbox's workers (``sandbox.py``) and by
the selector's process (``selector.py``); what each level protects is in ``sandbox.py``.
"""

from __future__ import annotations

import glob
import json
import os
import struct
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from harness.configmodel import ConfigModel, Strings

STDLIB = os.path.dirname(os.path.realpath(os.__file__))  # the interpreter's standard library
MAX_REPLY_BYTES = 64 << 20  # a worker reply larger than this is treated as a dead worker
# The worker's interpreter flags: no user site-packages (-s), no script directory on sys.path
# (-P), no site module (-S). Not -I: it implies -E, which ignores PYTHONHASHSEED, and then each
# worker process hashes strings with a seed of its own, so a candidate that depends on set or
# dict order (zip(set(a), set(b))) gave different outcomes in different slots, runs and nodes.
# The environment is scrubbed (both levels), so -E would guard nothing else.
PYTHON_FLAGS = ("-s", "-P", "-S")


class SandboxError(RuntimeError):
    """The sandbox could not be started at the level asked for."""


SandboxLevel = Literal["auto", "bwrap", "process"]  # auto: bwrap, else process (and say why)
RunLevel = Literal["bwrap", "process"]  # the level a sandbox actually runs at
RUN_LEVELS: tuple[RunLevel, ...] = ("bwrap", "process")  # strongest first
Size = Annotated[int, Field(ge=1)]


class SandboxConfig(ConfigModel):
    """The ``[sandbox]`` table of the run config."""

    level: SandboxLevel = "auto"
    workers: Annotated[int, Field(ge=0)] = 0  # worker slots; 0 = one per CPU
    memory_mb: Size = 2048  # RLIMIT_AS per child
    tmp_mb: Size = 64  # size of the private /tmp (bwrap)
    max_file_mb: Size = 16  # RLIMIT_FSIZE
    max_open_files: Size = 256  # RLIMIT_NOFILE
    max_procs: Size = 64  # RLIMIT_NPROC (binds only under a non-root uid)
    output_cap: Size = 4096  # characters of a child's stdout/stderr kept
    base_uid: Annotated[int, Field(ge=0)] = 61000  # slot i runs as uid base_uid + i under root
    seccomp: bool = True
    hide: Strings = ()  # extra paths never visible inside the sandbox

    def slots(self) -> int:
        return self.workers or os.cpu_count() or 1


def hidden_paths(extra: Sequence[str] = ()) -> list[str]:
    """Directories and files that must not be visible in a sandbox, even if under a bound root."""
    paths = set(extra)
    for scheme in ("purelib", "platlib"):
        paths.add(sysconfig.get_paths()[scheme])
    for prefix in {sys.prefix, sys.base_prefix, "/usr", "/usr/local"}:
        paths.update(glob.glob(f"{prefix}/lib/python3*/site-packages"))
        paths.update(glob.glob(f"{prefix}/lib/python3*/dist-packages"))
        paths.update(glob.glob(f"{prefix}/lib/python3/dist-packages"))
    paths.update({os.getcwd(), os.path.expanduser("~"), os.environ.get("WINNOW_HOME", "")})
    return sorted(p for p in paths if p and os.path.exists(p))


def bwrap_command(
    config: SandboxConfig, binds: Sequence[tuple[str, str]], script: str
) -> list[str]:
    """The bubblewrap command line for one sandbox running ``script`` (a path inside it).

    ``binds`` are (host path, sandbox path) pairs mounted read-only under ``/opt/winnow``.
    """
    root = os.geteuid() == 0
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
    if root:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
    cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    cmd += ["--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", "0"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    python = os.path.realpath(sys.executable)
    roots = ["/usr"]
    for prefix in {os.path.realpath(sys.base_prefix), os.path.dirname(os.path.dirname(python))}:
        if not prefix.startswith("/usr/"):
            parts = Path(prefix).parts
            for i in range(2, len(parts)):
                cmd += ["--perms", "0755", "--dir", str(Path(*parts[:i]))]
            cmd += ["--ro-bind", prefix, prefix]
            roots.append(prefix)
    for path in hidden_paths(config.hide):
        if any(path == r or path.startswith(r + "/") for r in roots):
            cmd += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--perms", "01777", "--size", str(config.tmp_mb << 20), "--tmpfs", "/tmp"]
    cmd += ["--perms", "0755", "--dir", "/opt"]  # bwrap would create it 0700
    for source, target in binds:
        cmd += ["--ro-bind", source, target]
    cmd += ["--chdir", "/tmp", python, *PYTHON_FLAGS, script]
    return cmd


def world_readable(path: str) -> bool:
    """Whether any user can reach ``path``: every ancestor searchable by others."""
    current = Path(os.path.realpath(path))
    return all(os.stat(part).st_mode & 1 for part in [current, *current.parents])


def scrubbed_env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def send_msg(stream, obj: dict) -> None:
    data = json.dumps(obj).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def recv_msg(stream) -> dict | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    size = struct.unpack(">I", header)[0]
    if size > MAX_REPLY_BYTES:
        return None
    body = stream.read(size)
    if len(body) < size:
        return None
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def rlimits(config: SandboxConfig) -> dict[str, int]:
    return {
        "RLIMIT_AS": config.memory_mb << 20,
        "RLIMIT_FSIZE": config.max_file_mb << 20,
        "RLIMIT_NOFILE": config.max_open_files,
        "RLIMIT_NPROC": config.max_procs,
    }


def launch(
    config: SandboxConfig, level: str, slot: int, binds: Sequence[tuple[str, str]]
) -> tuple[subprocess.Popen[bytes], tempfile.TemporaryDirectory[str] | None, dict]:
    """Start ``python -s -P -S /opt/winnow/main.py`` at ``level``; returns the process, its private
    temp directory (process level) and the settings the started script must apply to itself.

    ``binds`` map host paths to paths under ``/opt/winnow``; at the process level the script
    runs from its host path and ``/opt/winnow`` does not exist.
    """
    root = os.geteuid() == 0
    uid = config.base_uid + slot if root else None
    settings: dict = {"rlimits": rlimits(config), "seccomp": config.seccomp}
    tmp = None
    if level == "bwrap":
        cmd = bwrap_command(config, binds, "/opt/winnow/main.py")
        settings.update({"tmp": "/tmp", "worker_uid": uid, "child_uid": None})
        env, cwd = None, None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="winnow-sandbox-")
        os.chmod(tmp.name, 0o711)
        main = next(src for src, dst in binds if dst == "/opt/winnow/main.py")
        cmd = [os.path.realpath(sys.executable), *PYTHON_FLAGS, main]
        # Another uid cannot load the stdlib's C modules when the interpreter lives under a
        # private directory (e.g. /root/.pyenv): then the child keeps the caller's uid.
        child_uid = uid if world_readable(STDLIB) else None
        settings.update({"tmp": tmp.name, "worker_uid": None, "child_uid": child_uid})
        # As root, each child also gets its own /tmp, /var/tmp and /dev/shm (a mount namespace):
        # the host's are shared by every process, and a job must not find an earlier job's files.
        settings.update({"private_scratch": root, "tmp_mb": config.tmp_mb})
        env, cwd = scrubbed_env(tmp.name), tmp.name
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    return proc, tmp, settings
