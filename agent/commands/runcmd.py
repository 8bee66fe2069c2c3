"""``winnow run``: build the loop from the command line's options and run it."""

from __future__ import annotations

from pathlib import Path

from agent.branch import ResearchBranch
from agent.commands.console import make_console
from agent.commands.runstatus import run_status
from agent.llm_proposer import LLMProposer
from agent.loop import Loop
from agent.proposal import Proposer
from agent.run import RunSpec, RunSummary
from agent.search_proposer import SearchProposer
from agent.settings import ProposerConfig, load_settings
from harness.configload import load_model
from harness.home import winnow_home
from ledger.store import Ledger


def make_proposer_factory(config: ProposerConfig, home: Path, tag: str, seed: int):
    # Built now, not when the loop asks: a key variable that is not set stops the command
    # before anything is recorded.
    llm = LLMProposer(config) if config.resolved_kind() == "llm" else None

    def make(branch: ResearchBranch) -> Proposer:
        if llm is not None:
            return llm
        return SearchProposer(home / "optuna" / f"{branch.path.name}.sqlite", tag, seed)

    return make


def run_loop(
    spec: RunSpec,
    config_path: Path | None,
    proposer: str | None,
    model: str | None,
    api_base: str | None,
    cwd: Path,
    ledger_at: Path | str,
) -> RunSummary:
    run_config, proposer_config = load_settings(config_path)
    overrides = {"kind": proposer, "model": model, "api_base": api_base}
    given = {k: v for k, v in overrides.items() if v is not None}
    proposer_config = load_model(
        proposer_config.model_dump() | given, ProposerConfig, "the command line", "proposer."
    )
    home = winnow_home()
    console = make_console(stderr=True)
    ledger = Ledger.open(ledger_at)
    try:
        with run_status(console) as status:
            loop = Loop(
                spec,
                run_config,
                proposer_config,
                make_proposer_factory(proposer_config, home, spec.tag, run_config.eval.seed),
                ledger,
                home,
                cwd,
                display=status,
            )
            return loop.run()
    finally:
        ledger.close()
