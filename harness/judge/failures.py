"""Where a selector loses: the error analysis a proposer is shown, and the morning report's
per-problem view.

For the problems where a correct candidate was in the first subset and the selector's pick was
wrong, ordered by what selection lost there (the oracle's value minus the selector's), the
subset's candidates are grouped by behaviour (the same self-tests passed and the same outputs),
and each group is described by its signals: size, self-tests passed, agreement of its outputs
with the other candidates', the prompt's examples it passes, whether the selector picked in it,
and how many of its members are correct. Nothing here names a hidden test; the caller decides
which split it may show.
"""

from __future__ import annotations

import numpy as np

from harness.judge.design import Design
from harness.judge.runners import ArmRun
from harness.results import BehaviourGroup, FailureCase

CASES = 30  # problems described at most (a proposer's prompt shows the first few)
GROUPS = 8  # groups shown per problem at most


def failure_cases(design: Design, selector: ArmRun, oracle: ArmRun) -> list[FailureCase]:
    """The problems the selector got wrong with a correct candidate in view (see the module)."""
    if selector.failure is not None or not selector.picks:
        return []
    lost = oracle.values - selector.values
    cases = []
    for i in np.argsort(-lost, kind="stable"):
        data, subsets, pick = design.problems[i], design.subsets[i], selector.picks[i]
        idx = subsets[0]
        if lost[i] <= 0 or pick.correct or not data.correct[idx].any():
            continue
        picked = next(j for j in idx if data.samples[j].index == pick.pick)
        cases.append(
            FailureCase(
                task_id=data.task_id,
                entry_point=data.task.entry_point,
                lost=float(lost[i]),
                candidates=len(idx),
                groups=_groups(design, int(i), idx, int(picked)),
            )
        )
        if len(cases) == CASES:
            break
    return cases


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
