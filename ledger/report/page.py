"""The morning report as one static, self-contained HTML page (inline SVG and CSS, no script).

``render_html`` turns a :class:`~ledger.report.summary.Report` into the page; ``write_html``
writes it atomically, and refuses to replace a file that is not an earlier Winnow report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.results import ExperimentStatus
from ledger.errors import LedgerError
from ledger.report.charts import PALETTE, Axis, RefLine, Series, svg_chart
from ledger.report.summary import Report

GENERATOR = "winnow report"  # the <meta name="generator"> that marks a page as ours
NO_SCORE = 0.0  # where experiments without a score sit on the progress chart (as crosses)


def page_environment(package: str) -> Environment:
    """The jinja2 environment of Winnow's pages (the report; the sweep page, from ``agent``):
    the package's ``templates/``, autoescaped, strict, with the number filters."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, signed=_signed, money=_money, secs=_secs)
    return env


def render_html(report: Report) -> str:
    """The whole page as a string."""
    template = page_environment("ledger.report").get_template("report.html.j2")
    return template.render(
        r=report,
        generator=GENERATOR,
        progress=progress_chart(report),
        curve=pass_curve_chart(report),
    )


def write_html(report: Report, path: Path) -> None:
    """Write the page to ``path`` (atomically); never replace a file that is not ours."""
    write_page(path, lambda: render_html(report), GENERATOR, "report")


def write_page(path: Path, render: Callable[[], str], generator: str, kind: str) -> None:
    """Write a self-contained page atomically, readable by all; never replace a file whose
    ``<meta name="generator">`` is not ``generator`` (the report, the sweep page)."""
    check_page_target(path, generator, kind)
    html = render()
    fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".html", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a page is for reading
    os.replace(tmp, path)


def check_page_target(path: Path, generator: str, kind: str) -> None:
    """Raise LedgerError unless ``path`` can take the page: a new file in an existing
    directory, or an earlier page of the same generator. Callers with a long job ahead call
    this first, so a bad path fails before the work rather than after it."""
    if path.is_dir():
        raise LedgerError(f"{path}: is a directory; give a file name for the {kind}")
    if path.exists():
        head = path.read_bytes()[:2048].decode("utf-8", "replace")
        if f'<meta name="generator" content="{generator}">' not in head:
            raise LedgerError(f"{path}: exists and is not a Winnow {kind}; refusing to replace it")
    if not path.parent.exists():
        raise LedgerError(f"{path.parent}: no such directory")


def progress_chart(report: Report) -> str | None:
    """Every experiment a dot (kept ones highlighted), the running best on dev and the same
    commits on holdout, and the baselines as horizontal lines."""
    exps = report.experiments
    if not exps:
        return None
    scored = [(e, e.sel_at_k("dev")) for e in exps]
    kept = [(e.number, v) for e, v in scored if v is not None and e.status == ExperimentStatus.KEPT]
    other = [(e, v) for e, v in scored if v is not None and e.status != ExperimentStatus.KEPT]
    failed = [e for e, v in scored if v is None]
    series = [
        Series(
            "not kept", [(e.number, v) for e, v in other], "#8a8f98", css="dot",
            titles=[f"#{e.number} {e.shown_status}: dev {v:.3f}: {e.hypothesis}" for e, v in other],
        ),
        Series(
            "no score (crashed, invalid...)", [(e.number, NO_SCORE) for e in failed], "#d62728",
            marker="cross", css="dot failed",
            titles=[f"#{e.number} {e.shown_status}: {e.reason or e.hypothesis}" for e in failed],
        ),
    ]  # fmt: skip
    if kept:
        last = exps[-1].number
        best = [e for e in exps if e.status == ExperimentStatus.KEPT]
        steps = [(e.number, v) for e in best if (v := e.sel_at_k("dev")) is not None]
        holdout = [(e.number, h) for e in best if (h := e.sel_at_k("holdout")) is not None]
        if steps[-1][0] < last:
            steps.append((last, steps[-1][1]))
        if holdout and holdout[-1][0] < last:
            holdout.append((last, holdout[-1][1]))
        series += [
            Series("running best (dev)", steps, "#2ca02c", style="steps", size=0, legend=True),
            Series("same commits (holdout)", holdout, "#9467bd", style="steps", size=0),
            Series(
                "kept", kept, "#2ca02c", size=6.5, css="dot kept",
                titles=[f"#{n} kept: dev {v:.3f}" for n, v in kept],
            ),
        ]  # fmt: skip
    baselines = report.baselines.get("dev")
    refs = []
    if baselines:
        for i, (name, arm) in enumerate(sorted(baselines.arms.items())):
            if arm.sel_at_k is not None:
                refs.append(RefLine(f"{name} {arm.sel_at_k:.3f}", arm.sel_at_k, PALETTE[i % 10]))
    series = [s for s in series if s.points]
    return svg_chart(
        series, refs, x=Axis("experiment"), y=Axis("dev sel@k", lo=0.0, hi=1.0, percent=True),
        title="Progress on dev (baselines dashed)", css="chart progress",
    )  # fmt: skip


def pass_curve_chart(report: Report) -> str | None:
    """The pool's pass@k against k, with the measured pass@1/pass@k and the selectors' sel@k."""
    best = report.experiment(report.best)
    series: list[Series] = []
    colors = {"dev": "#1f77b4", "holdout": "#ff7f0e"}
    for split, curve in report.curves.items():
        series.append(
            Series(
                f"pool pass@k ({split})",
                [(float(k), v) for k, v in curve],
                colors[split],
                style="line",
                size=1.5,
                css="curve",
            )  # fmt: skip
        )
    for split, base in report.baselines.items():
        measured = [(1.0, base.pass_at_1), (float(base.k), base.pass_at_k)]
        points = [(k, v) for k, v in measured if v is not None]
        series.append(
            Series(
                f"measured pass@1, pass@{base.k} ({split})",
                points,
                colors[split],
                marker="square",
                size=4,
                hollow=True,
            )  # fmt: skip
        )
        arms = [
            (name, a.sel_at_k) for name, a in sorted(base.arms.items()) if a.sel_at_k is not None
        ]
        series.append(
            Series(
                f"baselines ({split})", [(float(base.k), v) for _, v in arms],
                "#8a8f98", size=3, hollow=split == "holdout", css="baseline",
                titles=[f"{name} ({split}): {v:.3f}" for name, v in arms],
            )
        )  # fmt: skip
    if best is not None:
        for split in ("dev", "holdout"):
            ev = best.evaluations.get(split)
            if ev is not None and ev.score is not None and ev.score.sel_at_k is not None:
                series.append(
                    Series(
                        f"best #{best.number} ({split})",
                        [(float(ev.k), ev.score.sel_at_k)], colors[split], marker="diamond",
                        size=6, css="selector",
                    )
                )  # fmt: skip
    series = [s for s in series if s.points]
    if not series:
        return None
    return svg_chart(
        series, x=Axis("k (candidates to choose from)", log=True),
        y=Axis("pass@k / sel@k", lo=0.0, hi=1.0, percent=True),
        title="The pool's pass@k and what selection recovers", css="chart passk",
    )  # fmt: skip


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}" if value >= 0.995 else f"${value:.4f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"
