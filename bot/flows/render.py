"""Turning a guide turn into the message the resident sees (texts from responses.yml).

One step per message, in large type on LINE (the ``StepCard``), always with the buttons
that make sense at that point, so a resident never has to type anything.
"""

from __future__ import annotations

from bot.flows.guide_flow import FlowTurn, Say, current_step, steps_for
from bot.flows.state import FlowState
from bot.responses import Responses
from bot.types import Reply, StepCard
from knowledge.types import Guide


def localized(texts: dict[str, str], language: str) -> str:
    """The text in ``language``, else Japanese (guides are written in Japanese first)."""
    return texts.get(language) or texts.get("ja") or next(iter(texts.values()), "")


class FlowRenderer:
    """Renders :class:`FlowTurn` values; holds nothing but the response texts."""

    def __init__(self, responses: Responses) -> None:
        """Keeps the response texts."""
        self._r = responses

    def render(
        self, turn: FlowTurn, guide: Guide, language: str, *, check_in: bool = False
    ) -> Reply:
        """The one message for ``turn``; ``language`` is the guide's (not this message's).

        ``check_in`` adds a gentle 「人と話す」 line when stopping (the classifier had heard
        despair in the stop word).
        """
        r, lang = self._r, language
        parts: list[str] = []
        if turn.intro:
            parts.append(r.text(lang, "guide_intro").format(title=localized(guide.title, lang)))
        state = turn.state
        say = turn.say
        if say is Say.STOPPED:
            lines = [r.text(lang, "flow_stopped")]
            if check_in:
                lines.append(r.text(lang, "flow_checkin"))
            return Reply("\n".join(lines), r.quick_replies(lang))
        if say is Say.DONE:
            return Reply(r.text(lang, "flow_done"), r.quick_replies(lang))
        if say is Say.HANDOFF:
            return Reply(r.text(lang, "human_request"))
        if state is None:  # pragma: no cover - every other Say keeps the guide going
            raise ValueError(f"{say} needs a guide state")
        if say is Say.RESUME_QUESTION:
            parts.append(
                r.text(lang, "flow_resume_question").format(title=localized(guide.title, lang))
            )
            return Reply("\n".join(parts), r.quick_replies(lang, "flow_resume"))
        if state.phase == "platform":
            if say is Say.PLATFORM_HELP:
                parts.append(r.text(lang, "flow_platform_help"))
            elif say is Say.UNRECOGNISED:
                parts.append(r.text(lang, "flow_unrecognised"))
            parts.append(r.text(lang, "flow_platform_question"))
            if turn.offer_human:
                parts.append(r.text(lang, "flow_offer_human"))
            return Reply("\n".join(parts), self._buttons(lang, "flow_platform", turn.offer_human))
        return self._step(turn, state, guide, lang, parts)

    def _step(
        self, turn: FlowTurn, state: FlowState, guide: Guide, lang: str, parts: list[str]
    ) -> Reply:
        r = self._r
        step = current_step(guide, state)
        if step is None:  # pragma: no cover - the engine drops states that point nowhere
            raise ValueError(f"guide {guide.guide_id} has no step {state.step}")
        total = len(steps_for(guide, state.platform))
        if turn.say is Say.STEP_FIRST_ALREADY:
            parts.append(r.text(lang, "flow_first_step"))
        elif turn.say is Say.UNRECOGNISED:
            parts.append(r.text(lang, "flow_unrecognised"))
        if turn.say is Say.STEP_SIMPLER:
            parts.append(r.text(lang, "flow_simpler_lead"))
            body = localized(step.simpler, lang) or localized(step.text, lang)
        else:
            body = localized(step.text, lang)
        parts.append(
            r.text(lang, "flow_step_line").format(no=state.step + 1, total=total, text=body)
        )
        if turn.intro:
            parts.append(r.text(lang, "flow_step_hint"))
        if turn.offer_human:
            parts.append(r.text(lang, "flow_offer_human"))
        card = StepCard(
            title=localized(guide.title, lang), step_no=state.step + 1, step_total=total
        )
        return Reply(
            "\n".join(parts), self._buttons(lang, "flow_step", turn.offer_human), card=card
        )

    def _buttons(self, lang: str, name: str, offer_human: bool) -> tuple[str, ...]:
        buttons = self._r.quick_replies(lang, name)
        if offer_human:
            return self._r.quick_replies(lang, "flow_human") + buttons
        return buttons
