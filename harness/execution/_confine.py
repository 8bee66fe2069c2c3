"""Confining a process: the seccomp filter, dropping to another uid, dropping capabilities, and
private scratch filesystems. Standard library only.

Used by the sandbox's worker (``_worker.py``) for every child that runs untrusted code, and by the
selector's process (``_selector_host.py``) for itself. Both are copied or bound next to this file
and import it by name.
"""

from __future__ import annotations

import ctypes
import os
import platform
from dataclasses import dataclass

SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # where a program may leave files for the next one
_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE, _MS_NOSUID, _MS_NODEV = 0x4000, 0x40000, 0x2, 0x4


@dataclass(frozen=True)
class _Syscalls:
    """The syscall numbers the filter looks at on one architecture."""

    audit_arch: int
    signal: tuple[int, ...]  # kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo
    # prlimit64, sched_setaffinity, sched_setscheduler, sched_setparam, sched_setattr: each
    # takes a target pid first; aimed at the worker they would kill or starve every later run
    # of the slot (a lowered RLIMIT_CPU, SCHED_IDLE, one CPU), so only "self" is allowed.
    self_only: tuple[int, ...]
    setpriority: int  # (which, who, prio): PRIO_USER would renice every process of the uid
    denied: tuple[int, ...]  # ptrace, process_vm_writev, pidfd_send_signal, ioprio_set
    spawn: tuple[int, ...]  # fork, vfork: refused outright when spawning is not allowed
    clone: int  # allowed for threads only when spawning is not allowed
    clone3: int  # its flags are behind a pointer: ENOSYS, so that libc falls back to clone
    # System V shared memory, message queues and semaphores, and POSIX message queues: objects
    # that outlive the process in the slot's IPC namespace, where the next job could find them.
    ipc: tuple[int, ...] = ()


_SYSCALLS = {
    "x86_64": _Syscalls(
        0xC000003E, (62, 200, 234, 129, 297), (302, 203, 144, 142, 314), 141,
        (101, 311, 424, 251), (57, 58), 56, 435,
        (29, 30, 31, 67, 68, 69, 70, 71, 64, 65, 66, 220, 240, 241, 242, 243, 244, 245),
    ),
    "aarch64": _Syscalls(
        0xC00000B7, (129, 130, 131, 138, 240), (261, 122, 119, 118, 274), 140,
        (117, 271, 424, 30), (), 220, 435,
        (194, 196, 195, 197, 186, 189, 188, 187, 190, 193, 191, 192, 180, 181, 182, 183, 184, 185),
    ),
}  # fmt: skip
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # classic BPF opcodes
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38  # SECCOMP_RET_*
_NR, _ARCH, _ARG0, _ARG1 = 0, 4, 16, 24  # offsets in struct seccomp_data (low words of args)
_CLONE_THREAD = 0x10000


def _filter(calls: _Syscalls, pid: int, spawn: bool) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k), with jumps written as label names and resolved here."""
    code: list = [(_LD, None, None, _ARCH), (_JEQ, None, "deny", calls.audit_arch)]
    code += [(_LD, None, None, _NR), (_JGE, "deny", None, 0x40000000)]  # x32 ABI: refuse
    code += [(_JEQ, "deny", None, nr) for nr in (*calls.denied, *calls.ipc)]
    if not spawn:
        code += [(_JEQ, "deny", None, nr) for nr in calls.spawn]
        code += [(_JEQ, "nosys", None, calls.clone3), (_JEQ, "clone", None, calls.clone)]
    code += [(_JEQ, "priority", None, calls.setpriority)]
    code += [(_JEQ, "signal", None, nr) for nr in calls.signal]
    code += [(_JEQ, "self", None, nr) for nr in calls.self_only]
    code += [(_RET, None, None, _ALLOW)]
    code += ["clone", (_LD, None, None, _ARG0), (_JSET, "allow", "deny", _CLONE_THREAD)]
    code += ["priority", (_LD, None, None, _ARG0), (_JEQ, None, "deny", 0)]  # PRIO_PROCESS
    code += [(_LD, None, None, _ARG1), (_JEQ, "allow", "self_or_deny", pid)]
    code += ["signal", (_LD, None, None, _ARG0), (_JEQ, "allow", None, (-pid) & 0xFFFFFFFF)]
    code += ["self", (_LD, None, None, _ARG0), (_JEQ, "allow", None, pid)]
    code += ["self_or_deny", (_JEQ, "allow", "deny", 0)]  # 0: the caller (its group for kill)
    code += ["allow", (_RET, None, None, _ALLOW), "deny", (_RET, None, None, _EPERM)]
    code += ["nosys", (_RET, None, None, _ENOSYS)]
    labels: dict[str, int] = {}
    program: list[tuple] = []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(program)
        else:
            program.append(item)
    resolved = [
        (op, labels[jt] - i - 1 if jt else 0, labels[jf] - i - 1 if jf else 0, k)
        for i, (op, jt, jf, k) in enumerate(program)
    ]
    assert all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in resolved)  # forward only
    return resolved


def become(uid: int) -> None:
    """Drop to ``uid``: its group too, and no supplementary groups."""
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def install_seccomp(spawn: bool = True) -> bool:
    """Let this process signal only itself or its own group, change the limits, priority and
    scheduling of itself only, never ptrace or write another process's memory, and make no
    System V or POSIX IPC object (they would outlive it); with ``spawn=False`` it may start
    threads but no processes."""
    calls = _SYSCALLS.get(platform.machine())
    if calls is None:
        return False
    prog = _filter(calls, os.getpid(), spawn)

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


def drop_capabilities() -> None:
    """Empty every capability set: the process keeps uid 0 but none of root's powers."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    empty = (ctypes.c_uint32 * 6)()  # two (effective, permitted, inheritable) triples
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), empty) != 0:  # capability version 3
        raise OSError(ctypes.get_errno(), "capset failed")


def private_scratch(size_mb: int) -> bool:
    """Give this process (and what it starts) its own empty ``/tmp``, ``/var/tmp`` and
    ``/dev/shm``: a fresh mount namespace with a size-capped tmpfs on each, gone when the process
    and its children end. Needs root (CAP_SYS_ADMIN); returns False where it cannot be done."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        return False
    # Mounts made from here on must not propagate back to the host's namespace.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making the mounts private failed")
    options = f"size={size_mb}m,mode=1777".encode()
    for path in SCRATCH:
        if not os.path.isdir(path):
            continue
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
            raise OSError(ctypes.get_errno(), f"mounting a private {path} failed")
    return True
