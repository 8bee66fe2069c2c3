"""Loops at once on one PostgreSQL ledger and one shared execution cache (a real server, see
``clusterkit.py``), as loops on several machines of a lab would run: real ``winnow run``
processes, each on its own tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clusterkit import postgres_schemas, winnow_cli
from loopkit import finish, make_repo, winnow
from synthkit import write_synthetic

from ledger.store import Ledger

TAGS = ("north", "south", "west")
EXPERIMENTS = 3  # per run


def test_three_loops_write_one_ledger_and_share_one_cache(
    tmp_path: Path, winnow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite, pool = write_synthetic(tmp_path / "data")
    repo = make_repo(tmp_path / "repo")
    root = Path(str(repo.working_tree_dir))
    with postgres_schemas() as (url,):
        # One database holds the ledger and the cache; the variable names it for every loop.
        monkeypatch.setenv("WINNOW_LEDGER", url)
        monkeypatch.setenv("WINNOW_EXEC_CACHE", url)
        loops = [
            winnow(
                ["run", "--tag", tag, "--suite", str(suite), "--pool", str(pool)]
                + ["--proposer", "search", "--max-experiments", str(EXPERIMENTS)],
                root,
                winnow_home,
            )
            for tag in TAGS
        ]
        for loop in loops:
            code, out = finish(loop, timeout=400)
            assert code == 0, out

        with Ledger.open(url, readonly=True) as ledger:
            runs = ledger.runs()
            assert sorted(r.tag for r in runs) == sorted(TAGS)
            for run in runs:
                numbers = [e.number for e in ledger.experiments(run.id)]
                assert numbers == list(range(1, EXPERIMENTS + 1)), (run.tag, numbers)
                assert run.shown_status == "finished"
        import psycopg  # here: installed with the postgres extra, which postgres_schemas needs

        with psycopg.connect(url) as db:
            [(total, distinct)] = db.execute(
                "SELECT count(*), count(DISTINCT (run_id, number)) FROM experiments"
            ).fetchall()
            assert total == distinct == len(TAGS) * EXPERIMENTS
            [(cached,)] = db.execute("SELECT count(*) FROM cache_exec").fetchall()
        assert cached > 0
        assert not list(winnow_home.rglob("exec.sqlite")) and not list(
            winnow_home.rglob("ledger.sqlite")
        )

        # The morning review, from the same URL: every run side by side.
        code, out = finish(winnow(["report", "--json"], root, winnow_home))
        assert code == 0, out
        report = json.loads(out)
        assert sorted(line["tag"] for line in report["runs"]) == sorted(TAGS)
        assert all(line["experiments"] == EXPERIMENTS for line in report["runs"])
        code, out = finish(winnow(["report"], root, winnow_home))
        assert code == 0 and "runs in this ledger" in out, out
        for tag in TAGS:
            code, out = finish(winnow(["log", "--run", tag, "--json"], root, winnow_home))
            assert code == 0, out
            assert [e["number"] for e in json.loads(out)] == list(range(1, EXPERIMENTS + 1))
    assert {h.name for h in repo.heads} >= {f"winnow/{tag}" for tag in TAGS}


@pytest.mark.parametrize(
    ("option", "variable", "message"),
    [
        ("mysql://root@db/ledger", None, "--ledger: must be a ledger file or a postgresql://"),
        (None, "mysql://root@db/ledger", "WINNOW_LEDGER: must be a ledger file or a postgresql"),
        (None, " ", "WINNOW_LEDGER: is set but empty"),
        ("postgresql://me:secret@127.0.0.1:9/db", None, "postgresql://me:***@127.0.0.1:9/db: "),
    ],
)
def test_a_bad_ledger_is_one_line_naming_the_option_or_variable(
    option: str | None, variable: str | None, message: str, tmp_path: Path
) -> None:
    env = {"WINNOW_LEDGER": variable} if variable is not None else {}
    args = ["report"] + (["--ledger", option] if option else [])
    done = winnow_cli(args, env, tmp_path, suite_and_pool=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"winnow: error: {message}"), done.stderr
    assert done.stderr.count("\n") == 1 and "secret" not in done.stderr
