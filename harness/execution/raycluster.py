"""Sandbox jobs fanned out over a Ray cluster: every node runs them in its own sandbox.

Chosen by the run config (``harness/config.py``)::

    [exec]
    backend = "ray"
    address = "auto"              # this machine is a node of a running cluster
    # address = "ray://head:10001"  # or the head's Ray Client port, from anywhere

At the start, one probe task per node that has a CPU starts that node's own :class:`Sandbox`
at the run config's ``[sandbox]`` settings (bubblewrap where the node can run it, else the
process level when ``level = "auto"``) and reports the level it got and a hash of the node's
``harness/execution`` sources. Then batches of jobs go to the nodes, each batch one Ray task
pinned to its node and holding one of its CPUs; a task runs its batch in a one-slot sandbox
kept warm in its Ray worker process between tasks, and returns every job's result with the
level it ran at. A node takes as many batches at once as it has CPUs (``ray start --num-cpus``),
and is sent the next one as one finishes, so fast nodes take more; ``[sandbox] workers``
sizes this machine's sandbox only. Tasks queue for CPUs like any Ray work, so several loops
can share one cluster without oversubscribing it (timeouts are measured in wall-clock time).

What is refused, never worked around: ray not installed, a cluster that cannot be reached, a
cluster without a node with a CPU (``InputError``, naming ``[exec] address``); a node whose
sandbox does not start at the level asked for, or whose Winnow differs from this machine's
(its outcomes could differ under the same keys), a task or node lost mid-run
(``SandboxError``). Nothing falls back to this machine, nothing is retried elsewhere. Nodes
that join after the start are not used: the levels looked up in the cache are the ones the
probed nodes run at.
"""

from __future__ import annotations

import hashlib
import logging
import math
import socket
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.execution.launch import RUN_LEVELS, RunLevel, SandboxConfig, SandboxError
from harness.execution.sandbox import Job, JobResult, Sandbox

WHERE = "[exec] address"  # what the errors name
BATCH_JOBS = 16  # jobs per Ray task at most: its overhead is paid once per batch
IN_FLIGHT = 2  # batches sent per CPU of a node: the next one is queued while one runs
START_TIMEOUT_S = 120.0  # seconds for every node to start its sandbox and report
REACH_TIMEOUT_S = 5.0  # seconds to open a TCP connection to a ray:// address
SOURCES = Path(__file__).parent  # the code that decides outcomes: every node must run the same


