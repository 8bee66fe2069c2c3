"""A real PostgreSQL server and a real Ray cluster for the tests that need them, found through
the environment (``.ci/run`` starts both; the README says how to start them by hand):

- ``WINNOW_TEST_POSTGRES=postgresql://user@host:port/database``: a database the tests may
  create schemas in. Unset, the kit starts a throwaway server of its own (``initdb`` and
  ``pg_ctl`` from Debian's ``postgresql`` package, in a temporary directory, as the user
  ``postgres`` when the tests run as root), stopped when the tests end. Each test gets a fresh
  schema (dropped afterwards), so tables start empty and tests never see each other's rows;
- ``WINNOW_TEST_RAY=auto`` (this machine is a node) or ``ray://host:port`` (its client port):
  a running cluster whose nodes have this Winnow installed (``ray start --head``).

A test that needs one and does not find it skips, saying why, unless
``WINNOW_REQUIRE_CLUSTER=1`` (CI sets it): then it fails.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from harness.data.pools import Pool, import_pool
from harness.data.suites import load_suite
from harness.execution.executor import ExecSettings, Executor
from harness.judge.problems import JudgedPool, judge_pool

DATA = Path(__file__).parent / "data"
TINY_SUITE = DATA / "tiny_suite.jsonl"
TINY_POOL = DATA / "tiny_pool"
INPUTS = 8  # inputs per problem for the outputs signal: enough to vary, few to run
# Every outcome a sandbox can give, on purpose: a hang, a crash while loading, a crash in a test,
# output, and a program that prints before it fails; and one whose output is the order of a set
# of strings (the same in every worker only with a fixed hash seed). Appended to each problem's
# candidates.
ODD_BODIES = (
    "    return ''.join(set('({[<'))\n",
    "    while True:\n        pass\n",
    "    return undefined_name\n",
    "    raise SystemExit(0)\n",
    "    print('noise' * 100)\n    return None\n",
)
SETTINGS = ExecSettings(hidden_timeout=0.5, test_timeout=0.1, setup_timeout=0.5)


def required(variable: str, what: str) -> str:
    """The variable's value; skips (or, under WINNOW_REQUIRE_CLUSTER=1, fails) without it."""
    value = os.environ.get(variable, "")
    if not value:
        missing(f"{variable} is not set: no {what} to test against")
    return value


def ray_installed() -> None:
    """Skips (or fails, see :func:`missing`) unless the ray extra is installed."""
    try:
        import ray  # noqa: F401  (only whether it is there)
    except ModuleNotFoundError:
        missing("ray is not installed: pip install -e '.[ray]'")


def psycopg_installed() -> None:
    """Skips (or fails, see :func:`missing`) unless the postgres extra is installed."""
    if importlib.util.find_spec("psycopg") is None:
        missing("psycopg is not installed: pip install -e '.[postgres]'")


def ray_address() -> str:
    """WINNOW_TEST_RAY, with ray installed to reach it."""
    address = required("WINNOW_TEST_RAY", "Ray cluster")
    ray_installed()
    return address


def missing(reason: str) -> NoReturn:
    """Skip, or under WINNOW_REQUIRE_CLUSTER=1 fail, for ``reason``."""
    if os.environ.get("WINNOW_REQUIRE_CLUSTER") == "1":
        pytest.fail(f"WINNOW_REQUIRE_CLUSTER=1 but {reason}")
    pytest.skip(reason)


_SERVER: list[str] = []  # the throwaway server's URL, once started


def postgres_url() -> str:
    """WINNOW_TEST_POSTGRES, else a throwaway server of the kit's own (started once); either
    with psycopg installed to reach it."""
    psycopg_installed()
    given = os.environ.get("WINNOW_TEST_POSTGRES", "")
    if given:
        return given
    if not _SERVER:
        _SERVER.append(start_postgres())
    return _SERVER[0]


def start_postgres() -> str:
    """A PostgreSQL server in a temporary directory, trusting local connections, on a free
    port of 127.0.0.1; stopped (and its directory removed) when this process exits."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        missing("WINNOW_TEST_POSTGRES is not set and initdb is not installed (apt postgresql)")
    bin_dir = Path(initdb).parent
    folder = Path(tempfile.mkdtemp(prefix="winnow-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root, and there is no user 'postgres' to run PostgreSQL as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data, log = folder / "data", folder / "log"
    run = [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run(run, check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*ctl, "-l", str(log), "-o", options, "-w", "start"], check=True)

    def stop() -> None:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@contextlib.contextmanager
def postgres_schemas(count: int = 1) -> Iterator[list[str]]:
    """URLs of ``count`` fresh, empty schemas in the test server's database (every unqualified
    table lands in the URL's schema), dropped afterwards."""
    try:
        import psycopg  # here: this module loads without the postgres extra
    except ModuleNotFoundError:
        missing("psycopg is not installed: pip install -e '.[postgres]'")
    base = postgres_url()

    schemas = [f"winnow_test_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with psycopg.connect(base, autocommit=True) as db:
        for schema in schemas:
            db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield [f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{s}" for s in schemas]
    finally:
        with psycopg.connect(base, autocommit=True) as db:
            for schema in schemas:
                db.execute(f"DROP SCHEMA {schema} CASCADE")


def winnow_cli(
    args: list[str],
    env: Mapping[str, str],
    home: Path,
    absent: str | None = None,
    suite_and_pool: bool = True,
) -> subprocess.CompletedProcess[str]:
    """The real ``winnow`` command in a new process, on the tiny suite and pool (unless not
    ``suite_and_pool``), with ``env`` added to the environment. ``absent``: a module made
    unimportable first, as if its extra were not installed."""
    hide = f"import sys; sys.modules[{absent!r}] = None; " if absent else ""
    data = ["--suite", str(TINY_SUITE), "--pool", str(TINY_POOL)] if suite_and_pool else []
    return subprocess.run(
        [sys.executable, "-c", hide + "from agent.cli import main; main()", *args, *data],
        capture_output=True,
        text=True,
        env={**os.environ, "WINNOW_HOME": str(home), **env},
        timeout=300,
    )


def odd_pool(folder: Path) -> Pool:
    """The tiny pool with :data:`ODD_BODIES` added to every problem, written to ``folder``."""
    rows = [json.loads(line) for line in (TINY_POOL / "samples.jsonl").read_text().splitlines()]
    tasks = dict.fromkeys(row["task_id"] for row in rows)
    rows += [{"task_id": t, "completion": body} for t in tasks for body in ODD_BODIES]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    suite = load_suite(str(TINY_SUITE))
    return import_pool(folder / "samples.jsonl", suite, TINY_POOL / "self_tests.jsonl")


def judged(pool: Pool, executor: Executor) -> JudgedPool:
    """``pool`` labelled, self-tested and run on its inputs through ``executor``, as
    ``winnow eval`` judges it (no memo: every pair goes through the executor)."""
    suite = load_suite(str(TINY_SUITE))
    return judge_pool(suite, pool, "all", executor, "test pool", INPUTS)
