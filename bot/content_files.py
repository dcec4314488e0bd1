"""Locating and reading the YAML content files that live beside the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.errors import ContentError

CONTENT_DIR = Path(__file__).resolve().parent / "content"


def load_yaml(path: Path) -> dict[str, Any]:
    """Reads one content file, turning every failure into a ContentError that names the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"cannot read content file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ContentError(f"content file {path} must hold a mapping at the top level")
    return data
