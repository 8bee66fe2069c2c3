"""The selector under research. The loop's proposers edit this file (and only files here).

It starts as CodeT's dual execution agreement (arXiv 2207.10397), written against the public
selector API: candidates are grouped by the set of model-generated tests they pass, and a
group scores (tests passed, counted with multiplicity) ** TEST_POWER x (group size) **
SIZE_POWER. CodeT's released code uses TEST_POWER = 1 and SIZE_POWER = 0.5.
"""

import math
from collections import Counter

USES = {"self_tests"}

TEST_POWER = 1.0  # exponent on the number of self-tests a group passes
SIZE_POWER = 0.5  # exponent on the size of the group of candidates that agree
MIN_TEST_VOTES = 1  # drop self-tests generated fewer times than this (1 keeps all)


def select(problem, candidates, probe):
    generated = Counter(probe.self_tests())
    tests = [t for t, votes in generated.items() if votes >= MIN_TEST_VOTES]
    if not tests:
        return [0.0] * len(candidates)
    results = probe.run_many(candidates, tests)
    signatures = [frozenset(t for t, ok in zip(tests, row, strict=False) if ok) for row in results]
    sizes = Counter(signatures)
    scores = []
    for signature in signatures:
        passed = sum(generated[t] for t in signature)
        scores.append(
            passed**TEST_POWER * math.pow(sizes[signature], SIZE_POWER) if passed else 0.0
        )
    return scores
