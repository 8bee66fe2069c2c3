"""Reading configuration files: the cache keys derived from them stay the same across versions.

A pool is cached under ``SamplingConfig.key()`` and a score under the scorer's ``config_key``:
if either changed for the same settings, every cached pool and score would be orphaned. The
values pinned here were computed before the config files were read through pydantic models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.reward.scorer import config_key
from harness.sampling import SamplingConfig, load_sampling_config

REPO = Path(__file__).parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_sampling_cache_key_is_pinned(tmp_path: Path) -> None:
    assert SamplingConfig().key() == "64cb07962c9e0ee2"
    assert load_sampling_config(REPO / "experiments" / "sampling.toml").key() == "64cb07962c9e0ee2"
    chat = write(
        tmp_path / "sampling.toml",
        'backend = "openai"\nmodel = "hosted_vllm/Qwen/Qwen2.5-Coder-1.5B"\n'
        'api_base = "http://127.0.0.1:8000/v1"\napi_key_env = "K"\nendpoint = "chat"\n'
        'params = 1.5e9\n[vllm]\nengine_args = { dtype = "float32" }\n',
    )
    assert load_sampling_config(chat).key() == "727d87ca895f4f98"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('kind = "judge"\nmodel = "m"', "d3b15e3ee13c1d89"),
        (
            'kind = "judge"\nmodel = "openai/j"\napi_base = "http://127.0.0.1:8000/v1"\n'
            'api_key_env = "K"\nmethod = "grade"\ntop_logprobs = 5\nmax_tokens = 8',
            "bd6e581ededfe509",
        ),
        (
            'kind = "reward_model"\nmodel = "r"\napi_base = "http://127.0.0.1:8000"\n'
            'endpoint = "pooling"',
            "7a7c9bac8e4b4f72",
        ),
        (
            'kind = "reward_model"\nmodel = "r"\napi_base = "http://x"\nendpoint = "json"\n'
            'json_path = "data.0.score"\npath = "/score2"\nlabel = 1\ninput = "text"',
            "380301e9c0658958",
        ),
    ],
)
def test_the_scorer_cache_key_is_pinned(tmp_path: Path, table: str, key: str) -> None:
    config = load_config(write(tmp_path / "run.toml", f"[scorer]\n{table}\n"))
    assert config.scorer is not None
    assert config_key(config.scorer) == key
