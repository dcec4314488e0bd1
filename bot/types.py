"""Neutral types passed between channels, the engine and its collaborators."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from nlu.types import INTENTS as INTENTS
from nlu.types import IntentScore as IntentScore
from nlu.types import NluResult as NluResult


class Urgency(enum.IntEnum):
    """How soon a human must act; ordered so ``max()`` picks the most urgent."""

    NORMAL = 0
    HIGH = 1
    EMERGENCY = 2

    @property
    def label(self) -> str:
        """The public name used in APIs, logs and the eval output."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Urgency:
        """Reads ``emergency``/``high``/``normal`` from content files and the database."""
        try:
            return cls[value.upper()]
        except KeyError as exc:
            raise ValueError(f"unknown urgency {value!r}; use emergency, high or normal") from exc


class SafetyCategory(enum.StrEnum):
    """Kinds of danger; each selects its own hotlines and counselor pool."""

    SUICIDE = "suicide"
    DV = "dv"
    CHILD_ABUSE = "child_abuse"
    PREGNANCY = "pregnancy"
    SEXUAL_VIOLENCE = "sexual_violence"


SENSITIVE_INTENTS: dict[str, SafetyCategory] = {
    "suicide_risk": SafetyCategory.SUICIDE,
    "dv": SafetyCategory.DV,
    "pregnancy_sos": SafetyCategory.PREGNANCY,
}


@dataclass(frozen=True)
class LexiconMatch:
    """A crisis-lexicon rule that fired; carries the rule id, never the matched text."""

    rule_id: str
    category: SafetyCategory
    urgency: Urgency


@dataclass(frozen=True)
class Assessment:
    """The per-message safety verdict: what the message is and how urgently a human is needed."""

    intent: str
    confidence: float
    escalate: bool
    urgency: Urgency
    categories: tuple[SafetyCategory, ...]
    reasons: tuple[str, ...]
    nlu_available: bool = True


@dataclass(frozen=True)
class IncomingMessage:
    """A resident's text message as any channel hands it to the engine."""

    channel: str
    user_ref: str
    text: str
    language_hint: str | None = None
    # The channel's own message id (LINE message.id); stored only as a keyed hash.
    external_id: str | None = None


@dataclass(frozen=True)
class StepCard:
    """A guide step shown large (LINE renders a Flex bubble): guide title and "2 / 5"."""

    title: str
    step_no: int
    step_total: int


@dataclass(frozen=True)
class Reply:
    """One message the bot sends back; quick replies are shown as buttons where the channel can."""

    text: str
    quick_replies: tuple[str, ...] = ()
    card: StepCard | None = None


@dataclass(frozen=True)
class TurnResult:
    """Everything a channel needs after one message: the replies and the verdict behind them."""

    conversation_id: str
    replies: tuple[Reply, ...]
    assessment: Assessment
    case_id: str | None = None
    owner: str = "bot"
    language: str = "ja"
    extra: dict[str, str] = field(default_factory=dict)
    stored_out: tuple[str, ...] = ()
    """Transcript ids of the outgoing messages the turn stored, in order (its notice names
    them; the web socket claims them as its replies' ids)."""
