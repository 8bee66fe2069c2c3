"""Failure cases (harness/judge/failures.py): where a selector lost, the subset shown is one on
which it picked wrong with a correct candidate in view, whichever of the problem's subsets that
is, the most lost problems first."""

from __future__ import annotations

from pathlib import Path

from evalkit import open_session, run_eval

LONGEST = (
    "USES = set()\n\n\ndef select(problem, candidates, probe):\n"
    "    return [float(len(c.completion)) for c in candidates]\n"
)


def test_each_case_shows_a_subset_the_selector_got_wrong(tmp_path: Path) -> None:
    selector = tmp_path / "longest.py"
    selector.write_text(LONGEST)
    with open_session(tmp_path / "cache", k=3, repeats=8) as session:
        result = run_eval(session, selector)
    picks = {p.task_id: p.value for p in result.picks if p.arm == "selector"}
    oracle = {p.task_id: p.value for p in result.picks if p.arm == "oracle"}
    lost = {task: oracle[task] - value for task, value in picks.items()}
    cases = result.failures
    assert cases, "the longest completion is often wrong on the tiny pool"
    assert [c.lost for c in cases] == sorted((c.lost for c in cases), reverse=True)
    assert {c.task_id for c in cases} <= {task for task, value in lost.items() if value > 0}
    assert any(c.subset > 0 for c in cases)  # not only the first subset: wherever it lost
    for case in cases:
        assert case.lost == lost[case.task_id] and case.candidates == 3
        picked = [g for g in case.groups if g.picked]
        assert len(picked) == 1 and picked[0].correct < picked[0].size  # it picked wrong ...
        assert any(g.correct > 0 for g in case.groups)  # ... with a correct candidate in view
        assert sum(g.size for g in case.groups) == 3
