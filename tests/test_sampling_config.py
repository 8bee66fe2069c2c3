"""The sampling config: defaults, every bad value named by its key, the keys it may not set
(which model, where, at what cost: the run config's ``[sampler]``), the cache key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config import RunConfig, SamplerConfig, load_config, parse_config
from harness.errors import InputError
from harness.sampling import SamplingConfig, SamplingSpec, load_sampling_config
from harness.sampling.config import CODET_STOP, parse_sampling_config, render

REPO = Path(__file__).parent.parent


def test_the_shipped_config_is_the_documented_default() -> None:
    config = load_sampling_config(REPO / "experiments" / "sampling.toml")
    assert config == SamplingConfig()
    assert config.n == 20 and config.self_tests.n == 10
    assert config.stop == CODET_STOP
    sampler = RunConfig().sampler  # no [sampler] table: the simulated backend
    assert sampler.backend == "simulated" and SamplingSpec(config, sampler).simulated


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("temperature = 3", "key 'temperature' must be a number between 0 and 2"),
        ("temperature = 'hot'", "key 'temperature' must be a number between 0 and 2"),
        ("top_p = 0", "key 'top_p' must be a number above 0 and at most 1"),
        ("n = 0", "key 'n' must be an integer between 1 and 10000"),
        ("n = 2.5", "key 'n' must be an integer"),
        ("max_tokens = true", "key 'max_tokens' must be an integer of at least 1"),
        ("seed = -1", "key 'seed' must be an integer of at least 0"),
        ("endpoint = 'fim'", "key 'endpoint' must be one of 'text', 'chat'"),
        ("stop = '\\n'", "key 'stop' must be a list of non-empty strings"),
        ("stop = ['']", "key 'stop' must be a list of non-empty strings"),
        ("temprature = 0.5", "key 'temprature' is not a known setting"),
        ("template = '{{ prompt'", "key 'template' is not a valid jinja2 template"),
        ("template = '{{ solution }}'", "key 'template' uses unknown variable(s) ['solution']"),
        ("[self_tests]\nn = -1", "key 'self_tests.n' must be an integer between 0 and 1000"),
        ("[self_tests]\ntemperature = 9", "key 'self_tests.temperature' must be a number"),
        ("[self_tests]\ncount = 3", "key 'self_tests.count' is not a known setting"),
        ("self_tests = 3", "key 'self_tests' must be a table"),
    ],
)
def test_a_bad_value_is_named_with_its_file_and_key(tmp_path: Path, toml: str, message) -> None:
    path = tmp_path / "sampling.toml"
    path.write_text(toml + "\n")
    with pytest.raises(InputError) as caught:
        load_sampling_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_sampling_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("n = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_sampling_config(broken)


@pytest.mark.parametrize(
    "toml",
    [
        "backend = 'openai'",
        "model = 'openai/gpt-4o'",
        "api_base = 'http://elsewhere.example/v1'",
        "api_key_env = 'OPENAI_API_KEY'",
        "params = 1.5e9",
        "concurrency = 64",
        "retries = 0",
        "backoff = 0.5",
        "request_timeout = 5",
        "[vllm]\nengine_args = { dtype = 'float32' }",
    ],
)
def test_which_model_where_and_at_what_cost_is_not_set_here(tmp_path: Path, toml: str) -> None:
    """Every [sampler] key of the run config is refused in a sampling config, even a value
    equal to the default, in one line naming the key and where it lives now."""
    path = tmp_path / "sampling.toml"
    path.write_text("temperature = 0.2\n" + toml + "\n")
    key = toml.split()[0].strip("[]")
    with pytest.raises(InputError) as caught:
        load_sampling_config(path)
    assert str(caught.value) == (
        f"{path}: key '{key}' may only be set in the run config, as 'sampler.{key}': which "
        "model is sampled, where and at what cost is not research"
    )
    assert key in SamplerConfig.model_fields


def test_the_sampler_keys_are_read_from_the_run_config(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        '[sampler]\nbackend = "openai"\nmodel = "hosted_vllm/Qwen/Qwen2.5-Coder-1.5B"\n'
        'api_base = "http://127.0.0.1:8000/v1"\napi_key_env = "K"\nconcurrency = 2\n'
        '[sampler.vllm]\nengine_args = { dtype = "float32" }\n'
    )
    sampler = load_config(path).sampler
    assert (sampler.backend, sampler.api_base, sampler.api_key_env) == (
        "openai",
        "http://127.0.0.1:8000/v1",
        "K",
    )
    assert sampler.concurrency == 2 and sampler.engine_args == {"dtype": "float32"}
    assert not sampler.simulated and sampler.parameter_count() == (1.5e9, "model name")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("backend = 'gpt'", "key 'sampler.backend' must be one of 'simulated', 'openai', 'vllm'"),
        ("params = -7", "key 'sampler.params' must be a positive number"),
        ("api_base = 'localhost:8000'", "key 'sampler.api_base' must match"),
        ("api_key_env = 'MY-KEY'", "key 'sampler.api_key_env' must match"),
        ("model = ''", "key 'sampler.model' must be a non-empty string"),
        ("concurrency = 0", "key 'sampler.concurrency' must be an integer between 1 and 1024"),
        ("temperature = 0.2", "key 'sampler.temperature' is not a known setting"),
        ("[sampler.vllm]\nengine_args = 1", "key 'sampler.vllm.engine_args' must be a table"),
    ],
)
def test_a_bad_sampler_value_is_named_with_its_file_and_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[sampler]\n" + toml + "\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def sampler(**values: object) -> SamplerConfig:
    return parse_config({"sampler": values}, "run.toml").sampler


def test_the_cache_key_covers_what_changes_samples_only() -> None:
    """The key covers the model wherever it is set: a change of either file re-samples, a
    change of the sampler's limits does not."""
    base = SamplingSpec(parse_sampling_config({}, "s.toml"), sampler())
    for limits in ({"concurrency": 64, "retries": 0}, {"backoff": 9, "request_timeout": 5}):
        assert SamplingSpec(base.sampling, sampler(**limits)).key() == base.key()
    change: dict[str, Any]
    for change in (
        {"temperature": 0.2},
        {"n": 21},
        {"seed": 1},
        {"stop": []},
        {"endpoint": "chat"},
        {"template": "# {{ task_id }}\n{{ prompt }}"},
        {"self_tests": {"n": 3}},
    ):
        assert SamplingSpec(parse_sampling_config(change, "s.toml")).key() != base.key(), change
    for change in (
        {"model": "other"},
        {"backend": "openai"},
        {"api_base": "http://127.0.0.1:8000/v1"},
        {"params": 7e9},
        {"vllm": {"engine_args": {"dtype": "float32"}}},
    ):
        assert SamplingSpec(base.sampling, sampler(**change)).key() != base.key(), change


