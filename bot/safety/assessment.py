"""Per-message safety assessment: the classifier's view, raised (never lowered) by the lexicon.

Crisis triage is asymmetric: a missed suicide plan is far worse than a false alarm, so a
sensitive intent anywhere near the top of the ranking escalates, and a lexicon hit escalates
whatever the classifier said. When NLU is down, the lexicon decides alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.safety.lexicon import CrisisLexicon
from bot.safety.person_request import PersonRequests
from bot.types import (
    SENSITIVE_INTENTS,
    Assessment,
    NluResult,
    SafetyCategory,
    Urgency,
)

HUMAN_REQUEST = "human_request"
# Reason recorded when ``person_requests.yml`` (not the classifier) heard a request for a person.
PERSON_REQUEST_REASON = "pattern:human_request"
# The intent reported when only the lexicon recognised a category.
CATEGORY_INTENT: dict[SafetyCategory, str] = {
    SafetyCategory.SUICIDE: "suicide_risk",
    SafetyCategory.DV: "dv",
    SafetyCategory.CHILD_ABUSE: "dv",
    SafetyCategory.SEXUAL_VIOLENCE: "dv",
    SafetyCategory.PREGNANCY: "pregnancy_sos",
}


@dataclass(frozen=True)
class AssessorConfig:
    """Thresholds chosen a priori for recall (never tuned on the held-out dev set)."""

    # A sensitive intent this confident anywhere in the ranking escalates.
    ranking_floor: float = 0.25


class SafetyAssessor:
    """Combines the NLU result with the crisis lexicon into one Assessment."""

    def __init__(
        self,
        lexicon: CrisisLexicon,
        config: AssessorConfig | None = None,
        person_requests: PersonRequests | None = None,
    ) -> None:
        """Keeps the rule layers; no I/O happens here.

        ``person_requests`` hears requests for a person the classifier may file elsewhere.
        """
        self._lexicon = lexicon
        self._config = config or AssessorConfig()
        self._person_requests = person_requests

    def assess(self, text: str, nlu: NluResult) -> Assessment:
        """Scores one message. Re-run on every message: risk can appear at any turn."""
        reasons: list[str] = []
        categories: list[SafetyCategory] = []
        urgency = Urgency.NORMAL
        escalate = False

        def raise_to(level: Urgency, category: SafetyCategory | None, reason: str) -> None:
            nonlocal urgency, escalate
            escalate = True
            urgency = max(urgency, level)
            if category is not None and category not in categories:
                categories.append(category)
            if reason not in reasons:
                reasons.append(reason)

        # Lexicon first: its most urgent category leads the safety message.
        matches = sorted(self._lexicon.match(text), key=lambda m: m.urgency, reverse=True)
        for match in matches:
            raise_to(match.urgency, match.category, f"lexicon:{match.rule_id}")

        if nlu.available:
            if nlu.intent in SENSITIVE_INTENTS:
                raise_to(Urgency.HIGH, SENSITIVE_INTENTS[nlu.intent], f"intent:{nlu.intent}")
            for score in nlu.ranking:
                if (
                    score.name in SENSITIVE_INTENTS
                    and score.confidence >= self._config.ranking_floor
                ):
                    raise_to(Urgency.HIGH, SENSITIVE_INTENTS[score.name], f"ranking:{score.name}")
            if nlu.intent == HUMAN_REQUEST:
                raise_to(Urgency.NORMAL, None, "intent:human_request")
        else:
            reasons.append("nlu:unavailable")
        if self._person_requests is not None and self._person_requests.asks_for_person(text):
            # Written into a sentence the classifier filed elsewhere, or with NLU down.
            raise_to(Urgency.NORMAL, None, PERSON_REQUEST_REASON)

        intent, confidence = nlu.intent, nlu.confidence
        if matches and intent not in SENSITIVE_INTENTS:
            # The lexicon recognised danger the classifier did not: report that category.
            intent = CATEGORY_INTENT[matches[0].category]
            confidence = next((s.confidence for s in nlu.ranking if s.name == intent), 0.0)

        return Assessment(
            intent=intent,
            confidence=confidence,
            escalate=escalate,
            urgency=urgency,
            categories=tuple(categories),
            reasons=tuple(reasons),
            nlu_available=nlu.available,
        )
