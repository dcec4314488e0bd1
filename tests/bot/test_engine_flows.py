"""Guides and knowledge-base answers through the whole engine on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.flows.state import EndedGuide, FlowState
from bot.responses import Responses
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage, TurnResult, Urgency
from handoff.models import Case
from knowledge.content_loader import CONTENT_DIR, load_content
from knowledge.types import Hit
from nlu.types import IntentScore, NluResult
from storage.crypto import Keyring
from storage.db import Database
from storage.models import Conversation
from tests.bot.fake_knowledge import FakeKnowledge
from tests.conftest import make_engine

USER = "Uflowresident01"


class ScriptedNlu:
    """Classifies by exact text, like a well-trained model would; everything else is unsure."""

    def __init__(self, script: dict[str, tuple[str, float]]) -> None:
        self.script = script

    async def parse(self, text: str) -> NluResult:
        intent, confidence = self.script.get(text, ("out_of_scope", 0.3))
        return NluResult(intent, confidence, (IntentScore(intent, confidence),))


SCRIPT = {
    "文字を大きくしたい": ("smartphone_help", 0.95),
    "LINEで写真を送りたい": ("smartphone_help", 0.95),
    "クーリングオフしたい": ("consumer_trouble", 0.95),
    "人と話す": ("human_request", 0.97),
    "こんにちは": ("greeting", 0.99),
    "もう全部終わりにしたい": ("suicide_risk", 0.9),
    # What the trained model really says about these button words without context.
    "できた": ("pregnancy_sos", 0.7),
    "もう一回": ("suicide_risk", 0.75),
    "もういい": ("suicide_risk", 0.99),
    "やめたい": ("suicide_risk", 0.8),
}


@pytest.fixture
def engine(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> Engine:
    return make_engine(
        database,
        ScriptedNlu(SCRIPT),
        keyring=keyring,
        lexicon=lexicon,
        responses=responses,
        knowledge=FakeKnowledge(),
    )


async def say(engine: Engine, text: str, user: str = USER) -> TurnResult:
    return await engine.handle(IncomingMessage(channel="line", user_ref=user, text=text))


def text_of(result: TurnResult) -> str:
    return "\n".join(r.text for r in result.replies)


async def stored_flow(database: Database, conversation_id: str) -> str | None:
    async with database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.flow_state


async def backdate(database: Database, conversation_id: str, delta: timedelta) -> None:
    async with database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        state = FlowState.from_json(conversation.flow_state)
        assert state is not None
        conversation.flow_state = state.moved(state.updated_at - delta).to_json()


async def cases(database: Database, conversation_id: str) -> list[Case]:
    async with database.session() as s:
        rows = await s.scalars(select(Case).where(Case.conversation_id == conversation_id))
        return list(rows.all())


async def test_guide_runs_to_the_end_and_stores_only_ids(
    engine: Engine, database: Database
) -> None:
    start = await say(engine, "LINEで写真を送りたい")
    assert "iPhone" in text_of(start)
    raw = await stored_flow(database, start.conversation_id)
    assert raw is not None and "写真" not in raw and "LINEで" not in raw
    assert json.loads(raw)["guide_id"] == "line.send_photo"
    first = await say(engine, "あんどろいど")
    [reply] = first.replies
    assert "Aステップ1" in reply.text and reply.card is not None and reply.card.step_total == 3
    assert "Aステップ2" in text_of(await say(engine, "できたよ"))
    assert "Aステップ1" in text_of(await say(engine, "もどる"))
    assert "Aステップ1" in text_of(await say(engine, "もういっぺん"))
    assert "Aステップ2" in text_of(await say(engine, "ＯＫ"))
    assert "Aステップ3" in text_of(await say(engine, "でけた"))
    done = await say(engine, "できました")
    assert "おわりです" in text_of(done)
    # Only a note that the guide ended stays (ids and a time, no text): no guide in progress.
    note = await stored_flow(database, done.conversation_id)
    assert FlowState.from_json(note) is None
    assert note is not None and set(json.loads(note)) == {
        "ended",
        "ended_at",
        "guide_id",
        "language",
        "v",
    }
    assert done.case_id is None and await cases(database, done.conversation_id) == []


async def test_two_failures_offer_a_person_who_comes_from_digital_help(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい")
    first = await say(engine, "わからん")
    assert "もっと やさしく" in text_of(first) and "人と話す" not in first.replies[0].quick_replies
    second = await say(engine, "むずかしい")
    assert second.replies[0].quick_replies[0] == "人と話す" and second.case_id is None
    handoff = await say(engine, "人と話す")
    assert handoff.case_id is not None
    [case] = await cases(database, handoff.conversation_id)
    assert case.pool == "digital" and case.urgency == int(Urgency.NORMAL)
    assert await stored_flow(database, handoff.conversation_id) is None


async def test_crisis_mid_guide_escalates_at_once_and_stops_the_guide(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい")
    await say(engine, "できた")
    crisis = await say(engine, "もう全部終わりにしたい")
    assert crisis.assessment.escalate and crisis.case_id is not None
    assert "0120-279-338" in text_of(crisis) and crisis.replies[0].card is None
    [case] = await cases(database, crisis.conversation_id)
    assert case.pool == "general" and case.urgency >= int(Urgency.HIGH)
    assert await stored_flow(database, crisis.conversation_id) is None
    # The guide does not come back: the conversation is sensitive now.
    after = await say(engine, "できた")
    assert "ステップ" not in text_of(after) and after.replies[0].card is None
    assert after.case_id == crisis.case_id


async def test_resume_after_a_pause_and_expiry_after_a_day(
    engine: Engine, database: Database, responses: Responses
) -> None:
    started = await say(engine, "文字を大きくしたい")
    await say(engine, "できた")
    await backdate(database, started.conversation_id, timedelta(minutes=15))
    question = await say(engine, "できた")
    assert "つづきから" in text_of(question)
    assert question.replies[0].quick_replies == ("はい", "さいしょから", "やめる")
    assert "ステップ2の せつめい" in text_of(await say(engine, "はい"))
    await backdate(database, started.conversation_id, timedelta(hours=25))
    expired = await say(engine, "できた")
    assert text_of(expired) == responses.text("ja", "flow_expired")
    assert FlowState.from_json(await stored_flow(database, started.conversation_id)) is None


async def test_faq_answers_and_honest_misses_never_hand_off(
    engine: Engine, database: Database, responses: Responses
) -> None:
    faq = await say(engine, "クーリングオフしたい", user="Ufaq")
    assert "188" in text_of(faq) and faq.replies[0].quick_replies == ("人と話す",)
    miss = await say(engine, "明日の天気は", user="Ufaq")
    assert text_of(miss) == responses.text("ja", "kb_not_found")
    hello = await say(engine, "こんにちは", user="Ufaq")
    assert text_of(hello) == responses.text("ja", "greeting")
    assert (faq.case_id, miss.case_id, hello.case_id) == (None, None, None)


async def test_person_requested_outside_a_guide_goes_to_the_default_pool(
    engine: Engine, database: Database
) -> None:
    result = await say(engine, "人と話す", user="Uplain")
    [case] = await cases(database, result.conversation_id)
    assert case.pool == "general"


async def test_button_words_the_classifier_misreads_are_buttons_inside_a_guide(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい")
    step2 = await say(engine, "できた")
    assert "ステップ2" in text_of(step2) and not step2.assessment.escalate
    assert "flow:guide_answer" in step2.assessment.reasons
    again = await say(engine, "もう一回")
    assert "ステップ2" in text_of(again) and again.case_id is None
    assert await cases(database, step2.conversation_id) == []
    # 「もういい」 stops the guide; the classifier heard despair, so the door stays open.
    stop = await say(engine, "もういい")
    assert stop.case_id is None and "人と話す" in text_of(stop)
    assert FlowState.from_json(await stored_flow(database, stop.conversation_id)) is None
    # 「やめたい」 is one step from a crisis phrase: the classifier's verdict stands.
    await say(engine, "文字を大きくしたい")
    despair = await say(engine, "やめたい")
    assert despair.assessment.escalate and despair.case_id is not None
    assert await stored_flow(database, despair.conversation_id) is None


async def test_harmless_button_words_outside_a_guide_are_no_alarm_but_despair_words_are(
    engine: Engine, database: Database
) -> None:
    # 「できた」「もう一回」 with no guide: the classifier's pregnancy/suicide guess is withdrawn.
    for word in ("できた", "もう一回"):
        result = await say(engine, word, user="Unoguide")
        assert not result.assessment.escalate and result.case_id is None
        assert "flow:button_word" in result.assessment.reasons
    # 「もういい」 alone may be despair: outside a guide the classifier still decides.
    despair = await say(engine, "もういい", user="Unoguide")
    assert despair.assessment.escalate and despair.case_id is not None
    [case] = await cases(database, despair.conversation_id)
    assert case.pool == "general"


async def age_ended_note(database: Database, conversation_id: str, delta: timedelta) -> None:
    """Moves the stored "guide ended" note back in time by ``delta``."""
    async with database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        note = EndedGuide.from_json(conversation.flow_state)
        assert note is not None
        conversation.flow_state = replace(note, ended_at=note.ended_at - delta).to_json()


async def test_bare_button_words_right_after_a_guide_ended_answer_the_guide(
    engine: Engine, database: Database, responses: Responses
) -> None:
    start = await say(engine, "文字を大きくしたい", user="Uafter")
    for _ in range(3):
        await say(engine, "できた", user="Uafter")
    # The guide is finished; 「できた」 alone now is about it, not news of a pregnancy.
    after = await say(engine, "できた", user="Uafter")
    assert not after.assessment.escalate and after.case_id is None
    assert "flow:guide_answer" in after.assessment.reasons
    assert text_of(after) == responses.text("ja", "flow_after_done")
    unsure = await say(engine, "わからない", user="Uafter")
    assert text_of(unsure) == responses.text("ja", "flow_after_unsure")
    assert unsure.replies[0].quick_replies == ("最初から", "人と話す")
    again = await say(engine, "最初から", user="Uafter")
    assert "ステップ1の せつめい" in text_of(again)
    stopped = await say(engine, "やめる", user="Uafter")
    assert text_of(stopped) == responses.text("ja", "flow_stopped")
    # Stopped counts as ended too.
    assert text_of(await say(engine, "できた", user="Uafter")) == responses.text(
        "ja", "flow_after_done"
    )
    assert await cases(database, start.conversation_id) == []
    # Past the resume window the word no longer answers the guide, and is still no alarm.
    await age_ended_note(database, start.conversation_id, timedelta(minutes=11))
    late = await say(engine, "できた", user="Uafter")
    assert late.case_id is None and "flow:button_word" in late.assessment.reasons
    assert text_of(late) != responses.text("ja", "flow_after_done")


async def test_crisis_right_after_a_guide_ended_still_escalates(
    engine: Engine, database: Database
) -> None:
    await say(engine, "文字を大きくしたい", user="Uaftercrisis")
    for _ in range(3):
        await say(engine, "できた", user="Uaftercrisis")
    # 「やめたい」 is a stop word one step from a crisis phrase: the classifier still decides.
    despair = await say(engine, "やめたい", user="Uaftercrisis")
    assert despair.assessment.escalate and despair.case_id is not None
    assert await stored_flow(database, despair.conversation_id) is None


async def test_an_english_resident_gets_the_real_guide_in_english(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> None:
    content = load_content(CONTENT_DIR)
    knowledge = FakeKnowledge()
    knowledge.guides = {g.guide_id: g for g in content.guides}
    knowledge.routes = {"charge": Hit("guide", "phone.charge", 0.9)}
    nlu = ScriptedNlu({"How do I charge my phone?": ("smartphone_help", 0.9)})
    engine = make_engine(
        database, nlu, keyring=keyring, lexicon=lexicon, responses=responses, knowledge=knowledge
    )
    guide = knowledge.guides["phone.charge"]
    steps = guide.steps["iphone"]
    start = await say(engine, "How do I charge my phone?", user="Uenglish")
    assert responses.text("en", "flow_platform_question") in text_of(start)
    assert guide.title["en"] in text_of(start)
    first = await say(engine, "iPhone", user="Uenglish")
    assert steps[0].text["en"] in text_of(first)
    assert first.replies[0].quick_replies == responses.quick_replies("en", "flow_step")
    second = await say(engine, "Done", user="Uenglish")
    assert steps[1].text["en"] in text_of(second)
    simpler = await say(engine, "I don't understand", user="Uenglish")
    assert steps[1].simpler["en"] in text_of(simpler)
    assert not any("\u3040" <= ch <= "\u30ff" for ch in text_of(simpler))
    for _ in range(len(steps) - 1):
        last = await say(engine, "Done", user="Uenglish")
    assert text_of(last) == responses.text("en", "flow_done")
    after = await say(engine, "done", user="Uenglish")
    assert text_of(after) == responses.text("en", "flow_after_done")
