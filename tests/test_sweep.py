"""The sweep as a library: its points are ``evaluate()``'s, the crossing and the compute axis
on two pools with known success rates, and the forecast. Real sandbox, files and cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evalkit import EXPERIMENT
from sweepkit import exact_pass_at_k, write_counted_pool
from synthkit import write_synthetic

from agent.pages.sweeppage import compute_unit
from harness.analysis.costs import PoolCost, point_cost
from harness.analysis.crossing import Curves, find_crossings
from harness.analysis.forecast import expected_pass, fit_beta, forecast_pass
from harness.analysis.sweep import PoolSpec, SweepResult, SweepSpec, run_sweep
from harness.config import RunConfig
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.results import Compute

PROBLEMS = 30
SMALL_N, SMALL_C = 16, 4  # pass@1 = 0.25 on every problem
BIG_SOLVED = PROBLEMS // 2  # one sample per problem, half of them right: pass@1 = 0.5


@pytest.fixture(scope="module")
def two_pools(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepResult, Path]:
    """A small model (n = 16, 10 tokens a sample, 1e9 parameters from --params) and a big one
    answering once (20 tokens, 1e10 parameters from its meta), swept at k = 1..16."""
    root = tmp_path_factory.mktemp("two-pools")
    suite, _ = write_synthetic(root / "syn", problems=PROBLEMS)
    small = write_counted_pool(
        root / "small", suite, [SMALL_C] * PROBLEMS, SMALL_N, tokens=10,
        meta={"compute": {"self_tests": {"prompt": 0, "generated": 10 * PROBLEMS}}},
    )  # fmt: skip
    solved = [1] * BIG_SOLVED + [0] * (PROBLEMS - BIG_SOLVED)
    big = write_counted_pool(root / "big", suite, solved, 1, tokens=20, meta={"params": 1e10})
    spec = SweepSpec(
        pools=(PoolSpec("small", str(small), params=1e9), PoolSpec("big", str(big))),
        ks=(1, 2, 4, 8, 16),
        suite=str(suite),
    )
    home = root / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("WINNOW_HOME", str(home))  # the module shares one cache: the labels are the same
    try:
        return run_sweep(spec, RunConfig().with_eval(repeats=4)), root
    finally:
        mp.undo()


def test_points_are_exactly_what_evaluate_gives(tmp_path: Path) -> None:
    suite, pool = write_synthetic(tmp_path / "syn", problems=24, n=8)
    config = RunConfig().with_eval(repeats=3, seed=5)
    spec = SweepSpec(pools=(PoolSpec("p", str(pool)),), ks=(2, 4, 8), suite=str(suite),
                     selector=EXPERIMENT)  # fmt: skip
    swept = run_sweep(spec, config).pool("p")
    assert swept.selector is not None and swept.selector.checked_k == 8
    for k in (4, 8):  # 8: where the checks ran; 4: a point scored without them
        with Session(config.with_eval(k=k)) as session:
            direct = evaluate(
                EvalSpec(suite=str(suite), pool=str(pool), selector=EXPERIMENT), session
            )
        point = next(p for p in swept.points if p.k == k)
        assert point.arms == direct.arms  # every arm: sel@k, interval, gap closed, compute
        assert point.pass_at_k == direct.pass_at_k and point.repeats == direct.repeats
        assert point.arms["selector"].sel_at_k is not None
    assert swept.pass_at_1 == direct.pass_at_1
    assert swept.selector.valid, swept.selector.reason
    assert [c.name for c in swept.selector.checks] == [c.name for c in direct.checks]


def test_the_small_pool_reaches_the_big_pools_pass1_at_k4(two_pools) -> None:
    result, _ = two_pools
    small, big = result.pool("small"), result.pool("big")
    assert small.pass_at_1 == pytest.approx(0.25) and big.pass_at_1 == pytest.approx(0.5)
    for point in small.points:
        assert point.pass_at_k == pytest.approx(exact_pass_at_k(SMALL_N, SMALL_C, point.k))
        # All self-tests are right: CodeT ships a correct candidate whenever the subset has one.
        assert point.arms["codet"].sel_at_k == point.arms["oracle"].sel_at_k
    crossing = {(c.small, c.big, c.curve): c for c in result.crossings}
    ceiling = crossing["small", "big", "pass@k"]
    # pass@2 = 0.45 < 0.5 <= pass@4 = 0.728. Resampling the 30 problems moves the target
    # (sd ~0.09): below 0.45 in about 29% of resamples (k = 2), above 0.728 in under 1% (k = 8).
    assert (ceiling.k, ceiling.k_low, ceiling.k_high) == (4, 2, 4)
    assert ceiling.value == pytest.approx(exact_pass_at_k(SMALL_N, SMALL_C, 4))
    assert ceiling.reached_share == 1.0 and ceiling.problems == PROBLEMS
    codet = crossing["small", "big", "codet"]
    first_k = next(p.k for p in small.points if p.arms["codet"].sel_at_k >= codet.target)
    assert codet.k == first_k  # the smallest sampled k whose measured sel@k reaches it
    assert ("big", "small", "pass@k") not in crossing  # the stronger pool has nothing to reach
    assert all(c.curve not in ("random", "oracle") for c in result.crossings)


def test_at_k1_every_arm_ships_the_only_candidate_and_scores_pass1(two_pools) -> None:
    # Every candidate is its own subset at k = 1: no draw's noise lifts an arm off the ceiling.
    for pool in two_pools[0].pools:
        point = pool.points[0]
        assert point.k == 1 and point.pass_at_k == pytest.approx(pool.pass_at_1)
        assert point.repeats == (SMALL_N if pool.name == "small" else 1)
        for name, arm in point.arms.items():
            assert arm.sel_at_k == pytest.approx(pool.pass_at_1, abs=1e-12), (pool.name, name)


def test_the_compute_axis_puts_small_at_k16_below_big_at_k1(two_pools) -> None:
    result, _ = two_pools
    small, big = result.pool("small"), result.pool("big")
    assert (small.cost.params_source, big.cost.params_source) == ("--params", "pool meta")
    assert [p.k for p in big.points] == [1] and big.skipped_ks == [2, 4, 8, 16]
    assert any("pool big has 1 samples per problem" in w for w in result.warnings)
    for point in small.points:
        k = point.k
        assert point.costs["pass@k"].generated_tokens == 10 * k
        assert point.costs["pass@k"].flops == pytest.approx(2 * 1e9 * 10 * k)
        # CodeT ran the self-tests: it also pays for writing them (10 tokens per problem).
        assert point.costs["codet"].generated_tokens == 10 * k + 10
        assert point.costs["codet"].executions == k * 5  # k candidates x 5 distinct tests
        assert point.costs["random"].executions == 0.0
    assert big.points[0].costs["pass@k"].flops == pytest.approx(2 * 1e10 * 20)
    at16 = small.points[-1].costs["pass@k"].flops
    assert at16 is not None and at16 < big.points[0].costs["pass@k"].flops  # 3.2e11 < 4e11
    assert compute_unit(result)[0] == "flops"


def test_an_unknown_cost_stays_unknown() -> None:
    known = PoolCost(10.0, "samples", None, None, "unknown")
    cost = point_cost(known, 4, Compute(executions=12.0))
    assert cost.generated_tokens is None  # the self-tests' tokens are unknown: never 0
    assert cost.flops is None and cost.executions == 12.0 and cost.samples == 4
    alone = point_cost(known, 4, None)
    assert alone.generated_tokens == 40.0 and alone.flops is None  # no parameter count


def test_the_forecast_is_labelled_monotone_and_starts_past_the_sweep() -> None:
    rng = np.random.default_rng(3)
    n = np.full(60, 20)
    correct = rng.binomial(20, rng.beta(0.4, 1.5, size=60))
    f = forecast_pass(correct, n, [1, 2, 4, 8, 16], horizon=200, seed=0)
    assert f.label.startswith("forecast") and f.note == ""
    assert f.from_k == 16 and f.ks[0] == 16 and f.ks[-1] == 200
    assert np.all(np.diff(f.values) >= 0) and all(0 <= v <= 1 for v in f.values)
    assert all(lo <= v <= hi for lo, v, hi in zip(f.low, f.values, f.high, strict=True))
    assert f.exponent == f.alpha and f.scale is not None
    assert f.fit_error < 0.05  # the fitted curve runs through the measured pass@k


def test_the_sweep_forecasts_each_pool_it_can(two_pools) -> None:
    result, _ = two_pools
    f = result.pool("small").forecast
    assert f is not None and f.ks[0] == 16 and f.ks[-1] == 160  # 10 x the largest k sampled
    assert "not as a power law" in f.note  # every problem has pass@1 = 0.25: no spread
    assert f.exponent is None and f.scale is None and "no power law" in f.label  # no b = 333
    assert result.pool("big").forecast is None  # one sample per problem: nothing to fit
    assert "one sample per problem" in result.pool("big").forecast_note


def test_the_beta_fit_recovers_a_known_difficulty_spread() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 2.0, size=3000)
    n = np.full(3000, 50)
    alpha, beta, _ = fit_beta(rng.binomial(50, p), n)
    assert alpha == pytest.approx(0.3, rel=0.1) and beta == pytest.approx(2.0, rel=0.2)
    ks = np.array([1, 10, 100, 1000])
    truth = 1.0 - np.array([np.mean((1 - p) ** k) for k in ks])
    assert np.allclose(expected_pass(alpha, beta, ks), truth, atol=0.02)


def test_the_stronger_pool_is_decided_on_the_problems_both_cover() -> None:
    # "wide" covers four problems and solves the two easy ones it alone covers; on the two
    # problems both pools cover, "narrow" is the stronger (0.5 against 0.25), whatever wide's
    # pass@1 over all its problems (0.625).
    ks = [1, 2]
    wide = Curves(["a", "b", "x", "y"], ks, {"pass@k": np.array([[0.25, 0.25, 1, 1]] * 2)},
                  np.array([0.25, 0.25, 1.0, 1.0]))  # fmt: skip
    narrow = Curves(["a", "b"], ks, {"pass@k": np.array([[0.5, 0.5]] * 2)}, np.array([0.5, 0.5]))
    found = {(c.small, c.big): c for c in find_crossings({"wide": wide, "narrow": narrow}, 0)}
    assert list(found) == [("wide", "narrow")]
    assert found["wide", "narrow"].problems == 2 and found["wide", "narrow"].target == 0.5