def test_the_parameter_count_comes_from_the_key_or_the_model_name() -> None:
    def count(**values: object) -> tuple[float | None, str]:
        return sampler(**values).parameter_count()

    assert count(model="hosted_vllm/Qwen/Qwen2.5-Coder-1.5B-Instruct") == (1.5e9, "model name")
    assert count(model="Salesforce/codegen-350M-mono") == (3.5e8, "model name")
    assert count(model="openai/gpt-4o-mini") == (None, "unknown")
    assert count(model="mixtral-8x7b-vs-70b") == (None, "unknown")  # ambiguous: not guessed
    assert count(model="tiny-7B", params=6.7e9) == (6.7e9, "config")


def test_the_chat_endpoint_has_its_own_defaults() -> None:
    chat = parse_sampling_config({"endpoint": "chat"}, "s.toml")
    assert chat.stop == () and chat.self_tests.stop == ()
    assert "```python" in chat.template and "assert" in chat.self_tests.template
    kept = parse_sampling_config({"endpoint": "chat", "stop": ["\n\n\n"]}, "s.toml")
    assert kept.stop == ("\n\n\n",)


def test_templates_render_the_task() -> None:
    config = parse_sampling_config({}, "s.toml")
    text = render(config.self_tests.template, "def f(x):\n", "f", "t/1")
    assert text == "def f(x):\n    pass\n\n\n# check the correctness of f\nassert "
    assert render("{{ task_id }}: {{ prompt }}", "p", "f", "t/1") == "t/1: p"
