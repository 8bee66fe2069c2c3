"""Sampling under research changes how a model is sampled, never which model or where.

``winnow run`` end to end, sampling every experiment's pool through the ``openai`` backend (real
litellm, real HTTP) from a scripted model server on 127.0.0.1, with the LLM proposer talking to
another. The run config's ``[sampler]`` names the model; a proposal whose
``experiments/sampling.toml`` names a model, a server, a key or a backend is invalid and nothing
is sent to any server; a change of how the model is sampled is sampled; a change that costs
more than the budget is invalid, its reason in FLOPs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import git
import pytest
from loopkit import experiments, finish, make_repo, winnow
from serverkit import FakeServer, Reply, chat_completion, scripted, text_completion
from synthkit import write_synthetic

from agent.poolsource import sampling_cost
from harness.data.pools import Pool, Sample
from ledger.store import Ledger

MODEL = "hosted_vllm/fake-coder"  # no size in the name: the parameter count is [sampler]'s
SAMPLING = "n = 8\ntemperature = 0.8\n\n[self_tests]\nn = 2\n"


class SyntheticModel:
    """A model server that answers the synthetic suite's prompts with its pool: a candidate
    prompt gets the problem's candidates in turn, a self-test prompt its asserts."""

    def __init__(self, data: Path):
        self.samples: dict[str, list[str]] = {}
        for line in (data / "pool" / "samples.jsonl").read_text().splitlines():
            row = json.loads(line)
            self.samples.setdefault(_name(row["task_id"]), []).append(row["completion"])
        self.tests = {}
        for line in (data / "pool" / "self_tests.jsonl").read_text().splitlines():
            row = json.loads(line)
            self.tests[_name(row["task_id"])] = "\nassert ".join(
                t.removeprefix("assert ") for t in row["tests"]
            )

    def __call__(self, path: str, body: dict[str, Any]) -> Reply:
        prompt = body["prompt"]
        name = re.search(r"def (f\d+)\(", prompt)
        assert name is not None, prompt
        if prompt.rstrip().endswith("assert"):
            texts = [self.tests[name.group(1)] + "\n"] * body["n"]
        else:
            own = self.samples[name.group(1)]
            texts = [own[i % len(own)] for i in range(body["n"])]
        return Reply(200, text_completion(texts))


def _name(task_id: str) -> str:
    return "f" + task_id.split("/")[1]


def proposal(hypothesis: str, sampling: str) -> Reply:
    body = json.dumps({"hypothesis": hypothesis, "files": {"experiments/sampling.toml": sampling}})
    return Reply(200, chat_completion(["```json\n" + body + "\n```"]))


def write_run_config(path: Path, proposer_url: str, sampler_url: str, **sampler: Any) -> Path:
    table = {"backend": "openai", "model": MODEL, "api_base": sampler_url, "params": 1.5e9}
    table |= {"backoff": 0.01, **sampler}
    path.write_text(
        f'[proposer]\nmodel = "openai/fake"\napi_base = "{proposer_url}"\nbackoff = 0.01\n'
        "input_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n[sampler]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    )
    return path


@pytest.fixture
def research(tmp_path: Path, winnow_home: Path):
    """(repo, suite, data, home): a research repo whose experiments/sampling.toml asks for 8
    candidates and 2 self-test samples per problem, and a synthetic suite to sample."""
    suite, _ = write_synthetic(tmp_path / "data")
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "repo" / "experiments" / "sampling.toml").write_text(SAMPLING)
    repo.git.add("--all")
    repo.index.commit("sample", author=git.Actor("t", "t@t"), committer=git.Actor("t", "t@t"))
    return repo, suite, tmp_path / "data", winnow_home


def run_args(tag: str, suite: Path, config: Path, *extra: str) -> list[str]:
    return ["run", "--tag", tag, "--suite", str(suite), "--config", str(config), *extra]


def test_a_proposal_cannot_change_the_model_the_server_or_the_key(research, tmp_path: Path) -> None:
    repo, suite, data, home = research
    root = Path(repo.working_tree_dir)
    with (
        FakeServer(SyntheticModel(data)) as sampler,
        FakeServer(SyntheticModel(data)) as elsewhere,
    ):
        answers = [
            proposal("a frontier model", 'model = "openai/gpt-4o"\n' + SAMPLING),
            proposal("another host", f'api_base = "{elsewhere.url}"\n' + SAMPLING),
            proposal("the user's key", 'api_key_env = "OPENAI_API_KEY"\n' + SAMPLING),
            proposal("in-process vLLM", 'backend = "vllm"\n' + SAMPLING),
            proposal("greedier", SAMPLING.replace("temperature = 0.8", "temperature = 0.2")),
            proposal("more self-tests", SAMPLING.replace("n = 2", "n = 8")),
        ]
        with FakeServer(scripted(answers)) as proposer:
            config = write_run_config(tmp_path / "run.toml", proposer.url, sampler.url)
            code, out = finish(
                winnow(run_args("lock", suite, config, "--max-experiments", "7"), root, home)
            )
        sent = [body for _, body in sampler.requests]
        assert elsewhere.requests == [], "a proposal sent problems to another host"
    assert code == 0, out
    rows = experiments(home, "lock")
    statuses = [e.status for e in rows]
    assert statuses[:5] == ["kept", "invalid", "invalid", "invalid", "invalid"], out
    for row, key in zip(rows[1:5], ("model", "api_base", "api_key_env", "backend"), strict=True):
        assert row.reason is not None and "\n" not in row.reason
        assert f"key '{key}' may only be set in the run config, as 'sampler.{key}'" in row.reason
        assert row.commit is not None  # recorded with its commit and diff, like any experiment
        assert "dev" not in row.evaluations  # never evaluated: there was no pool to evaluate

    # The server saw the starting pool (40 problems, candidates and self-tests), then nothing
    # until the research change (temperature 0.2), then the pool over budget (8 self-tests).
    assert {body["model"] for body in sent} == {"fake-coder"}
    assert [b["temperature"] for b in sent[:80]] == [0.8] * 80
    assert len(sent) == 240 and [b["temperature"] for b in sent[80:160]].count(0.2) == 40
    assert statuses[5] in ("kept", "discarded"), rows[5].reason  # sampled and evaluated
    over = rows[6]
    assert over.status == "invalid" and over.reason is not None
    assert over.reason.startswith("compute_parity: the pool costs ")
    assert "FLOPs per problem at k=8 (2 x 1.5e+09 parameters x " in over.reason
    assert "over the sampling budget of 1.25 x the starting pool's " in over.reason
    said = " ".join(out.split())  # the console wraps long lines
    start = r"k=8, sampling \S+ FLOPs per problem at k=8 \(2 x 1.5e\+09 parameters x \d+ tokens\)"
    assert re.search(start, said), said  # the run says what its starting pool costs

    with Ledger.open(home / "ledger.sqlite", readonly=True) as ledger:
        run = ledger.get_run("lock")
        assert run.config["run"]["sampler"]["model"] == MODEL  # the run records its model


