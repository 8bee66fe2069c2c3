"""The baseline arms every evaluation runs beside a selector, on the same subsets.

An :class:`Arm` carries its name, the signals it reads, its scoring function and its compute
rule, side by side. A scoring function is pure: it scores the candidates of one k-subset
(higher is better) from the problem's data; the harness takes the argmax and scores ties as
the expected correctness over the tied set. An arm runs only where every signal it reads is
available (``logprob`` needs a pool with logprobs, ``reward_model`` a configured scorer).

- ``random``: a constant: scores exactly the subset's share of correct candidates.
- ``oracle``: the hidden labels: 1 when the subset holds a correct candidate (the pass@k ceiling).
- ``first``: the earliest sample in the subset.
- ``logprob``: the highest mean token logprob.
- ``most_passed``: the most self-tests passed, each test counted as often as it was generated.
- ``cluster``: the size of the candidate's group of identical pass/fail behaviour on the
  self-tests (the largest behaviour cluster wins).
- ``codet``: CodeT dual execution agreement (arXiv 2207.10397): candidates are grouped by the
  set of self-tests they pass; a group scores (tests passed, with multiplicity) x sqrt(size),
  as CodeT's released code does; every member of the top group shares its score.
- ``codet_product``: the paper's plain product (tests passed) x (group size).
- ``output_cluster``: AlphaCode's behaviour clustering (arXiv 2203.07814): candidates are grouped
  by their outputs on the problem's inputs (identical output vectors); the largest group wins.
  A candidate with no value on any input (it crashed, timed out or did not load everywhere)
  scores 0.
- ``mbr_exec``: MBR-exec (Shi et al. 2022, arXiv 2204.11454) with the soft loss: a candidate
  scores the number of (other candidate, input) pairs on which their outputs are the same
  value; errors never agree. (The paper's hard loss, agreement on every input, is the
  ``output_cluster`` rule.)
- ``srank``: SRank (To et al. 2024, arXiv 2311.03366): clusters of identical output vectors;
  a cluster's features are its share of the candidates times its pass rate on the self-tests
  (the mean weighted share of self-tests its members pass, our stand-in for the paper's
  agreement with generated input/output pairs); the interaction of two clusters is the share
  of inputs on which both give the same value (1 with itself); a cluster scores
  interaction x features, every member the cluster's score, a candidate with no value 0.
- ``examples_then_codet``: CodeT among the candidates that give what every worked example of
  the prompt says (AlphaCode filters on a problem's example tests), all candidates when none
  does or the prompt states none.
- ``reward_model``: the highest score of the configured reward model or judge.
- ``reward_then_codet``: CodeT (as ``codet``) among the top quarter of the subset by reward
  score (at least one candidate; a tie at the cut is kept); the rest score below any of them.

Compute rules (per subset): an arm that ranks by the self-tests ran every candidate of the
subset on every distinct self-test, one that compares outputs ran every candidate on every
input; a reward arm asked one score per candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.judge.problems import Signals

Score = Callable[[Signals, np.ndarray], np.ndarray]  # (a problem's signals, subset) -> scores


@dataclass(frozen=True)
class Usage:
    """What an arm consumed on one subset."""

    executions: int = 0
    reward_calls: int = 0
    reward_tokens: int | None = 0  # None when the scorer did not report them


Rule = Callable[[Signals, np.ndarray, np.ndarray], Usage]  # (problem, subset, scores)


def free(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """Reads what every arm is given (or the hidden labels): no compute."""
    return Usage()


def every_self_test(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """Every candidate of the subset ran every distinct self-test."""
    return Usage(executions=len(idx) * s.passes.shape[1])


def every_input(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """Every candidate of the subset ran on every input."""
    return Usage(executions=len(idx) * s.outputs.shape[1])


def every_input_and_test(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """Every candidate of the subset ran on every input and every distinct self-test."""
    return Usage(executions=len(idx) * (s.outputs.shape[1] + s.passes.shape[1]))


def examples_and_tests(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """Every candidate of the subset ran on every example and every distinct self-test."""
    return Usage(executions=len(idx) * (s.example_pass.shape[1] + s.passes.shape[1]))


def one_score_each(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """One reward score per candidate of the subset."""
    assert s.rewards is not None
    tokens = s.rewards.tokens([int(i) for i in idx])
    return Usage(reward_calls=len(idx), reward_tokens=tokens)


def scores_then_tests(s: Signals, idx: np.ndarray, scores: np.ndarray) -> Usage:
    """One score per candidate, then the self-tests on the candidates kept (above -1)."""
    ranked = int((scores > -1.0).sum())
    return Usage(
        executions=ranked * s.passes.shape[1],
        reward_calls=len(idx),
        reward_tokens=one_score_each(s, idx, scores).reward_tokens,
    )


@dataclass(frozen=True)
class Arm:
    """A trusted baseline: its name, the signals it reads, how it scores, what it costs."""

    name: str
    uses: frozenset[str]  # signals read beyond the candidates: self_tests, logprob, ...
    score: Score
    compute: Rule = free


def _groups(rows: np.ndarray) -> np.ndarray:
    """For each row, the size of its group of identical rows."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], rows.shape[0], dtype=float)
    # Each row as one opaque value: np.unique on these is several times faster than axis=0.
    width = rows.dtype.itemsize * rows.shape[1]
    keys = np.ascontiguousarray(rows).view(np.dtype((np.void, width))).ravel()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)].astype(float)


