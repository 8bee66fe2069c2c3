"""The offline proposer: Optuna tunes the values listed in ``experiments/search_space.toml``.

No LLM and no network: it is both the no-network mode and the baseline an LLM proposer has to
beat. Each entry of the search space names a file under ``experiments/``, a top-level constant
(Python) or key (TOML: ``key`` at the top level, before any table; ``table.key`` in ``[table]``)
in it, and its choices or range. The file is read by the one loader (``harness/config.py``)
into :class:`SearchSpace`, unknown keys refused::

    [[param]]
    file = "experiments/selector.py"
    name = "SIZE_POWER"
    low = 0.0
    high = 1.5          # optional: log = true, step = 0.1; ints when low/high are integers

    [[param]]
    file = "experiments/selector.py"
    name = "MIN_TEST_VOTES"
    choices = [1, 2, 3]

    [[param]]                       # a knob that matters only under one strategy
    file = "experiments/selector.py"
    name = "EXAMPLE_POWER"
    low = 0.5
    high = 3.0
    when = { EXAMPLES = "weight" }  # asked only when an earlier choice has this value (or one
                                    # of a list of values); otherwise the file keeps its value

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
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import optuna
from pydantic import Field, field_validator, model_validator

from agent.proposal import Context, NothingNew, Outcome, Proposal, outside_experiments
from harness.configload import load_model, parse_toml
from harness.configmodel import ConfigModel, refuse
from harness.errors import InputError
from harness.results import ExperimentStatus

SPACE_FILE = "experiments/search_space.toml"
ASKS = 100  # asks in a row that only repeat earlier trials before the space counts as exhausted


class Param(ConfigModel):
    """One ``[[param]]``: a value in a file under ``experiments/`` and the values it may take."""

    file: str
    name: str  # Python: a top-level NAME; TOML: a top-level key, or "table.key"
    choices: Annotated[list[bool | int | float | str], Field(min_length=1)] | None = None
    low: int | float | None = None
    high: int | float | None = None
    step: Annotated[int | float, Field(gt=0)] | None = None
    log: bool = False
    # Asked only when every named earlier parameter has this value (or one of these values).
    when: dict[str, bool | int | float | str | list[bool | int | float | str]] | None = None

    @field_validator("file")
    @classmethod
    def _under_experiments(cls, file: str) -> str:
        if outside_experiments([file]):
            raise refuse("must be under experiments/")
        return file

    @model_validator(mode="after")
    def _a_space(self) -> Param:
        if self.choices is not None:
            return self
        if self.low is None or self.high is None:
            raise refuse("give 'choices', or numeric 'low' and 'high'")
        if self.low >= self.high:
            raise refuse("'low' must be below 'high'")
        return self

    def active(self, chosen: dict[str, Any]) -> bool:
        """Whether this parameter matters given the values chosen for the earlier ones."""
        for name, wanted in (self.when or {}).items():
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if name not in chosen or chosen[name] not in allowed:
                return False
        return True

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        """Ask the trial for this parameter's value."""
        d = self.distribution
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            return trial.suggest_categorical(self.name, d.choices)
        if isinstance(d, optuna.distributions.IntDistribution):
            return trial.suggest_int(self.name, d.low, d.high, step=d.step, log=d.log)
        assert isinstance(d, optuna.distributions.FloatDistribution)
        return trial.suggest_float(self.name, d.low, d.high, step=d.step, log=d.log)

    @property
    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        low, high, step = self.low, self.high, self.step
        assert low is not None and high is not None
        if (
            isinstance(low, int)
            and isinstance(high, int)
            and (step is None or isinstance(step, int))
        ):
            return optuna.distributions.IntDistribution(low, high, log=self.log, step=step or 1)
        return optuna.distributions.FloatDistribution(
            float(low), float(high), log=self.log, step=step
        )


class SearchSpace(ConfigModel):
    """``experiments/search_space.toml``: one or more ``[[param]]`` tables."""

    param: list[Param]

    @model_validator(mode="before")
    @classmethod
    def _some(cls, data: Any) -> Any:
        if isinstance(data, dict) and not (isinstance(data.get("param"), list) and data["param"]):
            raise refuse("define at least one [[param]] table")
        return data

    @model_validator(mode="after")
    def _conditions_name_earlier_choices(self) -> SearchSpace:
        seen: dict[str, Param] = {}
        for i, param in enumerate(self.param, start=1):
            for name, wanted in (param.when or {}).items():
                earlier = seen.get(name)
                if earlier is None or earlier.choices is None:
                    raise refuse(
                        f"param #{i}: key 'when' names {name!r}, which is not an earlier "
                        "parameter with choices"
                    )
                for value in wanted if isinstance(wanted, list) else [wanted]:
                    if value not in earlier.choices:
                        raise refuse(f"param #{i}: key 'when': {value!r} is not a choice of {name}")
            seen[param.name] = param
        return self


