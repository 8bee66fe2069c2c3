"""The offline proposer: Optuna tunes the values of the search space (``agent/search_space.py``).

The study (named by the run's tag) lives in its own SQLite file,
``WINNOW_HOME/optuna/<worktree>.sqlite``, and is driven with Optuna's ask/tell interface: each
proposal is one asked trial, edited into the files in place; the loop tells it the dev sel@k
the proposal reached (0, sel@k's floor, when it crashed or was invalid, with the user attribute
``floor``; a failure when it was interrupted) and what it became.

Trial numbers are not experiment numbers (the start is trial 0, and a repeat of earlier values
is a trial told at once, without an experiment), so every trial carries the link as user
attributes: ``experiment`` (its number in the run), ``commit`` and ``status``; a repeat carries
``repeat_of`` (the earlier trial). A stepped range's values are the grid's (``0.85``, not
Optuna's ``0.8500000000000001``), in the study as in the files; values told are rounded alike.

"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna

from agent.proposal import Context, NothingNew, Outcome, Proposal
from agent.search_space import (
    SPACE_FILE,
    Param,
    assignments,
    inside,
    load_space,
    read_value,
    significant,
    space_size,
    write_value,
)
from harness.errors import InputError
from harness.results import ExperimentStatus

ASKS = 100  # asks in a row that only repeat earlier trials before the space counts as exhausted
RANDOM_AFTER = 3  # asks in a row that repeated before the next is drawn at random ...
ENUMERATED = 200_000  # ... from the untried assignments, when the grid holds no more than this


# -- the proposer -------------------------------------------------------------------------------


class GridSampler(optuna.samplers.TPESampler):
    """TPE whose values on a stepped float range are the grid's: Optuna computes them as
    ``low + i * step`` in floating point (0.8500000000000001); the study stores 0.85. Values
    come from the joint (multivariate) model or, for a knob outside it, one at a time."""

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, optuna.distributions.BaseDistribution],
    ) -> dict[str, Any]:
        values = super().sample_relative(study, trial, search_space)
        return {name: _on_grid(v, search_space[name]) for name, v in values.items()}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        value = super().sample_independent(study, trial, param_name, param_distribution)
        return _on_grid(value, param_distribution)


def _on_grid(value: Any, d: optuna.distributions.BaseDistribution) -> Any:
    stepped = isinstance(d, optuna.distributions.FloatDistribution) and d.step is not None
    return significant(value) if stepped else value


# A selector the checks refuse, or that crashes, is worth nothing to ship: its trial is told the
# floor of sel@k, so TPE learns to avoid the values behind it. Told as a failure, TPE ignores the
# trial, and a choice that can never be wired (EXAMPLES = "filter" on prompts without examples)
# kept being drawn half the time: 14 of the first 17 experiments of a blind night were invalid.
# TPE alone still drew such a choice in a third of its proposals, so a choice refused DEAD_AFTER
# times with whatever other knobs it met, and never measured, is no longer proposed: a trial that
# draws it is told as a failure (user attribute ``pruned``; no evidence) and asked again with a live
# choice of that knob in its place, drawn by the proposer's seeded generator, the rest as TPE drew.
FLOOR = 0.0
REFUSED = (ExperimentStatus.INVALID, ExperimentStatus.CRASHED)
DEAD_AFTER = 3


class SearchProposer:
    name = "search"

    def __init__(self, storage: Path, tag: str, seed: int):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage.parent.mkdir(parents=True, exist_ok=True)
        self.study = optuna.create_study(
            study_name=tag,
            storage=f"sqlite:///{storage}",
            direction="maximize",
            load_if_exists=True,
            sampler=GridSampler(seed=seed),
        )
        self._asked: dict[int, optuna.trial.Trial] = {}  # trial number -> asked, not yet told
        self._rng = random.Random(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state == optuna.trial.TrialState.RUNNING:  # asked, never told: killed
                self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    def seed_with(self, files: dict[str, str], value: float | None, outcome: Outcome) -> None:
        """Tell the study the starting point's values and score (once per study)."""
        if self.study.get_trials(deepcopy=False) or value is None:
            return
        params = load_space(files[SPACE_FILE])
        values: dict[str, Any] = {}
        for p in params:
            if p.active(values):
                values[p.name] = read_value(files[p.file], p)
        distributions = {p.name: p.distribution for p in params if p.name in values}
        try:
            trial = optuna.trial.create_trial(
                params=values,
                distributions=distributions,
                value=significant(value),
                user_attrs=_attributes(outcome),
            )
        except ValueError:
            return  # the starting values lie outside the space: nothing to seed with
        self.study.add_trial(trial)

    def propose(self, context: Context) -> Proposal:
        if SPACE_FILE not in context.files:
            raise InputError("the search proposer needs a search space", SPACE_FILE)
        params = load_space(context.files[SPACE_FILE])
        for p in params:
            if p.file not in context.files:
                raise InputError(f"{p.name}: no such file {p.file}", SPACE_FILE)
        trial = self._ask_new(params)
        files: dict[str, str] = {}
        for p in params:
            if p.name in trial.params:  # a knob that does not matter keeps the file's value
                text = files.get(p.file, context.files[p.file])
                files[p.file] = write_value(text, p, trial.params[p.name])
        shown = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        return Proposal(
            hypothesis=f"search trial {trial.number}: {shown}",
            files=files,
            proposer=self.name,
            trial=trial.number,
        )

    def _ask_new(self, params: list[Param]) -> optuna.trial.Trial:
        """A trial whose values were never tried. A repeat is told the earlier outcome at once
        (it is not an experiment: the same files were already evaluated) and asked again."""
        done: dict[str, optuna.trial.FrozenTrial] = {}  # the first trial of each assignment
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
                done.setdefault(_key(t.params), t)
        size = space_size(params)
        if size is not None and sum(inside(t.params, params) for t in done.values()) >= size:
            raise NothingNew(f"all {size} combinations of {SPACE_FILE} were tried")
        live = _live(params, _dead_choices(done.values(), params))
        misses = 0  # asks in a row that drew an earlier trial's values or a dead choice
        for _ in range(ASKS):
            if misses == RANDOM_AFTER and size is not None and size <= ENUMERATED:
                untried = [
                    a
                    for a in assignments(params)
                    if _key(a) not in done
                    and not any(n in live and v not in live[n] for n, v in a.items())
                ]
                if not untried:
                    raise NothingNew(
                        f"every combination of {SPACE_FILE} that is not dead was tried"
                    )
                self.study.enqueue_trial(self._rng.choice(untried), skip_if_exists=False)
            trial = self._ask(random_draw=misses >= RANDOM_AFTER)
            misses += 1
            chosen: dict[str, Any] = {}
            for p in params:  # define-by-run: a knob is asked only when it matters
                if p.active(chosen):
                    chosen[p.name] = p.suggest(trial)
            swapped = {
                name: self._rng.choice(live[name])
                for name, value in chosen.items()
                if name in live and value not in live[name]
            }
            if swapped:  # a dead choice: no evidence, asked again with a live one in its place
                trial.set_user_attr(
                    "pruned", ", ".join(f"{n}={_short(chosen[n])}" for n in swapped)
                )
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self.study.enqueue_trial({**chosen, **swapped}, skip_if_exists=False)
                continue
            earlier = done.get(_key(trial.params))
            if earlier is None:
                self._asked[trial.number] = trial
                return trial
            # Told as a failure: a copy of the earlier value would count one measurement twice,
            # and TPE, fed copies of its best point, collapsed onto it until every ask repeated.
            trial.set_user_attr("repeat_of", earlier.number)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise NothingNew(f"{ASKS} asks in a row repeated earlier trials of {SPACE_FILE}")

    def _ask(self, random_draw: bool) -> optuna.trial.Trial:
        """TPE's next trial, or one drawn at random (an untried assignment of a finite grid is
        enqueued first): on a plateau (many values, one score) TPE's model does not move when a
        repeat is told as a failure, so it drew the same values again and again (a blind night
        ended after 121 experiments, 100 asks in a row repeating)."""
        if not random_draw:
            return self.study.ask()
        tpe, self.study.sampler = self.study.sampler, self._random
        try:
            return self.study.ask()
        finally:
            self.study.sampler = tpe

    def tell(self, proposal: Proposal, value: float | None, outcome: Outcome) -> None:
        if proposal.trial is None:
            return
        trial = self._asked.pop(proposal.trial)
        for key, attribute in _attributes(outcome).items():
            trial.set_user_attr(key, attribute)
        if value is None and outcome.status in REFUSED:
            trial.set_user_attr("floor", True)
            self.study.tell(trial, FLOOR)
        elif value is None:  # not measured (interrupted): no evidence about these values
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, significant(value))


