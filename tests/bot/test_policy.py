from bot.policy import Action, ConversationState, decide, next_state
from bot.types import Assessment, SafetyCategory, Urgency


def assessment(
    intent: str = "greeting",
    *,
    escalate: bool = False,
    urgency: Urgency = Urgency.NORMAL,
    categories: tuple[SafetyCategory, ...] = (),
) -> Assessment:
    return Assessment(intent, 0.9, escalate, urgency, categories, ())


def test_safety_case_goes_to_queue_with_urgency() -> None:
    d = decide(
        ConversationState(),
        assessment("dv", escalate=True, urgency=Urgency.EMERGENCY, categories=(SafetyCategory.DV,)),
    )
    assert d.action is Action.SAFETY and d.enqueue and d.urgency is Urgency.EMERGENCY


def test_once_sensitive_stays_sensitive_and_gets_no_cheerful_template() -> None:
    state = next_state(
        ConversationState(),
        assessment(
            "suicide_risk",
            escalate=True,
            urgency=Urgency.HIGH,
            categories=(SafetyCategory.SUICIDE,),
        ),
    )
    assert state.sensitive
    d = decide(state, assessment("thanks"))
    assert d.action is Action.SENSITIVE_FOLLOWUP and d.urgency is Urgency.HIGH
    assert next_state(state, assessment("thanks")).sensitive


def test_urgency_never_drops() -> None:
    state = ConversationState(
        sensitive=True, categories=(SafetyCategory.DV,), max_urgency=Urgency.EMERGENCY
    )
    d = decide(
        state,
        assessment("dv", escalate=True, urgency=Urgency.HIGH, categories=(SafetyCategory.DV,)),
    )
    assert d.urgency is Urgency.EMERGENCY


def test_counselor_owner_silences_the_bot() -> None:
    d = decide(
        ConversationState(owner="counselor:7"),
        assessment(
            "suicide_risk",
            escalate=True,
            urgency=Urgency.EMERGENCY,
            categories=(SafetyCategory.SUICIDE,),
        ),
    )
    assert d.action is Action.SILENT and not d.enqueue


def test_human_request_hands_off() -> None:
    d = decide(ConversationState(), assessment("human_request", escalate=True))
    assert d.action is Action.HANDOFF and d.enqueue


def test_ordinary_intent_answers() -> None:
    d = decide(ConversationState(), assessment("greeting"))
    assert d.action is Action.ANSWER and d.response_key == "greeting" and not d.enqueue
