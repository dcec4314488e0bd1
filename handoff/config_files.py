"""Reading handoff's YAML files (pools, outcomes, canned replies, notices, read reasons).

One place turns a missing file, bad YAML or a failed schema check into a
:class:`HandoffConfigError` that names the file, so an operator's typo stops start-up with
a message that says where to look.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from handoff.errors import HandoffConfigError

M = TypeVar("M", bound=BaseModel)
# Codes stored in audit records and case rows (outcomes, read reasons): snake_case, ≤ 40.
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def read_yaml(path: Path) -> Any:
    """The parsed file (an empty file is ``{}``)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HandoffConfigError(f"cannot read {path}: {exc}") from exc


def load_model(model: type[M], path: Path) -> M:
    """The file validated against a pydantic model."""
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HandoffConfigError(f"{path}: {exc}") from exc


def read_codes(path: Path, key: str, what: str) -> dict[str, Any]:
    """The file's ``key`` mapping of snake_case codes to their (unchecked) values.

    ``what`` names one entry in errors ("outcome", "reason").
    """
    data = read_yaml(path)
    raw = data.get(key) if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise HandoffConfigError(f"{path}: '{key}' must be a non-empty mapping")
    for code in raw:
        if not isinstance(code, str) or not _CODE.match(code):
            raise HandoffConfigError(f"{path}: bad {what} code {code!r} (snake_case)")
    return raw