def load_space(text: str, where: str = SPACE_FILE) -> list[Param]:
    """The parameters of a search space file's text (``where`` names it in errors)."""
    return load_model(parse_toml(text, where), SearchSpace, where).param


# -- editing values in place --------------------------------------------------------------------


def read_value(text: str, param: Param) -> Any:
    """The current value of a parameter in its file's text."""
    match = _locate(text, param)
    literal = text[match[0] : match[1]]
    if param.file.endswith(".toml"):
        return tomllib.loads(f"v = {literal}")["v"]
    import ast

    return ast.literal_eval(literal)


def significant(value: float) -> float:
    """``value`` to 10 significant digits: step arithmetic leaves 0.30000000000000004, sums of
    per-problem values 0.42000000000000004; what is written and told is 0.3 and 0.42."""
    return float(f"{value:.10g}")


def write_value(text: str, param: Param, value: Any) -> str:
    start, end = _locate(text, param)
    if isinstance(value, float):
        value = significant(value)
    literal = json.dumps(value) if param.file.endswith(".toml") else repr(value)
    if isinstance(value, str) and text[start] == '"':  # keep the file's quotes
        literal = json.dumps(value)
    return text[:start] + literal + text[end:]


def _locate(text: str, param: Param) -> tuple[int, int]:
    """Start and end of the value's literal: a top-level ``NAME = literal`` (Python) or a
    ``key = literal`` line in the right TOML table — a ``name`` without a table is a top-level
    key (before the first table header), ``table.key`` the key in ``[table]``."""
    if param.file.endswith(".toml"):
        section, _, key = param.name.rpartition(".")
        region_start = 0
        if section:
            header = re.search(rf"^\[{re.escape(section)}\][ \t]*(#.*)?$", text, re.M)
            if header is None:
                raise InputError(f"no [{section}] table for {param.name}", param.file)
            region_start = header.end()
        following = re.search(r"^\[", text[region_start:], re.M)  # the next table header
        region_end = region_start + following.start() if following else len(text)
        pattern = rf"^{re.escape(key)}\s*=\s*(\"[^\"\n]*\"|[^\s#]+)"
        found = list(re.finditer(pattern, text[region_start:region_end], re.M))
        offset = region_start
    else:
        pattern = rf"^{re.escape(param.name)}\s*=\s*(\"[^\"\n]*\"|'[^'\n]*'|[^\s#]+)"
        found = list(re.finditer(pattern, text, re.M))
        offset = 0
    if len(found) != 1:
        raise InputError(
            f"expected exactly one assignment of {param.name}, found {len(found)}", param.file
        )
    return offset + found[0].start(1), offset + found[0].end(1)


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
        if size is not None and sum(_inside(t.params, params) for t in done.values()) >= size:
            raise NothingNew(f"all {size} combinations of {SPACE_FILE} were tried")
        live = _live(params, _dead_choices(done.values(), params))
        for _ in range(ASKS):
            trial = self.study.ask()
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


def _values(d: optuna.distributions.BaseDistribution) -> int | None:
    """How many values one distribution holds; None when it is continuous."""
    if isinstance(d, optuna.distributions.CategoricalDistribution):
        return len(d.choices)
    assert isinstance(
        d, optuna.distributions.IntDistribution | optuna.distributions.FloatDistribution
    )
    step = d.step
    return None if step is None else round((d.high - d.low) / step) + 1


def space_size(params: list[Param], chosen: dict[str, Any] | None = None) -> int | None:
    """How many distinct assignments the space holds (a knob that does not matter counts
    once); None when an active range is continuous."""
    chosen = chosen or {}
    for i, p in enumerate(params):
        if not p.active(chosen):
            continue
        rest = params[i + 1 :]
        if p.choices is not None:
            sizes = [space_size(rest, chosen | {p.name: c}) for c in p.choices]
            return None if None in sizes else sum(s for s in sizes if s is not None)
        count, after = _values(p.distribution), space_size(rest, chosen | {p.name: None})
        return None if count is None or after is None else count * after
    return 1


def _inside(values: dict[str, Any], params: list[Param]) -> bool:
    """Whether a trial's values are a point of this space (the seeded start may not be)."""
    chosen: dict[str, Any] = {}
    for p in params:
        if not p.active(chosen):
            continue
        if p.name not in values:
            return False
        d = p.distribution
        try:
            if not d._contains(d.to_internal_repr(values[p.name])):
                return False
        except ValueError:  # a value a categorical does not hold
            return False
        chosen[p.name] = values[p.name]
    return chosen.keys() == values.keys()


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)
