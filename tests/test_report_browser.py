"""The HTML report in headless Chromium, read the way a researcher reads it in the morning: the
verdict on the first screen, then the progress chart (zoomed to the data, kept experiments
named), the experiments with the reason for each decision, the cost, and where selection still
loses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browserkit import browser, full_page_screenshot, open_file, severe_console_errors
from ledgerkit import record_improving_run, record_run

from ledger.report.page import write_html
from ledger.report.summary import build_report

FIRST_SCREEN = 900  # px of page height a 1280 px wide window shows first


def extent(driver: Any, css: str) -> tuple[float, float]:
    """(top, bottom) of the first element matching ``css``, in page coordinates."""
    return tuple(
        driver.execute_script(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return [r.top + window.scrollY, r.bottom + window.scrollY];",
            css,
        )
    )


def text_of(element: Any) -> str:
    """An SVG element's text (its textContent: selenium's .text is empty for SVG text)."""
    return " ".join((element.get_attribute("textContent") or "").split())


def test_the_report_answers_the_morning_questions_in_order(tmp_path: Path) -> None:
    ledger = record_improving_run(tmp_path / "ledger.sqlite")
    report = build_report(ledger, None)
    ledger.close()
    page = tmp_path / "report.html"
    write_html(report, page)
    kept = [e for e in report.experiments if e.status == "kept"]
    assert [e.number for e in kept] == [1, 2] and report.best == 2
    with browser(1280, FIRST_SCREEN) as driver:
        open_file(driver, page)
        assert severe_console_errors(driver) == []
        # The first screen holds the whole verdict: the best against the start and the best
        # baseline, on dev and on the holdout, with intervals.
        top, bottom = extent(driver, "#verdict")
        assert bottom <= FIRST_SCREEN, (top, bottom)
        verdict = driver.find_element("css selector", "#verdict").text
        assert verdict.startswith("#2 is the best (1 of 3 changes kept): +0.177 [")
        assert "holds on the holdout" in verdict and f"best baseline, {report.verdict.baseline}"
        rows = driver.find_elements("css selector", "#verdict-table tr")
        assert "start #1" in rows[1].text and "best baseline" in rows[2].text
        assert "count every self-test" in rows[3].text and rows[3].text.endswith("holds")
        # ... and links to where the best selector still loses.
        assert driver.find_elements("css selector", "#verdict a[href='#losses-holdout']")
        # Then, in this order: progress, experiments, cost, where selection loses.
        order = [extent(driver, css)[0] for css in
                 ("#verdict", "svg.progress", "#experiments", "#spend", "#losses")]  # fmt: skip
        assert order == sorted(order)

        # The progress chart's y axis spans the experiments, zoomed to them (not 0-100%).
        chart = driver.find_element("css selector", "svg.progress")
        y_min, y_max, lo, hi = (
            float(chart.get_attribute(f"data-{key}"))
            for key in ("y-min", "y-max", "data-min", "data-max")
        )
        dev = [v for e in report.experiments if (v := e.sel_at_k("dev")) is not None]
        assert lo <= min(dev) and max(dev) <= hi
        assert y_min <= lo and hi <= y_max and (y_max - y_min) < 1.3 * (hi - lo)
        assert chart.size["width"] > 1000  # the page's width, not 60% of it
        ticks = [float(t) for t in (text_of(el) for el in chart.find_elements(
            "css selector", "g[id^='ytick'] text")) if t.replace(".", "").isdigit()]  # fmt: skip
        assert len(ticks) >= 3 and all(y_min <= t <= y_max for t in ticks)
        # Every kept experiment is named on the chart by its hypothesis.
        for e in kept:
            label = text_of(driver.find_element("css selector", f"#progress-kept-{e.number}"))
            assert label.startswith(f"#{e.number} ")
            assert ("start" if e.number == 1 else e.hypothesis[:30]) in label
        # The experiments table says why each decision went as it did, without opening anything.
        why = [el.text for el in driver.find_elements("css selector", "#experiments td.why")]
        assert why == ["start", "p<0.001", "worse", "signals_wired,not_random"]
        reasons = driver.find_elements("css selector", "#experiments .reason")
        assert all(r.is_displayed() for r in reasons) and "p = 5.07e-05 <= level" in reasons[1].text
        # A diff opens without a script, highlighted, one line per line (not double-spaced).
        driver.find_element("css selector", "#exp-2 summary").click()
        diff = driver.find_element("css selector", "#exp-2 pre.diff")
        assert diff.text.splitlines() == report.experiments[1].diff.splitlines()
        assert driver.find_elements("css selector", "#exp-2 pre.diff span.gi")
        # Where selection still loses: per split, the problems the best selector lost, the
        # most lost first, with the behaviour groups of a subset it got wrong side by side.
        for split in ("dev", "holdout"):
            losses = report.losses[split]
            assert losses.lost_problems > 0
            table = f"#losses-table-{split}"
            lost = driver.find_elements("css selector", f"{table} tr.lost")
            assert [r.find_element("css selector", "td").text.split()[0] for r in lost] == [
                row.task_id for row in losses.rows
            ]
            assert any(row.case is not None for row in losses.rows)
            assert driver.find_elements("css selector", f"{table} .groups")
        # Nothing runs past the window's right edge (long check lines and diffs wrap).
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= driver.execute_script("return document.documentElement.clientWidth")
        png = full_page_screenshot(driver, tmp_path / "report.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000


def test_a_simulated_run_with_failures_renders_every_part(tmp_path: Path) -> None:
    ledger = record_run(tmp_path / "ledger.sqlite", tag="night", simulated=True)
    report = build_report(ledger, None)
    ledger.close()
    page = tmp_path / "report.html"
    write_html(report, page)
    with browser() as driver:
        open_file(driver, page)
        assert driver.title == "Winnow report: night (SIMULATED)"
        assert severe_console_errors(driver) == []
        banner = driver.find_element("css selector", "#simulated")
        assert banner.is_displayed() and banner.text.startswith("SIMULATED")
        # Nothing was kept after the start: the verdict says so, first.
        assert driver.find_element("css selector", "#verdict .headline").text.startswith(
            "Nothing beat the start (#1): 0 of 4 changes kept."
        )
        assert len(driver.find_elements("css selector", "#experiments tr")) == 1 + 6
        why = [el.text for el in driver.find_elements("css selector", "#experiments td.why")]
        assert why[0] == "start" and why[2] == "selector_runs" and why[5] == "writer gone"
        assert driver.find_elements("css selector", "svg.progress #progress-failed")
        assert driver.find_elements("css selector", "svg.passk")
        assert "selector_runs" in driver.find_element("css selector", "#failed-checks").text
        sampling = driver.find_element("css selector", "#sampling").text
        assert "temperature\n0.8" in sampling  # a definition list, not a Python dict
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= driver.execute_script("return document.documentElement.clientWidth")
