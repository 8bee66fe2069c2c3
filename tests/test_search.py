"""The offline proposer's study: it never proposes values it already tried, and says so when the
search space has nothing left (a finite grid fully tried)."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from agent.proposal import Context, NothingNew, Outcome
from agent.search_proposer import DEAD_AFTER, FLOOR, SearchProposer
from agent.search_space import SPACE_FILE, load_space, read_value
from harness.errors import InputError
from harness.results import ExperimentStatus
from harness.sampling import load_sampling_config

SELECTOR = "experiments/selector.py"
SPACE = """
[[param]]
file = "experiments/selector.py"
name = "POWER"
low = 0.0
high = 1.0
step = 0.5

[[param]]
file = "experiments/selector.py"
name = "VOTES"
choices = [1, 2]
"""


def became(number: int, status: str = "discarded") -> Outcome:
    """What the loop tells with a value: the experiment a proposal became."""
    return Outcome(number, ExperimentStatus(status), f"c{number:07d}")


def context(power: float = 0.5, votes: int = 1) -> Context:
    files = {SELECTOR: f"POWER = {power}\nVOTES = {votes}\n", SPACE_FILE: SPACE}
    return Context("", "", files, {}, [], None, [])


def test_every_proposal_is_new_until_the_grid_is_exhausted(tmp_path: Path) -> None:
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    proposer.seed_with(context().files, 0.4, became(1, "kept"))  # the start, (0.5, 1): tried
    seen = [(0.5, 1)]
    for i in range(5):  # 3 x 2 = 6 combinations, one of them the start
        proposal = proposer.propose(context())
        text = proposal.files[SELECTOR]
        values = (float(text.split()[2]), int(text.split()[5]))
        assert values not in seen, (i, values, seen)
        seen.append(values)
        proposer.tell(proposal, 0.1 * i if i != 2 else None, became(i + 2))  # one failed
    assert sorted(seen) == [(p, v) for p in (0.0, 0.5, 1.0) for v in (1, 2)]
    with pytest.raises(NothingNew, match="all 6 combinations"):
        proposer.propose(context())


def test_a_reopened_study_remembers_what_it_tried(tmp_path: Path) -> None:
    first = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    for _ in range(6):
        first.tell(proposal := first.propose(context()), 0.5, became(2))
        assert proposal.trial is not None
    again = SearchProposer(tmp_path / "study.sqlite", "t", seed=1)
    with pytest.raises(NothingNew):
        again.propose(context())


def test_a_continuous_range_is_never_called_exhausted(tmp_path: Path) -> None:
    space = SPACE.replace("step = 0.5\n", "")
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = context().files | {SPACE_FILE: space}
    for i in range(8):  # far more than the 2 choices of VOTES alone could give
        proposal = proposer.propose(Context("", "", files, {}, [], None, []))
        proposer.tell(proposal, 0.5, became(i + 2))


SAMPLING = "experiments/sampling.toml"
TWO_TEMPERATURES = """
[[param]]
file = "experiments/sampling.toml"
name = "temperature"
choices = [0.2]

[[param]]
file = "experiments/sampling.toml"
name = "self_tests.temperature"
choices = [1.1]
"""


def test_a_toml_key_without_a_table_is_the_top_level_one(tmp_path: Path) -> None:
    """The shipped sampling.toml sets ``temperature`` at the top level and in ``[self_tests]``
    (a header followed by a comment): each is tuned on its own."""
    text = (Path(__file__).parent.parent / SAMPLING).read_text()
    top, table = load_space(TWO_TEMPERATURES)
    assert read_value(text, top) == 0.8 and read_value(text, table) == 0.8
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = {SAMPLING: text, SPACE_FILE: TWO_TEMPERATURES}
    proposal = proposer.propose(Context("", "", files, {}, [], None, []))
    edited = load_sampling_config(write(tmp_path / "sampling.toml", proposal.files[SAMPLING]))
    assert (edited.temperature, edited.self_tests.temperature) == (0.2, 1.1)
    assert edited.self_tests.top_p == edited.top_p == 0.95  # nothing else moved


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


STRATEGIES = """
[[param]]
file = "experiments/selector.py"
name = "MODE"
choices = ["plain", "weighted"]

