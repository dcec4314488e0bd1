"""Reading a short button word in the context of the guide that asked for it.

The classifier sees one message without context: 「できた」 alone looks like news of a
pregnancy, 「もう一回」 like a past attempt. Inside a guide the bot has just asked "done?",
so such a word means the button. This runs right after the safety assessment and before
the policy, and it is deliberately narrow: only an exact control word (the closed
vocabulary of ``flow_controls.yml``), only in reply to a guide's step or question (the
stored guide state, including the reply that finds it expired, or a guide that ended —
finished, stopped, timed out — within the last few minutes: 「できた」 right after the last
step is still about the guide), and only when the classifier alone escalated. A
crisis-lexicon match always stands, and so do the ``keep_assessing`` phrases (もういい …)
that can also voice despair. Anything longer than a button word is assessed as usual,
so 「もう死にたい」 in the middle of a guide escalates at once.

Outside a guide, only the closed ``harmless_alone`` list (できた, もう一回, 前へ, 最初から,
the platform names) is read this way: with no question asked, those still say nothing a
classifier should alarm on, whereas 「無理」「もういい」 may be despair and keep its verdict.

One widening, as narrow: a button word that opens or closes a longer message
(「できた、よう見える」, or a 「わからない」「もう一回」 glued to its words with no punctuation)
with the rest judged *on its own* by the same safety layer. Only when
that rest does not escalate by itself is the message read as the button; of the stop
words only the plain ``stop_with_remark`` ones (やめる, やめときます) qualify, never もういい,
since 「もういい。疲れた」 may be despair.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.flows.controls import Control, FlowControls
from bot.flows.state import EndedGuide, FlowState
from bot.types import Assessment, Urgency

# Reason recorded on the message when a classifier-only escalation was read as a button word.
GUIDE_ANSWER_REASON = "flow:guide_answer"
# Reason recorded when a harmless button word was read as such with no guide to answer.
BUTTON_WORD_REASON = "flow:button_word"
# Prefix of the reasons the crisis lexicon adds (bot/safety/assessment.py); those always stand.
LEXICON_REASON_PREFIX = "lexicon:"


def read_in_guide(
    assessment: Assessment,
    text: str,
    flow_state: str | None,
    controls: FlowControls,
    *,
    now: datetime | None = None,
    recent: timedelta | None = None,
    rest_escalates: bool | None = None,
) -> Assessment:
    """The assessment, with a classifier-only escalation of a guide's button word withdrawn.

    ``now`` and ``recent`` extend the guide's context past its end: a guide that ended at
    most ``recent`` before ``now`` still counts (both None: only a guide in progress).
    ``rest_escalates`` is the safety layer's verdict on the message without its leading or
    trailing button word (:meth:`FlowControls.button_part`); None when it was not judged.
    """
    if not assessment.escalate:
        return assessment
    if any(reason.startswith(LEXICON_REASON_PREFIX) for reason in assessment.reasons):
        return assessment
    # Even after the guide expired: the bot's last message still asked for a button, and
    # the reply to it gets the kind "that guide has ended" note rather than a false alarm.
    if FlowState.from_json(flow_state) is None and not _recently_ended(flow_state, now, recent):
        if controls.is_harmless_alone(text):
            # 「できた」「もう一回」「Android」 with no guide (or long after one) still say
            # nothing the lexicon missed; only the ``harmless_alone`` words qualify.
            return _withdrawn(assessment, BUTTON_WORD_REASON)
        return assessment
    if not controls.is_guide_answer(text) and not _button_with_harmless_rest(
        text, controls, rest_escalates
    ):
        return assessment
    return _withdrawn(assessment, GUIDE_ANSWER_REASON)


def _withdrawn(assessment: Assessment, reason: str) -> Assessment:
    return replace(
        assessment,
        escalate=False,
        urgency=Urgency.NORMAL,
        categories=(),
        reasons=(*assessment.reasons, reason),
    )


def _recently_ended(flow_state: str | None, now: datetime | None, recent: timedelta | None) -> bool:
    ended = EndedGuide.from_json(flow_state)
    if ended is None or now is None or recent is None:
        return False
    return ended.is_recent(now, recent)


def rest_to_assess(text: str, controls: FlowControls) -> str | None:
    """The part of ``text`` beside a button word that must be judged alone, or None.

    None for a whole button message and for a stop word other than the plain
    ``stop_with_remark`` ones (「もういい。疲れた」 keeps the classifier's verdict on the whole
    message; 「やめときます。明日 役所に 行きます」 has its remark judged alone).
    """
    part = controls.button_part(text)
    if part is None or Control.HUMAN in part.controls:
        return None
    if Control.STOP in part.controls and not controls.stop_takes_remark(part.button):
        return None
    return part.rest


def _button_with_harmless_rest(
    text: str, controls: FlowControls, rest_escalates: bool | None
) -> bool:
    return rest_escalates is False and rest_to_assess(text, controls) is not None
