"""Charts as inline SVG drawn by matplotlib (ledger/report/figures.py): self-contained, readable
text, the same bytes for the same figure, tooltips and the axis's ends where tests look."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ledger.report.figures import axis_data, drawing, svg_of, zoomed


def chart() -> str:
    with drawing(3.0) as fig:
        ax = fig.add_subplot()
        ax.plot([1, 2, 3], [0.41, 0.47, 0.44], gid="line-a")
        ax.set_ylim(*zoomed([0.41, 0.47]))
        ax.set_title("Progress & more <b>")
        return svg_of(fig, "chart progress", axis_data(ax, 0.41, 0.47), {"line-a": "a <tip>"})


def test_an_inline_svg_fetches_nothing_and_keeps_its_text() -> None:
    svg = chart()
    assert svg.startswith('<svg class="chart progress" role="img" viewBox=')
    for outside in ("<?xml", "<!DOCTYPE", "http://", "https://", "xlink:", "<metadata"):
        assert outside not in svg
    assert re.findall(r"url\((?!#)", svg) == []  # only the page's own clip paths
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    texts = " ".join(root.itertext())
    assert "Progress & more <b>" in texts  # text stays text (escaped), not glyph paths
    assert "a <tip>" in texts  # the tooltip of the group with gid line-a
    assert svg == chart()  # the same figure, the same bytes


def test_the_axis_ends_are_exact_and_zoomed_to_the_data() -> None:
    found = dict(re.findall(r'data-([\w-]+)="([^"]*)"', chart()))
    low, high = float(found["y-min"]), float(found["y-max"])
    assert float(found["data-min"]) == 0.41 and float(found["data-max"]) == 0.47
    assert low < 0.41 and high > 0.47 and high - low == pytest.approx(0.06 * 1.16)


def test_a_flat_range_is_widened_to_the_least_span() -> None:
    low, high = zoomed([0.5, 0.5], pad=0.0, least=0.02)
    assert (low, high) == pytest.approx((0.49, 0.51))