def _dead_choices(
    trials: Iterable[optuna.trial.FrozenTrial], params: list[Param]
) -> set[tuple[str, str]]:
    """The choices every one of whose DEAD_AFTER or more trials the checks refused or that
    crashed (the floor), each as (name, key): a value no other knob has made work."""
    choices = {p.name for p in params if p.choices is not None}
    tried: dict[tuple[str, str], list[bool]] = {}
    for t in trials:
        if t.state != optuna.trial.TrialState.COMPLETE:
            continue
        for name, value in t.params.items():
            if name in choices:
                tried.setdefault((name, json.dumps(value)), []).append(
                    bool(t.user_attrs.get("floor"))
                )
    return {c for c, refused in tried.items() if len(refused) >= DEAD_AFTER and all(refused)}


def _live(params: list[Param], dead: set[tuple[str, str]]) -> dict[str, list[Any]]:
    """The live choices of each knob that has dead ones. A knob whose every choice is dead is the
    end of the search: nothing it could take was ever measured."""
    live: dict[str, list[Any]] = {}
    for p in params:
        if p.choices is not None and any((p.name, json.dumps(c)) in dead for c in p.choices):
            live[p.name] = [c for c in p.choices if (p.name, json.dumps(c)) not in dead]
            if not live[p.name]:
                raise NothingNew(
                    f"every choice of {p.name} in {SPACE_FILE} was refused by the checks or "
                    f"crashed, each {DEAD_AFTER} times or more"
                )
    return live


def _attributes(outcome: Outcome) -> dict[str, Any]:
    """The experiment a trial became, as the trial's user attributes."""
    return {
        "experiment": outcome.number,
        "commit": outcome.commit,
        "status": str(outcome.status),
    }


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)
