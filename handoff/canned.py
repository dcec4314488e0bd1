"""Canned replies for counselors and Tsunagu's own hand-over messages, from YAML content.

Texts live in ``content/canned_replies.yml`` (やさしい日本語), never in Python, so reviewers
can change wording without touching code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handoff.config_files import load_model

CANNED_FILE = Path(__file__).resolve().parent / "content" / "canned_replies.yml"
SystemMessageKey = Literal["returned_to_bot", "closed", "transferred", "claimed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CannedReply(_Strict):
    """One reply a counselor can pick (and edit) in the console."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    category: str
    title: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=500)


class SystemMessages(_Strict):
    """What the resident is told when their case changes hands."""

    returned_to_bot: str = Field(min_length=1, max_length=500)
    closed: str = Field(min_length=1, max_length=500)
    transferred: str = Field(min_length=1, max_length=500)
    claimed: str = Field(min_length=1, max_length=500)

    def text(self, key: SystemMessageKey) -> str:
        """The message for ``key``."""
        return str(getattr(self, key))


class CannedReplies(_Strict):
    """The validated contents of ``canned_replies.yml``."""

    version: Literal[1]
    categories: tuple[str, ...] = Field(min_length=1)
    replies: tuple[CannedReply, ...] = Field(min_length=1)
    system: SystemMessages

    @model_validator(mode="after")
    def _consistent(self) -> CannedReplies:
        ids = [r.id for r in self.replies]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate reply ids: {duplicates}")
        for reply in self.replies:
            if reply.category not in self.categories:
                raise ValueError(f"reply {reply.id}: unknown category {reply.category!r}")
        return self

    def by_category(self, category: str) -> list[CannedReply]:
        """Replies of one category, in file order."""
        return [r for r in self.replies if r.category == category]

    def get(self, reply_id: str) -> CannedReply:
        """One reply by id (KeyError if unknown)."""
        for reply in self.replies:
            if reply.id == reply_id:
                return reply
        raise KeyError(reply_id)

    @classmethod
    def load(cls, path: Path = CANNED_FILE) -> CannedReplies:
        """Reads and validates the file, naming it in every error."""
        return load_model(cls, path)
