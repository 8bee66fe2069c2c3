"""Reading configuration files: one loader for every file, unknown keys refused, each problem one
line naming the file and the key, ``None`` for what is not set, and stable cache keys.

A pool is cached under ``SamplingSpec.key()`` and a score under the scorer's ``config_key``:
if either changed for the same settings, every cached pool and score would be orphaned. The
values pinned here were computed before the config files were read through pydantic models, and
the sampling ones before the model moved from ``experiments/sampling.toml`` to the run config's
``[sampler]``: the same settings, wherever they are set, keep their key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.commands.runcmd import run_loop
from agent.llm_proposer import LLMProposer
from agent.run import RunSpec
from agent.search_space import load_space
from agent.settings import ProposerConfig, load_settings
from harness import llm
from harness.config import RunConfig, load_config, with_scorer_overrides
from harness.errors import InputError
from harness.reward.scorer import config_key
from harness.sampling import SamplingSpec, load_sampling_config

REPO = Path(__file__).parent.parent
SCORER = '[scorer]\nkind = "judge"\nmodel = "m"\n'
PARAM = '[[param]]\nfile = "experiments/selector.py"\nname = "X"\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_config(path: Path) -> object:
    return load_config(path)


def settings(path: Path) -> object:
    return load_settings(path)


def sampling(path: Path) -> object:
    return load_sampling_config(path)


def scorer_overrides(path: Path) -> object:
    base = load_config(write(path.with_name("base.toml"), SCORER))
    return with_scorer_overrides(base, path)


def search_space(path: Path) -> object:
    return load_space(path.read_text(), str(path))


Reader = Callable[[Path], object]


@pytest.mark.parametrize(
    ("read", "text", "message"),
    [
        (run_config, "[eval]\nkk = 3\n", "key 'eval.kk' is not a known setting"),
        (run_config, "[evaluation]\nk = 3\n", "key 'evaluation' is not a known setting"),
        (run_config, "[sandbox]\nlevle = 'bwrap'\n", "key 'sandbox.levle' is not a known setting"),
        (run_config, SCORER + "flavour = 1\n", "key 'scorer.flavour' is not a known setting"),
        (settings, "[proposer]\nfoo = 1\n", "key 'proposer.foo' is not a known setting"),
        (settings, "[proposer]\n[eval]\nfoo = 1\n", "key 'eval.foo' is not a known setting"),
        (sampling, "[self_tests]\ncount = 3\n", "key 'self_tests.count' is not a known setting"),
        (run_config, "[sampler.vllm]\ndtype = 'f'\n", "key 'sampler.vllm.dtype' is not a known"),
        (
            scorer_overrides,
            "[scorer]\nflavour = 1\n",
            "key 'scorer.flavour' is not a known setting",
        ),
        (scorer_overrides, "[scorer]\n[other]\n", "key 'other' is not a known setting"),
        (search_space, PARAM + "choices = [1]\nhgih = 2\n", "param #1: key 'hgih' is not a known"),
        (search_space, "seed = 1\n" + PARAM + "choices = [1]\n", "key 'seed' is not a known"),
    ],
)
def test_an_unknown_key_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, read: Reader, text: str, message: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(InputError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("read", "text", "message"),
    [
        (run_config, "[eval]\nk = 0\n", "key 'eval.k' must be an integer of at least 1"),
        (run_config, "[eval]\nk = 2.5\n", "key 'eval.k' must be an integer of at least 1"),
        (run_config, "[eval]\nseed = true\n", "key 'eval.seed' must be an integer of at least 0"),
        (run_config, "[eval]\nmin_effect = -0.1\n", "key 'eval.min_effect' must be a number of"),
        (run_config, "[budget]\ngenerated_tokens = -1\n", "key 'budget.generated_tokens' must"),
        (run_config, "[exec]\ntest_timeout = '1'\n", "key 'exec.test_timeout' must be a positive"),
        (run_config, "[exec]\nhidden_timeout = 0\n", "key 'exec.hidden_timeout' must be a pos"),
        (
            run_config,
            "[sandbox]\nlevel = 'docker'\n",
            "key 'sandbox.level' must be one of 'auto', 'bwrap', 'process'",
        ),
        (run_config, "[sandbox]\nhide = '/etc'\n", "key 'sandbox.hide' must be a list of non"),
        (run_config, "[sandbox]\nseccomp = 1\n", "key 'sandbox.seccomp' must be true or false"),
        (run_config, "eval = 3\n", "key 'eval' must be a table"),
        (run_config, SCORER + "label = -1\n", "key 'scorer.label' must be an integer of at least"),
        (settings, "proposer = 3\n", "key 'proposer' must be a table"),
        (
            settings,
            "[proposer]\nkind = 'gpt'\n",
            "key 'proposer.kind' must be one of 'auto', 'llm', 'search'",
        ),
        (
            settings,
            "[proposer]\ninput_usd_per_mtok = -1\n",  # the old spelling of "unknown price"
            "key 'proposer.input_usd_per_mtok' must be a number of at least 0",
        ),
        (settings, "[proposer]\nmodel = ''\n", "key 'proposer.model' must be a non-empty string"),
        (settings, "[proposer]\nmodel = ' '\n", "key 'proposer.model' must be a non-empty string"),
        (settings, "[proposer]\nretries = '4'\n", "key 'proposer.retries' must be an integer"),
        (sampling, "[self_tests]\ntop_p = 0\n", "key 'self_tests.top_p' must be a number above 0"),
        (scorer_overrides, "[scorer]\ntop_logprobs = 0\n", "key 'scorer.top_logprobs' must be"),
        (scorer_overrides, "[scorer]\nmethod = 'vibes'\n", "key 'scorer.method' must be one of"),
        (search_space, "", "define at least one [[param]] table"),
        (search_space, PARAM, "param #1: give 'choices', or numeric 'low' and 'high'"),
        (search_space, PARAM + "choices = []\n", "param #1: key 'choices' must be a non-empty"),
        (
            search_space,
            PARAM + "choices = [{ a = 1 }]\n",
            "param #1: key 'choices' must be a non-empty list of booleans, numbers or strings",
        ),
        (search_space, PARAM + "low = 'a'\nhigh = 1\n", "param #1: key 'low' must be a number"),
        (search_space, PARAM + "low = 1\nhigh = 1\n", "param #1: 'low' must be below 'high'"),
        (
            search_space,
            PARAM + "choices = [1]\n" + PARAM.replace("experiments/", "harness/") + "low = 0\n",
            "param #2: key 'file' must be under experiments/",
        ),
        (search_space, '[[param]]\nname = "X"\nchoices = [1]\n', "param #1: key 'file' is req"),
    ],
)
def test_a_wrong_type_or_value_names_the_key(
    tmp_path: Path, read: Reader, text: str, message: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(InputError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_a_bad_command_line_override_of_the_proposer_is_named(tmp_path: Path) -> None:
    spec = RunSpec(tag="t", suite="s", pool=None)
    with pytest.raises(InputError, match="key 'proposer.kind' must be one of"):
        run_loop(spec, None, "gpt", None, None, Path.cwd(), tmp_path / "ledger.sqlite")


def test_what_is_not_set_is_none(tmp_path: Path) -> None:
    run, proposer = load_settings(write(tmp_path / "run.toml", '[proposer]\nmodel = "openai/m"\n'))
    assert proposer.input_usd_per_mtok is None and proposer.output_usd_per_mtok is None
    assert proposer.api_key_env is None and proposer.api_base is None
    assert proposer.resolved_kind() == "llm" and ProposerConfig().resolved_kind() == "search"
    assert run == RunConfig() and run.scorer is None
    scorer = load_config(write(tmp_path / "scorer.toml", SCORER)).scorer
    assert scorer is not None
    assert (scorer.api_base, scorer.api_key_env, scorer.template, scorer.path) == (None,) * 4


def test_an_unpriced_model_costs_none_not_a_negative_number() -> None:
    """litellm has no price for this model: the configured prices decide, and without them the
    cost is unknown."""
    unpriced = LLMProposer(ProposerConfig(model="openai/no-such-model"))
    assert llm.price(None, 1000, 1000, unpriced.endpoint) is None
    priced = LLMProposer(
        ProposerConfig(
            model="openai/no-such-model", input_usd_per_mtok=1.0, output_usd_per_mtok=2.0
        )
    )
    assert llm.price(None, 1_000_000, 500_000, priced.endpoint) == pytest.approx(2.0)


def test_the_sampling_cache_key_is_pinned(tmp_path: Path) -> None:
    assert SamplingSpec().key() == "64cb07962c9e0ee2"
    shipped = load_sampling_config(REPO / "experiments" / "sampling.toml")
    assert SamplingSpec(shipped, RunConfig().sampler).key() == "64cb07962c9e0ee2"
    run = write(
        tmp_path / "run.toml",
        '[sampler]\nbackend = "openai"\nmodel = "hosted_vllm/Qwen/Qwen2.5-Coder-1.5B"\n'
        'api_base = "http://127.0.0.1:8000/v1"\napi_key_env = "K"\nparams = 1.5e9\n'
        '[sampler.vllm]\nengine_args = { dtype = "float32" }\n',
    )
    chat = write(tmp_path / "sampling.toml", 'endpoint = "chat"\n')
    spec = SamplingSpec(load_sampling_config(chat), load_config(run).sampler)
    assert spec.key() == "727d87ca895f4f98"


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
