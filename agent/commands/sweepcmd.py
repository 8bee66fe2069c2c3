"""``winnow sweep``: run a sweep; show it as tables, as JSON, and as an HTML page."""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table

from agent.commands.console import make_console
from agent.commands.evalcmd import fmt, fmt_gap, progress_bars
from harness.analysis.costs import PointCost
from harness.analysis.crossing import Crossing
from harness.analysis.sweep import PoolSweep, SweepResult, SweepSpec, run_sweep
from harness.config import RunConfig


def run_sweep_shown(spec: SweepSpec, config: RunConfig, quiet: bool) -> SweepResult:
    """Run the sweep with progress bars on stderr (none when ``quiet``)."""
    with progress_bars(quiet) as progress:
        return run_sweep(spec, config, progress)


def emit(result: SweepResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        render(result, make_console())


def render(result: SweepResult, console: Console) -> None:
    """A table per pool (every k: pass@k, then every arm with its sel@k and 95% interval, the
    gap it closes, and per problem its executions per subset, generated tokens and FLOPs),
    the forecasts, the crossings."""
    console.print(
        f"[bold]sweep[/] {result.suite}, split {result.split}: k in {result.ks}, "
        f"{result.repeats} subsets per problem and k, seed {result.seed}; sandbox {result.sandbox}"
    )
    if result.status != "ok":
        console.print(f"[bold red]INVALID SELECTOR[/]: {result.reason}")
    for pool in result.pools:
        render_pool(pool, console)
    if result.crossings:
        render_crossings(result.crossings, console)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    verdict = "[green]ok[/]" if result.status == "ok" else "[red]INVALID[/] (see above)"
    console.print(f"{verdict}   {result.elapsed_s:.1f} s")


def render_pool(pool: PoolSweep, console: Console) -> None:
    label = " [bold red](SIMULATED)[/]" if pool.simulated else ""
    model = f"{pool.backend or 'imported'} {pool.model or ''}".strip()
    cost = pool.cost
    tokens = "unknown" if cost.tokens_per_sample is None else f"{cost.tokens_per_sample:.1f}"
    params = "unknown" if cost.params is None else f"{cost.params:.3g} ({cost.params_source})"
    console.print(
        f"\n[bold]pool {pool.name}[/]{label}: {pool.pool} ({model}; {pool.source}), "
        f"{pool.problems} problems, n={pool.n}; pass@1 {pool.pass_at_1:.3f} "
        f"[{pool.pass1_low:.3f}, {pool.pass1_high:.3f}]; tokens/sample {tokens} "
        f"({cost.tokens_source}); parameters {params}"
    )
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in ("k", "curve", "value [95% CI]", "gap", "exec", "tokens", "FLOPs"):
        table.add_column(column, justify="left" if column == "curve" else "right", no_wrap=True)
    for point in pool.points:
        ceiling = f"{point.pass_at_k:.3f} [{point.pass_low:.2f}, {point.pass_high:.2f}]"
        table.add_row(str(point.k), "pass@k", ceiling, "", "", *_cost(point.costs["pass@k"]),
                      style="bold")  # fmt: skip
        for name, arm in point.arms.items():
            value = fmt(arm.sel_at_k)
            if arm.ci_low is not None:
                value += f" [{arm.ci_low:.2f}, {arm.ci_high:.2f}]"
            spent = point.costs[name]
            table.add_row("", name, value, fmt_gap(arm), f"{spent.executions:.0f}", *_cost(spent))
        table.add_section()
    console.print(table)
    render_forecast(pool, console)
    if pool.selector is not None:
        verdict = "[green]valid[/]" if pool.selector.valid else "[bold red]INVALID[/]"
        console.print(f"selector checks at k={pool.selector.checked_k}: {verdict}")
        for check in pool.selector.checks:
            mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
            console.print(f"  {mark} {check.name}: {check.detail}")
        if not pool.selector.valid:
            console.print(f"  [red]{pool.selector.reason}[/]")


def render_forecast(pool: PoolSweep, console: Console) -> None:
    f = pool.forecast
    if f is None:
        console.print(f"forecast: none ({pool.forecast_note})")
        return
    regression = "—" if f.regression_exponent is None else f"{f.regression_exponent:.3f}"
    law = (
        "no power-law exponent (the fit is at its bound)"
        if f.exponent is None
        else f"power-law exponent b = {f.exponent:.3f} (a = {fmt(f.scale)})"
    )
    console.print(
        f"FORECAST (not measured): pass@{f.ks[-1]} ≈ {f.values[-1]:.3f} "
        f"[{f.low[-1]:.3f}, {f.high[-1]:.3f}] from a Beta(α={f.alpha:.3f}, β={f.beta:.3f}) fitted "
        f"to per-problem pass@1; {law}; a straight line through the measured points gives "
        f"b = {regression}; the fit is within {f.fit_error:.3f} of every measured pass@k"
    )
    if f.note:
        console.print(f"  [yellow]note:[/] {f.note}")


def render_crossings(crossings: list[Crossing], console: Console) -> None:
    """Where each weaker pool's curves reach each stronger pool's pass@1: the smallest k
    sampled, its 95% bootstrap interval, and the share of resamples reaching it at all."""
    console.print("\n[bold]where a pool's curves reach a stronger pool's pass@1[/]")
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in ("pool", "reaches", "curve", "target pass@1", "k", "95% CI of k", "reached"):
        table.add_column(column, justify="left" if column in ("pool", "curve") else "right",
                         no_wrap=True)  # fmt: skip
    for c in crossings:
        table.add_row(
            c.small, c.big, c.curve, f"{c.target:.3f} [{c.target_low:.2f}, {c.target_high:.2f}]",
            crossing_k(c.k, c.largest_k), crossing_interval(c), f"{c.reached_share:.0%}",
        )  # fmt: skip
    console.print(table)


def crossing_k(k: int | None, largest: int) -> str:
    return f"not by k={largest}" if k is None else str(k)


def crossing_interval(c: Crossing) -> str:
    if c.k_low is None:
        return f"beyond k={c.largest_k}"
    high = f"beyond {c.largest_k}" if c.k_high is None else str(c.k_high)
    return f"[{c.k_low}, {high}]"


def _cost(cost: PointCost) -> tuple[str, str]:
    tokens = "unknown" if cost.generated_tokens is None else f"{cost.generated_tokens:,.0f}"
    flops = "unknown" if cost.flops is None else f"{cost.flops:.2e}"
    return tokens, flops