def codet_scores(passes: np.ndarray, weights: np.ndarray, size_power: float) -> np.ndarray:
    """CodeT group score per candidate: (weighted tests passed) x (group size) ** size_power."""
    return (passes @ weights) * _groups(passes) ** size_power


def random_arm(s: Signals, idx: np.ndarray) -> np.ndarray:
    return np.zeros(len(idx))


def oracle(s: Signals, idx: np.ndarray) -> np.ndarray:
    return s.correct[idx].astype(float)


def first(s: Signals, idx: np.ndarray) -> np.ndarray:
    return -idx.astype(float)


def logprob(s: Signals, idx: np.ndarray) -> np.ndarray:
    assert s.logprobs is not None
    return s.logprobs[idx]


def most_passed(s: Signals, idx: np.ndarray) -> np.ndarray:
    return (s.passes[idx] @ s.weights).astype(float)


def cluster(s: Signals, idx: np.ndarray) -> np.ndarray:
    return _groups(s.passes[idx])


def codet(s: Signals, idx: np.ndarray) -> np.ndarray:
    return codet_scores(s.passes[idx], s.weights, 0.5)


def codet_product(s: Signals, idx: np.ndarray) -> np.ndarray:
    return codet_scores(s.passes[idx], s.weights, 1.0)


def _valid(s: Signals, idx: np.ndarray) -> np.ndarray:
    """Candidates with a value on at least one input."""
    return s.output_ok[idx].any(axis=1)


def output_cluster(s: Signals, idx: np.ndarray) -> np.ndarray:
    return np.where(_valid(s, idx), _groups(s.output_codes[idx]), 0.0)


def _agreement(s: Signals, idx: np.ndarray) -> np.ndarray:
    """(k, k, m): whether two candidates give the same value on each input."""
    codes, ok = s.output_codes[idx], s.output_ok[idx]
    same = codes[:, None, :] == codes[None, :, :]
    return same & ok[:, None, :] & ok[None, :, :]


def mbr_exec(s: Signals, idx: np.ndarray) -> np.ndarray:
    agree = _agreement(s, idx).sum(axis=2).astype(float)
    np.fill_diagonal(agree, 0.0)
    return np.where(_valid(s, idx), agree.sum(axis=1), 0.0)


