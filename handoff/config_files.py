"""Reading handoff's YAML files (pools, outcomes, canned replies, notices, read reasons).

One place turns a missing file, bad YAML or a failed schema check into a
:class:`HandoffConfigError` that names the file, so an operator's typo stops start-up with
a message that says where to look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from handoff.errors import HandoffConfigError

M = TypeVar("M", bound=BaseModel)


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
