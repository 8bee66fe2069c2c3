"""The outputs signal: canonical texts read in the real sandbox, the inputs harvested without
hidden tests, the three arms that compare outputs on hand-computed examples, and selectors that
use outputs (honestly, wired or not) under every check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from evalkit import TINY_POOL, TINY_SUITE, check, open_session, run_eval

from harness.config import RunConfig
from harness.data.calls import assert_forms, harvest_inputs, literal_calls
from harness.execution.cache import ExecCache
from harness.execution.executor import Executor
from harness.execution.launch import SandboxConfig
from harness.execution.outputs import LIMIT, output_program, output_test, read_output
from harness.execution.sandbox import Sandbox
from harness.judge.arms import ARMS, mbr_exec, output_cluster, srank
from harness.judge.problems import Signals, output_arrays
from harness.judge.session import EvalSpec, Session

# -- canonical texts, through the sandbox ---------------------------------------------------------

PROGRAM = """
import time

def f(kind):
    if kind == "float one":
        return 1.0
    if kind == "true":
        return True
    if kind == "sum":
        return 0.1 + 0.2
    if kind == "set":
        return {3, 1, 2}
    if kind == "frozenset":
        return frozenset({2, 1, 3})
    if kind == "dict":
        return {"b": 1, "a": [2.50, (3,)]}
    if kind == "nested":
        return [1, (2, 3), {"x": None}]
    if kind == "nan":
        return float("nan")
    if kind == "raises":
        raise ValueError("no")
    if kind == "hangs":
        while True:
            pass
    if kind == "huge":  # far past LIMIT, and quick: 100,000 took 40-60 ms of the 0.1 s limit
        return list(range(5_000))
    if kind == "huge, one off":
        return list(range(5_000))[:-1] + [-1]
    if kind == "object":
        return object()
    if kind == "empty set":
        return set()
    if kind == "empty dict":
        return {}
    return 1
