"""The HTML report in headless Chromium: it renders its charts and tables without errors."""

from __future__ import annotations

from pathlib import Path

from browserkit import browser, full_page_screenshot, open_file, severe_console_errors
from ledgerkit import record_run

from ledger.report.page import write_html
from ledger.report.summary import build_report


def test_the_report_page_renders_its_charts_and_tables(tmp_path: Path) -> None:
    ledger = record_run(tmp_path / "ledger.sqlite", tag="night", simulated=True)
    report = build_report(ledger, None)
    ledger.close()
    page = tmp_path / "report.html"
    write_html(report, page)
    with browser() as driver:
        open_file(driver, page)
        assert driver.title == "Winnow report: night (SIMULATED)"
        assert severe_console_errors(driver) == []

        def count(selector: str) -> int:
            return len(driver.find_elements("css selector", selector))

        # progress: every experiment a dot, the kept one highlighted, baselines as lines
        assert count("svg.progress .dot") == len(report.experiments) == 6
        assert count("svg.progress .dot.kept") == 1
        assert count("svg.progress .dot.failed") == 3  # invalid, crashed, stale: no score
        assert count("svg.progress line.ref") == len(report.baselines["dev"].arms)
        assert count("svg.progress polyline.line") == 2  # running best (dev), same on holdout
        # pass@k: one curve per split, the best selector marked on each
        assert count("svg.passk polyline.curve") == 2
        assert count("svg.passk .selector") == 2
        chart = driver.find_element("css selector", "svg.progress")
        assert chart.size["width"] > 400 and chart.size["height"] > 200
        # the tables
        assert count("#experiments tr") == 1 + 6
        assert count("#baselines tr") >= 1 + len(report.baselines["dev"].arms)
        assert count("#comparisons tr") >= 1 + len(report.baselines["dev"].arms)
        assert "selector_runs" in driver.find_element("css selector", "#failed-checks").text
        banner = driver.find_element("css selector", "#simulated")
        assert banner.is_displayed() and banner.text.startswith("SIMULATED")
        # a diff opens without a script: <details>
        driver.find_element("css selector", "#exp-2 summary").click()
        assert "+# longest" in driver.find_element("css selector", "#exp-2 pre.diff").text
        png = full_page_screenshot(driver, tmp_path / "report.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
