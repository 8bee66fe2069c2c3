"""Several processes opening the same new SQLite files at the same wall-clock moments.

SQLite answers two connections switching one new file to WAL at once with an immediate
"database is locked" (no busy wait). Each process opens ``FILES`` new files, the ``i``-th at
``start + i * STEP`` seconds, so every file is opened by all of them at once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = 100
STEP = 0.03  # seconds between files
WARMUP = 3.0  # seconds for every process to import what it opens with

RACE = """
import sys, time
from pathlib import Path
{imports}
start = float(sys.argv[2])
for i in range({files}):
    while time.time() < start + i * {step}:
        time.sleep(0.0005)
    path = Path(sys.argv[1]) / f"{{i}}.sqlite"
    {opens}
"""


def open_at_once(directory: Path, imports: str, opens: str, processes: int = 3) -> list[Path]:
    """Run ``opens`` (one statement on ``path``) in ``processes`` processes at once per file.

    Asserts that every process exited 0 (showing their stderr if not) and returns the files.
    """
    code = RACE.format(imports=imports, files=FILES, step=STEP, opens=opens)
    start = time.time() + WARMUP
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(directory), str(start)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, errors
    return [directory / f"{i}.sqlite" for i in range(FILES)]
