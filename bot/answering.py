"""The bot's answer to an ordinary message: a guide step, an FAQ, or an honest "don't know".

Runs after the safety assessment and the escalation policy, inside the engine's database
session. Safety always wins: for any decision other than ANSWER the guide is closed and the
engine renders the safety, handoff or follow-up message itself. Otherwise, in order:

1. a guide in progress consumes control words (できた, わからん, もういっぺん, stop …), and so
   does a guide that ended a few minutes ago (「できた」 after the last step is still about it);
2. a rich-menu text or one of its quick-reply labels (bot/content/menus.yml) gets its fixed
   answer: the phone lines, a choice of topics, or the FAQ entry or guide the label names;
3. greetings, thanks and goodbyes keep their templates;
4. everything else is looked up in the knowledge base with the NLU intent as a prior — a
   confident FAQ hit is answered, a confident guide hit starts the guide, and anything less is
   said honestly with the 「人と話す」 button. Never a random answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.flows import guide_flow
from bot.flows.context import GUIDE_ANSWER_REASON, read_in_guide
from bot.flows.controls import Control, FlowControls, PlatformWord
from bot.flows.guide_flow import FlowLimits, FlowTurn, Say
from bot.flows.render import FlowRenderer, localized
from bot.flows.state import EndedGuide, FlowState
from bot.menus import MenuKind, Menus, Target
from bot.policy import Action, Decision
from bot.responses import Responses
from bot.types import Assessment, Reply, Urgency
from knowledge.types import Guide, KnowledgeSource, SearchResult

# Intents answered from templates when the NLU is sure of them.
SMALL_TALK = ("greeting", "thanks", "goodbye")
# Button words that may answer a step from one end of a longer message.
STEP_BUTTONS = frozenset(
    {Control.DONE, Control.UNSURE, Control.AGAIN, Control.BACK, Control.RESTART}
)
# Intents with their own "not found" text (a useful referral instead of a bare apology).
MISS_TEXT_INTENTS = ("consumer_trouble", "smartphone_help")


@dataclass(frozen=True)
class AnswerConfig:
    """Thresholds for trusting the NLU when picking templates and search priors."""

    # Below this confidence the NLU intent is neither a template choice nor a search prior.
    nlu_sure: float = 0.5


@dataclass(frozen=True)
class Answer:
    """What the engine does after this module.

    ``decision`` is the policy's, except that the 「人と話す」 button turns an ordinary answer
    into a handoff even when the NLU missed it (safety decisions are never touched).
    ``replies`` is None when the engine renders from the decision itself. ``pool`` overrides
    the counselor pool for a handoff (guides go to digital help). ``flow_state`` is the new
    value of ``Conversation.flow_state``.
    """

    decision: Decision
    replies: tuple[Reply, ...] | None
    flow_state: str | None
    pool: str | None = None


@dataclass(frozen=True)
class _Message:
    text: str
    language: str
    assessment: Assessment
    controls: frozenset[Control]
    platform: PlatformWord | None
    now: datetime


class Answerer:
    """Flows plus knowledge-base answers; pure apart from the knowledge base lookups."""

    def __init__(
        self,
        responses: Responses,
        knowledge: KnowledgeSource | None,
        controls: FlowControls,
        limits: FlowLimits | None = None,
        config: AnswerConfig | None = None,
        menus: Menus | None = None,
    ) -> None:
        """Keeps the collaborators.

        ``knowledge`` None keeps the intent templates (no FAQ, no guides); ``menus`` None
        answers menu texts like any other message.
        """
        self._r = responses
        self._kb = knowledge
        self._controls = controls
        self._limits = limits or FlowLimits()
        self._config = config or AnswerConfig()
        self._render = FlowRenderer(responses)
        self._menus = menus

    def in_context(
        self,
        assessment: Assessment,
        text: str,
        flow_state: str | None,
        now: datetime | None = None,
        *,
        rest_escalates: bool | None = None,
    ) -> Assessment:
        """The safety assessment read in the guide's context (see :mod:`bot.flows.context`).

        ``rest_escalates``: the safety verdict on the rest of a message that opens or closes
        with a button word (see :func:`bot.flows.context.rest_to_assess`), None if not judged.

        Call it before the policy decides: it can only withdraw a classifier-only
        escalation of an exact button word while a guide is in progress or within the
        resume window after it ended, or a classifier-only request for a person on a menu
        text that does not ask for one (:meth:`bot.menus.Menus.read`).
        """
        if self._menus is not None:
            assessment = self._menus.read(assessment, text)
        return read_in_guide(
            assessment,
            text,
            flow_state,
            self._controls,
            now=now or datetime.now(UTC),
            recent=self._limits.resume_after,
            rest_escalates=rest_escalates,
        )

    def respond(
        self,
        decision: Decision,
        assessment: Assessment,
        text: str,
        language: str,
        flow_state: str | None,
        now: datetime,
    ) -> Answer:
        """The answer to one message; ``flow_state`` is the conversation's stored guide state."""
        state = FlowState.from_json(flow_state)
        ended = EndedGuide.from_json(flow_state)
        if ended is not None and not ended.is_recent(now, self._limits.resume_after):
            ended = None
        controls = self._controls.recognise(text)
        if state is not None and guide_flow.age_of(state, now, self._limits) == "expired":
            # Timed out: the kind note below ends it, and a button word soon after is still
            # read as a reply to it.
            ended = EndedGuide(state.guide_id, state.language, now)
            expired, state = True, None
        else:
            expired = False
        if decision.action is not Action.ANSWER:
            # Safety, handoff, follow-up or a counselor's turn: the guide ends here.
            pool = self._controls.handoff_pool if decision.action is Action.HANDOFF else None
            # The guide's 「人と話す」 button, also just after the guide ended: digital help.
            from_guide = state is not None or (ended is not None and Control.HUMAN in controls)
            return Answer(decision, None, None, pool if from_guide else None)

        message = _Message(text, language, assessment, controls, self._controls.platform(text), now)
        target = self._menus.match(text) if self._menus is not None else None
        if target is not None:
            # A menu tap, also in the middle of a guide (which stays, as for an FAQ side trip).
            answer = self._menu(decision, target, message, state, ended)
            if answer is not None:
                return answer
        if state is not None:
            answer = self._in_guide(decision, state, message)
            if answer is not None:
                return answer
            state = None  # the guide is gone from the knowledge base: start afresh
        if Control.HUMAN in controls:
            # The 「人と話す」 button works even when the NLU did not understand it (right
            # after a guide it comes from the guide's button: digital help).
            pool = self._controls.handoff_pool if ended is not None else None
            return Answer(_handoff(), None, None, pool)
        if expired and controls and ended is not None:
            reply = Reply(self._r.text(language, "flow_expired"), self._r.quick_replies(language))
            return Answer(decision, (reply,), ended.to_json())
        if ended is not None and controls and self._controls.is_guide_answer(text):
            return self._after_guide(decision, ended, message)
        if self._controls.is_guide_answer(text):
            # A bare button word with no guide to answer: a search would pick a random page.
            # 「iPhone」 alone is a smartphone question; 「はい」 alone is not understood.
            key = "smartphone_help" if message.platform and not controls else "out_of_scope"
            reply = Reply(self._r.text(language, key), self._r.quick_replies(language))
            return Answer(decision, (reply,), None)
        return self._fresh(decision, message, keep=state)

    def supporting_faq(self, text: str, language: str, assessment: Assessment) -> Reply | None:
        """A confident FAQ answer to add *after* a safety or handoff message, or None.

        A resident asking 「中絶できる期限は？」 gets the safety message and a counselor, and
        also the reviewed facts; the FAQ never replaces the safety message.
        """
        if self._kb is None:
            return None
        target = self._menus.match(text) if self._menus is not None else None
        if target is not None and target.kind == "faq":
            # A menu button (「DVの相談先」) that the safety layer answered first: its own FAQ.
            menu_faq = self._faq_reply(target.ref, language)
            return Reply(menu_faq.text) if menu_faq is not None else None
        msg = _Message(text, language, assessment, frozenset(), None, datetime.now(UTC))
        result = self._search(msg)
        best = result.best
        if not result.confident or best is None or best.kind != "faq":
            return None
        reply = self._faq_reply(best.doc_id, language)
        return Reply(reply.text) if reply is not None else None

    # --- menus ---------------------------------------------------------------------------

    def _menu(
        self,
        decision: Decision,
        target: Target,
        msg: _Message,
        state: FlowState | None,
        ended: EndedGuide | None,
    ) -> Answer | None:
        """The fixed answer to a menu text or label; None when its target is gone."""
        assert self._menus is not None
        kept = state.to_json() if state is not None else None
        if target.kind == "menu":
            menu = self._menus.menu(target.ref)
            if menu.kind is MenuKind.HANDOFF:
                # As 「人と話す」: from a guide (or just after one) to digital help.
                from_guide = state is not None or ended is not None
                pool = self._controls.handoff_pool if from_guide else None
                return Answer(_handoff(), None, None, pool)
            reply = self._menus.render(menu, msg.language, self._r)
            return Answer(decision, (reply,), kept)
        if target.kind == "faq":
            faq = self._faq_reply(target.ref, msg.language) if self._kb is not None else None
            return Answer(decision, (faq,), kept) if faq is not None else None
        guide = self._guide(target.ref)
        if guide is None or not _has_steps(guide):
            return None
        return self._flow(
            decision, guide_flow.start(guide, msg.language, msg.now), guide, msg.language, msg.now
        )

    # --- inside a guide --------------------------------------------------------------------

    def _in_guide(self, decision: Decision, state: FlowState, msg: _Message) -> Answer | None:
        guide = self._guide(state.guide_id)
        if guide is None or (
            state.phase != "platform" and guide_flow.current_step(guide, state) is None
        ):
            return None  # the content changed under the resident: start afresh
        if Control.HUMAN in msg.controls:
            return Answer(_handoff(), None, None, self._controls.handoff_pool)
        # Answering the platform question, a phone's name anywhere counts (「わたしのは
        # アイフォンです」); elsewhere only the bare name does, so 「iPhoneで写真を撮りたい」
        # stays a new question instead of switching the current guide's platform.
        asked = state.phase == "platform" or (state.phase == "resume" and state.platform is None)
        platform = msg.platform if asked else self._controls.exact_platform(msg.text)
        if state.phase != "resume" and guide_flow.age_of(state, msg.now, self._limits) == "paused":
            if msg.controls or platform is not None:
                return self._flow(
                    decision, guide_flow.pause(state, msg.now), guide, state.language, msg.now
                )
            other = self._confident_other(msg, state.guide_id)
            if other is not None:
                return self._fresh(decision, msg, keep=state, searched=other)
            return self._flow(
                decision, guide_flow.pause(state, msg.now), guide, state.language, msg.now
            )
        turn = guide_flow.on_control(state, guide, msg.controls, platform, msg.now)
        if turn is None:
            other = self._confident_other(msg, state.guide_id)
            if other is not None:
                return self._fresh(decision, msg, keep=state, searched=other)
            # 「できた、ちゃんと鳴った」: the button word at either end answers the step. Only
            # the step buttons and the plain stop words: taking or turning down a person needs
            # a message that says only that (「ええよ、人はいらん」 is no "yes").
            part = self._controls.button_part(msg.text)
            steps = part.controls & STEP_BUTTONS if part is not None else frozenset()
            if part is not None and Control.STOP in part.controls:
                # 「やめときます。明日 役所に 行きます」: a plain stop word with a remark stops.
                steps = (
                    frozenset({Control.STOP})
                    if self._controls.stop_takes_remark(part.button)
                    else frozenset()
                )
            if steps:
                turn = guide_flow.on_control(state, guide, steps, None, msg.now)
        if turn is None:
            turn = guide_flow.on_unrecognised(state, msg.now)
        if turn.handoff:
            return Answer(_handoff(), None, None, self._controls.handoff_pool)
        # 「もういい」 that the classifier took for despair: stop, and leave the door open.
        check_in = GUIDE_ANSWER_REASON in msg.assessment.reasons
        return self._flow(decision, turn, guide, state.language, msg.now, check_in=check_in)

    def _after_guide(self, decision: Decision, ended: EndedGuide, msg: _Message) -> Answer:
        """A bare button word just after a guide ended: answer it as part of the guide.

        「できた」 gets a kind "anything else?", 「わからない」 the way back into the guide or
        to a person, 「最初から」/「もう一回」 the guide again. The note stays, so the next
        button word within the window is read the same way.
        """
        lang, kept = ended.language, ended.to_json()
        guide = self._guide(ended.guide_id)
        again = {Control.RESTART, Control.AGAIN, Control.BACK}
        if msg.controls & again and guide is not None and _has_steps(guide):
            return self._flow(
                decision, guide_flow.start(guide, lang, msg.now), guide, lang, msg.now
            )
        if Control.STOP in msg.controls or Control.NO in msg.controls:
            lines = [self._r.text(lang, "flow_after_stop")]
            if GUIDE_ANSWER_REASON in msg.assessment.reasons:
                lines.append(self._r.text(lang, "flow_checkin"))
            reply = Reply("\n".join(lines), self._r.quick_replies(lang))
        elif Control.UNSURE in msg.controls:
            reply = Reply(self._r.text(lang, "flow_after_unsure"), self._after_buttons(lang, guide))
        else:
            reply = Reply(self._r.text(lang, "flow_after_done"), self._r.quick_replies(lang))
        return Answer(decision, (reply,), kept)

    def _after_buttons(self, language: str, guide: Guide | None) -> tuple[str, ...]:
        """「最初から」 only when the guide can still be shown, then 「人と話す」."""
        buttons = self._r.quick_replies(language, "flow_after")
        if guide is None or not _has_steps(guide):
            return self._r.quick_replies(language)
        return buttons

    def _confident_other(self, msg: _Message, current_guide: str) -> SearchResult | None:
        """A confident knowledge-base hit for something other than the current guide."""
        result = self._search(msg)
        best = result.best
        if not result.confident or best is None:
            return None
        if best.kind == "guide" and best.doc_id == current_guide:
            return None
        return result

    def _flow(
        self,
        decision: Decision,
        turn: FlowTurn,
        guide: Guide,
        language: str,
        now: datetime,
        *,
        check_in: bool = False,
    ) -> Answer:
        """Renders a guide turn in the guide's language (「OK」 must not switch to English)."""
        reply = self._render.render(turn, guide, language, check_in=check_in)
        state = turn.state
        if state is not None:
            return Answer(decision, (reply,), state.to_json())
        if turn.say in (Say.DONE, Say.STOPPED):
            # Remember the end for a few minutes: 「できた」 now is still about this guide.
            ended = EndedGuide(guide.guide_id, language, now)
            return Answer(decision, (reply,), ended.to_json())
        return Answer(decision, (reply,), None)

    # --- no guide in progress --------------------------------------------------------------

    def _fresh(
        self,
        decision: Decision,
        msg: _Message,
        *,
        keep: FlowState | None,
        searched: SearchResult | None = None,
    ) -> Answer:
        """Templates, FAQ, or a new guide; ``keep`` is a guide left as it was (FAQ side trip)."""
        kept = keep.to_json() if keep is not None else None
        assessment = msg.assessment
        sure = assessment.nlu_available and assessment.confidence >= self._config.nlu_sure
        if searched is None and sure and assessment.intent in SMALL_TALK:
            return Answer(decision, None, kept)
        if self._kb is None:
            return Answer(decision, None, kept)
        result = searched or self._search(msg)
        best = result.best
        if result.confident and best is not None:
            if best.kind == "faq":
                reply = self._faq_reply(best.doc_id, msg.language)
                if reply is not None:
                    return Answer(decision, (reply,), kept)
            else:
                guide = self._guide(best.doc_id)
                if guide is not None and _has_steps(guide):
                    turn = guide_flow.start(guide, msg.language, msg.now)
                    return self._flow(decision, turn, guide, msg.language, msg.now)
        key = "kb_not_found"
        if sure and assessment.intent in MISS_TEXT_INTENTS:
            key = f"kb_not_found_{assessment.intent}"
        reply = Reply(self._r.text(msg.language, key), self._r.quick_replies(msg.language))
        return Answer(decision, (reply,), kept)

    def _search(self, msg: _Message) -> SearchResult:
        assert self._kb is not None
        if self._controls.says_nothing(msg.text):
            return SearchResult(hits=(), confident=False)
        a = msg.assessment
        sure = a.nlu_available and a.confidence >= self._config.nlu_sure
        prior = a.intent if sure and a.intent not in SMALL_TALK else None
        return self._kb.search(msg.text, intent=prior, language=msg.language)

    def _faq_reply(self, entry_id: str, language: str) -> Reply | None:
        assert self._kb is not None
        try:
            entry = self._kb.faq(entry_id)
        except KeyError:
            return None
        text = entry.answer.get(language)
        if not text:
            note = self._r.text(language, "faq_language_note")
            text = "\n".join(t for t in (note, localized(entry.answer, "ja")) if t)
        return Reply(text, self._r.quick_replies(language))

    def _guide(self, guide_id: str) -> Guide | None:
        if self._kb is None:
            return None
        try:
            return self._kb.guide(guide_id)
        except KeyError:
            return None


def _has_steps(guide: Guide) -> bool:
    return all(guide.steps.values()) and bool(guide.steps)


def _handoff() -> Decision:
    return Decision(Action.HANDOFF, True, Urgency.NORMAL, (), "human_request")
