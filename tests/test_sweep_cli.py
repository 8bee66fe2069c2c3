"""``winnow sweep`` through the real CLI: bad input, JSON, the page in headless Chromium, and
``winnow run --sweep-ks`` linking the page from the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browserkit import browser, full_page_screenshot, open_file, severe_console_errors
from evalkit import EXPERIMENT, TINY_POOL, TINY_SUITE
from loopkit import finish, make_repo, winnow
from sweepkit import write_counted_pool
from synthkit import write_synthetic
from typer.testing import CliRunner, Result

from agent.cli import app
from ledger.store import Ledger

TINY = ["--suite", str(TINY_SUITE), "--repeats", "2"]


def sweep(*args: object) -> Result:
    return CliRunner().invoke(app, ["sweep", *[str(a) for a in args]])


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--pool", "nonsense"], "--pool 'nonsense': expected NAME=SPEC"),
        (["--pool", "a=x", "--pool", "a=y"], "the name 'a' is given twice"),
        (["--pool", f"p={TINY_POOL}", "--ks", "1,x"], "--ks '1,x': expected positive integers"),
        (["--pool", f"p={TINY_POOL}", "--ks", "0,4"], "--ks '0,4': every k must be at least 1"),
        (["--pool", f"p={TINY_POOL}", "--params", "q=1e9"], "no --pool is named 'q'"),
        (["--pool", f"p={TINY_POOL}", "--params", "p=big"], "--params 'p=big': expected"),
        (["--pool", "p=sample:/no/such.toml"], "no such sampling config"),
        (["--pool", "p=/no/such/pool"], "/no/such/pool: not a pool id in the cache"),
        (["--pool", f"p={TINY_POOL}", "--pool", "q=/no/such"], "/no/such: not a pool id"),
        (["--pool", f"p={TINY_POOL}", "--html", "/no/such/dir/x.html"], "no such directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], names: str) -> None:
    result = sweep(*TINY, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("winnow: error:") and names in lines[0]


def test_html_over_a_foreign_file_is_refused_before_the_sweep(tmp_path: Path) -> None:
    page = tmp_path / "notes.html"
    page.write_text("<html>my notes</html>")
    result = sweep(*TINY, "--pool", f"p={TINY_POOL}", "--html", page)
    assert result.exit_code == 2 and "is not a Winnow sweep" in result.stderr
    assert page.read_text() == "<html>my notes</html>"


def test_json_has_every_point_and_a_too_large_k_is_skipped() -> None:
    result = sweep(*TINY, "--pool", f"tiny={TINY_POOL}", "--ks", "1,2,4,9", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (pool,) = data["pools"]
    assert [p["k"] for p in pool["points"]] == [1, 2, 4] and pool["skipped_ks"] == [9]
    assert pool["n"] == 6 and data["status"] == "ok" and data["crossings"] == []
    point = pool["points"][-1]
    assert set(point["arms"]) >= {"random", "oracle", "codet"}
    assert point["costs"]["codet"]["flops"] is None  # no parameter count: unknown, not 0
    assert pool["forecast"]["label"].startswith("forecast")


def test_a_pool_sampled_on_the_fly_carries_its_cost(tmp_path: Path) -> None:
    config = tmp_path / "sampling.toml"
    config.write_text("n = 4\n[self_tests]\nn = 2\n")
    run = tmp_path / "run.toml"
    run.write_text("[sampler]\nparams = 1.5e9\n")  # the simulated backend, counted as 1.5B
    result = sweep(
        *TINY, "--pool", f"sim=sample:{config}", "--ks", "1,2,4", "--config", run, "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (pool,) = data["pools"]
    assert pool["simulated"] and pool["backend"] == "simulated"
    assert any("SIMULATED" in w for w in data["warnings"])
    cost = pool["cost"]  # the sampler's record in the pool's meta: tokens and parameters
    assert (cost["tokens_source"], cost["params_source"]) == ("samples", "pool meta")
    assert cost["params"] == 1.5e9 and cost["self_test_tokens"] > 0
    codet = pool["points"][-1]["costs"]["codet"]
    tokens = 4 * cost["tokens_per_sample"] + cost["self_test_tokens"]
    assert codet["generated_tokens"] == pytest.approx(tokens)
    assert codet["flops"] == pytest.approx(2 * 1.5e9 * tokens)


def test_an_invalid_selector_is_said_prominently(tmp_path: Path) -> None:
    constant = tmp_path / "constant.py"
    constant.write_text(
        "USES = {'self_tests'}\n\ndef select(problem, candidates, probe):\n"
        "    probe.self_tests()\n    return [0.0] * len(candidates)\n"
    )
    page = tmp_path / "sweep.html"
    result = sweep(*TINY, "--pool", f"tiny={TINY_POOL}", "--ks", "2,4", "--selector", constant,
                   "--html", page)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "INVALID SELECTOR" in result.stdout and "signals_wired" in result.stdout
    assert 'id="invalid"' in page.read_text()


def test_the_page_in_headless_chromium(tmp_path: Path) -> None:
    suite, _ = write_synthetic(tmp_path / "syn", problems=20)
    shares = [2, 4, 6, 8] * 5  # of 16: a spread of difficulty, so the forecast has a tail
    small = write_counted_pool(tmp_path / "small", suite, shares, 16, tokens=10)
    big = write_counted_pool(tmp_path / "big", suite, [1] * 14 + [0] * 6, 1, tokens=20)
    page = tmp_path / "sweep.html"
    result = sweep(
        "--suite", suite, "--pool", f"small={small}", "--pool", f"big={big}", "--ks", "1,2,4,16",
        "--repeats", "2", "--selector", EXPERIMENT, "--params", "small=1e9", "--params",
        "big=1e10", "--html", page,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ks = [1, 2, 4, 16]  # all sampled on pool small (n = 16)
    with browser() as driver:
        open_file(driver, page)
        assert severe_console_errors(driver) == []
        for css in ("sweep-k", "sweep-compute", "sweep-gap", "sweep-cross"):
            assert driver.find_elements("css selector", f"svg.{css}"), f"no {css} chart"
        assert len(driver.find_elements("css selector", "svg.sweep-k")) == 2  # one per pool
        # (a) the forecast is dashed and says it is not measured; the k axis is ticked at the ks
        # sampled and the forecast's end; identical curves are one line named by all its arms.
        chart = driver.find_element("css selector", "svg.sweep-k[data-pool='small']")
        forecast = chart.find_element("css selector", "g#forecast-small")
        assert "stroke-dasharray" in forecast.find_element("css selector", "path").get_attribute(
            "style"
        )
        title = text_of(forecast.find_element("css selector", "title"))
        assert title.startswith("forecast") and "not measured" in title
        ticks = [text_of(t) for t in chart.find_elements("css selector", "g[id^='xtick'] text")]
        assert ticks == [str(k) for k in ks] + ["160"]
        same = [g.get_attribute("id") for g in chart.find_elements("css selector", "g[id^='arm-']")]
        assert any("-codet-" in gid and gid.endswith("-selector") for gid in same), same
        assert "codet = codet_product" in text_of(chart).replace("\n", " ")
        # At k = 1 every candidate is its own subset: every arm is exactly pass@1, the ceiling.
        rows = driver.find_elements("css selector", "#points-small tr")
        at_k1: list[str] = []
        for row in rows[1:]:
            cells = row.find_elements("css selector", "td")
            if cells[0].text and at_k1:
                break
            at_k1.append(cells[2].text)
        assert len(at_k1) > 5 and set(at_k1) == {at_k1[0]}  # the ceiling and every arm
        # (b) a compute axis with more than one tick; (c) the gap closed with intervals;
        # (d) the crossing with its interval.
        compute = driver.find_element("css selector", "svg.sweep-compute")
        assert "FLOPs per problem" in text_of(compute)
        assert len(compute.find_elements("css selector", "g[id^='xtick'] text")) >= 2
        gap = driver.find_element("css selector", "svg.sweep-gap")
        assert "%" in text_of(gap.find_element("css selector", "g[id^='gap-small-'] title"))
        assert driver.find_elements("css selector", "svg.sweep-cross g[id^='crossing-'] title")
        rows = driver.find_elements("css selector", "#crossings tr")
        assert any("pass@k" in r.text and "big" in r.text for r in rows)
        assert not driver.find_elements("css selector", "#invalid")
        assert "the selector was not run (k = 1 only" in driver.page_source  # on pool big
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= driver.execute_script("return document.documentElement.clientWidth")
        shot = full_page_screenshot(driver, tmp_path / "sweep.png")
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000


def text_of(element: Any) -> str:
    """An SVG element's text (its textContent: selenium's .text is empty for SVG)."""
    return " ".join((element.get_attribute("textContent") or "").split())


def test_run_with_sweep_ks_links_the_page_from_the_run(tmp_path: Path, winnow_home: Path) -> None:
    suite, pool = write_synthetic(tmp_path / "data", problems=24)
    make_repo(tmp_path / "repo")
    args = ["run", "--tag", "sw", "--suite", str(suite), "--pool", str(pool),
            "--max-experiments", "1", "--sweep-ks", "1,4"]  # fmt: skip
    code, out = finish(winnow(args, tmp_path / "repo", winnow_home))
    assert code == 0, out
    page = winnow_home / "sweeps" / "sw.html"
    assert page.is_file() and "sweep of the best selector (#1)" in out
    ledger = Ledger.open(winnow_home / "ledger.sqlite", readonly=True)
    try:
        assert ledger.get_run("sw").sweep_path == str(page)
    finally:
        ledger.close()
    report = tmp_path / "report.html"
    done = CliRunner().invoke(app, ["report", "--run", "sw", "--html", str(report)])
    assert done.exit_code == 0, done.output
    assert f'href="{page}"' in report.read_text()
    html = page.read_text()
    # The best kept selector, on the split never used to decide, checked at the largest k.
    assert "(split holdout)" in html and "rigid checks on this pool, at k = 4" in html