def srank(s: Signals, idx: np.ndarray) -> np.ndarray:
    valid = _valid(s, idx)
    scores = np.zeros(len(idx))
    if not valid.any():
        return scores
    members = np.flatnonzero(valid)
    rows = np.ascontiguousarray(s.output_codes[idx][members])
    width = rows.dtype.itemsize * rows.shape[1]
    keys = rows.view(np.dtype((np.void, width))).ravel() if rows.shape[1] else np.zeros(len(rows))
    _, first, cluster = np.unique(keys, return_index=True, return_inverse=True)
    cluster = cluster.reshape(-1)
    count = len(first)
    total = s.weights.sum()
    passed = (s.passes[idx][members] @ s.weights) / total if total > 0 else np.zeros(len(members))
    share = np.bincount(cluster, minlength=count) / len(members)
    pass_rate = np.bincount(cluster, weights=passed, minlength=count) / np.bincount(cluster)
    features = share * pass_rate
    inputs = s.outputs.shape[1]
    agree = _agreement(s, idx[members][first])  # one representative per cluster
    interaction = agree.sum(axis=2) / inputs if inputs else np.zeros((count, count))
    np.fill_diagonal(interaction, 1.0)
    scores[members] = (interaction @ features)[cluster]
    return scores


def examples_then_codet(s: Signals, idx: np.ndarray) -> np.ndarray:
    scores = codet_scores(s.passes[idx], s.weights, 0.5)
    passing = s.example_pass[idx].all(axis=1)
    if s.example_pass.shape[1] == 0 or not passing.any():
        return scores
    return np.where(passing, scores, -1.0)  # CodeT scores are >= 0: the rest is never picked


REWARD_SHARE = 0.25  # reward_then_codet runs CodeT on this share of the subset, by reward


def reward_model(s: Signals, idx: np.ndarray) -> np.ndarray:
    assert s.reward_values is not None
    return s.reward_values[idx]


def top_share(scores: np.ndarray, share: float) -> np.ndarray:
    """Mask of the ``ceil(share * len)`` highest scores (at least one), ties at the cut kept."""
    count = max(1, math.ceil(share * len(scores)))
    cut = np.sort(scores)[::-1][count - 1]
    return scores >= cut


def reward_then_codet(s: Signals, idx: np.ndarray) -> np.ndarray:
    assert s.reward_values is not None
    keep = top_share(s.reward_values[idx], REWARD_SHARE)
    scores = np.full(len(idx), -1.0)  # CodeT scores are >= 0: the rest is never picked
    scores[keep] = codet_scores(s.passes[idx][keep], s.weights, 0.5)
    return scores


SELF_TESTS = frozenset({"self_tests"})
ARMS: tuple[Arm, ...] = (
    Arm("random", frozenset(), random_arm),
    Arm("oracle", frozenset({"labels"}), oracle),
    Arm("first", frozenset(), first),
    Arm("logprob", frozenset({"logprob"}), logprob),
    Arm("most_passed", SELF_TESTS, most_passed, every_self_test),
    Arm("cluster", SELF_TESTS, cluster, every_self_test),
    Arm("codet", SELF_TESTS, codet, every_self_test),
    Arm("codet_product", SELF_TESTS, codet_product, every_self_test),
    Arm("output_cluster", frozenset({"outputs"}), output_cluster, every_input),
    Arm("mbr_exec", frozenset({"outputs"}), mbr_exec, every_input),
    Arm("srank", frozenset({"outputs", "self_tests"}), srank, every_input_and_test),
    Arm(
        "examples_then_codet",
        frozenset({"prompt_examples", "self_tests"}),
        examples_then_codet,
        examples_and_tests,
    ),
    Arm("reward_model", frozenset({"reward_model"}), reward_model, one_score_each),
    Arm(
        "reward_then_codet",
        frozenset({"reward_model", "self_tests"}),
        reward_then_codet,
        scores_then_tests,
    ),
)
"""Every baseline, in report order."""


def arms_for(available: set[str]) -> tuple[Arm, ...]:
    """The baselines whose signals are all available (``labels``, ``self_tests``, ``outputs``
    and ``prompt_examples`` always are: a pool without self-tests, or a prompt without examples,
    gives empty matrices, which the arms handle)."""
    always = {"labels", "self_tests", "outputs", "prompt_examples"}
    return tuple(arm for arm in ARMS if arm.uses <= available | always)
