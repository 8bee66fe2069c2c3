"""The loop's own settings: the ``[proposer]`` table of the run config file.

The rest of the file (``[eval]``, ``[budget]``, ``[exec]``, ``[sandbox]``, ``[scorer]``) belongs to
the harness; both are read by the one loader (``harness/config.py``). Nothing under
``experiments/`` is ever read as configuration of the loop, the budget or the checks.

    [proposer]
    kind = "auto"            # auto (llm when a model is set, else search) | llm | search
    model = "openai/gpt-4o-mini"   # litellm model (default: none): "hosted_vllm/Qwen2.5-Coder-32B"
    api_base = "http://127.0.0.1:8000/v1"   # e.g. a local vllm serve (default: the provider's)
    api_key_env = "OPENAI_API_KEY"  # name of the environment variable holding the API key
    temperature = 0.7
    max_tokens = 8192
    timeout = 300.0          # seconds per call
    retries = 4              # transport errors and rate limits, with exponential backoff
    backoff = 2.0            # seconds before the first retry (doubled each time)
    malformed_retries = 2    # fresh calls after an answer that is not a usable proposal
    input_usd_per_mtok = 0.15    # prices when litellm does not know the model (default: unknown)
    output_usd_per_mtok = 0.6

Keys left out are unknown (``None``), never a placeholder value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from harness.config import RunConfig, parse_config
from harness.configload import load_model, read_toml
from harness.configmodel import ConfigModel, NonEmptyStr

Price = Annotated[float, Field(ge=0)]  # USD per million tokens


class ProposerConfig(ConfigModel):
    kind: Literal["auto", "llm", "search"] = "auto"
    model: NonEmptyStr | None = None
    api_base: NonEmptyStr | None = None
    api_key_env: NonEmptyStr | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    max_tokens: Annotated[int, Field(ge=1)] = 8192
    timeout: Annotated[float, Field(gt=0)] = 300.0
    retries: Annotated[int, Field(ge=0)] = 4
    backoff: Annotated[float, Field(ge=0)] = 2.0
    malformed_retries: Annotated[int, Field(ge=0)] = 2
    input_usd_per_mtok: Price | None = None
    output_usd_per_mtok: Price | None = None

    def resolved_kind(self) -> Literal["llm", "search"]:
        if self.kind == "auto":
            return "llm" if self.model is not None else "search"
        return self.kind


def load_settings(path: Path | None) -> tuple[RunConfig, ProposerConfig]:
    """The run config and the proposer config from one TOML file (defaults when None)."""
    if path is None:
        return RunConfig(), ProposerConfig()
    data = read_toml(path)
    proposer = load_model(data.pop("proposer", {}), ProposerConfig, path, "proposer.")
    return parse_config(data, path), proposer
