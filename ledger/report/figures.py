"""Charts as static SVG drawn by matplotlib, inlined in Winnow's pages (no script, nothing to
fetch): ticks, log axes, legends and labels are matplotlib's.

:func:`svg_of` turns a figure into an ``<svg>`` element for an HTML page: no XML prologue, no
metadata, no namespace URLs (``href`` for ``xlink:href``), text kept as text (searchable, and
tests can read the tick labels), the same bytes for the same figure, and as wide as its box.
The root carries the classes given and ``data-*`` attributes (the y axis's ends, the data's
range), so tests can check what the axis spans. Element ids given with ``gid`` are kept, so a
labelled point can be found. Used by the morning report (here) and the sweep page (``agent``).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Mapping
from html import escape
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text
    "svg.hashsalt": "winnow",  # the same ids, so the same bytes, for the same figure
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e4ee",
    "grid.linewidth": 0.8,
    "axes.edgecolor": "#888899",
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
}
WIDTH_IN = 11.8  # inches at 100 dpi: the pages' 1180 px content width
# A qualitative palette, one colour per name: Okabe-Ito's (distinguishable with colour
# blindness; its black and yellow left out: black is the pass@k ceiling's, yellow unreadable on
# white) and then enough others that the dozen arms of an evaluation never share one.
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8c564b", "#9467bd",
    "#7f7f7f", "#17becf", "#bcbd22", "#1f3a93", "#b8860b", "#e7298a",
)  # fmt: skip
_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ROOT = re.compile(r"<svg\b[^>]*>")


@contextlib.contextmanager
def drawing(height_in: float, width_in: float = WIDTH_IN) -> Iterator[Figure]:
    """A figure in Winnow's style; draw it and call :func:`svg_of` inside the ``with`` (the
    style applies to what is drawn there). No pyplot: no global state, no backend to choose."""
    with matplotlib.rc_context(STYLE):
        yield Figure(figsize=(width_in, height_in), layout="constrained")


def svg_of(
    fig: Figure,
    css: str,
    data: Mapping[str, Any] | None = None,
    titles: Mapping[str, str] | None = None,
) -> str:
    """The figure as an inline ``<svg>`` element with ``class=css`` and ``data-*`` attributes;
    ``titles`` maps an artist's ``gid`` to the tooltip (an SVG ``<title>``) its group gets."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = _METADATA.sub("", _PROLOGUE.sub("", out.getvalue()))
    text = text.replace("xlink:href", "href")
    for gid, title in (titles or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{escape(title)}</title>', 1)
    root = _ROOT.search(text)
    assert root is not None, "matplotlib wrote no <svg> element"
    viewbox = re.search(r'viewBox="([^"]*)"', root.group(0))
    attributes = [f'class="{escape(css)}"', 'role="img"']
    if viewbox is not None:
        attributes.append(f'viewBox="{viewbox.group(1)}"')
    attributes += [f'data-{key}="{escape(str(value))}"' for key, value in (data or {}).items()]
    return text[: root.start()] + f"<svg {' '.join(attributes)}>" + text[root.end() :]


def axis_data(ax: Axes, lo: float, hi: float) -> dict[str, Any]:
    """The y axis's ends and the data's range, as the root's ``data-*`` attributes."""
    bottom, top = ax.get_ylim()
    ends = {"y-min": bottom, "y-max": top, "data-min": lo, "data-max": hi}
    return {key: repr(float(value)) for key, value in ends.items()}  # exact: tests compare


def zoomed(values: list[float], pad: float = 0.08, least: float = 0.02) -> tuple[float, float]:
    """Axis ends around ``values``: their range, padded by ``pad`` of it on each side (at
    least ``least`` wide), so that a -0.017 and a +0.048 change are far apart."""
    lo, hi = min(values), max(values)
    span = max(hi - lo, least)
    middle = (lo + hi) / 2
    lo, hi = min(lo, middle - span / 2), max(hi, middle + span / 2)
    return lo - pad * span, hi + pad * span
