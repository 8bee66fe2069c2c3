"""The Ray backend against a real Ray cluster (``WINNOW_TEST_RAY``, see ``clusterkit.py``):
the same outcomes as this machine's sandbox, pair for pair, each kept under the level it ran at.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from clusterkit import SETTINGS, judged, odd_pool, ray_address, ray_installed, winnow_cli

from harness.config import parse_config
from harness.errors import InputError
from harness.execution.cache import ExecCache, pair_key, text_hash
from harness.execution.executor import Executor
from harness.execution.launch import SandboxConfig
from harness.execution.raycluster import RayCluster
from harness.execution.sandbox import Job, Sandbox

CONFIG = SandboxConfig(level="process", workers=2)


def test_a_pool_judged_on_the_cluster_equals_the_local_judgement_pair_for_pair(
    tmp_path: Path,
) -> None:
    address = ray_address()
    pool = odd_pool(tmp_path / "pool")
    with Sandbox(CONFIG) as box:
        local = Executor(box, ExecCache(tmp_path / "local.sqlite"), SETTINGS)
        here = judged(pool, local)
    cluster = RayCluster(address, CONFIG)
    try:
        assert cluster.levels == ("process",)
        remote = Executor(cluster, ExecCache(tmp_path / "ray.sqlite"), SETTINGS)
        there = judged(pool, remote)
    finally:
        cluster.close()
    assert remote.executions == local.executions > 0 and remote.cache_hits == 0
    # Labels, the candidate x self-test matrix and the outputs, pair for pair.
    assert there.runs.statuses == here.runs.statuses
    assert there.runs.passes == here.runs.passes
    assert there.runs.outputs == here.runs.outputs
    assert there.runs == here.runs
    # Stored under the same keys: a pool labelled on the cluster is never labelled again here.
    keys = [
        {key for (key,) in ExecCache(tmp_path / name).db.execute("SELECT key FROM outcomes")}
        for name in ("local.sqlite", "ray.sqlite")
    ]
    assert keys[0] == keys[1]


def test_each_result_from_the_cluster_says_the_level_it_ran_at(tmp_path: Path) -> None:
    address = ray_address()
    cluster = RayCluster(address, CONFIG)
    try:
        jobs = [Job(f"x = {i}", ("assert x % 2 == 0",), 1.0, 1.0) for i in range(6)]
        results = cluster.run(jobs)
        cache = ExecCache(tmp_path / "exec.sqlite")
        Executor(cluster, cache, SETTINGS).run([(j.setup, j.tests) for j in jobs], 1.0, 1.0)
    finally:
        cluster.close()
    assert [r.level for r in results] == ["process"] * 6
    assert [r.tests[0].status for r in results] == ["passed", "failed"] * 3
    # Stored under the level the result carries.
    stored = cache.get(
        [
            pair_key(
                text_hash("x = 0"),
                text_hash("assert x % 2 == 0"),
                f"timeout=1.0;setup=1.0;memory={CONFIG.memory_mb};level=process",
            )
        ]
    )
    assert list(stored.values()) == [("passed", "")]


def test_an_unreachable_cluster_is_one_line_naming_the_address_key(tmp_path: Path) -> None:
    ray_installed()
    config = tmp_path / "run.toml"
    config.write_text('[exec]\nbackend = "ray"\naddress = "ray://127.0.0.1:9"\n')
    done = winnow_cli(["eval", "--k", "2", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("winnow: error: [exec] address: cannot reach the Ray cluster")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_the_ray_backend_without_ray_installed_says_which_extra(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[exec]\nbackend = "ray"\naddress = "auto"\n')
    done = winnow_cli(["eval", "--k", "2", "--config", str(config)], {}, tmp_path, absent="ray")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "winnow: error: [exec] backend: 'ray' needs the ray package, which is not installed: "
        "pip install 'winnow[ray]'\n"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('backend = "ray"', "key 'exec.address' is required with backend 'ray'"),
        ('address = "auto"', "key 'exec.address' is used only with backend 'ray'"),
        ('backend = "ray"\naddress = "head:10001"', "key 'exec.address' must be 'auto' or 'ray://"),
    ],
)
def test_a_misconfigured_ray_backend_names_the_key(table: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_config({"exec": tomllib.loads(table)}, "run.toml")
