"""The loop's own settings: the ``[proposer]`` table of the run config file.

The rest of the file (``[eval]``, ``[budget]``, ``[exec]``, ``[sandbox]``, ``[scorer]``) belongs to
the harness and is validated there. Nothing under ``experiments/`` is ever read as configuration
of the loop, the budget or the checks.

    [proposer]
    kind = "auto"            # auto (llm when a model is set, else search) | llm | search
    model = ""               # litellm model: "hosted_vllm/Qwen2.5-Coder-32B", "openai/gpt-4o-mini"
    api_base = ""            # e.g. "http://127.0.0.1:8000/v1" for a local vllm serve
    api_key_env = ""         # name of the environment variable holding the API key
    temperature = 0.7
    max_tokens = 8192
    timeout = 300.0          # seconds per call
    retries = 4              # transport errors and rate limits, with exponential backoff
    backoff = 2.0            # seconds before the first retry (doubled each time)
    malformed_retries = 2    # fresh calls after an answer that is not a usable proposal
    input_usd_per_mtok = -1  # prices when litellm does not know the model (-1: unknown)
    output_usd_per_mtok = -1
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from harness.config import RunConfig, parse_config
from harness.errors import InputError


@dataclass(frozen=True)
class ProposerConfig:
    kind: str = "auto"
    model: str = ""
    api_base: str = ""
    api_key_env: str = ""
    temperature: float = 0.7
    max_tokens: int = 8192
    timeout: float = 300.0
    retries: int = 4
    backoff: float = 2.0
    malformed_retries: int = 2
    input_usd_per_mtok: float = -1.0
    output_usd_per_mtok: float = -1.0

    def resolved_kind(self) -> str:
        if self.kind == "auto":
            return "llm" if self.model else "search"
        return self.kind


def load_settings(path: Path | None) -> tuple[RunConfig, ProposerConfig]:
    """The run config and the proposer config from one TOML file (defaults when None)."""
    if path is None:
        return RunConfig(), ProposerConfig()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", path) from None
    proposer = _proposer(data.pop("proposer", {}), path)
    return parse_config(data, path), proposer


def _proposer(values: Any, path: Path) -> ProposerConfig:
    if not isinstance(values, dict):
        raise InputError("[proposer] must be a table", path)
    known = {f.name for f in fields(ProposerConfig)}
    defaults = ProposerConfig()
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InputError(f"unknown key proposer.{key}", path)
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise InputError(f"key proposer.{key} must be {expected.__name__}", path)
        checked[key] = value
    config = replace(defaults, **checked)
    if config.kind not in ("auto", "llm", "search"):
        raise InputError("key proposer.kind must be auto, llm or search", path)
    return config
