"""What the NLU says about a message; shared by the client and the conversation engine."""

from __future__ import annotations

from dataclasses import dataclass

INTENTS: tuple[str, ...] = (
    "dv",
    "pregnancy_sos",
    "consumer_trouble",
    "smartphone_help",
    "suicide_risk",
    "human_request",
    "greeting",
    "goodbye",
    "thanks",
    "out_of_scope",
)


@dataclass(frozen=True)
class IntentScore:
    """One entry of the classifier's ranking."""

    name: str
    confidence: float


@dataclass(frozen=True)
class NluResult:
    """What the NLU service said about one message; ``available`` is False when it could not say."""

    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...] = ()
    available: bool = True

    @classmethod
    def unavailable(cls) -> NluResult:
        """The result used when Rasa is down or slower than the timeout."""
        return cls(intent="out_of_scope", confidence=0.0, available=False)
