"""The freeze of the judge: a hash of ``harness/``, the git commit and whether the tree is dirty.

Every evaluation records these. Results with different harness hashes are never compared, and
the research loop refuses to evaluate when the running harness differs from the one committed
on its branch.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from harness.results import HarnessInfo

HARNESS_DIR = Path(__file__).parents[1]


def part_of_judge(relative: str) -> bool:
    """Whether a file (a path relative to ``harness/``) belongs to the judge: every file does,
    sources, prompt templates and data alike, except Python's bytecode caches."""
    parts = Path(relative).parts
    return "__pycache__" not in parts and not relative.endswith((".pyc", ".pyo"))


def harness_files(root: Path = HARNESS_DIR) -> list[Path]:
    """The files that define the judge: every file under ``harness/`` (see ``part_of_judge``)."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and part_of_judge(p.relative_to(root).as_posix())
    )


def harness_hash(root: Path = HARNESS_DIR) -> str:
    digest = hashlib.sha256()
    for path in harness_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def tree_hash(files: dict[str, bytes]) -> str:
    """The same hash, for harness files read from a git tree (relative path -> contents)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(files[name] + b"\0")
    return digest.hexdigest()[:16]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=HARNESS_DIR, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def harness_info() -> HarnessInfo:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--", str(HARNESS_DIR)) if commit else None
    return HarnessInfo(
        hash=harness_hash(), commit=commit, dirty=None if status is None else bool(status)
    )
