"""The sampling config (``experiments/sampling.toml``): read by the one loader
(``harness/config.py``) into :class:`SamplingConfig`.

Every error names the file and the key, e.g. ``experiments/sampling.toml: key 'temperature'
must be a number between 0 and 2``. Every key is documented in ``experiments/sampling.toml``.

The *cache key* of a config is a hash of every key that can change what is sampled; the keys
that only change how fast or how patiently it is fetched (``concurrency``, ``retries``,
``request_timeout``) are left out, so tuning them never re-samples a pool.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import jinja2.meta
from pydantic import AfterValidator, Field, PrivateAttr, ValidationInfo, model_validator

from harness.config import load_model, read_toml
from harness.configmodel import ConfigModel, NonEmptyStr, Strings, refuse

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


class VllmConfig(ConfigModel):
    """The ``[vllm]`` table: for the vllm backend only."""

    engine_args: dict[str, Any] = Field(default_factory=dict)  # extra vllm.LLM arguments


class SamplingConfig(ConfigModel):
    """How a pool is sampled. ``path`` is where it was read from (for messages only: two
    configs with the same settings are equal wherever they were read from).

    With ``endpoint = "chat"`` the defaults of ``template`` and ``stop``, and of the
    ``[self_tests]`` ``template`` and ``stop``, are an instruction and no stop sequences.
    """

    backend: Literal["simulated", "openai", "vllm"] = "simulated"
    model: NonEmptyStr = "simulated"
    api_base: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    api_key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    endpoint: Literal["text", "chat"] = "text"
    template: Template = "{{ prompt }}"
    temperature: Temperature = 0.8
    top_p: TopP = 0.95
    max_tokens: AtLeastOne = 300
    n: Annotated[int, Field(ge=1, le=10000)] = 20
    seed: Annotated[int, Field(ge=0)] = 0
    stop: Strings = CODET_STOP
    params: Annotated[float, Field(gt=0)] | None = None  # the model's parameter count
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    retries: Annotated[int, Field(ge=0, le=100)] = 5
    backoff: Annotated[float, Field(ge=0, le=600)] = 1.0
    request_timeout: Annotated[float, Field(gt=0, le=86400)] = 600.0
    self_tests: SelfTestConfig = Field(default_factory=SelfTestConfig)
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    _path: str = PrivateAttr("")

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

    @model_validator(mode="after")
    def _remember_path(self, info: ValidationInfo) -> SamplingConfig:
        path = (info.context or {}).get("path")
        self._path = "" if path is None else str(path)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SamplingConfig):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # engine_args is a dict

    @property
    def path(self) -> str:
        return self._path

    @property
    def engine_args(self) -> dict[str, Any]:
        return self.vllm.engine_args

    @property
    def simulated(self) -> bool:
        return self.backend == "simulated"

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

    def to_dict(self) -> dict[str, Any]:
        """Every setting, as plain JSON-able values (what the pool's meta records): the
        ``[vllm]`` table's ``engine_args`` at the top, as pools have always recorded it."""
        data = self.model_dump(exclude={"vllm"})
        data["engine_args"] = dict(self.vllm.engine_args)
        return data

    def key(self) -> str:
        """Hash of everything that can change the samples (see the module docstring)."""
        data = self.to_dict()
        for name in OPERATIONAL:
            data.pop(name)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

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
