"""The simulated backend: real sandbox runs, labelled SIMULATED, deterministic, and sampling
settings that move pass@1 and pass@k the way they move for a real model."""

from __future__ import annotations

import ast
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.config import RunConfig
from harness.data.pools import Pool
from harness.data.suites import Suite, load_suite
from harness.execution.cache import ExecCache
from harness.execution.executor import Executor
from harness.execution.sandbox import Sandbox
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.judge.metrics import pass_at_k
from harness.sampling import SamplingError, SamplingSpec, probe_inputs, sample_pool
from harness.sampling.config import parse_sampling_config
from harness.sampling.simulated import LIBRARY_EXEC, build_libraries

DATA = Path(__file__).parent / "data"
SIM_SUITE = DATA / "sim_suite.jsonl"  # 18 small problems with loops, branches and examples


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sampling-cache")


@pytest.fixture(scope="module")
def executor(sandbox: Sandbox, cache: Path) -> Iterator[Executor]:
    exec_cache = ExecCache(cache / "exec.sqlite")
    yield Executor(sandbox, exec_cache)
    exec_cache.close()


def sample(suite: Suite, cache: Path, sandbox: Sandbox, **settings: object):
    config = parse_sampling_config(dict(settings), "sampling.toml")
    return sample_pool(suite, SamplingSpec(config), limit=None, cache=cache, sandbox=sandbox)


def labels(pool: Pool, suite: Suite, executor: Executor) -> dict[str, list[bool]]:
    """Each candidate judged on the hidden tests, in the sandbox."""
    order = [(t, s) for t, samples in pool.samples.items() for s in samples]
    outcomes = executor.label(
        [suite.tasks[t].hidden_program(s.program(suite.tasks[t].prompt)) for t, s in order]
    )
    found: dict[str, list[bool]] = {}
    for (task_id, _), outcome in zip(order, outcomes, strict=True):
        found.setdefault(task_id, []).append(outcome.passed)
    return found


def pass_rate(correct: dict[str, list[bool]], k: int) -> float:
    return float(np.mean([pass_at_k(len(c), sum(c), k) for c in correct.values()]))


def test_a_simulated_pool_says_so_everywhere(cache: Path, sandbox: Sandbox) -> None:
    suite = load_suite(DATA / "tiny_suite.jsonl")
    result = sample(suite, cache, sandbox, n=6, self_tests={"n": 3})
    pool = result.pool
    assert result.simulated and pool.simulated and pool.meta["backend"] == "simulated"
    assert result.calls == []  # no model was called
    saved = json.loads((cache / "pools" / pool.id / "meta.json").read_text())
    assert saved["simulated"] is True and saved["sampling"]["n"] == 6
    assert result.compute.estimated_tokens and result.compute.flops is None
    assert set(pool.samples) == set(suite.tasks) and pool.min_n() == 6
    assert pool.has_logprobs() and all(
        s.num_tokens and s.prompt_tokens for v in pool.samples.values() for s in v
    )
    with Session(RunConfig().with_eval(k=3, repeats=2), cache=cache) as session:
        evaluated = evaluate(EvalSpec(suite=str(DATA / "tiny_suite.jsonl"), pool=pool.id), session)
    assert evaluated.simulated
    assert any("SIMULATED" in w for w in evaluated.warnings)


