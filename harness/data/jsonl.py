"""Reading JSONL files with errors that name the file and the line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import InputError


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; ``.gz`` files are read too."""
    if not path.exists():
        raise InputError("no such file", path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc.msg})", path, number) from None
            if not isinstance(obj, dict):
                raise InputError("expected a JSON object", path, number)
            yield number, obj


def require(obj: dict[str, Any], key: str, kind: type, path: Path, line: int) -> Any:
    """``obj[key]`` checked to be of ``kind``, or an InputError naming the key and line."""
    if key not in obj:
        raise InputError(f"missing key {key!r}", path, line)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"key {key!r} must be {kind.__name__}", path, line)
    return value


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows atomically: a temp file renamed into place, so a crash leaves no half file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    tmp.replace(path)
