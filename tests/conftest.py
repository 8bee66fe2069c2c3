"""Shared test setup: offline litellm, a private WINNOW_HOME per test, small fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_OFFLINE_MODE"] = "true"

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def winnow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state directory: cache, ledger and logs never leak between tests."""
    home = tmp_path / "winnow-home"
    monkeypatch.setenv("WINNOW_HOME", str(home))
    return home


@pytest.fixture
def tiny_suite() -> Path:
    return DATA / "tiny_suite.jsonl"


@pytest.fixture
def tiny_pool() -> Path:
    """A directory with samples.jsonl and self_tests.jsonl for the tiny suite."""
    return DATA / "tiny_pool"
