"""Reading evaluation files (JSON lines) with errors that name the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """An evaluation file is missing, not JSON lines, or lacks a required key."""


def read_jsonl(path: Path, required: dict[str, type | tuple[type, ...]]) -> list[dict[str, Any]]:
    """Reads ``path``; every non-blank line must be an object with ``required`` keys and types."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from exc
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{number}: each line must be a JSON object")
        for key, kind in required.items():
            if key not in row:
                raise DatasetError(f"{path}:{number}: missing key {key!r}")
            if not isinstance(row[key], kind):
                raise DatasetError(f"{path}:{number}: {key!r} has the wrong type")
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows
