"""The morning report as one static, self-contained HTML page (inline SVG and CSS, no script).

``render_html`` turns a :class:`~ledger.report.summary.Report` into the page; ``write_html``
writes it atomically, and refuses to replace a file that is not an earlier Winnow report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from harness.results import ArmResult
from ledger.database import utc_now
from ledger.errors import LedgerError
from ledger.report.runs import RunsComparison
from ledger.report.summary import Report

GENERATOR = "winnow report"  # the <meta name="generator"> that marks a page as ours


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
    env.filters.update(
        num=_num, pct=_pct, signed=_signed, money=_money, secs=_secs, gap=_gap, flat=flat
    )
    return env


def render_html(report: Report) -> str:
    """The whole page as a string."""
    # matplotlib takes about a second to import: only when a page is drawn, not for every
    # `winnow` command that imports this module.
    from ledger.report.plots import pass_curve_chart, progress_chart

    env = page_environment("ledger.report")
    env.filters.update(diff=highlight_diff)
    return env.get_template("report.html.j2").render(
        r=report,
        generator=GENERATOR,
        progress=progress_chart(report),
        curve=pass_curve_chart(report),
        diff_css=DIFF_CSS,
    )


def highlight_diff(diff: str) -> Markup:
    """A unified diff as highlighted HTML for a ``<pre class="diff">`` (pygments)."""
    return Markup(highlight(diff, DiffLexer(), HtmlFormatter(nowrap=True)))


DIFF_CSS = "\n".join(
    line
    for line in HtmlFormatter().get_style_defs("pre.diff").splitlines()
    if line.startswith("pre.diff .")
) + (
    "\npre.diff .gi { background: #e6ffec; } pre.diff .gd { background: #ffebe9; }"
    "\npre.diff .gu, pre.diff .gh { background: #f0ecfa; }"
)
"""The diff's token colours (pygments' default style) and line backgrounds, inlined."""


def flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested mapping as (dotted key, leaf) pairs, for a definition list: a config reads as
    ``eval.k  10`` rather than as a Python dict."""
    if isinstance(value, dict) and value:
        pairs: list[tuple[str, Any]] = []
        for key, item in value.items():
            pairs += flat(item, f"{prefix}{key}.")
        return pairs
    return [(prefix.rstrip(".") or "(value)", value)]


def write_html(report: Report, path: Path) -> None:
    """Write the page to ``path`` (atomically); never replace a file that is not ours."""
    write_page(path, lambda: render_html(report), GENERATOR, "report")


def render_runs_html(comparison: RunsComparison) -> str:
    """Runs side by side (``winnow report --run A --run B``) as one page."""
    from ledger.report.plots import runs_chart  # matplotlib: see render_html

    template = page_environment("ledger.report").get_template("runs.html.j2")
    return template.render(
        c=comparison, generator=GENERATOR, chart=runs_chart(comparison), generated=utc_now()
    )


def write_runs_html(comparison: RunsComparison, path: Path) -> None:
    """Write the runs' page (a Winnow report page: it may replace an earlier one)."""
    write_page(path, lambda: render_runs_html(comparison), GENERATOR, "report")


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


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _gap(arm: ArmResult | None) -> str:
    """The gap closed with its interval: ``38% [30%, 46%]``."""
    if arm is None or arm.gap_closed is None:
        return "—"
    if arm.gap_ci_low is None or arm.gap_ci_high is None:
        return f"{arm.gap_closed:.0%}"
    return f"{arm.gap_closed:.0%} [{arm.gap_ci_low:.0%}, {arm.gap_ci_high:.0%}]"


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
