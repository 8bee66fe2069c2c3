"""The [scorer] table, experiments/scorer.toml, and `winnow eval` with a scorer configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evalkit import TINY_POOL, TINY_SUITE
from rewardkit import hashed, judge
from serverkit import FakeServer
from typer.testing import CliRunner

from agent.cli import app
from harness.config import RunConfig, ScorerConfig, load_config, with_scorer_overrides
from harness.errors import InputError
from harness.judge.evaluate import Session

EXPERIMENTS = Path(__file__).parent.parent / "experiments"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_judge_and_a_reward_model_parse_with_templates_resolved(tmp_path: Path) -> None:
    write(tmp_path / "ask.j2", "Is {{ program }} right? yes or no")
    config = load_config(
        write(
            tmp_path / "run.toml",
            '[scorer]\nkind = "judge"\nmodel = "ollama_chat/qwen2.5-coder"\n'
            'template = "ask.j2"\nretries = 5\nbackoff = 2\n',
        )
    )
    assert config.scorer == ScorerConfig(
        kind="judge",
        model="ollama_chat/qwen2.5-coder",
        template=str(tmp_path / "ask.j2"),
        retries=5,
        backoff=2.0,
    )
    rm = load_config(
        write(
            tmp_path / "rm.toml",
            '[scorer]\nkind = "reward_model"\nmodel = "Skywork/Skywork-Reward-V2-Qwen3-0.6B"\n'
            'api_base = "http://127.0.0.1:8000"\nendpoint = "pooling"\n',
        )
    )
    assert rm.scorer is not None and rm.scorer.endpoint == "pooling"
    assert load_config(write(tmp_path / "none.toml", "")).scorer is None


@pytest.mark.parametrize(
    "table, message",
    [
        (
            'kind = "oracle"\nmodel = "m"',
            "key 'scorer.kind' must be one of 'judge', 'reward_model'",
        ),
        ('kind = "judge"', "key 'scorer.model' is required"),
        ('kind = "judge"\nmodel = "m"\nflavour = 1', "key 'scorer.flavour' is not a known setting"),
        ('kind = "judge"\nmodel = "m"\nretries = "3"', "key 'scorer.retries' must be an integer"),
        ('kind = "judge"\nmodel = "m"\nmethod = "vibes"', "key 'scorer.method' must be one of"),
        (
            'kind = "judge"\nmodel = "m"\nconcurrency = 0',
            "key 'scorer.concurrency' must be an integer of at",
        ),
        ('kind = "judge"\nmodel = "m"\ntemplate = "gone.j2"', "key 'scorer.template': no such"),
        ('kind = "reward_model"\nmodel = "m"', "key 'scorer.api_base' is required"),
        (
            'kind = "reward_model"\nmodel = "m"\napi_base = "http://x"\nendpoint = "json"',
            "key 'scorer.json_path' is required",
        ),
    ],
)
def test_a_bad_scorer_table_names_the_key(tmp_path: Path, table: str, message: str) -> None:
    path = write(tmp_path / "run.toml", f"[scorer]\n{table}\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_an_unset_api_key_variable_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WINNOW_TEST_JUDGE_KEY", raising=False)
    path = write(
        tmp_path / "run.toml",
        '[scorer]\nkind = "judge"\nmodel = "m"\napi_key_env = "WINNOW_TEST_JUDGE_KEY"\n',
    )
    with pytest.raises(InputError, match="WINNOW_TEST_JUDGE_KEY is not set"):
        Session(load_config(path))


def test_a_template_that_does_not_render_stops_before_any_request(tmp_path: Path) -> None:
    write(tmp_path / "ask.j2", "Is {{ code }} right?")  # the variable is {{ program }}
    path = write(
        tmp_path / "run.toml", '[scorer]\nkind = "judge"\nmodel = "m"\ntemplate = "ask.j2"\n'
    )
    with pytest.raises(InputError, match="key scorer.template: .*'code' is undefined"):
        Session(load_config(path))


def test_scorer_toml_may_change_how_the_model_is_asked_not_which(tmp_path: Path) -> None:
    base = load_config(write(tmp_path / "run.toml", '[scorer]\nkind = "judge"\nmodel = "m"\n'))
    research = tmp_path / "experiments"
    research.mkdir()
    write(research / "judge.jinja", "{{ program }}: yes or no?")
    tuned = with_scorer_overrides(
        base,
        write(research / "scorer.toml", '[scorer]\nmethod = "grade"\ntemplate = "judge.jinja"\n'),
    )
    assert tuned.scorer is not None and tuned.scorer.method == "grade"
    assert tuned.scorer.template == str(research / "judge.jinja")
    assert tuned.scorer.model == "m"
    sneaky = write(research / "bigger.toml", '[scorer]\nmodel = "openai/gpt-4o"\n')
    with pytest.raises(InputError, match="key 'scorer.model' may only be set in the run config"):
        with_scorer_overrides(base, sneaky)
    with pytest.raises(InputError, match="the run config has no \\[scorer\\]"):
        with_scorer_overrides(RunConfig(), research / "scorer.toml")


def test_the_shipped_scorer_toml_changes_nothing() -> None:
    assert with_scorer_overrides(RunConfig(), EXPERIMENTS / "scorer.toml") == RunConfig()


def test_winnow_eval_shows_the_scorer_and_the_calibration(tmp_path: Path) -> None:
    runner = CliRunner()
    with FakeServer(judge(hashed)) as server:
        config = write(
            tmp_path / "run.toml",
            f'[eval]\nk = 4\nrepeats = 2\n[scorer]\nkind = "judge"\nmodel = "openai/j"\n'
            f'api_base = "{server.url}"\n',
        )
        args = ["eval", "--suite", str(TINY_SUITE), "--pool", str(TINY_POOL)]
        args += ["--config", str(config)]
        shown = runner.invoke(app, args)
        as_json = runner.invoke(app, args + ["--json"])
    assert shown.exit_code == 0, shown.output
    assert "reward_model" in shown.output and "reward_then_codet" in shown.output
    assert "scorer: judge openai/j (auto" in shown.output
    assert "calibration: mean score correct" in shown.output and "reading:" in shown.output
    data = json.loads(as_json.stdout)
    assert data["calibration"]["status"] == "ok" and len(data["calibration"]["problems"]) == 8
    assert data["scorer"]["scores"] == 48 and data["scorer"]["cached"] == 48
    assert "llm_calls" not in data


def test_winnow_eval_with_a_bad_scorer_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = write(tmp_path / "run.toml", '[scorer]\nkind = "judge"\n')
    args = ["eval", "--suite", str(TINY_SUITE), "--pool", str(TINY_POOL), "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "key 'scorer.model' is required" in result.output
