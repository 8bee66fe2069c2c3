"""Shared setup for the harness tests: fixture paths, sessions, selector files, check lookup."""

from __future__ import annotations

from pathlib import Path

from harness.config import RunConfig
from harness.judge.evaluate import EvalSpec, Session, evaluate
from harness.results import CheckResult, EvalResult

DATA = Path(__file__).parent / "data"
SELECTORS = Path(__file__).parent / "selectors"
TINY_SUITE = DATA / "tiny_suite.jsonl"
TINY_POOL = DATA / "tiny_pool"
EXPERIMENT = Path(__file__).parent.parent / "experiments" / "selector.py"
EVERY_CHECK = [  # in the order an evaluation with a selector reports them (no scorer)
    "selector_runs",
    "compute_parity",
    "signals_declared",
    "signals_wired",
    "not_random",
    "deterministic",
    "position_invariant",
    "no_leakage",
    "no_execution",
    "baseline_sanity",
    "harness_integrity",
]


def selector_source(name: str, **fill: object) -> str:
    """``tests/selectors/<name>.py`` with each ``@KEY@`` filled in.

    Hostile selectors name things only the test knows (a port, a path under tmp) this way.
    """
    source = (SELECTORS / f"{name}.py").read_text()
    for key, value in fill.items():
        source = source.replace(f"@{key.upper()}@", str(value))
    assert "@" not in source, f"{name}.py has a placeholder left unfilled"
    return source


def selector_file(name: str, folder: Path, **fill: object) -> Path:
    """The filled-in selector written to ``folder/<name>.py``."""
    target = folder / f"{name}.py"
    target.write_text(selector_source(name, **fill))
    return target


def open_session(
    cache: Path, k: int = 4, repeats: int = 2, config: RunConfig | None = None
) -> Session:
    """A Session with its own execution cache, small k and few subsets (fast, still paired)."""
    return Session((config or RunConfig()).with_eval(k=k, repeats=repeats), cache=cache)


def run_eval(
    session: Session,
    selector: Path | None = None,
    pool: Path | None = TINY_POOL,
    suite: Path = TINY_SUITE,
    **spec: object,
) -> EvalResult:
    """``winnow eval`` as a library call on the tiny fixtures (or the given ones)."""
    named = str(pool) if pool is not None else None
    return evaluate(EvalSpec(str(suite), pool=named, selector=selector, **spec), session)  # type: ignore[arg-type]


def check(result: EvalResult, name: str) -> CheckResult:
    """The one check called ``name`` in ``result`` (it must be there exactly once)."""
    found = [c for c in result.checks if c.name == name]
    assert len(found) == 1, f"check {name!r} appears {len(found)} times: {result.checks}"
    return found[0]


def failed(result: EvalResult) -> set[str]:
    """Names of the checks that failed."""
    return {c.name for c in result.checks if not c.passed}
