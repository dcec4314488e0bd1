"""Reason codes for opening a case outside one's own pools, from ``config/read_reasons.yml``.

Requirements §4: every transcript read names who, role, case, time and *reason*. A counselor
reads the cases of their own pools (and the cases they hold) as part of the work; anything
else is an exception that must be justified. The code (never free text) goes into the audit
record, which :meth:`storage.transcript.Transcript.read` commits before decrypting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handoff.config_files import read_codes
from handoff.errors import HandoffConfigError

READ_REASONS_FILE = Path(__file__).resolve().parent / "config" / "read_reasons.yml"
AUDIT_PREFIX = "case.reason:"


@dataclass(frozen=True)
class ReadReason:
    """One reason: its code and its Japanese and English labels."""

    code: str
    ja: str
    en: str


class ReadReasons:
    """The reasons a counselor may choose, in file order."""

    def __init__(self, reasons: tuple[ReadReason, ...]) -> None:
        """Use :meth:`load`."""
        self.reasons = reasons
        self._by_code = {r.code: r for r in reasons}

    @classmethod
    def load(cls, path: Path = READ_REASONS_FILE) -> ReadReasons:
        """Reads the file; codes must be snake_case and both labels non-empty."""
        reasons: list[ReadReason] = []
        for code, labels in read_codes(path, "reasons", "reason").items():
            if not isinstance(labels, dict) or not all(
                isinstance(labels.get(k), str) and labels[k].strip() for k in ("ja", "en")
            ):
                raise HandoffConfigError(f"{path}: reason {code} needs 'ja' and 'en' labels")
            reasons.append(ReadReason(code, labels["ja"].strip(), labels["en"].strip()))
        return cls(tuple(reasons))

    def get(self, code: str) -> ReadReason | None:
        """The reason with ``code``, or None if the code is not in the file."""
        return self._by_code.get(code)

    @staticmethod
    def audit_reason(reason: ReadReason) -> str:
        """What the audit record says: ``case.reason:<code>``."""
        return AUDIT_PREFIX + reason.code