"""
EXPECTED = {
    "'one'": "1",
    "'float one'": "1",
    "'true'": "1",
    "'sum'": "0.3",
    "'set'": "{1, 2, 3}",
    "'frozenset'": "{1, 2, 3}",
    "'dict'": "{'a': [2.5, (3,)], 'b': 1}",
    "'nested'": "[1, (2, 3), {'x': None}]",
    "'nan'": "nan",
    "'raises'": "!ValueError",
    "'hangs'": "!timeout",
    "'object'": "<object>",
    "'empty set'": "set()",
    "'empty dict'": "{}",
}


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory):
    cache = ExecCache(tmp_path_factory.mktemp("outputs") / "exec.sqlite")
    with Sandbox(SandboxConfig(workers=1)) as sandbox:
        yield Executor(sandbox, cache)
    cache.close()


def outputs(executor: Executor, program: str, inputs: list[str]) -> list[str]:
    tests = [output_test("f", args) for args in inputs]
    return [read_output(o) for o in executor.self_test([(output_program(program), tests)])[0]]


def test_equal_values_read_the_same_and_failures_say_what_happened(executor: Executor) -> None:
    got = dict(zip(EXPECTED, outputs(executor, PROGRAM, list(EXPECTED)), strict=True))
    assert got == EXPECTED


def test_huge_values_are_bounded_and_still_told_apart(executor: Executor) -> None:
    huge, off = outputs(executor, PROGRAM, ["'huge'", "'huge, one off'"])
    assert huge.startswith("[0, 1, 2, 3") and "...#" in huge
    assert len(huge) <= LIMIT and len(off) <= LIMIT
    assert huge != off  # the hash covers the whole value


def test_a_program_that_does_not_load_reads_load_everywhere(executor: Executor) -> None:
    assert outputs(executor, "def f(:\n", ["1", "2"]) == ["!load", "!load"]


def test_outputs_are_cached_like_test_runs(executor: Executor) -> None:
    before = executor.executions
    outputs(executor, PROGRAM, ["'set'", "'dict'"])
    assert executor.executions == before  # both asked above: answered by the cache


# -- inputs, harvested without hidden tests -------------------------------------------------------


def test_inputs_come_from_the_prompt_then_the_self_tests_in_order_without_repeats() -> None:
    prompt = 'def f(a, b):\n    """\n    >>> f(1, 2)\n    3\n    f([4], 5) ➞ 9\n    """\n'
    tests = ["assert f(1, 2) == 3", "assert f(0, 0) == 0 and f(x, 1)", "assert f(*[1]) == 1"]
    assert literal_calls(prompt, "f") == ["1, 2", "[4], 5"]
    assert harvest_inputs(prompt, tests, "f", 10) == ["1, 2", "[4], 5", "0, 0"]
    assert harvest_inputs(prompt, tests, "f", 2) == ["1, 2", "[4], 5"]


def test_brackets_and_quotes_inside_string_arguments_do_not_end_a_call() -> None:
    # as in HumanEval/61's ``correct_bracketing("(")`` and 132's ``is_nested('[]]]]]]][[[[[]')``
    prompt = r"""
    f("(") ➞ False
    f(')(\'') ➞ 1
    f("]", ['[']) ➞ 2
    my_f(1) x.f(2) f(y)
    """
    assert literal_calls(prompt, "f") == ['"("', r"')(\''", """"]", ['[']"""]


def test_assert_forms_ignore_spacing_the_callee_and_the_message() -> None:
    hidden = "def check(candidate):\n    assert candidate(1,  2)==3, 'sum'\n"
    assert assert_forms(hidden, "add") == assert_forms("assert add(1, 2) == 3", "add")
    assert assert_forms("x = (", "add") == set()


# -- the arms, on hand-computed examples ----------------------------------------------------------

# Five candidates, two inputs, two self-tests (weights 1, 1). c3 raises everywhere: no value.
TEXTS = [["1", "2"], ["1", "2"], ["1", "3"], ["!ValueError", "!ValueError"], ["5", "2"]]
PASSES = [[1, 1], [1, 0], [0, 0], [0, 0], [1, 1]]
ALL = np.arange(5)


def signals(texts: list[list[str]] = TEXTS, passes: list[list[int]] = PASSES) -> Signals:
    values, codes, ok = output_arrays(texts, len(texts), len(texts[0]))
    return Signals(
        correct=np.zeros(len(texts), dtype=bool),
        passes=np.array(passes, dtype=bool),
        weights=np.ones(len(passes[0])),
        logprobs=None,
        outputs=values,
        output_codes=codes,
        output_ok=ok,
        example_pass=np.zeros((len(texts), 0), dtype=bool),
    )


def test_output_cluster_is_the_size_of_the_group_of_identical_outputs() -> None:
    # {c0, c1} agree on both inputs; c2 and c4 are alone; c3 has no value: 0.
    assert output_cluster(signals(), ALL).tolist() == [2, 2, 1, 0, 1]


def test_mbr_exec_counts_agreements_value_by_value() -> None:
    # c0: c1 on 2 inputs, c2 on the first, c4 on the second = 4; errors never agree.
    assert mbr_exec(signals(), ALL).tolist() == [4, 4, 2, 0, 2]


def test_srank_weighs_clusters_by_their_overlap_with_the_others() -> None:
    # Clusters A = {c0, c1}, B = {c2}, C = {c4} of the 4 valid candidates. Features: share x
    # mean share of self-tests passed: A 0.5 x 0.75, B 0.25 x 0, C 0.25 x 1. Interaction: A-B
    # and A-C agree on one input of two (0.5), B-C on none. R = I . V:
    # A = 0.375 + 0.5 x 0.25 = 0.5; B = 0.5 x 0.375 = 0.1875; C = 0.5 x 0.375 + 0.25 = 0.4375.
    np.testing.assert_allclose(srank(signals(), ALL), [0.5, 0.5, 0.1875, 0.0, 0.4375])


def test_the_output_arms_score_within_the_subset_and_cost_every_input() -> None:
    subset = np.array([1, 2, 4])
    assert output_cluster(signals(), subset).tolist() == [1, 1, 1]
    arms = {arm.name: arm for arm in ARMS}
    s = signals()
    assert arms["output_cluster"].compute(s, subset, np.zeros(3)).executions == 3 * 2
    assert arms["mbr_exec"].compute(s, subset, np.zeros(3)).executions == 3 * 2
    assert arms["srank"].compute(s, subset, np.zeros(3)).executions == 3 * (2 + 2)


def test_without_inputs_every_output_arm_ties() -> None:
    empty = signals([[] for _ in range(5)])
    for arm in (output_cluster, mbr_exec, srank):
        assert arm(empty, ALL).tolist() == [0.0] * 5


# -- selectors using outputs -----------------------------------------------------------------------

HONEST = """
from collections import Counter

USES = {"outputs"}


def select(problem, candidates, probe):
    inputs = probe.inputs()
    rows = [tuple(r) for r in probe.outputs(candidates, inputs)]
    valid = [any(not o.startswith("!") for o in row) for row in rows]
    sizes = Counter(row for row, ok in zip(rows, valid) if ok)
    return [float(sizes[row]) if ok else 0.0 for row, ok in zip(rows, valid)]
"""
IGNORES = """
USES = {"outputs"}


def select(problem, candidates, probe):
    probe.outputs(candidates, probe.inputs())  # asked for, then ignored
    return [float(len(c.completion)) for c in candidates]
