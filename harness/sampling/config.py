"""The sampling config (``experiments/sampling.toml``): how the model is sampled, read by the
one loader (``harness/config.py``) into :class:`SamplingConfig`.

Every error names the file and the key, e.g. ``experiments/sampling.toml: key 'temperature'
must be a number between 0 and 2``. Every key is documented in ``experiments/sampling.toml``.
Which model is sampled, where, and at what cost is not set here but in the run config's
``[sampler]`` table (:class:`~harness.config.SamplerConfig`, which says where the line runs): a
sampling config that sets one of its keys is refused, naming the key and where it lives now.

A pool is sampled under a :class:`SamplingSpec`, the two together. Its *cache key* is a hash of
every setting of either that can change what is sampled, the model included; the sampler's
limits (``concurrency``, ``retries``, ``backoff``, ``request_timeout``) only change how fast or
how patiently samples are fetched and are left out, so tuning them never re-samples a pool.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import jinja2.meta
from pydantic import AfterValidator, Field, model_validator

from harness.config import SamplerConfig
from harness.configload import load_model, read_toml
from harness.configmodel import ConfigModel, Strings, refuse

TEMPLATE_VARIABLES = frozenset({"prompt", "entry_point", "task_id"})
CODET_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")  # Codex/CodeT stop sequences
# Defaults of the chat endpoint, where a prompt is an instruction and no stop sequence applies.
CHAT_TEMPLATE = (
    "Complete this Python function. Answer with the whole function in one ```python block."
    "\n\n```python\n{{ prompt }}```\n"
)
CHAT_TEST_TEMPLATE = (
    "Write assert statements, one per line, that check this Python function "
    "`{{ entry_point }}` on typical and edge-case inputs.\n\n```python\n{{ prompt }}```\n"
)
OPERATIONAL = ("concurrency", "retries", "backoff", "request_timeout")  # never change samples
LOCKED = frozenset(SamplerConfig.model_fields)  # the run config's [sampler]: never set here


@dataclass(frozen=True)
class GenParams:
    """The generation settings of one batch of requests (candidates or self-tests)."""

    purpose: str  # candidates | self_tests
    template: str
    n: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    stop: tuple[str, ...]

    def request_params(self) -> dict[str, Any]:
        """The sampling parameters as an OpenAI-style request names them."""
        return {
            "n": self.n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }


def _parses(template: str) -> str:
    try:
        parsed = jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise refuse(f"is not a valid jinja2 template ({exc.message})") from None
    unknown = jinja2.meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES
    if unknown:
        allowed = ", ".join(sorted(TEMPLATE_VARIABLES))
        raise refuse(f"uses unknown variable(s) {sorted(unknown)} (known: {allowed})")
    return template


Template = Annotated[str, Field(min_length=1), AfterValidator(_parses)]  # jinja2, known variables
AtLeastOne = Annotated[int, Field(ge=1)]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]


class SelfTestConfig(ConfigModel):
    """Model-generated tests, CodeT-style: ``n`` samples per problem, asserts extracted."""

    n: Annotated[int, Field(ge=0, le=1000)] = 10
    template: Template = (
        "{{ prompt }}    pass\n\n\n# check the correctness of {{ entry_point }}\nassert "
    )
    temperature: Temperature = 0.8
    top_p: TopP = 0.95
    max_tokens: AtLeastOne = 300
    stop: Strings = CODET_STOP
    max_asserts: AtLeastOne = 5


class SamplingConfig(ConfigModel):
    """How the model is sampled (``experiments/sampling.toml``): research, bounded by the
    sampling budget. Any key of the run config's ``[sampler]`` is refused here.

    With ``endpoint = "chat"`` the defaults of ``template`` and ``stop``, and of the
    ``[self_tests]`` ``template`` and ``stop``, are an instruction and no stop sequences.
    """

    endpoint: Literal["text", "chat"] = "text"
    template: Template = "{{ prompt }}"
    temperature: Temperature = 0.8
    top_p: TopP = 0.95
    max_tokens: AtLeastOne = 300
    n: Annotated[int, Field(ge=1, le=10000)] = 20
    seed: Annotated[int, Field(ge=0)] = 0
    stop: Strings = CODET_STOP
    self_tests: SelfTestConfig = Field(default_factory=SelfTestConfig)

    @model_validator(mode="before")
    @classmethod
    def _research_only(cls, data: Any) -> Any:
        for key in data if isinstance(data, dict) else ():
            if key in LOCKED:
                raise refuse(
                    f"may only be set in the run config, as 'sampler.{key}': which model is "
                    "sampled, where and at what cost is not research",
                    key,
                )
        return data

    @model_validator(mode="before")
    @classmethod
    def _chat_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("endpoint") != "chat":
            return data
        data = {"template": CHAT_TEMPLATE, "stop": (), **data}
        tests = data.get("self_tests", {})
        if isinstance(tests, dict):
            data["self_tests"] = {"template": CHAT_TEST_TEMPLATE, "stop": (), **tests}
        return data

    def candidate_params(self) -> GenParams:
        return GenParams(
            "candidates",
            self.template,
            self.n,
            self.temperature,
            self.top_p,
            self.max_tokens,
            self.seed,
            self.stop,
        )

    def self_test_params(self) -> GenParams:
        t = self.self_tests
        return GenParams(
            "self_tests",
            t.template,
            t.n,
            t.temperature,
            t.top_p,
            t.max_tokens,
            self.seed,
            t.stop,
        )


@dataclass(frozen=True)
class SamplingSpec:
    """What a pool is sampled under: how (``sampling``, from ``experiments/sampling.toml``) and
    from which model, where (``sampler``, the run config's ``[sampler]``)."""

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    @property
    def simulated(self) -> bool:
        return self.sampler.simulated

    def to_dict(self) -> dict[str, Any]:
        """Every setting of both, as plain JSON-able values in one table (what the pool's meta
        records, as pools have always recorded it: ``engine_args`` at the top)."""
        data = self.sampler.model_dump(exclude={"vllm"}) | self.sampling.model_dump()
        data["engine_args"] = dict(self.sampler.engine_args)
        return data

    def key(self) -> str:
        """Hash of everything that can change the samples (see the module docstring)."""
        data = self.to_dict()
        for name in OPERATIONAL:
            data.pop(name)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load_sampling_config(path: Path) -> SamplingConfig:
    """Read and validate a sampling config; errors name the file and the key."""
    return parse_sampling_config(read_toml(path), path)


def parse_sampling_config(data: dict[str, Any], path: Path | str) -> SamplingConfig:
    """Validate a parsed TOML table (see :func:`load_sampling_config`)."""
    return load_model(data, SamplingConfig, path)


def render(template: str, prompt: str, entry_point: str, task_id: str) -> str:
    """Render a prompt template (variables: ``prompt``, ``entry_point``, ``task_id``)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(prompt=prompt, entry_point=entry_point, task_id=task_id)