[[param]]
file = "experiments/selector.py"
name = "WEIGHT"
choices = [1, 2, 3]
when = { MODE = "weighted" }
"""


def strategies(mode: str = "plain", weight: int = 9) -> Context:
    files = {SELECTOR: f'MODE = "{mode}"\nWEIGHT = {weight}\n', SPACE_FILE: STRATEGIES}
    return Context("", "", files, {}, [], None, [])


def test_a_knob_is_asked_only_under_its_strategy(tmp_path: Path) -> None:
    """MODE x WEIGHT holds 1 + 3 = 4 distinct assignments, not 2 x 3: WEIGHT does not matter
    under "plain", where it keeps the file's value and is not part of the trial."""
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    proposer.seed_with(strategies().files, 0.4, became(1, "kept"))  # the start: MODE = "plain"
    seen = []
    for i in range(3):
        proposal = proposer.propose(strategies())
        text = proposal.files[SELECTOR]
        assert 'MODE = "weighted"' in text and "WEIGHT = 9" not in text  # only the new branch
        seen.append(text)
        proposer.tell(proposal, 0.5, became(i + 2))
    assert len(set(seen)) == 3
    with pytest.raises(NothingNew, match="all 4 combinations"):
        proposer.propose(strategies())


def test_a_condition_must_name_an_earlier_choice() -> None:
    bad = STRATEGIES.replace('when = { MODE = "weighted" }', 'when = { MODE = "heavy" }')
    with pytest.raises(InputError, match="'heavy' is not a choice of MODE"):
        load_space(bad)
    later = STRATEGIES.replace('when = { MODE = "weighted" }', "when = { LATER = 1 }")
    with pytest.raises(InputError, match="'LATER', which is not an earlier parameter"):
        load_space(later)


def test_the_shipped_space_reads_and_starts_at_the_shipped_selector() -> None:
    root = Path(__file__).resolve().parents[1]
    files = {name: (root / name).read_text() for name in (SELECTOR, SPACE_FILE)}
    params = load_space(files[SPACE_FILE])
    chosen: dict[str, object] = {}
    for p in params:
        if p.active(chosen):
            chosen[p.name] = read_value(files[p.file], p)
    assert chosen["GROUP_BY"] == "tests" and chosen["GROUP_SCORE"] == "codet"
    assert chosen["SIZE_POWER"] == 0.5 and chosen["TEST_POWER"] == 1.0


FINE = """
[[param]]
file = "experiments/selector.py"
name = "POWER"
low = 0.0
high = 1.5
step = 0.05
"""


def test_trials_carry_the_experiment_they_became_and_the_grid_values(tmp_path: Path) -> None:
    """Trial numbers drift from experiment numbers (the start is trial 0, a repeat is a trial
    without an experiment): each trial says which experiment it became, its commit and its
    status; a stepped range's values are the grid's in the study as in the file."""
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = {SELECTOR: "POWER = 0.5\nVOTES = 1\n", SPACE_FILE: FINE}
    proposer.seed_with(files, 0.4, became(1, "kept"))
    statuses = ["discarded", "kept", "invalid", "discarded", "crashed"] * 4
    for number, status in enumerate(statuses, start=2):
        proposal = proposer.propose(Context("", "", files, {}, [], None, []))
        value = None if status in ("invalid", "crashed") else 0.1 + 0.2
        proposer.tell(proposal, value, became(number, status))
        written = float(proposal.files[SELECTOR].split()[2])
        assert repr(written) == repr(round(written * 20) / 20)  # 0.85, never 0.8500000000000001
    trials = proposer.study.get_trials(deepcopy=False)
    made = [t for t in trials if "repeat_of" not in t.user_attrs]
    assert [t.user_attrs["experiment"] for t in made] == list(range(1, len(statuses) + 2))
    assert [t.user_attrs["status"] for t in made] == ["kept", *statuses]
    assert all(t.user_attrs["commit"] == f"c{t.user_attrs['experiment']:07d}" for t in made)
    for t in trials:
        assert repr(t.params["POWER"]) == repr(round(t.params["POWER"] * 20) / 20), t.params
        assert t.value is None or repr(t.value) in ("0.0", "0.3", "0.4")  # 0.1 + 0.2: 0.3
    for t in trials:  # a repeat is told at once, as no evidence, and says whose
        if "repeat_of" in t.user_attrs:
            earlier = trials[t.user_attrs["repeat_of"]]
            assert earlier.params == t.params and "experiment" in earlier.user_attrs
            assert t.state == TrialState.FAIL and t.value is None
        else:
            assert t.value is not None


