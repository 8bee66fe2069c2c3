"""Charts as inline SVG strings: no JavaScript, no external assets, readable without a server.

A chart is a set of :class:`Series` (dots, lines or steps) and :class:`RefLine` (horizontal
reference lines) on two :class:`Axis`; the x axis may be logarithmic. Every marker carries a
``<title>`` (a tooltip in browsers) and the CSS classes given, so pages can style them and tests
can count them. Used by the morning report and by the sweep page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

Point = tuple[float, float]

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
)  # fmt: skip
FONT = "font-family='system-ui, sans-serif'"


@dataclass(frozen=True)
class Axis:
    label: str
    log: bool = False
    lo: float | None = None  # fixed ends (otherwise fitted to the data)
    hi: float | None = None
    percent: bool = False  # tick labels as percentages of 1


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[Point]
    color: str
    style: str = "dots"  # dots | line | steps (a line also marks its points)
    marker: str = "circle"  # circle | square | diamond | cross
    size: float = 4.0  # marker radius in pixels; 0 draws a line without markers
    hollow: bool = False
    css: str = ""  # extra classes on every marker
    titles: Sequence[str] = field(default_factory=tuple)  # one tooltip per point
    legend: bool = True
    dash: str = ""  # a dashed line (an SVG stroke-dasharray such as "6 4"): forecasts, bands


@dataclass(frozen=True)
class RefLine:
    label: str
    y: float
    color: str
    dash: str = "6 4"


@dataclass(frozen=True)
class Frame:
    """Pixel geometry of the plotting area and the data-to-pixel maps."""

    left: float
    top: float
    width: float
    height: float
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    log_x: bool

    def x(self, value: float) -> float:
        lo, hi, v = self.x_lo, self.x_hi, value
        if self.log_x:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(value)
        return self.left + (v - lo) / (hi - lo) * self.width

    def y(self, value: float) -> float:
        return self.top + (self.y_hi - value) / (self.y_hi - self.y_lo) * self.height


def svg_chart(
    series: Sequence[Series],
    refs: Sequence[RefLine] = (),
    *,
    x: Axis,
    y: Axis,
    title: str = "",
    width: int = 860,
    height: int = 400,
    legend_width: int = 210,
    css: str = "chart",
) -> str:
    """One chart as an ``<svg>`` element. Raises ValueError when there is nothing to draw."""
    points = [p for s in series for p in s.points]
    if not points and not refs:
        raise ValueError(f"chart {title!r} has no data")
    if x.log and any(px <= 0 for px, _ in points):
        raise ValueError(f"chart {title!r}: a log x axis needs positive x values")
    xs = [px for px, _ in points] or [0.0, 1.0]
    ys = [py for _, py in points] + [r.y for r in refs]
    (x_lo, x_hi), (y_lo, y_hi) = _x_range(xs, x), _y_range(ys, y)
    frame = Frame(
        left=62,
        top=34 if title else 14,
        width=width - legend_width - 62 - 14,
        height=height - (34 if title else 14) - 52,
        x_lo=x_lo,
        x_hi=x_hi,
        y_lo=y_lo,
        y_hi=y_hi,
        log_x=x.log,
    )
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='{escape(css)}' role='img' "
        f"viewBox='0 0 {width} {height}' width='{width}' height='{height}' {FONT}>",
        f"<title>{escape(title)}</title>" if title else "",
        f"<rect class='plot' x='{frame.left}' y='{frame.top}' width='{frame.width}' "
        f"height='{frame.height}' fill='#fbfbfd' stroke='#ccd'/>",
    ]
    if title:
        parts.append(
            f"<text x='{frame.left}' y='20' font-size='15' font-weight='600'>{escape(title)}</text>"
        )
    parts += _axes(frame, x, y)
    for ref in refs:
        py = frame.y(ref.y)
        parts.append(
            f"<line class='ref' x1='{frame.left}' x2='{frame.left + frame.width}' y1='{py:.1f}' "
            f"y2='{py:.1f}' stroke='{ref.color}' stroke-width='1.5' stroke-dasharray='{ref.dash}'>"
            f"<title>{escape(ref.label)}: {_fmt(ref.y, y)}</title></line>"
        )
    for s in series:
        parts += _series(frame, s, x, y)
    parts += _legend(series, refs, width - legend_width + 4, frame.top)
    parts.append("</svg>")
    return "".join(parts)


def _x_range(xs: list[float], axis: Axis) -> tuple[float, float]:
    lo = axis.lo if axis.lo is not None else min(xs)
    hi = axis.hi if axis.hi is not None else max(xs)
    if axis.log:
        lo, hi = (lo / 1.25, hi * 1.25) if lo == hi else (lo / 1.1, hi * 1.1)
    else:
        pad = (hi - lo) * 0.04 or 0.5
        lo, hi = lo - (pad if axis.lo is None else 0), hi + (pad if axis.hi is None else 0)
    return lo, hi


def _y_range(ys: list[float], axis: Axis) -> tuple[float, float]:
    lo = axis.lo if axis.lo is not None else min(ys)
    hi = axis.hi if axis.hi is not None else max(ys)
    if hi == lo:
        lo, hi = lo - 0.05, hi + 0.05
    pad = (hi - lo) * 0.06
    return lo - (pad if axis.lo is None else 0), hi + (pad if axis.hi is None else 0)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1, 2 and 5 times powers of ten inside [lo, hi]."""
    ticks = []
    for power in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            value = m * 10.0**power
            if lo <= value <= hi:
                ticks.append(value)
    return ticks


