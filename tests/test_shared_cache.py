"""The execution cache several machines share: a real PostgreSQL server
(``WINNOW_TEST_POSTGRES``, see ``clusterkit.py``), chosen by ``WINNOW_EXEC_CACHE``, keyed exactly
as the SQLite cache."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from clusterkit import (
    SETTINGS,
    judged,
    odd_pool,
    postgres_schemas,
    psycopg_installed,
    winnow_cli,
)

from harness.execution.cache import ExecCache, open_cache
from harness.execution.executor import Executor
from harness.execution.launch import SandboxConfig
from harness.execution.sandbox import Sandbox

KEYS = 3000  # rows each writer puts, in chunks of PUT
PUT = 250
ROUNDS = 8  # fresh schemas: each round also races the creation of the table
STEP = 1.0  # seconds between rounds
WARMUP = 4.0  # seconds for every writer to import the harness
WRITER = """
import os, sys, time
from pathlib import Path
from harness.execution.cache import open_cache
start, step, urls = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
rows = [(f"key-{{i}}", "passed" if i % 3 else "failed", f"detail {{i}}") for i in range({keys})]
for i, url in enumerate(urls):
    while time.time() < start + i * step:
        time.sleep(0.001)
    os.environ["WINNOW_EXEC_CACHE"] = url
    cache = open_cache(Path("unused"), "exec")
    for at in range(0, len(rows), {put}):
        cache.put(rows[at : at + {put}])
    found = cache.get(key for key, _, _ in rows)
    print(sum(found.get(key) == (status, detail) for key, status, detail in rows), flush=True)
    cache.close()
"""


def test_writers_putting_the_same_keys_at_once_all_succeed_and_read_everything() -> None:
    psycopg_installed()  # skips (or fails in CI) first
    import psycopg

    with postgres_schemas(ROUNDS) as urls:
        code = WRITER.format(keys=KEYS, put=PUT)
        start = time.time() + WARMUP
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(start), str(STEP), *urls],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [w.communicate(timeout=120) for w in writers]
        assert [w.returncode for w in writers] == [0, 0, 0], [err for _, err in outputs]
        for out, _ in outputs:  # every writer read back every row, as it was written
            assert out.split() == [str(KEYS)] * ROUNDS
        for url in urls:
            with psycopg.connect(url) as db:
                found = db.execute("SELECT count(*), count(DISTINCT key) FROM cache_exec")
                assert found.fetchone() == (KEYS, KEYS)


def test_a_pool_judged_through_the_shared_cache_is_answered_from_it_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_schemas() as (url,):
        judged_twice_and_alone(url, tmp_path, monkeypatch)


def judged_twice_and_alone(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_EXEC_CACHE", url)
    pool = odd_pool(tmp_path / "pool")
    config = SandboxConfig(level="process", workers=2)
    with Sandbox(config) as box:
        first = Executor(box, open_cache(tmp_path / "one", "exec"), SETTINGS)
        one = judged(pool, first)
    assert first.executions > 0 and first.cache_hits == 0
    # Another machine: its own sandbox, its own home (no SQLite file in common), the same URL.
    with Sandbox(config) as box:
        second = Executor(box, open_cache(tmp_path / "two", "exec"), SETTINGS)
        two = judged(pool, second)
    runs = one.runs
    assert second.executions == 0
    assert second.cache_hits == len(runs.statuses) + len("".join(runs.passes)) + sum(
        map(len, runs.outputs)
    )
    assert two.runs == runs
    assert not list(tmp_path.rglob("*.sqlite"))  # nothing went to SQLite

    # The shared rows are the ones a machine of its own would have written, key for key.
    monkeypatch.delenv("WINNOW_EXEC_CACHE")
    with Sandbox(config) as box:
        alone = Executor(box, ExecCache(tmp_path / "alone.sqlite"), SETTINGS)
        assert judged(pool, alone).runs == one.runs
    psycopg_installed()  # skips (or fails in CI) first
    import psycopg

    with psycopg.connect(url) as db:
        shared = {key for (key,) in db.execute("SELECT key FROM cache_exec")}
    with ExecCache(tmp_path / "alone.sqlite").db as db:
        local = {key for (key,) in db.execute("SELECT key FROM outcomes")}
    assert shared == local and len(local) == first.executions


def test_the_reward_scores_have_their_own_table(monkeypatch: pytest.MonkeyPatch) -> None:
    with postgres_schemas() as (url,):
        monkeypatch.setenv("WINNOW_EXEC_CACHE", url)
        outcomes, rewards = (
            open_cache(Path("unused"), "exec"),
            open_cache(Path("unused"), "rewards"),
        )
        score = ("logprobs", '{"value": 0.5, "tokens": 3}')
        outcomes.put([("same-key", "passed", "")])
        rewards.put([("same-key", *score)])
        assert outcomes.get(["same-key"]) == {"same-key": ("passed", "")}
        assert rewards.get(["same-key"]) == {"same-key": score}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@127.0.0.1/db", "must be a postgresql://user@host:port/database URL"),
        ("postgresql://me:secret@127.0.0.1:9/db", "cannot connect to postgresql://me:***@"),
        ("postgresql://127.0.0.1:port/db", 'invalid integer value "port"'),
        (" ", "is set but empty"),
    ],
)
def test_a_bad_cache_url_is_one_line_naming_the_variable(
    url: str, message: str, tmp_path: Path
) -> None:
    if url.startswith("postgresql://"):  # psycopg says what is wrong with these
        psycopg_installed()
    done = winnow_cli(["eval", "--k", "2"], {"WINNOW_EXEC_CACHE": url}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("winnow: error: WINNOW_EXEC_CACHE: ")
    assert message in done.stderr and "secret" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_a_cache_url_without_psycopg_installed_says_which_extra(tmp_path: Path) -> None:
    done = winnow_cli(
        ["eval", "--k", "2"],
        {"WINNOW_EXEC_CACHE": "postgresql://127.0.0.1/db"},
        tmp_path,
        absent="psycopg",
    )
    assert done.returncode == 2
    assert done.stderr == (
        "winnow: error: WINNOW_EXEC_CACHE: is a PostgreSQL URL but psycopg is not installed: "
        "pip install 'winnow[postgres]'\n"
    )


def test_without_the_variable_the_cache_is_sqlite_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WINNOW_EXEC_CACHE", raising=False)
    cache = open_cache(tmp_path, "exec")
    assert isinstance(cache, ExecCache) and (tmp_path / "exec.sqlite").exists()
