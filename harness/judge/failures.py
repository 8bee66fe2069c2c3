"""Where a selector loses: the error analysis a proposer is shown, and the morning report's
per-problem view.

For the problems the selector lost (the oracle's value minus the selector's, over the problem's
subsets, above 0), the most lost first, one subset is shown: the first on which a correct
candidate was in view and the selector picked a wrong one. Its candidates are grouped by
behaviour (the same self-tests passed and the same outputs),
and each group is described by its signals: size, self-tests passed, agreement of its outputs
with the other candidates', the prompt's examples it passes, whether the selector picked in it,
and how many of its members are correct. Nothing here names a hidden test; the caller decides
which split it may show.
"""

from __future__ import annotations

import numpy as np

from harness.judge.design import Design
from harness.judge.metrics import tied_set
from harness.judge.runners import ArmRun
from harness.results import BehaviourGroup, FailureCase

CASES = 30  # problems described at most (a proposer's prompt shows the first few)
GROUPS = 8  # groups shown per problem at most


def failure_cases(design: Design, selector: ArmRun, oracle: ArmRun) -> list[FailureCase]:
    """The problems the selector got wrong with a correct candidate in view (see the module)."""
    if selector.failure is not None or len(selector.scores) != len(design.problems):
        return []
    lost = oracle.values - selector.values
    cases = []
    for i in np.argsort(-lost, kind="stable"):
        if lost[i] <= 0:
            break
        found = _losing_subset(design, int(i), selector.scores[i])
        if found is None:
            continue
        r, idx, picked = found
        cases.append(
            FailureCase(
                task_id=design.problems[i].task_id,
                entry_point=design.problems[i].task.entry_point,
                lost=float(lost[i]),
                candidates=len(idx),
                subset=r,
                groups=_groups(design, int(i), idx, picked),
            )
        )
        if len(cases) == CASES:
            break
    return cases


def _losing_subset(
    design: Design, i: int, scores: tuple[np.ndarray, ...]
) -> tuple[int, np.ndarray, int] | None:
    """(which subset, its candidates, the one picked) for the problem's first subset holding
    a correct candidate on which the pick (the first of the tied top set) is wrong."""
    data = design.problems[i]
    for r, (idx, got) in enumerate(zip(design.subsets[i], scores, strict=False)):
        chosen = int(idx[tied_set(got)[0]])
        if not data.correct[chosen] and data.correct[idx].any():
            return r, idx, chosen
    return None


def _groups(design: Design, i: int, idx: np.ndarray, picked: int) -> list[BehaviourGroup]:
    s = design.problems[i].signals
    passes, codes, ok = s.passes[idx], s.output_codes[idx], s.output_ok[idx]
    same = (codes[:, None, :] == codes[None, :, :]) & ok[:, None, :] & ok[None, :, :]
    pairs = max((len(idx) - 1) * codes.shape[1], 1)
    agreement = (same.sum(axis=(1, 2)) - ok.sum(axis=1)) / pairs  # without itself
    members: dict[bytes, list[int]] = {}
    for row in range(len(idx)):
        members.setdefault(passes[row].tobytes() + codes[row].tobytes(), []).append(row)
    groups = [
        BehaviourGroup(
            size=len(rows),
            tests_passed=float(passes[rows[0]] @ s.weights),
            tests_total=float(s.weights.sum()),
            output_agreement=float(agreement[rows].mean()),
            examples_passed=int(s.example_pass[idx[rows[0]]].sum()),
            examples_total=s.example_pass.shape[1],
            picked=any(int(idx[r]) == picked for r in rows),
            correct=int(s.correct[idx[rows]].sum()),
        )
        for rows in members.values()
    ]
    groups.sort(key=lambda g: -g.size)
    shown = groups[:GROUPS]
    shown += [g for g in groups[GROUPS:] if g.picked or g.correct][: GROUPS // 2]
    return shown