def _fmt(value: float, axis: Axis) -> str:
    if axis.percent:
        return f"{value:.0%}" if abs(value * 100 - round(value * 100)) < 1e-6 else f"{value:.1%}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


def _axes(frame: Frame, x: Axis, y: Axis) -> list[str]:
    parts = []
    bottom = frame.top + frame.height
    xticks = log_ticks(frame.x_lo, frame.x_hi) if x.log else nice_ticks(frame.x_lo, frame.x_hi)
    for tick in xticks:
        px = frame.x(tick)
        parts.append(
            f"<line x1='{px:.1f}' x2='{px:.1f}' y1='{frame.top}' y2='{bottom}' stroke='#e4e4ee'/>"
            f"<text class='tick' x='{px:.1f}' y='{bottom + 16}' font-size='11' "
            f"text-anchor='middle' fill='#444'>{escape(_fmt(tick, x))}</text>"
        )
    for tick in nice_ticks(frame.y_lo, frame.y_hi):
        py = frame.y(tick)
        parts.append(
            f"<line x1='{frame.left}' x2='{frame.left + frame.width}' y1='{py:.1f}' "
            f"y2='{py:.1f}' stroke='#e4e4ee'/>"
            f"<text class='tick' x='{frame.left - 6}' y='{py + 4:.1f}' font-size='11' "
            f"text-anchor='end' fill='#444'>{escape(_fmt(tick, y))}</text>"
        )
    middle_y = frame.top + frame.height / 2
    parts.append(
        f"<text class='axis-label' x='{frame.left + frame.width / 2:.1f}' y='{bottom + 38}' "
        f"font-size='12' text-anchor='middle'>{escape(x.label)}"
        f"{' (log scale)' if x.log else ''}</text>"
        f"<text class='axis-label' x='16' y='{middle_y:.1f}' font-size='12' "
        f"text-anchor='middle' transform='rotate(-90 16 {middle_y:.1f})'>{escape(y.label)}</text>"
    )
    return parts


