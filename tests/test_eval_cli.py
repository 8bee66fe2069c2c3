"""``winnow eval`` and ``winnow check`` end to end: the real CLI, sandbox, cache and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from evalkit import EVERY_CHECK, EXPERIMENT, TINY_POOL, TINY_SUITE, selector_file
from typer.testing import CliRunner, Result

from agent.cli import app

BASELINES = ["random", "oracle", "first", "logprob", "most_passed", "cluster", "codet"]
BASELINES += ["codet_product", "output_cluster", "mbr_exec", "srank", "examples_then_codet"]
TINY = ["--suite", str(TINY_SUITE), "--pool", str(TINY_POOL), "--k", "4", "--repeats", "2"]

# Each tiny candidate's outcome on the hidden tests, worked out by reading tests/data: the
# sample indices that pass, and the ones that do not pass for another reason than a failed
# assert. rev #5 loops forever (timeout); count_a #4 calls os._exit(0) before the asserts.
PASSING = {
    "tiny/add": [0, 1, 4],  # a+b, b+a, sum([a, b])
    "tiny/maxof": [0, 1, 5],  # max, sorted()[-1], the loop
    "tiny/is_even": [0, 2, 5],  # n % 2 == 0 (twice), not n & 1
    "tiny/rev": [0, 2],  # [::-1], reversed
    "tiny/count_a": [0, 3],  # count('a'), the sum; lower() counts 'AAa' as 3
    "tiny/square": [0, 1, 4, 5],  # x*x, x**2, abs*abs, x*x+0
    "tiny/first_word": [0, 4],  # split()[0], strip().split()[0]; '  x y' defeats the rest
    "tiny/clip": [0, 4],  # max(lo, min(hi, x)), sorted()[1]
}
NOT_FAILED = {("tiny/rev", 5): "timeout", ("tiny/count_a", 4): "error"}
CORRECT = sum(len(v) for v in PASSING.values())  # 21 of 48


def winnow(*args: object) -> Result:
    """Invoke the real ``winnow`` command in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One WINNOW_HOME for the module, warmed by the first evaluation (cache reuse is safe:
    outcomes are keyed by program, test and execution settings)."""
    yield tmp_path_factory.mktemp("home")


@pytest.fixture
def warm(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WINNOW_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def evaluated(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict]]:
    """``winnow eval --json --labels`` with the research selector, once for the module."""
    labels = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINNOW_HOME", str(home))
        done = winnow("eval", *TINY, "--selector", EXPERIMENT, "--labels", labels, "--json")
    assert done.exit_code == 0, done.stderr
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    return json.loads(done.stdout), rows


def test_json_has_the_documented_keys_and_every_arm(evaluated) -> None:
    data, _ = evaluated
    assert data["problems"] == 8 and data["n"] == 6 and data["k"] == 4
    assert data["repeats"] == 2 and data["split"] == "all" and data["seed"] == 0
    assert data["pass_at_1"] == pytest.approx(CORRECT / 48)  # 0.4375
    # pass@4 with n = 6 (see PASSING): 1 where c >= 3 (add, maxof, is_even, square), and
    # 1 - C(4,4)/C(6,4) = 14/15 where c = 2 (rev, count_a, first_word, clip).
    assert data["pass_at_k"] == pytest.approx((4 * 1 + 4 * 14 / 15) / 8)
    assert list(data["arms"]) == BASELINES + ["selector"]
    for name, arm in data["arms"].items():
        assert {"sel_at_k", "ci_low", "ci_high", "gap_closed"} <= set(arm), name
        assert arm["ci_low"] <= arm["sel_at_k"] <= arm["ci_high"], name
        # the gap closed carries its interval (metrics.gap_interval, on the same resamples)
        assert arm["gap_ci_low"] <= arm["gap_closed"] <= arm["gap_ci_high"], name
        assert set(arm["compute"]) >= {"executions", "reward_calls", "over_budget_problems"}
    assert data["arms"]["oracle"]["sel_at_k"] <= 1.0
    assert data["sandbox"] in ("bwrap", "process")
    assert data["elapsed_s"] > 0 and data["executions"] >= 0 and data["cache_hits"] >= 0
    assert [c["name"] for c in data["checks"]] == EVERY_CHECK
    assert all(set(c) == {"name", "passed", "detail"} for c in data["checks"])
    assert data["valid"] is True, data["reason"]
    assert data["harness"]["hash"]


def test_the_research_selector_is_codet_and_scores_exactly_like_the_codet_arm(evaluated) -> None:
    # experiments/selector.py starts as CodeT: the sandboxed selector, fed through the probe,
    # must land on the in-process codet baseline's number on the same (paired) subsets.
    arms = evaluated[0]["arms"]
    assert arms["selector"]["sel_at_k"] == pytest.approx(arms["codet"]["sel_at_k"], abs=1e-12)


def test_labels_are_written_in_sample_order_with_their_status(evaluated) -> None:
    _, rows = evaluated
    expected = []
    for task_id, passing in PASSING.items():
        for index in range(6):
            status = "passed" if index in passing else NOT_FAILED.get((task_id, index), "failed")
            expected.append(
                {"task_id": task_id, "index": index, "passed": index in passing, "status": status}
            )
    assert rows == expected


def test_the_table_shows_every_arm_and_the_checks(warm: Path) -> None:
    done = winnow("eval", *TINY, "--selector", EXPERIMENT)
    assert done.exit_code == 0, done.stderr
    out = done.stdout
    assert "pass@1 0.438" in out and "pass@4 0.967 (oracle)" in out
    for arm in [*BASELINES, "selector"]:
        assert f"│ {arm} " in out, arm
    for name in EVERY_CHECK:
        assert f"pass {name}:" in out, name
    assert "valid" in out and "INVALID" not in out


def test_a_second_run_executes_nothing(tmp_path: Path) -> None:
    # A fresh home: the first run executes every distinct (program, test) pair. 48 hidden-test
    # runs + 6 candidates x 21 distinct self-tests (3+4+3+3+3+3+2+0) = 174 pairs, of which 4
    # repeat: is_even's samples 0 and 5 are the same program (1 hidden + 3 self-test pairs);
    # then the outputs: 6 candidates x 21 inputs (3+4+2+3+3+3+2+1) = 126 runs, of which 2
    # repeat (is_even's twin on its 2 inputs).
    first = json.loads(winnow("eval", *TINY, "--json").stdout)
    assert (first["executions"], first["cache_hits"]) == (170 + 124, 0)
    second = json.loads(winnow("eval", *TINY, "--json").stdout)
    assert (second["executions"], second["cache_hits"]) == (0, 174 + 126)
    assert second["arms"] == first["arms"]


def test_a_pool_covering_some_problems_is_evaluated_on_those(warm: Path, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (TINY_POOL / "samples.jsonl").read_text().splitlines()]
    kept = [r for r in rows if r["task_id"] in ("tiny/add", "tiny/rev", "tiny/clip")]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in kept))
    done = winnow(
        "eval", "--suite", TINY_SUITE, "--samples", samples, "--k", "4", "--repeats", "2", "--json"
    )
    data = json.loads(done.stdout)
    assert data["problems"] == 3 and data["problems_in_suite"] == 8
    assert any("covers 3 of the 8 problems" in w for w in data["warnings"])
    assert data["pass_at_1"] == pytest.approx((3 + 2 + 2) / 18)  # add 3, rev 2, clip 2 of 6


@pytest.mark.parametrize("split, count", [("dev", 6), ("holdout", 2)])
def test_a_split_evaluates_only_its_problems(warm: Path, split: str, count: int) -> None:
    data = json.loads(winnow("eval", *TINY, "--split", split, "--json").stdout)
    assert data["split"] == split
    # The golden split in test_suites.py: rev and first_word are holdout, the six others dev.
    assert data["problems"] == count and data["problems_in_suite"] == count


def test_check_passes_and_exits_zero_for_an_honest_selector(warm: Path) -> None:
    done = winnow("check", "--selector", EXPERIMENT, *TINY)
    assert done.exit_code == 0, done.stdout
    for name in EVERY_CHECK:
        assert f"pass {name}:" in done.stdout


def test_check_prints_the_failure_and_exits_non_zero(warm: Path, tmp_path: Path) -> None:
    done = winnow("check", "--selector", selector_file("by_position", tmp_path), *TINY)
    assert done.exit_code == 1
    assert "FAIL position_invariant" in done.stdout
    assert "INVALID" in done.stdout
    for name in EVERY_CHECK:
        assert f" {name}:" in done.stdout


def test_a_selector_that_raises_is_an_invalid_result_not_a_traceback(
    warm: Path, tmp_path: Path
) -> None:
    done = winnow("eval", *TINY, "--selector", selector_file("raises", tmp_path), "--json")
    assert done.exit_code == 0 and done.stderr == ""
    data = json.loads(done.stdout)
    assert data["valid"] is False and data["status"] == "invalid"
    assert "RuntimeError: cannot rank tiny/add" in data["reason"]
    assert data["arms"]["selector"]["sel_at_k"] is None  # not measured: None, never 0


def bad_input(*args: object) -> Result:
    """Run ``winnow eval`` expecting bad input: exit 2, one line on stderr, nothing on stdout."""
    done = winnow("eval", *args)
    assert done.exit_code == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("winnow: error: ")
    return done


def test_unknown_task_ids_are_bad_input(warm: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "tiny/add", "completion": "x"}\n')
    samples.write_text(samples.read_text() + '{"task_id": "tiny/nope", "completion": "x"}\n')
    done = bad_input("--suite", TINY_SUITE, "--samples", samples)
    assert f"{samples}:2: unknown task_id 'tiny/nope'" in done.stderr


def test_a_malformed_line_is_bad_input(warm: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "tiny/add", "completion": "x"}\n{"task_id": \n')
    done = bad_input("--suite", TINY_SUITE, "--samples", samples)
    assert f"{samples}:2: not valid JSON" in done.stderr


def test_an_empty_pool_is_bad_input(warm: Path, tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n")
    done = bad_input("--suite", TINY_SUITE, "--samples", samples)
    assert f"{samples}: the pool is empty" in done.stderr


def test_k_larger_than_the_pool_is_bad_input(warm: Path) -> None:
    done = bad_input("--suite", TINY_SUITE, "--pool", TINY_POOL, "--k", "7")
    assert f"{TINY_POOL}: k=7 is larger than the pool: tiny/add has 6" in done.stderr


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--k", "0", "k must be at least 1"),
        ("--repeats", "0", "repeats must be at least 1"),
        ("--seed", "-1", "the seed must not be negative"),
        ("--split", "test", "unknown split"),
    ],
)
def test_bad_options_are_bad_input(warm: Path, option: str, value: str, message: str) -> None:
    done = bad_input("--suite", TINY_SUITE, "--pool", TINY_POOL, option, value)
    assert message in done.stderr


def test_a_selector_file_that_does_not_import_is_bad_input_and_writes_no_labels(
    warm: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("USES = set()\n\n\ndef select(problem, candidates, probe)\n    return []\n")
    labels = tmp_path / "labels.jsonl"
    done = bad_input(*TINY, "--selector", broken, "--labels", labels)
    assert f"{broken}:4: the selector does not load: SyntaxError" in done.stderr
    assert not labels.exists()

    missing_module = selector_file("import_error", tmp_path)
    lines = missing_module.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("import winnow_no"))
    done = bad_input(*TINY, "--selector", missing_module)
    expected = f"{missing_module}:{line}: the selector does not load: ModuleNotFoundError"
    assert expected in done.stderr

    no_select = selector_file("no_select", tmp_path)
    done = bad_input(*TINY, "--selector", no_select)
    assert f"{no_select}: the selector does not load: TypeError" in done.stderr


def test_a_selector_file_that_does_not_exist_is_bad_input(warm: Path, tmp_path: Path) -> None:
    done = bad_input(*TINY, "--selector", tmp_path / "absent.py")
    assert f"{tmp_path / 'absent.py'}: no such selector file" in done.stderr


def test_a_bad_run_config_names_the_key(warm: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[exec]\nselect_timeout = -1.0\n")
    done = bad_input(*TINY, "--config", config)
    assert f"{config}: key 'exec.select_timeout' must be a positive number" in done.stderr


def test_the_installed_entry_point_exits_2_on_bad_input_as_a_real_process(
    warm: Path, tmp_path: Path
) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "tiny/add"}\n')
    done = subprocess.run(
        [sys.executable, "-c", "from agent.cli import main; main()", "eval"]
        + ["--suite", str(TINY_SUITE), "--samples", str(samples)],
        capture_output=True,
        text=True,
        env={**os.environ, "WINNOW_HOME": str(warm)},
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"winnow: error: {samples}:1: missing key 'completion' (or evalplus's 'solution')\n"
    )


def test_a_sandbox_that_cannot_confine_programs_is_one_line_and_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing was judged, so nothing is printed as a result: no table, no JSON, no labels.
    monkeypatch.setenv("WINNOW_HOME", str(tmp_path / "home"))  # a cold cache: jobs must run
    config = tmp_path / "run.toml"
    config.write_text("[sandbox]\nmax_open_files = 1099511627776\n")
    labels = tmp_path / "labels.jsonl"
    done = winnow(
        "eval", "--suite", TINY_SUITE, "--pool", TINY_POOL, "--k", 4, "--config", config,
        "--labels", labels, "--json",
    )  # fmt: skip
    assert done.exit_code == 3, (done.stdout, done.stderr)
    assert done.stdout == "" and not labels.exists()
    assert done.stderr.startswith("winnow: error: ") and len(done.stderr.splitlines()) == 1
    assert "could not confine a program" in done.stderr