def test_a_starting_sampling_config_that_names_a_model_stops_before_anything_is_created(
    research, tmp_path: Path
) -> None:
    repo, suite, data, home = research
    root = Path(repo.working_tree_dir)
    (root / "experiments" / "sampling.toml").write_text('model = "openai/gpt-4o"\n' + SAMPLING)
    repo.git.add("--all")
    repo.index.commit("old style", author=git.Actor("t", "t@t"), committer=git.Actor("t", "t@t"))
    with FakeServer(SyntheticModel(data)) as sampler:
        config = write_run_config(tmp_path / "run.toml", "http://127.0.0.1:9/v1", sampler.url)
        code, out = finish(winnow(run_args("old", suite, config), root, home))
        assert sampler.requests == []
    assert code == 2, out
    assert out.strip() == (
        "winnow: error: experiments/sampling.toml (at HEAD): key 'model' may only be set in the "
        "run config, as 'sampler.model': which model is sampled, where and at what cost is not "
        "research"
    )
    assert "winnow/old" not in [h.name for h in repo.heads]  # no branch, no worktree
    assert not (home / "worktrees").exists()
    with Ledger.open(home / "ledger.sqlite") as ledger:
        assert ledger.runs() == []


def test_an_unset_sampler_key_variable_stops_the_run_before_it_starts(
    research, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, suite, data, home = research
    monkeypatch.delenv("WINNOW_TEST_NO_SUCH_KEY", raising=False)
    with FakeServer(SyntheticModel(data)) as sampler:
        config = write_run_config(
            tmp_path / "run.toml",
            "http://127.0.0.1:9/v1",
            sampler.url,
            api_key_env="WINNOW_TEST_NO_SUCH_KEY",
        )
        code, out = finish(
            winnow(run_args("nokey", suite, config), Path(repo.working_tree_dir), home)
        )
        assert sampler.requests == []
    assert code == 2, out
    assert "key sampler.api_key_env: the environment variable WINNOW_TEST_NO_SUCH_KEY" in out
    assert "winnow/nokey" not in [h.name for h in repo.heads]


def pool(generated: int, prompt: int, tests: int, params: float | None) -> Pool:
    """Two problems of 4 samples each, with the sampler's record of what they cost."""
    samples = {t: [Sample(t, i, "    return 0\n") for i in range(4)] for t in ("a", "b")}
    compute = {
        "candidates": {"prompt": prompt, "generated": generated},
        "self_tests": {"prompt": prompt, "generated": tests},
        "params": params,
    }
    return Pool("p", samples, None, {"compute": compute})


def test_the_sampling_cost_counts_prompts_and_is_in_flops_when_the_size_is_known() -> None:
    start = sampling_cost(pool(generated=80, prompt=20, tests=40, params=1e9), k=2)
    assert start is not None  # per problem: 2 x 10 generated + 10 + 10 prompt + 20 self-tests
    assert start.tokens == 60 and start.flops == 2 * 1e9 * 60
    assert str(start) == "1.2e+11 FLOPs per problem at k=2 (2 x 1e+09 parameters x 60 tokens)"
    longer_prompt = sampling_cost(pool(generated=80, prompt=60, tests=40, params=1e9), k=2)
    assert longer_prompt is not None and longer_prompt.over(1.25, start) == (
        "the pool costs 2e+11 FLOPs per problem at k=2 (2 x 1e+09 parameters x 100 tokens), "
        "over the sampling budget of 1.25 x the starting pool's 1.2e+11 FLOPs (60 tokens)"
    )
    assert start.over(1.25, start) is None
    unknown = sampling_cost(pool(generated=80, prompt=60, tests=40, params=None), k=2)
    assert unknown is not None and unknown.flops is None
    assert unknown.over(1.25, start) == (
        "the pool costs 100 tokens per problem at k=2, over the sampling budget of 1.25 x the "
        "starting pool's 60 tokens"
    )
    assert sampling_cost(Pool("imported", {}, None), k=2) is None  # it does not know its cost