def _series(frame: Frame, s: Series, x: Axis, y: Axis) -> list[str]:
    pixels = [(frame.x(px), frame.y(py)) for px, py in s.points]
    parts = []
    if s.style in ("line", "steps") and len(pixels) > 1:
        path = pixels
        if s.style == "steps":
            path = [pixels[0]]
            for (_, y0), (x1, y1) in zip(pixels, pixels[1:], strict=False):
                path += [(x1, y0), (x1, y1)]
        coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in path)
        parts.append(
            f"<polyline class='{escape(('line ' + s.css).strip())}' points='{coords}' "
            f"fill='none' stroke='{s.color}' stroke-width='2'{_dashed(s.dash)}>"
            f"<title>{escape(s.label)}</title></polyline>"
        )
    if s.size <= 0:
        return parts  # a bare line: no markers
    for i, ((px, py), (dx, dy)) in enumerate(zip(pixels, s.points, strict=False)):
        tip = s.titles[i] if i < len(s.titles) else f"{s.label}: {_fmt(dx, x)}, {_fmt(dy, y)}"
        parts.append(_marker(s, px, py, tip))
    return parts


def _marker(s: Series, px: float, py: float, tip: str) -> str:
    fill = "white" if s.hollow else s.color
    paint = f"fill='{fill}' stroke='{s.color}' stroke-width='1.5'"
    cls = f"class='{escape(('marker ' + s.css).strip())}'"
    r = s.size
    if s.marker == "square":
        shape = f"<rect {cls} x='{px - r:.1f}' y='{py - r:.1f}' width='{2 * r}' height='{2 * r}' "
    elif s.marker == "diamond":
        corners = f"{px:.1f},{py - r * 1.3:.1f} {px + r * 1.3:.1f},{py:.1f} "
        corners += f"{px:.1f},{py + r * 1.3:.1f} {px - r * 1.3:.1f},{py:.1f}"
        shape = f"<polygon {cls} points='{corners}' "
    elif s.marker == "cross":
        d = f"M{px - r:.1f},{py - r:.1f}L{px + r:.1f},{py + r:.1f}"
        d += f"M{px - r:.1f},{py + r:.1f}L{px + r:.1f},{py - r:.1f}"
        return (
            f"<path {cls} d='{d}' stroke='{s.color}' stroke-width='2.2'>"
            f"<title>{escape(tip)}</title></path>"
        )
    else:
        shape = f"<circle {cls} cx='{px:.1f}' cy='{py:.1f}' r='{r}' "
    closing = shape.split(" ", 1)[0][1:]
    return f"{shape}{paint}><title>{escape(tip)}</title></{closing}>"


def _dashed(dash: str) -> str:
    return f" stroke-dasharray='{escape(dash)}'" if dash else ""


def _legend(
    series: Sequence[Series], refs: Sequence[RefLine], left: float, top: float
) -> list[str]:
    parts = ["<g class='legend' font-size='12'>"]
    row = 0
    for s in series:
        if not s.legend:
            continue
        cy = top + 10 + row * 19
        if s.style in ("line", "steps"):
            parts.append(
                f"<line x1='{left}' x2='{left + 22}' y1='{cy}' y2='{cy}' stroke='{s.color}' "
                f"stroke-width='2'{_dashed(s.dash)}/>"
            )
        if s.size > 0:
            sample = Series(s.label, (), s.color, marker=s.marker, size=min(s.size, 5),
                            hollow=s.hollow)  # fmt: skip
            parts.append(_marker(sample, left + 11, cy, s.label))
        parts.append(f"<text x='{left + 30}' y='{cy + 4}'>{escape(s.label)}</text>")
        row += 1
    for ref in refs:
        cy = top + 10 + row * 19
        parts.append(
            f"<line x1='{left}' x2='{left + 22}' y1='{cy}' y2='{cy}' stroke='{ref.color}' "
            f"stroke-width='1.5' stroke-dasharray='{ref.dash}'/>"
            f"<text x='{left + 30}' y='{cy + 4}'>{escape(ref.label)}</text>"
        )
        row += 1
    parts.append("</g>")
    return parts
