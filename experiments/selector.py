"""The selector under research. The loop's proposers edit this file (and only files here).

A small family over the signals, each choice a named constant the offline search tunes
(``experiments/search_space.toml``). A selector groups the candidates that agree, scores each
group, and gives every member its group's score:

- ``GROUP_BY``: what "agree" means: the same set of self-tests passed (CodeT), the same outputs
  on the problem's inputs (AlphaCode's behaviour clusters), or both.
- ``GROUP_SCORE``: ``codet`` (tests passed, counted with multiplicity, ** TEST_POWER x group
  size ** SIZE_POWER), ``size`` (the group's size alone) or ``tests`` (tests passed alone).
- ``MIN_TEST_VOTES``: self-tests generated fewer times than this are dropped.
- ``EXAMPLES``: ``off``, or ``filter``: only candidates that give what every worked example
  of the prompt says are scored (all of them when none does, or the prompt states none).
- ``TIE_BREAK``: ``none``, or ``agreement``: among equal scores, prefer the candidate whose
  outputs agree with the most other candidates, value by value (MBR-exec).

As shipped it is CodeT's dual execution agreement (arXiv 2207.10397) with CodeT's released
exponents, and scores exactly like the ``codet`` arm.
"""

from collections import Counter

GROUP_BY = "tests"  # tests | outputs | both: what makes two candidates agree
GROUP_SCORE = "codet"  # codet | size | tests: how a group scores
TEST_POWER = 1.0  # codet: exponent on the self-tests a group passes (with multiplicity)
SIZE_POWER = 0.5  # codet: exponent on the size of the group
MIN_TEST_VOTES = 1  # drop self-tests generated fewer times than this (1 keeps all)
EXAMPLES = "off"  # off | filter: the prompt's worked examples as a filter
TIE_BREAK = "none"  # none | agreement: how equal scores are told apart
TIE_WEIGHT = 1e-6  # agreement: weight of one agreeing (candidate, input) pair, below any score step

# Only the signals the choices above read: a declared signal must move the picks.
NEEDS_TESTS = GROUP_BY != "outputs" or GROUP_SCORE != "size"
NEEDS_OUTPUTS = GROUP_BY != "tests" or TIE_BREAK != "none"
NEEDS_EXAMPLES = EXAMPLES != "off"
NEEDED = {"self_tests": NEEDS_TESTS, "outputs": NEEDS_OUTPUTS, "prompt_examples": NEEDS_EXAMPLES}
USES = {signal for signal, needed in NEEDED.items() if needed}


def select(problem, candidates, probe):
    generated = Counter(probe.self_tests()) if NEEDS_TESTS else Counter()
    tests = [t for t, votes in generated.items() if votes >= MIN_TEST_VOTES]
    passed: list[frozenset] = [frozenset() for _ in candidates]
    if tests:
        rows = probe.run_many(candidates, tests)
        passed = [frozenset(t for t, ok in zip(tests, row, strict=True) if ok) for row in rows]
    outputs = [()] * len(candidates)
    if NEEDS_OUTPUTS:
        inputs = probe.inputs()
        outputs = [tuple(row) for row in probe.outputs(candidates, inputs)] if inputs else outputs
    keys = [key(i, passed[i], outputs[i]) for i in range(len(candidates))]
    sizes = Counter(keys)
    votes = [sum(generated[t] for t in signature) for signature in passed]
    group_votes: dict = {}
    for k, v in zip(keys, votes, strict=True):
        group_votes.setdefault(k, []).append(v)
    scores = []
    for k in keys:
        tests_passed = sum(group_votes[k]) / len(group_votes[k])
        scores.append(group_score(tests_passed, sizes[k]))
    if TIE_BREAK == "agreement":
        scores = [s + TIE_WEIGHT * agreement(i, outputs) for i, s in enumerate(scores)]
    if NEEDS_EXAMPLES and probe.examples():
        passing = [all(row) for row in probe.check_examples(candidates)]
        if any(passing):  # below every candidate that passes them all
            low = min(scores) - 1.0
            scores = [s if ok else low for s, ok in zip(scores, passing, strict=True)]
    return scores


def key(i, signature, outputs):
    """The candidate's group: who it agrees with under GROUP_BY. A candidate with no value on
    any input agrees with nobody on outputs."""
    behaves = any(not o.startswith("!") for o in outputs)
    by_outputs = outputs if behaves else ("alone", i)
    if GROUP_BY == "tests":
        return signature
    if GROUP_BY == "outputs":
        return by_outputs
    return (signature, by_outputs)


def group_score(tests_passed, size):
    if GROUP_SCORE == "size":
        return float(size)
    if GROUP_SCORE == "tests":
        return float(tests_passed)
    return tests_passed**TEST_POWER * size**SIZE_POWER if tests_passed else 0.0


def agreement(i, outputs):
    """(other candidate, input) pairs on which candidate i gives the same value."""
    mine = outputs[i]
    return sum(
        a == b and not a.startswith("!")
        for j, theirs in enumerate(outputs)
        if j != i
        for a, b in zip(mine, theirs, strict=True)
    )