def sources_hash() -> str:
    """A hash of this machine's ``harness/execution`` sources."""
    digest = hashlib.sha256()
    for path in sorted(SOURCES.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# The sources as this process loaded them: a Ray worker kept alive across an upgrade runs the
# code it imported, whatever the files now say.
LOADED = sources_hash()


# -- on the nodes ------------------------------------------------------------------------------

_WARM: dict[SandboxConfig, Sandbox] = {}  # this Ray worker process's sandbox, between tasks


def warm_sandbox(config: SandboxConfig) -> Sandbox:
    if config not in _WARM:
        _WARM[config] = Sandbox(config)
    return _WARM[config]


def run_batch(config: SandboxConfig, jobs: list[Job]) -> list[JobResult]:
    """A Ray task: the jobs run in this node's sandbox; each result says the level it ran at."""
    return warm_sandbox(config).run(jobs)


@dataclass(frozen=True)
class NodeReport:
    """What a node's probe found."""

    level: RunLevel | None  # None: its sandbox did not start (``failure`` says why)
    fallback_reason: str
    shared_scratch: str | None
    sources: str
    failure: str | None = None


def probe(config: SandboxConfig) -> NodeReport:
    """A Ray task: start this node's sandbox (kept warm for its batches) and say how it runs."""
    try:
        box = warm_sandbox(config)
    except (SandboxError, OSError) as exc:
        return NodeReport(None, "", None, LOADED, f"{type(exc).__name__}: {exc}")
    return NodeReport(box.level, box.fallback_reason, box.shared_scratch, LOADED)


# -- on this machine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    name: str  # its address, for messages
    cpus: int
    report: NodeReport


def check_address(address: str) -> None:
    """Refuse at once a ``ray://`` address nothing listens at (Ray itself waits 30 s)."""
    if not address.startswith("ray://"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address!r} ({exc})", WHERE) from None


_USERS: dict[str, int] = {}  # address -> open RayCluster objects of this process using it


def connect(ray: Any, address: str) -> None:
    """Connect this process to the cluster at ``address`` (once, however many use it)."""
    if not _USERS:
        if ray.is_initialized():
            raise InputError(f"cannot connect to {address!r}: this process uses Ray already", WHERE)
        check_address(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            reason = first_line(exc)
            raise InputError(
                f"cannot reach the Ray cluster at {address!r} ({reason})", WHERE
            ) from None
    elif address not in _USERS:
        connected = next(iter(_USERS))
        raise InputError(f"cannot connect to {address!r}: this process uses {connected!r}", WHERE)
    _USERS[address] = _USERS.get(address, 0) + 1


def disconnect(ray: Any, address: str) -> None:
    _USERS[address] -= 1
    if not _USERS[address]:
        del _USERS[address]
        ray.shutdown()


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


class RayCluster:
    """The nodes of a Ray cluster as one runner (``executor.Runner``). Use as a context manager."""

    def __init__(self, address: str, config: SandboxConfig):
        try:
            # Imported here: ray is the optional extra winnow[ray], and takes a second to import.
            import ray
        except ModuleNotFoundError as exc:
            if exc.name != "ray":
                raise
            raise InputError(
                "'ray' needs the ray package, which is not installed: pip install 'winnow[ray]'",
                "[exec] backend",
            ) from None
        self.ray: Any = ray
        self.address = address
        self.config = config
        connect(ray, address)
        self.connected = True
        try:
            self.nodes = self._start()
        except BaseException:
            self.close()
            raise
        self._run_batch = ray.remote(num_cpus=1, max_retries=0)(run_batch)

    def _pinned(self, node_id: str) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(node_id, soft=False)

    def _start(self) -> list[Node]:
        ray = self.ray
        alive = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) >= 1]
        if not alive:
            raise InputError(f"the Ray cluster at {self.address!r} has no node with a CPU", WHERE)
        task = ray.remote(num_cpus=1, max_retries=0)(probe)
        config = self.config.model_copy(update={"workers": 1})
        refs = [
            task.options(scheduling_strategy=self._pinned(n["NodeID"])).remote(config)
            for n in alive
        ]
        try:
            reports = ray.get(refs, timeout=START_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            raise SandboxError(
                f"the Ray nodes did not start their sandboxes within {START_TIMEOUT_S:g} s "
                "(are their CPUs taken by other Ray work?)"
            ) from None
        except ray.exceptions.RayError as exc:
            raise SandboxError(
                f"a Ray node could not start its sandbox: {first_line(exc)}"
            ) from None
        nodes = [
            Node(n["NodeID"], n["NodeManagerAddress"], int(n["Resources"]["CPU"]), report)
            for n, report in zip(alive, reports, strict=True)
        ]
        here = LOADED
        for node in nodes:
            if node.report.failure is not None:
                raise SandboxError(f"Ray node {node.name}: {node.report.failure}")
            if node.report.sources != here:
                raise SandboxError(
                    f"Ray node {node.name} runs other harness/execution code than this machine "
                    f"({node.report.sources} vs {here}): install the same Winnow on every node"
                )
        return nodes

    @property
    def levels(self) -> tuple[RunLevel, ...]:
        found = {node.report.level for node in self.nodes}
        return tuple(level for level in RUN_LEVELS if level in found)

    @property
    def fallback_reason(self) -> str:
        return "; ".join(
            f"Ray node {n.name}: {n.report.fallback_reason}"
            for n in self.nodes
            if n.report.fallback_reason
        )

    @property
    def shared_scratch(self) -> str | None:
        return next((n.report.shared_scratch for n in self.nodes if n.report.shared_scratch), None)

    def run(
        self, jobs: Sequence[Job], done: Callable[[int], None] | None = None
    ) -> list[JobResult]:
        """Every job's result, in the order of ``jobs``; ``done(i)`` as each batch comes back."""
        ray = self.ray
        cpus = sum(node.cpus for node in self.nodes)
        size = max(1, min(BATCH_JOBS, math.ceil(len(jobs) / (cpus * IN_FLIGHT))))
        waiting = deque(range(len(jobs)))
        pending: dict[Any, tuple[Node, list[int]]] = {}
        config = self.config.model_copy(update={"workers": 1})

        def send(node: Node) -> None:
            batch = [waiting.popleft() for _ in range(min(size, len(waiting)))]
            task = self._run_batch.options(scheduling_strategy=self._pinned(node.id))
            pending[task.remote(config, [jobs[i] for i in batch])] = (node, batch)

        for node in self.nodes:
            for _ in range(node.cpus * IN_FLIGHT):
                if waiting:
                    send(node)
        results: list[JobResult | None] = [None] * len(jobs)
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            node, batch = pending.pop(ready)
            try:
                got = ray.get(ready)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if exc.cause is not None else exc
                raise SandboxError(f"Ray node {node.name}: {first_line(cause)}") from None
            except ray.exceptions.RayError as exc:
                raise SandboxError(f"Ray node {node.name} was lost: {first_line(exc)}") from None
            for i, result in zip(batch, got, strict=True):
                results[i] = result
                if done is not None:
                    done(i)
            if waiting:
                send(node)
        return [r for r in results if r is not None]

    def close(self) -> None:
        if self.connected:
            self.connected = False
            disconnect(self.ray, self.address)

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
