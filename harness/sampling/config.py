"""The sampling config (``experiments/sampling.toml``): validated into typed settings.

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
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from harness.errors import InputError

BACKENDS = ("simulated", "openai", "vllm")
ENDPOINTS = ("text", "chat")
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


@dataclass(frozen=True)
class SelfTestConfig:
    """Model-generated tests, CodeT-style: ``n`` samples per problem, asserts extracted."""

    n: int = 10
    template: str = (
        "{{ prompt }}    pass\n\n\n# check the correctness of {{ entry_point }}\nassert "
    )
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 300
    stop: tuple[str, ...] = CODET_STOP
    max_asserts: int = 5


@dataclass(frozen=True)
class SamplingConfig:
    """How a pool is sampled. ``path`` is where it was read from (for messages only)."""

    backend: str = "simulated"
    model: str = "simulated"
    api_base: str | None = None
    api_key_env: str | None = None
    endpoint: str = "text"
    template: str = "{{ prompt }}"
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 300
    n: int = 20
    seed: int = 0
    stop: tuple[str, ...] = CODET_STOP
    params: float | None = None
    concurrency: int = 8
    retries: int = 5
    backoff: float = 1.0
    request_timeout: float = 600.0
    self_tests: SelfTestConfig = field(default_factory=SelfTestConfig)
    engine_args: dict[str, Any] = field(default_factory=dict)
    path: str = field(default="", compare=False)

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
        """Every setting, as plain JSON-able values (what the pool's meta records)."""
        data = asdict(self)
        data.pop("path")
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


# -- validation -----------------------------------------------------------------------------------


class _Reader:
    """Pops checked keys off one TOML table; complains about what is left."""

    def __init__(self, table: dict[str, Any], path: Path | str, prefix: str = ""):
        self.table = dict(table)
        self.path = path
        self.prefix = prefix

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"key '{self.prefix}{key}' {message}", self.path)

    def number(
        self, key: str, default: float, low: float, high: float, low_open: bool = False
    ) -> float:
        value = self.table.pop(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (low < value if low_open else low <= value) and value <= high
        if not ok:
            span = f"between {low:g} and {high:g}"
            if low_open:
                span = f"above {low:g} and at most {high:g}"
            raise self.fail(key, f"must be a number {span}")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int | None = None) -> int:
        value = self.table.pop(key, default)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
        if not ok or (high is not None and value > high):
            span = f"between {low} and {high}" if high is not None else f"of at least {low}"
            raise self.fail(key, f"must be an integer {span}")
        return int(value)

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self.table.pop(key, default)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(repr(o) for o in options)}")
        return str(value)

    def text(self, key: str, default: str | None, pattern: str | None = None) -> str | None:
        value = self.table.pop(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(key, f"must match {pattern}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.table.pop(key, list(default))
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(value)

    def template(self, key: str, default: str) -> str:
        value = self.table.pop(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty jinja2 template string")
        try:
            parsed = jinja2.Environment().parse(value)
        except jinja2.TemplateSyntaxError as exc:
            raise self.fail(key, f"is not a valid jinja2 template ({exc.message})") from None
        unknown = jinja2.meta.find_undeclared_variables(parsed) - TEMPLATE_VARIABLES
        if unknown:
            allowed = ", ".join(sorted(TEMPLATE_VARIABLES))
            raise self.fail(key, f"uses unknown variable(s) {sorted(unknown)} (known: {allowed})")
        return value

    def table_of(self, key: str) -> dict[str, Any]:
        value = self.table.pop(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def done(self) -> None:
        if self.table:
            raise self.fail(sorted(self.table)[0], "is not a known setting")


def load_sampling_config(path: Path) -> SamplingConfig:
    """Read and validate a sampling config; errors name the file and the key."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path) from None
    return parse_sampling_config(data, path)


def parse_sampling_config(data: dict[str, Any], path: Path | str) -> SamplingConfig:
    """Validate a parsed TOML table (see :func:`load_sampling_config`)."""
    d = SamplingConfig()
    r = _Reader(data, path)
    endpoint = r.choice("endpoint", d.endpoint, ENDPOINTS)
    chat = endpoint == "chat"
    tests = _Reader(r.table_of("self_tests"), path, "self_tests.")
    t = SelfTestConfig()
    self_tests = SelfTestConfig(
        n=tests.integer("n", t.n, 0, 1000),
        template=tests.template("template", CHAT_TEST_TEMPLATE if chat else t.template),
        temperature=tests.number("temperature", t.temperature, 0.0, 2.0),
        top_p=tests.number("top_p", t.top_p, 0.0, 1.0, low_open=True),
        max_tokens=tests.integer("max_tokens", t.max_tokens, 1),
        stop=tests.strings("stop", () if chat else t.stop),
        max_asserts=tests.integer("max_asserts", t.max_asserts, 1),
    )
    tests.done()
    vllm = _Reader(r.table_of("vllm"), path, "vllm.")
    engine_args = vllm.table_of("engine_args")
    vllm.done()
    params = r.table.pop("params", None)
    if params is not None and (
        not isinstance(params, int | float) or isinstance(params, bool) or params <= 0
    ):
        raise r.fail("params", "must be a positive number (the model's parameter count)")
    config = SamplingConfig(
        backend=r.choice("backend", d.backend, BACKENDS),
        model=r.text("model", d.model) or d.model,
        api_base=r.text("api_base", None, r"https?://\S+"),
        api_key_env=r.text("api_key_env", None, r"[A-Za-z_][A-Za-z0-9_]*"),
        endpoint=endpoint,
        template=r.template("template", CHAT_TEMPLATE if chat else d.template),
        temperature=r.number("temperature", d.temperature, 0.0, 2.0),
        top_p=r.number("top_p", d.top_p, 0.0, 1.0, low_open=True),
        max_tokens=r.integer("max_tokens", d.max_tokens, 1),
        n=r.integer("n", d.n, 1, 10000),
        seed=r.integer("seed", d.seed, 0),
        stop=r.strings("stop", () if chat else d.stop),
        params=None if params is None else float(params),
        concurrency=r.integer("concurrency", d.concurrency, 1, 1024),
        retries=r.integer("retries", d.retries, 0, 100),
        backoff=r.number("backoff", d.backoff, 0.0, 600.0),
        request_timeout=r.number("request_timeout", d.request_timeout, 0.0, 86400.0, True),
        self_tests=self_tests,
        engine_args=engine_args,
        path=str(path),
    )
    r.done()
    return config


def render(template: str, prompt: str, entry_point: str, task_id: str) -> str:
    """Render a prompt template (variables: ``prompt``, ``entry_point``, ``task_id``)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template).render(prompt=prompt, entry_point=entry_point, task_id=task_id)
