"""The offline proposer's search space, ``experiments/search_space.toml``, and its values edited in
place in the files it names.

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
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Annotated, Any

import optuna
from pydantic import Field, field_validator, model_validator

from agent.proposal import outside_experiments
from harness.configload import load_model, parse_toml
from harness.configmodel import ConfigModel, refuse
from harness.errors import InputError

SPACE_FILE = "experiments/search_space.toml"


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


def assignments(params: list[Param], chosen: dict[str, Any] | None = None) -> Iterator[dict]:
    """Every assignment of a finite space, in order (a knob that does not matter left out)."""
    chosen = chosen or {}
    for i, p in enumerate(params):
        if not p.active(chosen):
            continue
        for value in _grid(p):
            yield from assignments(params[i + 1 :], chosen | {p.name: value})
        return
    yield chosen


def _grid(p: Param) -> list[Any]:
    if p.choices is not None:
        return list(p.choices)
    d = p.distribution
    count = _values(d)
    assert count is not None, f"{p.name} is a continuous range"
    if isinstance(d, optuna.distributions.IntDistribution):
        return list(range(d.low, d.high + 1, d.step))
    assert isinstance(d, optuna.distributions.FloatDistribution) and d.step is not None
    return [significant(d.low + i * d.step) for i in range(count)]


def inside(values: dict[str, Any], params: list[Param]) -> bool:
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
