"""program.md steers a run while it goes, and a model that refuses the key fails the run at once.
A real run, the LLM proposer over HTTP (real litellm) to a scripted server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from loopkit import experiments, finish, make_repo, winnow
from serverkit import FakeServer, Reply, error
from synthkit import write_synthetic
from test_loop import proposal, run_args, write_config

from ledger.store import Ledger


@pytest.fixture
def research(tmp_path: Path, winnow_home: Path):
    suite, pool = write_synthetic(tmp_path / "data", problems=12)
    return make_repo(tmp_path / "repo"), suite, pool, winnow_home


def test_program_md_edited_between_steps_steers_the_next_proposal(research, tmp_path) -> None:
    repo, suite, pool, home = research
    root = Path(str(repo.working_tree_dir))
    (root / "program.md").write_text("# Directive one\nPrefer self-tests.\n")  # not committed
    (root / "report.html").write_text("<p>an untracked report</p>\n")  # never blocks
    second = "# Directive two\nPrefer the prompt's examples.\n"
    selector = (root / "experiments" / "selector.py").read_text()
    prompts: list[str] = []

    def handler(path: str, body: dict[str, Any]) -> Reply:
        prompts.append(body["messages"][1]["content"])
        if len(prompts) == 1:  # the user edits program.md while the run goes (no commit)
            (root / "program.md").write_text(second)
        text = selector + f"\n# step {len(prompts)}\n"
        return proposal(f"step {len(prompts)}", {"experiments/selector.py": text})

    with FakeServer(handler) as server:
        config = write_config(tmp_path / "run.toml", server.url)
        cmd = run_args("steer", suite, pool, "--config", str(config), "--max-experiments", "3")
        code, out = finish(winnow(cmd, root, home))
    assert code == 0, out
    assert "Directive one" in prompts[0] and "Directive two" in prompts[1]
    assert "Directive one" not in prompts[1]
    rows = experiments(home, "steer")
    one = hashlib.sha256(b"# Directive one\nPrefer self-tests.\n").hexdigest()[:16]
    two = hashlib.sha256(second.encode()).hexdigest()[:16]
    assert [e.directive_hash for e in rows] == [one, one, two]
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    assert ledger.directive_text(two) == second
    ledger.close()
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    query = readme.split("```sql\n", 1)[1].split("```", 1)[0]
    with sqlite3.connect(f"file:{home / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        assert db.execute(query).fetchall() == [("steer", 8, 3, None)]  # typed, not strings
    code, out = finish(winnow(["report", "--run", "steer"], root, home))
    assert code == 0 and "program.md changed at experiment 3" in out, out


def test_a_refused_key_fails_at_once_with_the_whole_reason(research, tmp_path) -> None:
    repo, suite, pool, home = research
    reason = "Incorrect API key provided: sk-....... " + "see the documentation " * 20 + "END"
    with FakeServer(lambda path, body: error(401, reason)) as server:
        config = write_config(tmp_path / "run.toml", server.url, retries=4)
        cmd = run_args("key", suite, pool, "--config", str(config))
        code, out = finish(winnow(cmd, Path(str(repo.working_tree_dir)), home))
        assert len(server.requests) == 1, out  # not retried
    assert code == 1 and "proposer is down" in out, out
    ledger = Ledger.open(home / "ledger.sqlite", readonly=True)
    run = ledger.get_run("key")
    assert run.status == "failed" and "END" in (run.reason or "")
    ledger.close()
