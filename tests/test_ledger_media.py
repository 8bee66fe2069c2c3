"""A ledger on read-only media (a copy on a DVD, a read-only mount) opens for ``winnow log`` and
for ``sqlite3 -readonly``: the media is a bubblewrap read-only bind of a real directory, so
nothing beside the file can be created, as on the real thing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ledgerkit import ROOT, record_run

BWRAP = shutil.which("bwrap")

# A writer that commits three experiments while another connection keeps the log from being
# folded into the file, then waits to be killed: its transactions are in ledger.sqlite-wal only.
WRITER = """
import sqlite3, sys, time
from ledger.store import Ledger
path = sys.argv[1]
with Ledger.open(path) as ledger:
    holder = sqlite3.connect(path)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("SELECT count(*) FROM runs").fetchall()
    run = ledger.start_run("killed", "b", {}, "h", "optuna", None, False)
    for number in (1, 2, 3):
        exp = ledger.start_experiment(run, number, "p", f"try {number}", "+x\\n", "optuna")
        ledger.finish_experiment(exp, "discarded", "no", f"c{number}", 0.0)
    print("ready", flush=True)
    time.sleep(600)
"""


def read_only(media: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` where ``media`` is mounted read-only."""
    assert BWRAP is not None
    wrapped = [BWRAP, "--dev-bind", "/", "/", "--ro-bind", str(media), str(media)]
    return subprocess.run(
        [*wrapped, "--chdir", str(ROOT), *command], capture_output=True, text=True, timeout=120
    )


def bwrap_works() -> bool:
    if BWRAP is None:
        return False
    probe = subprocess.run([BWRAP, "--dev-bind", "/", "/", "true"], capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot mount here")


def logged(media: Path) -> list[dict[str, object]]:
    done = read_only(
        media, sys.executable, "-m", "agent", "log", "--ledger", str(media / "ledger.sqlite"),
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    experiments: list[dict[str, object]] = json.loads(done.stdout)
    return experiments


def sqlite_readonly(media: Path) -> subprocess.CompletedProcess[str]:
    # What `sqlite3 -readonly ledger.sqlite` does: SQLITE_OPEN_READONLY, i.e. mode=ro.
    query = (
        "import sqlite3, sys; db = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); "
        "print(db.execute('SELECT count(*) FROM experiments').fetchone()[0])"
    )
    return read_only(media, sys.executable, "-c", query, str(media / "ledger.sqlite"))


def test_a_closed_ledger_copied_to_read_only_media_opens(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    record_run(media / "ledger.sqlite").close()
    assert sorted(p.name for p in media.iterdir()) == ["ledger.sqlite"]
    os.chmod(media, 0o555)
    assert len(logged(media)) == 6
    plain = sqlite_readonly(media)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split() == ["6"]
    assert sorted(p.name for p in media.iterdir()) == ["ledger.sqlite"]  # nothing written


@pytest.mark.parametrize("with_index", [False, True], ids=["file+log", "file+log+index"])
def test_a_ledger_copied_mid_run_reads_the_transactions_in_its_log(
    tmp_path: Path, with_index: bool
) -> None:
    live = tmp_path / "live" / "ledger.sqlite"
    live.parent.mkdir()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(live)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    wal = live.with_name("ledger.sqlite-wal")
    assert wal.stat().st_size > 0  # the three experiments are in the log, not the file
    media = tmp_path / "media"
    media.mkdir()
    names = ["ledger.sqlite", "ledger.sqlite-wal"] + (["ledger.sqlite-shm"] if with_index else [])
    for name in names:
        shutil.copyfile(live.parent / name, media / name)

    experiments = logged(media)
    assert [e["number"] for e in experiments] == [1, 2, 3]
    assert sorted(p.name for p in media.iterdir()) == sorted(names)  # the media unchanged
