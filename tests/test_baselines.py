"""Baseline arms (harness/judge/arms.py) on hand-built signals where the right pick is known."""

from __future__ import annotations

import numpy as np

from harness.judge.arms import (
    arms_for,
    cluster,
    codet,
    codet_product,
    first,
    logprob,
    most_passed,
    oracle,
    random_arm,
)
from harness.judge.metrics import pick_value, tied_set
from harness.judge.problems import Signals, output_arrays

ALL = np.arange(5)


def signals(passes: list[list[int]], weights: list[int], correct: list[int], **kw) -> Signals:
    """Signals for hand-built candidates; ``outputs``: one row of canonical texts each."""
    texts = kw.get("outputs") or [[] for _ in correct]
    values, codes, ok = output_arrays(texts, len(correct), len(texts[0]))
    return Signals(
        correct=np.array(correct, dtype=bool),
        passes=np.array(passes, dtype=bool).reshape(len(correct), -1),
        weights=np.array(weights, dtype=float),
        logprobs=kw.get("logprobs"),
        outputs=values,
        output_codes=codes,
        output_ok=ok,
        example_pass=np.array(kw.get("examples") or [[]] * len(texts), dtype=bool).reshape(
            len(texts), -1
        ),
    )


# Four candidates agree on passing t0 only; one candidate passes all three tests alone.
# CodeT (sqrt):  group {0,1,2,3}: 1 test x sqrt(4) = 2;  group {4}: 3 tests x sqrt(1) = 3.
# Product:       group {0,1,2,3}: 1 test x 4 = 4;        group {4}: 3 tests x 1 = 3.
# So codet picks candidate 4 and codet_product the group of four. Only candidate 4 is correct.
AGREE = signals(
    passes=[[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 1]],
    weights=[1, 1, 1],
    correct=[0, 0, 0, 0, 1],
)


def picks(arm, s: Signals, idx: np.ndarray = ALL) -> list[int]:
    """Sample indices of the arm's tied top set on subset ``idx``."""
    return idx[tied_set(arm(s, idx))].tolist()


def test_codet_square_root_and_product_choose_differently() -> None:
    np.testing.assert_allclose(codet(AGREE, ALL), [2, 2, 2, 2, 3])
    np.testing.assert_allclose(codet_product(AGREE, ALL), [4, 4, 4, 4, 3])
    assert picks(codet, AGREE) == [4]
    assert picks(codet_product, AGREE) == [0, 1, 2, 3]
    assert pick_value(codet(AGREE, ALL), AGREE.correct) == 1.0
    assert pick_value(codet_product(AGREE, ALL), AGREE.correct) == 0.0


def test_codet_groups_are_formed_within_the_subset() -> None:
    # Subset {0, 1, 4}: the agreeing group has two members here: 1 x sqrt(2) < 3 and 1 x 2 < 3.
    idx = np.array([0, 1, 4])
    np.testing.assert_allclose(codet(AGREE, idx), [np.sqrt(2), np.sqrt(2), 3])
    assert picks(codet, AGREE, idx) == [4]
    assert picks(codet_product, AGREE, idx) == [4]


def test_a_group_that_passes_nothing_scores_zero() -> None:
    s = signals(passes=[[0, 0], [0, 0], [0, 0], [1, 0], [0, 0]], weights=[1, 1], correct=[0] * 5)
    # Four candidates agree on failing everything: a big group, but 0 tests x anything = 0.
    np.testing.assert_allclose(codet(s, ALL), [0, 0, 0, 1, 0])
    assert picks(codet_product, s) == [3]


def test_cluster_picks_the_largest_behaviour_group() -> None:
    np.testing.assert_allclose(cluster(AGREE, ALL), [4, 4, 4, 4, 1])
    assert picks(cluster, AGREE) == [0, 1, 2, 3]


def test_cluster_without_self_tests_is_one_group() -> None:
    s = signals([[]] * 5, [], [0] * 5)
    np.testing.assert_allclose(cluster(s, ALL), [5] * 5)


def test_most_passed_counts_a_test_as_often_as_it_was_generated() -> None:
    # t0 was generated three times; t1 and t2 once each. Candidate 0 passes t0 only (3 votes),
    # candidate 1 passes t1 and t2 (2 votes). Counted once each, candidate 1 would win (2 > 1).
    s = signals(passes=[[1, 0, 0], [0, 1, 1]], weights=[3, 1, 1], correct=[1, 0])
    idx = np.arange(2)
    np.testing.assert_allclose(most_passed(s, idx), [3, 2])
    assert picks(most_passed, s, idx) == [0]
    unweighted = signals(passes=[[1, 0, 0], [0, 1, 1]], weights=[1, 1, 1], correct=[1, 0])
    assert picks(most_passed, unweighted, idx) == [1]


def test_first_picks_the_earliest_sample_of_the_subset() -> None:
    idx = np.array([3, 1, 4])
    assert picks(first, AGREE, idx) == [1]


def test_logprob_picks_the_highest_mean_logprob() -> None:
    s = signals(
        passes=[[0]] * 5,
        weights=[1],
        correct=[0, 0, 1, 0, 0],
        logprobs=np.array([-0.5, -0.2, -0.1, -0.9, -0.3]),
    )
    assert picks(logprob, s) == [2]
    assert picks(logprob, s, np.array([0, 3, 4])) == [4]  # -0.3 is the best of these three


def test_oracle_reads_the_hidden_labels_and_random_ties_everything() -> None:
    assert picks(oracle, AGREE) == [4]
    assert picks(random_arm, AGREE) == [0, 1, 2, 3, 4]
    # The random arm's value is the share of correct candidates in the subset.
    assert pick_value(random_arm(AGREE, ALL), AGREE.correct) == 0.2


def test_every_baseline_is_present_and_logprob_only_with_logprobs() -> None:
    common = ["random", "oracle", "first", "most_passed", "cluster", "codet", "codet_product"]
    common += ["output_cluster", "mbr_exec", "srank", "examples_then_codet"]
    names = [arm.name for arm in arms_for({"logprob"})]
    assert [a for a in names if a != "logprob"] == common
    assert "logprob" in names
    assert [arm.name for arm in arms_for(set())] == common
    with_rewards = [arm.name for arm in arms_for({"reward_model"})]
    assert with_rewards == common + ["reward_model", "reward_then_codet"]


def test_examples_then_codet_keeps_codet_to_the_candidates_that_pass_every_example() -> None:
    from harness.judge.arms import examples_then_codet

    # AGREE: codet prefers candidate 4 (3 tests alone) over the four that agree on t0.
    assert picks(examples_then_codet, AGREE) == [4]  # no examples: plain CodeT
    s = signals(
        passes=[[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 1]],
        weights=[1, 1, 1],
        correct=[1, 1, 1, 1, 0],
        examples=[[1, 1], [1, 1], [1, 1], [1, 0], [0, 1]],  # candidate 4 contradicts an example
    )
    assert picks(examples_then_codet, s) == [0, 1, 2]  # CodeT among those passing both
    none_pass = signals(
        passes=[[1, 0, 0], [1, 1, 1]], weights=[1, 1, 1], correct=[0, 1],
        examples=[[0, 1], [1, 0]],
    )  # fmt: skip
    assert picks(examples_then_codet, none_pass, np.arange(2)) == [1]  # all candidates then
