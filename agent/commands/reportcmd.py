"""``winnow log`` and ``winnow report``: read the ledger (read-only) and show it.

The ledger builds the data (``ledger.report.summary``) and the HTML page
(``ledger.report.page``); this module only lays it out for a terminal, or prints it as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agent.commands.console import make_console
from harness.results import ExperimentStatus
from ledger.errors import LedgerError
from ledger.report.export import write_tsv
from ledger.report.page import write_html, write_runs_html
from ledger.report.runs import RunRow, RunsComparison, compare_runs
from ledger.report.summary import Report, build_report
from ledger.report.verdict import Delta
from ledger.store import Ledger
from ledger.views import ExperimentView

STALE = "stale"  # --status stale: running rows whose writer is gone


def show_log(
    path: Path | str, tag: str | None, status: str | None, as_json: bool, as_tsv: bool = False
) -> None:
    """One line per experiment of a run (the latest run unless ``tag``); ``as_tsv``: the flat
    table a notebook reads (``ledger/report/export.py``)."""
    statuses = [s.value for s in ExperimentStatus] + [STALE]
    if status is not None and status not in statuses:
        choices = ", ".join(statuses)
        raise LedgerError(f"unknown status {status!r} (one of {choices})")
    if as_json and as_tsv:
        raise LedgerError("give --json or --tsv, not both")
    with Ledger.open(path, readonly=True) as ledger:
        run = ledger.get_run(tag)
        every = ledger.experiments(run.id)
    query = ExperimentStatus.RUNNING if status == STALE else status
    experiments = [e for e in every if (query is None or e.status == query)]
    experiments = [e for e in experiments if status != STALE or e.stale]
    if as_json:
        print(json.dumps([e.to_json() for e in experiments], indent=2))
        return
    if as_tsv:
        write_tsv(run, experiments, sys.stdout)
        return
    simulated = " SIMULATED" if run.simulated else ""
    print(f"run {run.tag} ({run.shown_status}{simulated}) on {run.branch}")
    print(log_header())
    for e in experiments:
        print(log_line(e))
    print(holdout_line(every))


def holdout_line(experiments: list[ExperimentView]) -> str:
    """How often the holdout was looked at, and how many kept changes it confirmed."""
    looks = sum("holdout" in e.evaluations for e in experiments)
    compared = [e for e in experiments if e.confirmed is not None]
    confirmed = sum(bool(e.confirmed) for e in compared)
    return (
        f"holdout: looked at {looks} times; {confirmed} of {len(compared)} kept changes "
        "confirmed (95% paired interval against the start above 0)"
    )


WHY = 14  # width of the why column: "p=0.065", "not_random", "same as #12"


def log_header() -> str:
    return (
        f"{'#':>4}  {'commit':8}  {'status':15}  {'why':{WHY}}  {'dev':>6}  "
        f"{'vs incumbent':>22}  {'gap':>5}  {'holdout':>7}  {'confirmed':9}  {'cost':>8}  "
        "hypothesis"
    )


def log_line(e: ExperimentView) -> str:
    """A fixed-width, greppable line: number, commit, status and why, scores, cost,
    hypothesis."""
    change = "—"
    if e.dev_delta is not None:
        lower = "—" if e.dev_delta_lower is None else f"{e.dev_delta_lower:+.3f}"
        change = f"{e.dev_delta:+.3f} (≥{lower}) #{e.incumbent_number}"
    score = e.dev.score if e.dev else None
    gap = "—" if score is None or score.gap_closed is None else f"{score.gap_closed:.0%}"
    hypothesis = e.hypothesis.splitlines()[0] if e.hypothesis else ""
    confirmed = {True: "confirmed", False: "no", None: "—"}[e.confirmed]
    why = e.why()
    why = why if len(why) <= WHY else why[: WHY - 1] + "…"
    return (
        f"{e.number:>4}  {(e.commit or '—')[:8]:8}  {e.shown_status:15}  {why:{WHY}}  "
        f"{_num(e.sel_at_k('dev')):>6}  {change:>22}  {gap:>5}  "
        f"{_num(e.sel_at_k('holdout')):>7}  {confirmed:9}  {_money(e.cost_usd):>8}  {hypothesis}"
    )


def show_report(path: Path | str, tag: str | None, html: Path | None, as_json: bool) -> None:
    """The morning review in the terminal (or JSON), and optionally as an HTML page."""
    with Ledger.open(path, readonly=True) as ledger:
        report = build_report(ledger, tag)
    _show(report.to_json, lambda c: render_report(report, c), lambda p: write_html(report, p),
          html, as_json)  # fmt: skip


def show_runs(path: Path | str, tags: list[str], html: Path | None, as_json: bool) -> None:
    """Runs side by side (``ledger/report/runs.py``) in the terminal (or JSON), and as a page."""
    if len(set(tags)) != len(tags):
        raise LedgerError(f"--run names a run twice: {', '.join(tags)}")
    with Ledger.open(path, readonly=True) as ledger:
        comparison = compare_runs(ledger, tags)
    _show(comparison.to_json, lambda c: render_runs(comparison, c),
          lambda p: write_runs_html(comparison, p), html, as_json)  # fmt: skip


def _show(
    data: Callable[[], dict[str, Any]],
    render: Callable[[Console], None],
    write: Callable[[Path], None],
    html: Path | None,
    as_json: bool,
) -> None:
    """The page first (when asked for), then JSON or the terminal view with the page named."""
    if html is not None:
        write(html)
    if as_json:
        print(json.dumps(data(), indent=2, default=str))
        return
    console = make_console()
    render(console)
    if html is not None:
        console.print(f"wrote {html}")


def render_runs(c: RunsComparison, console: Console) -> None:
    for row in c.runs:
        console.print(f"[bold]{row.tag}[/]: {row.headline}")
    table = Table(title="runs side by side", title_justify="left", header_style="bold")
    table.add_column("")
    for row in c.runs:
        table.add_column(row.tag, justify="right")
    fields: list[tuple[str, Callable[[RunRow], str]]] = [
        ("directive (program.md)", lambda r: r.program_hash),
        ("proposer", lambda r: r.proposer),
        ("pool", lambda r: (r.pool_id or "—") + (" SIMULATED" if r.simulated else "")),
        ("k, subsets, seed", lambda r: f"{r.k}, {r.repeats}, {r.seed}"),
        ("changes kept", lambda r: f"{r.kept} of {r.decided} ({_pct(r.keep_rate)})"),
        ("best", lambda r: f"#{r.best}" if r.best else "—"),
        ("best dev / holdout", lambda r: "{} / {}".format(
            _num(r.best_values.get("dev")), _num(r.best_values.get("holdout")))),
        ("best − start, dev", lambda r: _delta(r.vs_start.get("dev"))),
        ("best − start, holdout", lambda r: _delta(r.vs_start.get("holdout"))),
        ("best baseline", lambda r: r.baseline or "—"),
        ("best − it, dev", lambda r: _delta(r.vs_baseline.get("dev"))),
        ("best − it, holdout", lambda r: _delta(r.vs_baseline.get("holdout"))),
        ("money", lambda r: _money(r.cost_usd)),
        ("executions", lambda r: f"{r.executions:,}"),
        ("wall time", lambda r: "—" if r.wall_seconds is None else f"{r.wall_seconds:.0f} s"),
    ]  # fmt: skip
    for name, value in fields:
        table.add_row(name, *[value(row) for row in c.runs])
    console.print(table)
    if not c.same_directive:
        console.print("the runs' directives differ (program.md)")
    for p in c.pairs:
        shown = _delta(p.delta) if p.delta else f"not paired: {p.why_not}"
        console.print(f"best of {p.a} − best of {p.b}, {p.split}: {shown}")


def render_report(r: Report, console: Console) -> None:
    """The verdict first, then what was tried, where selection loses, the baselines, the
    failures and the spend."""
    run = r.run
    if r.simulated:
        console.print("[bold black on yellow] SIMULATED [/] this run's pool was simulated")
    console.print(
        f"[bold]run {run.tag}[/] on {run.branch}: {run.shown_status}"
        + (f" ({run.reason})" if run.reason else "")
        + f"; proposer {run.proposer}, pool {run.pool_id or '—'}, started {run.started_at}"
    )
    for number, directive in r.directive_changes:
        console.print(f"program.md changed at experiment {number} (directive {directive})")
    best = r.experiment(r.best)
    if best is None:
        console.print("no kept experiment yet")
    else:
        console.print(
            f"best selector: #{best.number} {(best.commit or '')[:8]}: dev "
            f"{_num(best.sel_at_k('dev'))}, holdout {_num(best.sel_at_k('holdout'))}"
            + {True: " (confirmed)", False: " (not confirmed)", None: ""}[best.confirmed]
            + f": {best.hypothesis}"
        )
        console.print(f"[bold]verdict:[/] {r.verdict.headline}")
        console.print(_verdict_table(r))
    keep = "—" if r.keep_rate is None else f"{r.keep_rate:.0%}"
    others = ", ".join(
        f"{r.statuses[status]} {status}"
        for status in ("discarded", "invalid", "crashed", "interrupted", "running (stale)")
        if r.statuses.get(status)
    )
    console.print(
        f"keep rate {keep} ({r.kept} of {r.decided} changes kept"
        + (f"; {others}" if others else "")
        + ")"
    )
    console.print(holdout_line(r.experiments))
    for split, losses in r.losses.items():
        better = ", ".join(f"{t.arm} on {t.better}" for t in losses.tallies if t.better)
        console.print(
            f"where it still loses on {split}: {losses.lost_problems} of {losses.problems} "
            f"problems, {losses.lost_mean:.3f} of sel@k short of oracle"
            + (f"; arms better than it on some: {better}" if better else "")
        )
    console.print(_baselines_table(r))
    console.print(_failures_table(r))
    console.print(_spend_table(r))
    if len(r.runs) > 1:
        console.print(_runs_table(r))


def _runs_table(r: Report) -> Table:
    """Every run of the ledger side by side (loops on several machines write one ledger)."""
    table = Table(title="runs in this ledger", title_justify="left", header_style="bold")
    for name in ("run", "status", "host", "started", "experiments", "kept", "best", "dev sel@k"):
        table.add_column(name, justify="right" if name in ("experiments", "kept") else "left")
    for line in r.runs:
        table.add_row(
            f"[bold]{line.tag}[/]" if line.tag == r.run.tag else line.tag,
            line.status,
            line.host,
            line.started_at[:19],
            str(line.experiments),
            str(line.kept),
            "—" if line.best is None else f"#{line.best}",
            _num(line.best_dev),
        )
    return table


def _verdict_table(r: Report) -> Table:
    """The best against the start and the best baseline, and every kept change against its
    incumbent: dev and holdout differences with their 95% intervals."""
    v = r.verdict
    table = Table(header_style="bold")
    for column in ("comparison", "dev Δ [95% CI]", "holdout Δ [95% CI]", "holdout says"):
        table.add_column(column, justify="left" if column == "comparison" else "right")
    rows: list[tuple[str, Delta | None, Delta | None, str]] = []
    if v.vs_start:
        holdout = v.vs_start.get("holdout")
        says = holdout.reading if holdout else "not measured"
        rows.append((f"best #{v.best} − start #{v.start}", v.vs_start.get("dev"), holdout, says))
    if v.baseline:
        holdout = v.vs_baseline.get("holdout")
        says = holdout.reading if holdout else "not measured"
        name = f"best #{v.best} − best baseline {v.baseline}"
        rows.append((name, v.vs_baseline.get("dev"), holdout, says))
    for c in v.changes:
        rows.append((f"kept #{c.number} − #{c.incumbent}", c.dev, c.holdout, c.holds))
    for name, dev, holdout, says in rows:
        table.add_row(name, _delta(dev), _delta(holdout), says)
    return table


def _delta(d: Delta | None) -> str:
    if d is None:
        return "—"
    color = {"better": "green", "worse": "red"}.get(d.reading, "default")
    return f"[{color}]{d.estimate:+.3f}[/] [{d.low:+.3f}, {d.high:+.3f}]"


def _baselines_table(r: Report) -> Table:
    splits = list(r.baselines)
    title = "baselines" + (f" and the best selector (#{r.best}) against each" if r.best else "")
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("arm")
    for split in splits:
        k = r.baselines[split].k
        table.add_column(f"{split} sel@{k}", justify="right")
        table.add_column("best − arm", justify="right")
        table.add_column("95% CI", justify="right")
    names = list(r.baselines[splits[0]].arms) if splits else []
    for name in names:
        cells: list[str] = [name]
        for split in splits:
            arm = r.baselines[split].arms.get(name)
            cells.append(_num(arm.sel_at_k if arm else None))
            cells += _difference(r, split, name)
        table.add_row(*cells)
    if best := r.experiment(r.best):
        table.add_row(
            f"[bold]best #{best.number}[/]",
            *[c for s in splits for c in (f"[bold]{_num(best.sel_at_k(s))}[/]", "", "")],
        )
    return table


def _difference(r: Report, split: str, name: str) -> list[str]:
    """The best selector minus this arm, and its interval (green/red: beyond noise)."""
    c = r.comparison(split, name)
    if c is None or c.difference is None or c.low is None or c.high is None:
        return ["—", "—"]
    color = "green" if c.low > 0 else "red" if c.high < 0 else "default"
    return [f"[{color}]{c.difference:+.3f}[/]", f"[{c.low:+.2f}, {c.high:+.2f}]"]


def _failures_table(r: Report) -> Table:
    table = Table(title="failures by kind", title_justify="left", header_style="bold")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for status in ("crashed", "invalid", "interrupted", "running (stale)"):
        table.add_row(status, str(r.statuses.get(status, 0)))
    for name, count in r.failed_check_counts.items():
        table.add_row(f"check failed: {name}", str(count))
    table.add_row("model calls that failed", str(r.spend.llm_errors))
    return table


def _spend_table(r: Report) -> Table:
    s = r.spend
    table = Table(title="compute and money", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("amount", justify="right")
    rows: list[tuple[str, Any]] = [
        ("money (priced calls)", _money(s.cost_usd)),
        ("model calls / without a price", f"{s.llm_calls} / {s.unpriced_calls}"),
        ("tokens in / out", f"{s.prompt_tokens:,} / {s.completion_tokens:,}"),
        ("evaluations / sandboxed executions", f"{s.evaluations} / {s.executions:,}"),
        ("time evaluating", f"{s.evaluation_seconds:.1f} s"),
        ("wall time", "—" if s.wall_seconds is None else f"{s.wall_seconds:.0f} s"),
    ]
    for what, amount in rows:
        table.add_row(what, str(amount))
    return table


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"
