"""The outcome codes a counselor chooses when closing a case, from ``config/outcomes.yml``.

Codes (not free text) keep statistics and the referral path (110, 119, 189, 配偶者暴力相談支援
センター) countable without storing anything a resident wrote.
"""

from __future__ import annotations

from pathlib import Path

from handoff.config_files import read_codes
from handoff.errors import HandoffConfigError, UnknownOutcome

OUTCOMES_FILE = Path(__file__).resolve().parent / "config" / "outcomes.yml"


class Outcomes:
    """Outcome codes and their Japanese labels for the console."""

    def __init__(self, labels: dict[str, str]) -> None:
        """Use :meth:`load`."""
        self.labels = labels

    @classmethod
    def load(cls, path: Path = OUTCOMES_FILE) -> Outcomes:
        """Reads the file; codes must be snake_case and labels non-empty."""
        labels: dict[str, str] = {}
        for code, label in read_codes(path, "outcomes", "outcome").items():
            if not isinstance(label, str) or not label.strip():
                raise HandoffConfigError(f"{path}: outcome {code} needs a label")
            labels[code] = label
        return cls(labels)

    def check(self, code: str) -> str:
        """Returns ``code`` if it is known, else raises :class:`UnknownOutcome`."""
        if code not in self.labels:
            raise UnknownOutcome(f"unknown outcome {code!r}; choose one of {sorted(self.labels)}")
        return code