"""
REMEMBERS = """
USES = {"self_tests"}
# A hidden test of tiny/add, as a proposer might remember it from the benchmark.
REMEMBERED = "assert add(10, 5) == 15"


def select(problem, candidates, probe):
    if problem.entry_point != "add":
        return [float(len(c.completion)) for c in candidates]
    passed = probe.run_many(candidates, [REMEMBERED])
    return [1.0 if row[0] else 0.0 for row in passed]
"""


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with open_session(tmp_path / "cache") as opened:
        yield opened


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def test_an_honest_selector_using_outputs_passes_every_check(
    session: Session, tmp_path: Path
) -> None:
    result = run_eval(session, write(tmp_path, "honest", HONEST))
    failed = [c for c in result.checks if not c.passed]
    assert failed == [] and result.valid, failed
    wired = check(result, "signals_wired").detail
    assert wired.startswith("outputs: asked on 8/8 problems")
    # It is exactly the output_cluster baseline, at the same compute.
    assert result.arms["selector"].sel_at_k == result.arms["output_cluster"].sel_at_k
    assert (
        result.arms["selector"].compute.executions
        <= result.arms["output_cluster"].compute.executions
    )


def test_outputs_asked_for_and_ignored_are_not_wired(session: Session, tmp_path: Path) -> None:
    result = run_eval(session, write(tmp_path, "ignores", IGNORES))
    assert (
        "outputs: shuffling its values across candidates changed no pick"
        in check(result, "signals_wired").detail
    )
    assert not result.valid


def test_a_remembered_hidden_test_is_leakage_with_the_test_shown(
    session: Session, tmp_path: Path
) -> None:
    assert "assert candidate(10, 5) == 15" in TINY_SUITE.read_text()  # hidden, not public
    result = run_eval(session, write(tmp_path, "remembers", REMEMBERS))
    leak = check(result, "no_leakage")
    assert not leak.passed
    assert "memorized hidden test: assert add(10, 5) == 15" in leak.detail


def test_a_public_test_equal_to_a_hidden_one_is_not_leakage(
    session: Session, tmp_path: Path
) -> None:
    # A self-test (public) that happens to equal a hidden one is the selector's to use.
    public = REMEMBERS.replace("add(10, 5) == 15", "add(1, 2) == 3")  # in the prompt too
    result = run_eval(session, write(tmp_path, "public", public))
    assert check(result, "no_leakage").passed, check(result, "no_leakage").detail


def test_unknown_inputs_are_refused(session: Session, tmp_path: Path) -> None:
    source = HONEST.replace("inputs = probe.inputs()", "inputs = probe.inputs() + ['999']")
    result = run_eval(session, write(tmp_path, "unknown", source))
    assert "not one of this problem's inputs" in check(result, "selector_runs").detail


def test_the_judged_pool_holds_every_candidates_output_on_every_input(session: Session) -> None:
    judged = session.judged(EvalSpec(str(TINY_SUITE), pool=str(TINY_POOL)))
    add = next(p for p in judged.problems if p.task_id == "tiny/add")
    assert add.inputs[:2] == ("1, 2", "2, 2")
    assert add.signals.outputs.shape == (add.n, len(add.inputs))
    right = [i for i in range(add.n) if add.correct[i]]
    assert all(add.signals.outputs[i, 0] == "3" for i in right)


def test_a_judged_pools_runs_are_recalled_only_under_the_same_settings(tmp_path: Path) -> None:
    spec = EvalSpec(str(TINY_SUITE), pool=str(TINY_POOL))
    with open_session(tmp_path / "cache") as first:
        judged = first.judged(spec)
        memo = first.memo(judged.suite, judged.pool, "all")
    assert memo.exists()
    with open_session(tmp_path / "cache") as second:
        again = second.judged(spec)
        assert second.executor.executions == 0 and second.executor.cache_hits > 0
    for a, b in zip(judged.problems, again.problems, strict=True):
        assert (a.signals.outputs == b.signals.outputs).all()
        assert (a.signals.passes == b.signals.passes).all() and (a.correct == b.correct).all()
    fewer = (
        RunConfig()
        .with_eval(k=4)
        .model_copy(
            update={"budget": RunConfig().budget.model_copy(update={"inputs_per_problem": 1})}
        )
    )
    with Session(fewer, cache=tmp_path / "cache") as third:
        assert third.memo(judged.suite, judged.pool, "all") != memo
        assert all(len(p.inputs) <= 1 for p in third.judged(spec).problems)
    memo.write_bytes(b"not gzip")  # a damaged memo is asked of the execution cache again
    with open_session(tmp_path / "cache") as fourth:
        assert len(fourth.judged(spec).problems) == len(judged.problems)
