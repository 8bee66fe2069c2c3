"""``winnow log`` and ``winnow report`` through the real CLI on a ledger of real evaluations."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from ledgerkit import evaluations, record_run
from typer.testing import CliRunner

from agent.cli import app
from ledger.report.export import COLUMNS
from ledger.store import Ledger

runner = CliRunner()


@pytest.fixture(scope="module")
def overnight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("overnight") / "ledger.sqlite"
    record_run(path).close()
    return path


def winnow(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_log_prints_one_line_per_experiment(overnight: Path) -> None:
    code, out, _ = winnow("log", "--ledger", str(overnight))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("run overnight")
    rows = lines[2:-1]
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert lines[-1] == (
        "holdout: looked at 3 times; 0 of 0 kept changes confirmed (95% paired interval "
        "against the start above 0)"
    )
    assert "kept" in rows[0] and "start: CodeT" in rows[0]
    assert "discarded" in rows[1] and "#1" in rows[1]  # its change against the incumbent
    assert "running (stale)" in rows[5]
    # why, in a word or two, after the status
    at = lines[1].index("why")
    why = [row[at : at + 14].strip() for row in rows]
    assert why[0] == "start" and why[2] == "selector_runs" and why[5] == "writer gone"
    assert why[1] in ("worse", "no change") or why[1].startswith("p=")
    assert why[4] == "SyntaxError"  # the error the reason names


def test_log_json_has_the_scores_and_nulls_where_nothing_was_measured(overnight: Path) -> None:
    code, out, _ = winnow("log", "--ledger", str(overnight), "--json")
    assert code == 0
    rows = json.loads(out)
    for row in rows:
        assert {"number", "commit", "status", "dev", "holdout", "hypothesis"} <= set(row)
    kept, discarded, invalid, _, crashed, stale = rows
    assert kept["status"] == "kept" and kept["dev"]["sel_at_k"] is not None
    assert kept["holdout"]["sel_at_k"] is not None
    assert discarded["dev"]["incumbent"] == 1 and discarded["dev"]["delta"] is not None
    assert discarded["dev"]["delta_lower"] <= discarded["dev"]["delta"]
    assert invalid["dev"]["sel_at_k"] is None and invalid["dev"]["status"] == "invalid"
    assert invalid["holdout"] is None
    assert crashed["dev"] is None and crashed["cost_usd"] is None
    assert stale["status"] == "running" and stale["shown_status"] == "running (stale)"


@pytest.mark.parametrize(
    ("status", "numbers"), [("kept", [1]), ("discarded", [2, 4]), ("stale", [6])]
)
def test_log_filters_by_status(overnight: Path, status: str, numbers: list[int]) -> None:
    code, out, _ = winnow("log", "--ledger", str(overnight), "--status", status, "--json")
    assert code == 0
    assert [row["number"] for row in json.loads(out)] == numbers


def test_log_picks_the_run_by_tag_and_defaults_to_the_latest(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        first = ledger.start_run("first", "b1", {}, "h", "optuna", None, False)
        ledger.start_experiment(first, 1, "p", "only in first", "", "optuna")
        ledger.start_run("second", "b2", {}, "h", "optuna", None, False)
    assert json.loads(winnow("log", "--ledger", str(path), "--json")[1]) == []
    code, out, _ = winnow("log", "--ledger", str(path), "--run", "first", "--json")
    assert [row["hypothesis"] for row in json.loads(out)] == ["only in first"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("log", "--run", "nope"), "no run tagged 'nope'"),
        (("report", "--run", "nope"), "no run tagged 'nope'"),
        (("log", "--status", "great"), "unknown status 'great'"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    overnight: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = winnow(*args, "--ledger", str(overnight))
    assert code == 2 and out == ""
    assert err.startswith("winnow: error: ") and message in err and err.count("\n") == 1


def test_a_missing_ledger_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    for command in ("log", "report"):
        code, _, err = winnow(command, "--ledger", str(tmp_path / "none.sqlite"))
        assert code == 2 and "no ledger here" in err
    assert list(tmp_path.iterdir()) == []


def test_the_default_ledger_is_in_winnow_home(winnow_home: Path) -> None:
    code, _, err = winnow("log")
    assert code == 2 and str(winnow_home / "ledger.sqlite") in err


def test_a_newer_ledger_is_refused_untouched(overnight: Path, tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    shutil.copy(overnight, path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO migrations VALUES (99, 'from the future', 'later')")
    before = path.read_bytes()
    code, _, err = winnow("report", "--ledger", str(path))
    assert code == 2 and "schema version 99 is newer" in err
    assert path.read_bytes() == before


def test_reading_never_changes_the_ledger(overnight: Path, tmp_path: Path) -> None:
    before = overnight.read_bytes()
    assert winnow("log", "--ledger", str(overnight))[0] == 0
    assert winnow("report", "--ledger", str(overnight), "--html", str(tmp_path / "r.html"))[0] == 0
    assert overnight.read_bytes() == before
    with Ledger.open(overnight, readonly=True) as reader:
        assert reader.experiments(reader.get_run().id)[5].status == "running"  # not "fixed"


def test_report_json_gives_the_morning_review(overnight: Path) -> None:
    code, out, _ = winnow("report", "--ledger", str(overnight), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["run"]["tag"] == "overnight" and data["simulated"] is False
    assert data["best"] == 1
    # The start is kept without being compared with anything: neither a change nor a keep.
    assert data["kept"] == 0 and data["decided"] == 4 and data["keep_rate"] == 0.0
    verdict = data["verdict"]
    assert (verdict["start"], verdict["best"], verdict["changes"]) == (1, 1, [])
    assert verdict["headline"].startswith("Nothing beat the start (#1): 0 of 4 changes kept.")
    assert data["statuses"] == {
        "kept": 1, "discarded": 2, "invalid": 1, "crashed": 1, "running (stale)": 1,
    }  # fmt: skip
    assert set(data["baselines"]) == {"dev", "holdout"}
    assert {"random", "oracle", "codet"} <= set(data["baselines"]["dev"]["arms"])
    codet = next(c for c in data["comparisons"] if c["split"] == "dev" and c["baseline"] == "codet")
    assert codet["difference"] == 0.0  # the best is CodeT itself: paired, identical
    random = next(
        c for c in data["comparisons"] if c["split"] == "dev" and c["baseline"] == "random"
    )
    assert random["low"] <= random["difference"] <= random["high"]
    assert [f["name"] for f in data["failed_checks"]] == ["selector_runs"]
    assert data["spend"]["llm_calls"] == 5 and data["spend"]["llm_errors"] == 1
    assert data["spend"]["unpriced_calls"] == 1
    assert data["spend"]["cost_usd"] == pytest.approx(0.0125 * (1 + 2 + 3 + 4))
    dev_curve = dict((int(k), v) for k, v in data["curves"]["dev"])
    assert dev_curve[1] == pytest.approx(data["baselines"]["dev"]["pass_at_1"])
    assert dev_curve[4] == pytest.approx(data["baselines"]["dev"]["pass_at_k"])
    assert len(data["experiments"]) == 6 and "diff" in data["experiments"][0]


def test_the_best_against_random_is_the_interval_its_evaluation_recorded(overnight: Path) -> None:
    # One computation of each number: the report's paired bootstrap is the harness's, on the
    # evaluation's own resamples, so it repeats what the evaluation said, to the last digit.
    data = json.loads(winnow("report", "--ledger", str(overnight), "--json")[1])
    best = next(e for e in data["experiments"] if e["number"] == data["best"])
    with sqlite3.connect(overnight) as db:
        for split in ("dev", "holdout"):
            recorded = db.execute(
                "SELECT diff_vs_random, diff_ci_low, diff_ci_high FROM arm_scores "
                "JOIN evaluations ON evaluations.id = evaluation_id "
                "WHERE experiment_id = ? AND split = ? AND arm_scores.arm = 'selector'",
                (best["id"], split),
            ).fetchone()
            shown = next(
                c for c in data["comparisons"] if c["split"] == split and c["baseline"] == "random"
            )
            assert (shown["difference"], shown["low"], shown["high"]) == recorded


def test_report_in_the_terminal_names_the_best_and_the_failures(overnight: Path) -> None:
    code, out, _ = winnow("report", "--ledger", str(overnight))
    assert code == 0
    assert "run overnight" in out and "best selector: #1" in out
    assert "keep rate 0% (0 of 4 changes kept; 2 discarded, 1 invalid, 1 crashed" in out
    assert "verdict: Nothing beat the start (#1)" in out
    assert "check failed: selector_runs" in out and "SIMULATED" not in out


def test_a_simulated_run_says_so(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    record_run(path, tag="sim", simulated=True).close()
    code, out, _ = winnow("report", "--ledger", str(path), "--html", str(tmp_path / "r.html"))
    assert code == 0 and "SIMULATED" in out
    assert "SIMULATED" in (tmp_path / "r.html").read_text()
    assert json.loads(winnow("report", "--ledger", str(path), "--json")[1])["simulated"] is True


def test_report_html_replaces_its_own_page_but_nothing_else(
    overnight: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    for _ in range(2):
        code, out, _ = winnow("report", "--ledger", str(overnight), "--html", str(page))
        assert code == 0 and f"wrote {page}" in out
    html = page.read_text()
    for external in ("<script", "<link", "src=", "http://", "https://", "@import"):
        assert external not in html  # self-contained: nothing to fetch, nothing to run
    assert re.findall(r"url\((?!#)", html) == []  # only references inside the page (clip paths)
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my notes</html>")
    code, _, err = winnow("report", "--ledger", str(overnight), "--html", str(notes))
    assert code == 2 and "not a Winnow report" in err
    assert notes.read_text() == "<html>my notes</html>"


def test_a_run_without_experiments_still_reports(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start_run("empty", "b", {}, "h", "optuna", None, False)
    code, out, _ = winnow("report", "--ledger", str(path), "--html", str(tmp_path / "r.html"))
    assert code == 0 and "no kept experiment yet" in out
    assert "No experiments recorded yet" in (tmp_path / "r.html").read_text()


def test_log_and_report_say_which_kept_changes_the_holdout_confirms(tmp_path: Path) -> None:
    # Kept changes against the start on the holdout: confirmed when the interval is above 0.
    path = tmp_path / "l.sqlite"
    results = evaluations()
    with Ledger.open(path) as ledger:
        run = ledger.start_run("holdout", "b", {}, "h", "llm", None, False)
        plan = [(1, "kept", None), (2, "kept", (0.12, 0.03, 0.2)), (3, "kept", (0.05, -0.02, 0.12)),
                (4, "discarded", None)]  # fmt: skip
        for number, status, holdout in plan:
            exp = ledger.start_experiment(run, number, "p", f"change {number}", "", "llm")
            ledger.record_evaluation(exp, results[("codet", "dev")])
            if status == "kept":
                ledger.record_evaluation(exp, results[("codet", "holdout")])
            first = number == 1  # the start: no test, no comparison
            ledger.finish_experiment(
                exp, status, "r", f"c{number}", 0.0, holdout=holdout,
                incumbent=None if first else number - 1, delta=None if first else 0.1,
                delta_lower=None if first else 0.05, p_value=None if first else 0.001,
                level=None if first else 0.004,
            )  # fmt: skip
    code, out, _ = winnow("log", "--ledger", str(path))
    assert code == 0
    rows = out.splitlines()[2:6]
    assert "—" in rows[0] and " confirmed " in rows[1] and " no " in rows[2]
    assert "holdout: looked at 3 times; 1 of 2 kept changes confirmed" in out
    logged = json.loads(winnow("log", "--ledger", str(path), "--json")[1])
    assert [row["confirmed"] for row in logged] == [None, True, False, None]
    # Why: the p-value the ledger stores (the reasons here state none).
    assert [row["why"] for row in logged] == ["start", "p=0.001", "p=0.001", "p=0.001"]
    assert logged[1]["holdout"]["delta_low"] == 0.03 and logged[1]["dev"]["level"] == 0.004
    report = json.loads(winnow("report", "--ledger", str(path), "--json")[1])
    assert report["confirmed"] == 1 and report["holdout_looks"] == 3
    assert report["experiments"][2]["confirmed"] is False
    code, out, _ = winnow("report", "--ledger", str(path))
    assert code == 0 and "looked at 3 times; 1 of 2 kept changes confirmed" in out
    assert "best selector: #3" in out and "(not confirmed)" in out


def test_log_tsv_is_a_flat_table_csv_reads_back_with_every_experiment(overnight: Path) -> None:
    code, out, _ = winnow("log", "--ledger", str(overnight), "--tsv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out), delimiter="\t"))
    listed = json.loads(winnow("log", "--ledger", str(overnight), "--json")[1])
    assert [int(r["number"]) for r in rows] == [e["number"] for e in listed] == [1, 2, 3, 4, 5, 6]
    assert list(rows[0]) == list(COLUMNS)
    for row, e in zip(rows, listed, strict=True):
        assert row["run"] == "overnight" and row["status"] == e["shown_status"]
        assert row["why"] == e["why"] and row["hypothesis"] == e["hypothesis"]
        assert row["reason"] == (e["reason"] or "")  # multi-line evidence survives quoting
        dev = e["dev"] or {}
        for key in ("sel_at_k", "ci_low", "gap_closed", "gap_ci_high", "pass_at_k"):
            shown = row[f"dev_{key}"]
            assert (float(shown) if shown else None) == dev.get(key), key
        holdout = (e["holdout"] or {}).get("sel_at_k")
        assert (float(row["holdout_sel_at_k"]) if row["holdout_sel_at_k"] else None) == holdout
    assert rows[4]["dev_sel_at_k"] == "" and rows[4]["cost_usd"] == ""  # crashed: not 0
    assert rows[0]["dev_valid"] == "true" and rows[2]["dev_valid"] == "false"


def test_log_tsv_and_json_together_is_bad_input(overnight: Path) -> None:
    code, out, err = winnow("log", "--ledger", str(overnight), "--tsv", "--json")
    assert code == 2 and out == "" and "--json or --tsv" in err


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("two-nights") / "ledger.sqlite"
    record_run(path, tag="first").close()
    record_run(path, tag="second").close()
    return path


def test_report_puts_runs_side_by_side(two_nights: Path, tmp_path: Path) -> None:
    page = tmp_path / "runs.html"
    code, out, _ = winnow(
        "report", "--ledger", str(two_nights), "--run", "first", "--run", "second", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert [r["tag"] for r in data["runs"]] == ["first", "second"] and data["same_directive"]
    first = data["runs"][0]
    assert (first["best"], first["kept"], first["decided"], first["k"]) == (1, 0, 4, 4)
    assert first["program_hash"] == "sha256:program" and first["baseline"] is not None
    # The two bests were evaluated on the same problems, pool, k and seed: paired, here equal.
    pairs = {p["split"]: p for p in data["pairs"]}
    assert set(pairs) == {"dev", "holdout"}
    for pair in pairs.values():
        assert pair["why_not"] == "" and pair["delta"]["estimate"] == 0.0
    code, out, _ = winnow("report", "--ledger", str(two_nights), "--run", "first", "--run",
                          "second", "--html", str(page))  # fmt: skip
    assert code == 0 and "runs side by side" in out and f"wrote {page}" in out
    html = page.read_text()
    assert 'id="runs"' in html and 'id="pairs"' in html and "<svg" in html
    assert html.count("Nothing beat the start (#1)") == 2  # each run's verdict


def test_a_run_named_twice_is_bad_input(two_nights: Path) -> None:
    code, _, err = winnow("report", "--ledger", str(two_nights), "--run", "first", "--run", "first")
    assert code == 2 and "names a run twice" in err
