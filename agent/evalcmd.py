"""``winnow eval`` and ``winnow check``: run an evaluation and show it."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from harness.config import RunConfig
from harness.evaluate import EvalSpec, Session, evaluate
from harness.results import EvalResult


def run_eval(spec: EvalSpec, config: RunConfig, quiet: bool) -> EvalResult:
    """Evaluate with a progress display on stderr (none when ``quiet``)."""
    console = Console(stderr=True)
    with Session(config) as session:
        if quiet or not console.is_terminal:
            return evaluate(spec, session)
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)

            return evaluate(spec, session, progress)


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(result: EvalResult, console: Console) -> None:
    label = " (SIMULATED)" if result.simulated else ""
    console.print(
        f"[bold]{result.suite}[/] pool {result.pool}{label}, split {result.split}: "
        f"{result.problems} problems, n={result.n}, k={result.k}, {result.repeats} subsets each; "
        f"sandbox {result.sandbox}"
    )
    console.print(
        f"pass@1 {fmt(result.pass_at_1)}   pass@{result.k} {fmt(result.pass_at_k)} (oracle)"
    )
    table = Table(show_header=True, header_style="bold")
    for column in ("arm", f"sel@{result.k}", "95% CI", "gap closed", "vs random", "exec/subset"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in result.arms.items():
        ci = "—" if arm.ci_low is None else f"[{arm.ci_low:.3f}, {arm.ci_high:.3f}]"
        diff = "—" if arm.diff_vs_random is None else f"{arm.diff_vs_random:+.3f}"
        gap = "—" if arm.gap_closed is None else f"{arm.gap_closed:.0%}"
        table.add_row(name, fmt(arm.sel_at_k), ci, gap, diff, f"{arm.compute.executions:.0f}")
    console.print(table)
    for check in result.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        console.print(f"  {mark} {check.name}: {check.detail}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    verdict = "[green]valid[/]" if result.valid else f"[red]INVALID[/]: {result.reason}"
    console.print(
        f"{verdict}   executions {result.executions}, cache hits {result.cache_hits}, "
        f"{result.elapsed_s:.1f} s"
    )


def emit(result: EvalResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render(result, Console())


def check_exit(result: EvalResult) -> int:
    return 0 if result.valid else 1


def default_selector() -> Path:
    return Path("experiments") / "selector.py"
