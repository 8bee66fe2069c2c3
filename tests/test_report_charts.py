"""The inline-SVG chart primitives (ledger/report/charts.py) that the report and the sweep page
share."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ledger.report.charts import Axis, RefLine, Series, log_ticks, nice_ticks, svg_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_a_chart_has_its_markers_lines_references_and_legend() -> None:
    svg = svg_chart(
        [
            Series("dots <b>", [(1, 0.2), (2, 0.5), (3, 0.4)], "#123456", css="dot"),
            Series("best", [(1, 0.2), (2, 0.5), (3, 0.5)], "#2ca02c", style="steps", size=0),
            Series("failed", [(4, 0.0)], "#d62728", marker="cross", css="dot failed"),
        ],
        [RefLine("random 0.3", 0.3, "#999")],
        x=Axis("experiment"),
        y=Axis("sel@k", lo=0, hi=1, percent=True),
        title="Progress & more",
    )
    root = parse(svg)
    classes = [el.get("class") or "" for el in root.iter()]
    assert sum("dot" in c.split() for c in classes) == 4
    assert sum("failed" in c.split() for c in classes) == 1
    assert sum(c == "ref" for c in classes) == 1
    assert sum(c == "line" for c in classes) == 1
    texts = "".join(root.itertext())
    assert "dots <b>" in texts and "Progress & more" in texts and "random 0.3" in texts
    assert "100%" in texts and "experiment" in texts and "<b>" not in svg.replace("&lt;b&gt;", "")


def test_steps_go_across_then_up() -> None:
    svg = svg_chart(
        [Series("s", [(0, 0.0), (10, 1.0)], "#000", style="steps", size=0)],
        x=Axis("x", lo=0, hi=10),
        y=Axis("y", lo=0, hi=1),
    )
    line = next(el for el in parse(svg).iter(f"{SVG}polyline"))
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    assert len(points) == 3 and points[1][1] == points[0][1] and points[1][0] == points[2][0]


def test_a_log_axis_places_decades_evenly() -> None:
    svg = svg_chart(
        [Series("c", [(1, 0.1), (10, 0.5), (100, 0.9)], "#000", style="line")],
        x=Axis("k", log=True),
        y=Axis("pass@k"),
    )
    xs = [
        float(el.get("cx") or 0)
        for el in parse(svg).iter(f"{SVG}circle")
        if "marker" in (el.get("class") or "")
    ]
    xs = xs[:3]  # the legend's sample marker comes last
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    assert "(log scale)" in svg


def test_ticks_are_round_numbers() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.5, 6.5)[:3] == [1, 2, 3]
    assert log_ticks(1, 100) == [1, 2, 5, 10, 20, 50, 100]


def test_nothing_to_draw_or_a_bad_log_axis_is_an_error() -> None:
    with pytest.raises(ValueError, match="no data"):
        svg_chart([], x=Axis("x"), y=Axis("y"), title="empty")
    with pytest.raises(ValueError, match="positive"):
        svg_chart([Series("s", [(0, 1)], "#000")], x=Axis("x", log=True), y=Axis("y"))
