"""``winnow run`` end to end: a real git repository, the real ledger, the real sandbox, and the
LLM proposer talking over HTTP (real litellm) to a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import git
import optuna
import pytest
from loopkit import experiments, finish, make_repo, winnow
from serverkit import FakeServer, Reply, chat_completion, error, scripted
from sqlmodel import select
from synthkit import write_synthetic

from agent.summary import FAILURE_CASES
from harness.data.suites import split_of
from ledger.models import Evaluation, PoolProblem
from ledger.store import Ledger


@pytest.fixture
def research(tmp_path: Path, winnow_home: Path):
    """(repo, suite, pool, home): a research repo and a synthetic suite and pool beside it."""
    suite, pool = write_synthetic(tmp_path / "data")
    repo = make_repo(tmp_path / "repo")
    return repo, suite, pool, winnow_home


def proposal(hypothesis: str, files: dict[str, str]) -> Reply:
    body = json.dumps({"hypothesis": hypothesis, "files": files})
    return Reply(200, chat_completion(["Here is my proposal:\n```json\n" + body + "\n```"]))


def write_config(path: Path, url: str, **proposer: object) -> Path:
    settings = {
        "model": "openai/fake",
        "api_base": url,
        "backoff": 0.01,
        "retries": 2,
        "malformed_retries": 1,
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 2.0,
    }
    settings.update(proposer)
    lines = ["[proposer]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_args(tag: str, suite: Path, pool: Path, *extra: str) -> list[str]:
    return ["run", "--tag", tag, "--suite", str(suite), "--pool", str(pool), *extra]


def test_llm_proposer_end_to_end(research, tmp_path: Path) -> None:
    repo, _, _, home = research
    # 160 problems (80 on dev): the run's first test is held to 0.05 / 11, and the "real
    # improvement" below is +0.177 with p = 5e-5. On 80 problems (39 on dev) it is +0.118 with
    # p = 0.041: kept by a per-experiment 5% test, not by the run's rule.
    suite, pool = write_synthetic(tmp_path / "data160", problems=160)
    root = Path(repo.working_tree_dir)
    weak = (root / "experiments" / "selector.py").read_text()
    better = weak.replace("MIN_TEST_VOTES = 2 ", "MIN_TEST_VOTES = 1 ")
    constant = (
        "USES = {'self_tests'}\n\ndef select(problem, candidates, probe):\n"
        "    probe.self_tests()\n    return [0.0] * len(candidates)\n"
    )
    answers = [
        error(429, "slow down"),  # experiment 2: a rate limit, retried ...
        proposal(
            "count every self-test, not only repeated ones", {"experiments/selector.py": better}
        ),  # ... then a real improvement
        Reply(200, chat_completion(["I would rather not answer in JSON."])),  # 3: malformed
        proposal("loosen the harness", {"harness/judge/checks.py": "CHECKS = []\n"}),  # 3: outside
        error(500, "oops"),  # 4: a server error, retried ...
        proposal("same again", {"experiments/selector.py": better}),  # ... identical contents
        proposal("ignore the tests", {"experiments/selector.py": constant}),  # 5: not wired
    ]
    with FakeServer(scripted(answers)) as server:
        config = write_config(tmp_path / "run.toml", server.url)
        code, out = finish(
            winnow(
                run_args("e2e", suite, pool, "--config", str(config), "--max-experiments", "5"),
                root,
                home,
            )
        )
    assert code == 0, out
    rows = experiments(home, "e2e")
    assert [e.status for e in rows] == ["kept", "kept", "invalid", "discarded", "invalid"], out
    baseline, kept, outside, duplicate, constant_row = rows
    assert kept.dev.score.sel_at_k > baseline.dev.score.sel_at_k
    assert kept.dev_delta_lower > 0 and kept.incumbent_number == 1
    # The run's first test, held to 0.05 / 11; the duplicate and the invalid ones spent nothing.
    assert kept.dev_level == pytest.approx(0.05 / 11) and kept.dev_p_value <= kept.dev_level
    assert [e.dev_p_value is not None for e in rows] == [False, True, False, False, False]
    assert "holdout" in kept.evaluations  # kept commits are scored on holdout, for the record
    # ... and compared there with the start of the run (experiment 1), never to decide.
    assert kept.holdout_delta_low <= kept.holdout_delta <= kept.holdout_delta_high
    assert kept.confirmed == (kept.holdout_delta_low > 0)
    assert baseline.holdout_delta is None and baseline.confirmed is None
    assert "holdout" not in constant_row.evaluations
    assert "outside experiments/" in outside.reason and outside.commit is None
    assert "harness/judge/checks.py" in outside.diff
    assert "identical to experiment 2" in duplicate.reason
    assert "signals_wired" in constant_row.reason or "not_random" in constant_row.reason
    assert "count every self-test" in kept.hypothesis

    # The branch advanced on the kept commit only; every experiment's commit stays reachable.
    branch = repo.heads["winnow/e2e"].commit
    assert branch.hexsha == kept.commit
    assert "Winnow-Status: kept" in branch.message and "Winnow-Experiment: 2" in branch.message
    assert "dev sel@8" in branch.message and "holdout sel@8" in branch.message
    assert f"at level {0.05 / 11:.3g}" in branch.message
    assert "holdout vs the start" in branch.message
    listed = repo.git.for_each_ref("--format=%(refname) %(objectname)", "refs/winnow/e2e")
    refs = dict(line.split() for line in listed.splitlines())
    assert set(refs) == {f"refs/winnow/e2e/{n}" for n in (1, 2, 4, 5)}
    assert "Winnow-Status: invalid" in repo.commit(refs["refs/winnow/e2e/5"]).message
    assert (branch.tree / "harness" / "judge" / "checks.py").data_stream.read() != b"CHECKS = []\n"
    assert repo.head.commit.message == "start"  # the user's checkout was never touched

    # Every call is in the ledger, failed ones too, with tokens and prices.
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    run = ledger.get_run("e2e")
    assert run.status == "finished" and run.proposer == "llm"
    spent = ledger.spent(run.id)
    ledger.close()
    assert len(server.requests) == 7
    assert spent > 0
    prompt = server.requests[1][1]["messages"][1]["content"]
    assert "program.md" in prompt or "Research directive" in prompt
    assert "def select(problem, candidates, probe)" in prompt  # the selector API
    assert "MIN_TEST_VOTES = 2" in prompt  # the current files


def test_provider_down_ends_the_run_cleanly(research, tmp_path: Path) -> None:
    repo, suite, pool, home = research
    with FakeServer(scripted([error(503, "down for maintenance")])) as server:
        config = write_config(tmp_path / "run.toml", server.url)
        code, out = finish(
            winnow(
                run_args("down", suite, pool, "--config", str(config)),
                Path(repo.working_tree_dir),
                home,
            )
        )
    assert code == 1, out
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    run = ledger.get_run("down")
    assert run.status == "failed" and "proposer is down" in (run.reason or "")
    assert [e.status for e in ledger.experiments(run.id)] == ["kept"]  # the baseline stays
    ledger.close()
    assert len(server.requests) == 3  # one call and two retries, all recorded


def test_an_unset_key_variable_stops_the_run_before_it_starts(
    research, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, suite, pool, home = research
    monkeypatch.delenv("WINNOW_TEST_NO_SUCH_KEY", raising=False)
    with FakeServer(scripted([error(500, "never asked")])) as server:
        config = write_config(
            tmp_path / "run.toml", server.url, api_key_env="WINNOW_TEST_NO_SUCH_KEY"
        )
        code, out = finish(
            winnow(
                run_args("nokey", suite, pool, "--config", str(config)),
                Path(repo.working_tree_dir),
                home,
            )
        )
        assert server.requests == []
    assert code == 2 and "WINNOW_TEST_NO_SUCH_KEY is not set" in out, out
    with Ledger.open(home / "ledger.sqlite") as ledger:
        assert ledger.runs() == []  # nothing was started


def test_max_cost_stops_the_run(research, tmp_path: Path) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    weak = (root / "experiments" / "selector.py").read_text()
    answers = [proposal("tweak", {"experiments/selector.py": weak + "\n# tweak\n"})]
    with FakeServer(scripted(answers)) as server:
        config = write_config(tmp_path / "run.toml", server.url, input_usd_per_mtok=1e5)
        code, out = finish(
            winnow(
                run_args("cost", suite, pool, "--config", str(config), "--max-cost", "0.5"),
                root,
                home,
            )
        )
    assert code == 0, out
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    run = ledger.get_run("cost")
    assert "--max-cost 0.5 reached" in (run.reason or "")
    assert ledger.spent(run.id) >= 0.5
    assert len(ledger.experiments(run.id)) == 2  # the baseline and the one paid proposal
    ledger.close()


def test_refuses_a_dirty_tree_and_a_changed_harness(research) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    (root / "experiments" / "selector.py").write_text("# edited, not committed\n")
    code, out = finish(winnow(run_args("dirty", suite, pool), root, home))
    assert code == 2 and "uncommitted changes" in out and "experiments/selector.py" in out
    repo.git.checkout("--", "experiments/selector.py")
    (root / "harness" / "metrics.py").write_text("# a different judge\n")
    repo.git.add("--all")
    repo.index.commit(
        "change the judge", author=git.Actor("t", "t@t"), committer=git.Actor("t", "t@t")
    )
    code, out = finish(winnow(run_args("judge", suite, pool), root, home))
    assert code == 2 and "differs from harness/" in out, out
    assert "winnow/judge" not in [h.name for h in repo.heads]


def test_search_proposer_offline(research) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    code, out = finish(
        winnow(run_args("search", suite, pool, "--max-experiments", "4"), root, home)
    )
    assert code == 0, out
    rows = experiments(home, "search")
    assert len(rows) == 4 and rows[0].status == "kept"
    assert all(e.proposer == "search" for e in rows[1:])
    assert all(e.hypothesis.startswith("search trial") for e in rows[1:])
    assert (home / "optuna").is_dir() and list((home / "optuna").glob("*.sqlite"))
    # Resuming the same tag continues the numbering and the same study.
    code, out = finish(
        winnow(run_args("search", suite, pool, "--max-experiments", "6"), root, home)
    )
    assert code == 0, out
    rows = experiments(home, "search")
    assert [e.number for e in rows] == [1, 2, 3, 4, 5, 6]
    trial_numbers = [int(e.hypothesis.split()[2].rstrip(":")) for e in rows[1:]]
    assert trial_numbers == sorted(set(trial_numbers))  # no trial asked twice
    # Each trial of the study says which experiment it became, with its commit and status.
    (storage,) = (home / "optuna").glob("*.sqlite")
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{storage}")
    became = {t.user_attrs["experiment"]: t for t in study.trials if "experiment" in t.user_attrs}
    assert sorted(became) == [e.number for e in rows]
    for e in rows:
        attrs = became[e.number].user_attrs
        assert (attrs["status"], attrs["commit"]) == (e.status, e.commit), e.number
    assert [became[e.number].number for e in rows[1:]] == trial_numbers
    # The pool's per-problem counts reach the ledger (once per split), so the report draws the
    # pass@k curve of each split, starting at the baseline's pass@1 and ending at its pass@k.
    code, out = finish(winnow(["report", "--run", "search", "--json"], root, home))
    assert code == 0, out
    report = json.loads(out)
    for split in ("dev", "holdout"):
        curve = dict((int(k), v) for k, v in report["curves"][split])
        baseline = report["baselines"][split]
        assert curve[1] == pytest.approx(baseline["pass_at_1"])
        assert curve[max(curve)] == pytest.approx(baseline["pass_at_k"])
    assert git.Repo(root).heads["winnow/search"].commit.hexsha in {
        e.commit for e in rows if e.status == "kept"
    }
    # The run's error control is rebuilt from the ledger on resume, and checked: a level that
    # the procedure did not give is refused rather than continued from.
    tested = [e.number for e in rows if e.dev_p_value is not None]
    assert tested and all(rows[n - 1].dev_level is not None for n in tested)
    with sqlite3.connect(home / "ledger.sqlite") as db:
        db.execute("UPDATE experiments SET dev_level = 0.5 WHERE number = ?", (tested[0],))
    code, out = finish(
        winnow(run_args("search", suite, pool, "--max-experiments", "7"), root, home)
    )
    assert code == 2 and "does not follow the run's error control" in out, out
    assert f"test 1 was held to level 0.5, not {0.05 / 11:.6g}" in out


def test_search_that_has_tried_everything_finishes_the_run(research) -> None:
    # A grid of three values, the start among them: two experiments, then nothing new to try.
    # Without the check the study would repeat itself until --max-experiments.
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    (root / "experiments" / "search_space.toml").write_text(
        '[[param]]\nfile = "experiments/selector.py"\nname = "MIN_TEST_VOTES"\n'
        "choices = [1, 2, 3]\n"
    )
    repo.git.add("--all")
    repo.index.commit("a small grid", author=git.Actor("t", "t@t"), committer=git.Actor("t", "t@t"))
    code, out = finish(winnow(run_args("grid", suite, pool, "--max-experiments", "20"), root, home))
    assert code == 0, out
    rows = experiments(home, "grid")
    assert [e.hypothesis.split(": ")[-1] for e in rows[1:]] in (
        ["MIN_TEST_VOTES=1", "MIN_TEST_VOTES=3"],
        ["MIN_TEST_VOTES=3", "MIN_TEST_VOTES=1"],
    )
    run = Ledger.open(home / "ledger.sqlite", readonly=True).get_run("grid")
    assert run.status == "finished" and "all 3 combinations" in (run.reason or ""), run.reason


def test_a_broken_sandbox_ends_the_run_without_blaming_the_experiment(
    research, tmp_path: Path
) -> None:
    # RLIMIT_NOFILE above the kernel's nr_open: no child can be confined. The experiment under
    # way is interrupted (not crashed, not scored) and the run fails at once with the reason.
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    config = tmp_path / "run.toml"
    config.write_text("[sandbox]\nmax_open_files = 1099511627776\n")
    code, out = finish(winnow(run_args("broken", suite, pool, "--config", str(config)), root, home))
    assert code == 1, out
    run = Ledger.open(home / "ledger.sqlite", readonly=True).get_run("broken")
    assert run.status == "failed" and "could not confine a program" in (run.reason or "")
    rows = experiments(home, "broken")
    assert [(e.number, e.status) for e in rows] == [(1, "interrupted")]
    assert rows[0].reason is not None and "the sandbox failed" in rows[0].reason


def test_the_proposer_is_shown_where_the_incumbent_loses_on_dev_only(
    research, tmp_path: Path
) -> None:
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    same = (root / "experiments" / "selector.py").read_text() + "\n# unchanged\n"
    with FakeServer(scripted([proposal("a comment", {"experiments/selector.py": same})])) as server:
        config = write_config(tmp_path / "run.toml", server.url)
        code, out = finish(
            winnow(
                run_args("why", suite, pool, "--config", str(config), "--max-experiments", "2"),
                root,
                home,
            )
        )
    assert code == 0, out
    prompt = server.requests[0][1]["messages"][1]["content"]
    baseline = experiments(home, "why")[0]
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    with ledger.read() as session:
        raw = session.exec(
            select(Evaluation.raw_json).where(Evaluation.id == baseline.dev.id)
        ).one()
    ledger.close()
    failures = json.loads(raw)["failures"]
    assert failures, "the weak starting selector loses on some dev problem"
    assert "Where the incumbent loses on dev" in prompt
    for case in failures[:FAILURE_CASES]:  # the worst dev failure cases, with their groups
        assert f"- {case['task_id']} (`{case['entry_point']}`" in prompt
        assert f"group of {case['groups'][0]['size']}:" in prompt
    tasks = [json.loads(line) for line in suite.read_text().splitlines()]
    holdout = [t["task_id"] for t in tasks if split_of(t["task_id"]) == "holdout"]
    assert not any(f"{task_id} " in prompt or f"{task_id}(" in prompt for task_id in holdout)
    hidden = {line.strip() for t in tasks for line in t["test"].splitlines() if "assert" in line}
    assert not any(line in prompt for line in hidden)  # never a hidden test's text
    assert "candidate(" not in prompt


def test_one_ledger_holds_a_pool_run_under_two_suites(research, tmp_path: Path) -> None:
    """The official prompts and the blind ones share a pool's candidates: two runs, one per
    suite, land in one ledger (a pool judged under a second suite used to be refused)."""
    repo, suite, pool, home = research
    root = Path(repo.working_tree_dir)
    blind = tmp_path / "blind.jsonl"
    rows = [json.loads(line) for line in suite.read_text().splitlines()]
    for row in rows:
        row["prompt"] = row["prompt"].split('"""')[0] + '"""Compute it."""\n'
    blind.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for tag, which in (("official", suite), ("blind", blind)):
        code, out = finish(
            winnow(
                run_args(tag, which, pool, "--proposer", "search", "--max-experiments", "1"),
                root,
                home,
            )
        )
        assert code == 0, out
    with Ledger.open(home / "ledger.sqlite", readonly=True) as ledger:
        assert [r.tag for r in ledger.runs()] == ["official", "blind"]
        with ledger.read() as session:
            suites = session.exec(select(PoolProblem.suite).distinct()).all()
    assert sorted(suites) == ["blind", "suite"]
