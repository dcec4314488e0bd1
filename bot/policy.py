"""The escalation policy: from an assessment and the conversation's state to what happens next.

Pure functions over typed state, so every rule is testable without a database or Rasa.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.types import Assessment, SafetyCategory, Urgency


class Action(enum.Enum):
    """What the engine does with a message."""

    SILENT = "silent"  # a counselor owns the conversation: the bot says nothing
    SAFETY = "safety"  # safety message with hotlines, then the counselor queue
    HANDOFF = "handoff"  # the resident asked for a person
    SENSITIVE_FOLLOWUP = "sensitive_followup"  # already flagged: no cheerful template
    ANSWER = "answer"  # an ordinary intent reply


@dataclass(frozen=True)
class ConversationState:
    """What the policy needs to know about the conversation before this message."""

    owner: str = "bot"
    sensitive: bool = False
    categories: tuple[SafetyCategory, ...] = ()
    max_urgency: Urgency = Urgency.NORMAL


@dataclass(frozen=True)
class Decision:
    """The policy's verdict for one message."""

    action: Action
    enqueue: bool
    urgency: Urgency
    categories: tuple[SafetyCategory, ...]
    response_key: str | None = None


def next_state(state: ConversationState, assessment: Assessment) -> ConversationState:
    """Raises the conversation's state with this message; nothing here can lower it."""
    categories = state.categories + tuple(
        c for c in assessment.categories if c not in state.categories
    )
    return ConversationState(
        owner=state.owner,
        sensitive=state.sensitive or bool(assessment.categories),
        categories=categories,
        max_urgency=max(state.max_urgency, assessment.urgency),
    )


def decide(state: ConversationState, assessment: Assessment) -> Decision:
    """Chooses the action; ``state`` is the conversation before this message."""
    after = next_state(state, assessment)
    if state.owner != "bot":
        # Still queue-worthy facts are recorded by the engine; the bot stays silent.
        return Decision(Action.SILENT, False, after.max_urgency, after.categories)
    if assessment.categories:
        return Decision(Action.SAFETY, True, after.max_urgency, after.categories)
    if assessment.escalate:
        return Decision(Action.HANDOFF, True, after.max_urgency, after.categories, "human_request")
    if state.sensitive:
        return Decision(
            Action.SENSITIVE_FOLLOWUP,
            False,
            after.max_urgency,
            after.categories,
            "sensitive_followup",
        )
    return Decision(Action.ANSWER, False, Urgency.NORMAL, (), assessment.intent)