POWER_GRID = """
[[param]]
file = "experiments/selector.py"
name = "POWER"
low = 0.0
high = 2.0
step = 0.05
"""
SIGNAL = (
    POWER_GRID
    + """
[[param]]
file = "experiments/selector.py"
name = "SIGNAL"
choices = ["tests", "absent"]
"""
)


def test_values_the_checks_refuse_are_learned_and_avoided(tmp_path: Path) -> None:
    """SIGNAL = "absent" is always refused by the checks (as the prompt's examples are on a
    suite without any) and "tests" scores by POWER. A refused trial is told sel@k's floor and
    a choice refused three times and never measured is not proposed again. Told as a failure,
    TPE drew it about half the time; told the floor alone, in a third of its proposals."""
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = {SELECTOR: 'POWER = 1.0\nSIGNAL = "tests"\n', SPACE_FILE: SIGNAL}
    proposer.seed_with(files, 0.4, became(1, "kept"))
    drawn = []
    for number in range(2, 27):
        proposal = proposer.propose(Context("", "", files, {}, [], None, []))
        text = proposal.files[SELECTOR]
        drawn.append(text.split('"')[1])
        if drawn[-1] == "absent":
            proposer.tell(proposal, None, became(number, "invalid" if number % 2 else "crashed"))
        else:
            power = float(text.split()[2])
            proposer.tell(proposal, 0.3 + 0.05 * (1 - abs(power - 1.0)), became(number))
    assert drawn.count("absent") == DEAD_AFTER == 3, drawn
    refused = [t for t in proposer.study.get_trials() if t.params.get("SIGNAL") == "absent"]
    made = [t for t in refused if "experiment" in t.user_attrs]
    assert len(made) == 3 and all(t.value == FLOOR == 0.0 and t.user_attrs["floor"] for t in made)
    pruned = [t for t in refused if t not in made]  # drawn again, asked with "tests" instead
    assert pruned and all(t.state == TrialState.FAIL for t in pruned)
    assert all(t.user_attrs["pruned"] == "SIGNAL='absent'" for t in pruned)


def test_a_knob_whose_every_choice_is_refused_ends_the_search(tmp_path: Path) -> None:
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = {SELECTOR: 'POWER = 1.0\nSIGNAL = "tests"\n', SPACE_FILE: SIGNAL}
    for number in range(1, 40):
        try:
            proposal = proposer.propose(Context("", "", files, {}, [], None, []))
        except NothingNew as end:
            assert "every choice of SIGNAL" in str(end) and number > 2 * DEAD_AFTER
            return
        proposer.tell(proposal, None, became(number, "invalid"))
    raise AssertionError("the search went on proposing choices that were all refused")


PLATEAU = (
    POWER_GRID
    + """
[[param]]
file = "experiments/selector.py"
name = "VOTES"
choices = [1, 2, 3]
"""
)


def test_a_plateau_is_searched_to_the_end_of_its_grid(tmp_path: Path) -> None:
    """Every value scores the same (a blind night found 0.374 from many settings): TPE's model
    then draws the same values again and again. Every one of the 123 values is proposed once
    before the space is called exhausted; TPE alone gave up after 65, 100 asks repeating."""
    proposer = SearchProposer(tmp_path / "study.sqlite", "t", seed=0)
    files = {SELECTOR: "POWER = 1.0\nVOTES = 1\n", SPACE_FILE: PLATEAU}
    proposer.seed_with(files, 0.37, became(1, "kept"))
    proposed = {(1.0, 1)}
    with pytest.raises(NothingNew, match="all 123 combinations"):
        for number in range(2, 200):
            proposal = proposer.propose(Context("", "", files, {}, [], None, []))
            text = proposal.files[SELECTOR]
            values = (float(text.split()[2]), int(text.split()[5]))
            assert values not in proposed
            proposed.add(values)
            proposer.tell(proposal, 0.37, became(number))
    assert len(proposed) == 123