def test_the_same_seed_gives_the_same_pool_and_the_cache_answers_twice(
    cache: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    suite = load_suite(DATA / "tiny_suite.jsonl")
    first = sample(suite, cache, sandbox, n=5, seed=3)
    again = sample(suite, cache, sandbox, n=5, seed=3)
    elsewhere = sample(suite, tmp_path, sandbox, n=5, seed=3)
    other_seed = sample(suite, cache, sandbox, n=5, seed=4)
    assert not first.cached and again.cached
    assert first.pool.id == again.pool.id == elsewhere.pool.id
    assert other_seed.pool.id != first.pool.id
    index = json.loads((cache / "sampling" / f"{first.config_key}.json").read_text())
    assert index["pool"] == first.pool.id
    assert again.compute.to_json() == first.compute.to_json()
    shutil.rmtree(cache / "pools" / first.pool.id)  # an index entry whose pool is gone: a miss
    rebuilt = sample(suite, cache, sandbox, n=5, seed=3)
    assert not rebuilt.cached and rebuilt.pool.id == first.pool.id


def test_pass_at_k_rises_with_k_and_temperature_trades_pass1_for_coverage(
    cache: Path, sandbox: Sandbox, executor: Executor
) -> None:
    suite = load_suite(SIM_SUITE)
    cold = labels(sample(suite, cache, sandbox, n=20, temperature=0.2).pool, suite, executor)
    hot = labels(sample(suite, cache, sandbox, n=20, temperature=1.2).pool, suite, executor)
    rising = [pass_rate(hot, k) for k in (1, 2, 5, 10, 20)]
    assert rising == sorted(rising) and rising[-1] > rising[0] + 0.2
    # The expected direction (Chen et al. 2021): a low temperature for pass@1, a high one for
    # pass@k at large k.
    assert pass_rate(cold, 1) > pass_rate(hot, 1)
    assert pass_rate(hot, 10) > pass_rate(cold, 10) + 0.1
    # A small model's spread: some problems always solved, some never, most in between.
    rates = [np.mean(c) for c in hot.values()]
    assert min(rates) < 0.1 and max(rates) > 0.6


def test_mutants_fail_for_semantic_reasons_and_rewrites_stay_correct(
    sandbox: Sandbox, cache: Path, executor: Executor
) -> None:
    suite = load_suite(SIM_SUITE)
    box_cache = ExecCache(cache / "exec.sqlite")
    libraries, skipped = build_libraries(
        list(suite.tasks.values()), Executor(sandbox, box_cache, LIBRARY_EXEC)
    )
    box_cache.close()
    assert not skipped and len(libraries) == len(suite.tasks)
    wrong = [(lib.task, v) for lib in libraries for v in lib.wrong]
    right = [(lib.task, v) for lib in libraries for v in lib.correct]
    assert len(wrong) >= 5 * len(libraries) and len(right) > 2 * len(libraries)
    for task, variant in wrong + right:
        ast.parse(task.prompt + variant.completion)  # every variant is valid Python
    judged = executor.label([t.hidden_program(t.prompt + v.completion) for t, v in wrong + right])
    wrong_outcomes, right_outcomes = judged[: len(wrong)], judged[len(wrong) :]
    assert all(o.passed for o in right_outcomes)
    failing = [o for o in wrong_outcomes if not o.passed]
    assert len(failing) >= 0.8 * len(wrong)
    assert not any("SyntaxError" in o.detail for o in failing)
    assert sum(o.status == "failed" for o in failing) >= 0.5 * len(failing)  # wrong answers


def test_self_tests_use_prompt_examples_and_generated_inputs_with_some_wrong(
    cache: Path, sandbox: Sandbox, executor: Executor
) -> None:
    suite = load_suite(SIM_SUITE)
    pool = sample(suite, cache, sandbox, n=4, self_tests={"n": 10}).pool
    assert pool.self_tests is not None
    passing = failing = 0
    for task_id, tests in pool.self_tests.items():
        task = suite.tasks[task_id]
        assert tests, task_id
        for test in tests:
            tree = ast.parse(test)
            assert isinstance(tree.body[0], ast.Assert) and task.entry_point in test
        program = task.prompt + (task.canonical_solution or "")
        distinct = list(dict.fromkeys(tests))
        outcomes = dict(zip(distinct, executor.self_test([(program, distinct)])[0], strict=True))
        passing += sum(outcomes[t].passed for t in tests)  # counted as generated, repeats too
        failing += sum(not outcomes[t].passed for t in tests)
    print(f"self-tests right on the reference: {passing} of {passing + failing}")
    assert passing > failing > 0.1 * passing  # mostly right, many wrong: as a model writes them


def test_max_tokens_and_stop_sequences_act_like_a_server(cache: Path, sandbox: Sandbox) -> None:
    suite = load_suite(SIM_SUITE)
    rambling = sample(suite, cache, sandbox, n=3, stop=[], self_tests={"n": 0}, max_tokens=120)
    assert all(s.num_tokens == 120 for v in rambling.pool.samples.values() for s in v)
    short = sample(suite, cache, sandbox, n=3, max_tokens=8, self_tests={"n": 0})
    assert all(
        s.num_tokens is not None and s.num_tokens <= 8
        for v in short.pool.samples.values()
        for s in v
    )
    assert short.compute.generated_tokens < rambling.compute.generated_tokens


def test_problems_without_a_usable_reference_are_skipped_with_the_reason(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    rows = [json.loads(line) for line in (DATA / "tiny_suite.jsonl").read_text().splitlines()]
    rows[0].pop("canonical_solution")
    rows[1]["canonical_solution"] = "  return (\n"
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    result = sample(load_suite(path), tmp_path, sandbox, n=2)
    assert sorted(result.pool.samples) == [rows[2]["task_id"]]
    assert "no canonical_solution" in result.skipped[rows[0]["task_id"]]
    assert "does not parse" in result.skipped[rows[1]["task_id"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:1]))
    with pytest.raises(SamplingError, match="could be sampled"):
        sample(load_suite(path), tmp_path, sandbox, n=2)


def test_probe_inputs_come_from_the_prompt_or_the_signature() -> None:
    prompt = (
        "def f(xs: list[int], k: int) -> int:\n"
        '    """>>> f([1, 2], 3)\n    4\n    f([5], 0) ➞ 5\n    f(g(1), 2) is not literal\n'
        '    f([1, 2], 3) again\n    """\n'
    )
    assert [p.args for p in probe_inputs.example_inputs(prompt, "f")] == ["[1, 2], 3", "[5], 0"]
    assert probe_inputs.parameter_families(prompt, "f") == [("list_int",), ("int",)]
    mbpp = "def similar(test_tup1, s, nums, n, thing):\n    '''Shared elements.'''\n"
    assert probe_inputs.example_inputs(mbpp, "similar") == []
    families = probe_inputs.parameter_families(mbpp, "similar")
    assert families[:4] == [("tuple_int",), ("str",), ("list_int",), ("int",)]
    assert families[4] == probe_inputs.UNKNOWN
    drawn = probe_inputs.generated_inputs(families, random.Random(0), 10)
    assert len(drawn) == 10 and drawn == probe_inputs.generated_inputs(
        families, random.Random(0), 10
    )
    for item in drawn:
        assert len(ast.parse(f"f({item.args})", mode="eval").body.args) == 5  # type: ignore[attr-defined]
