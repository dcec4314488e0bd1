"""The rich-menu buttons and their quick replies through the whole engine (real KB, SQLite/PG)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.menus import Menus
from bot.responses import Responses
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage, Reply, SafetyCategory, TurnResult, Urgency
from handoff.models import Case
from knowledge.base import KnowledgeBase
from storage.crypto import Keyring
from storage.db import Database
from storage.models import Conversation
from tests.bot.real_knowledge import real_knowledge
from tests.bot.test_engine_flows import ScriptedNlu
from tests.bot.test_menus import richmenu_texts
from tests.conftest import FakeNlu, make_engine

# What the trained model says about the rich-menu texts (tsunagu eval kb, 2026-11-21):
# 「電話で相談できるところ」 sounds like a request for a person.
SCRIPT = {
    "人と話したい": ("human_request", 1.0),
    "電話で相談できるところ": ("human_request", 0.991),
    "スマホの使い方を知りたい": ("smartphone_help", 1.0),
    "お金や契約のトラブルを相談したい": ("consumer_trouble", 1.0),
    "よくある質問": ("consumer_trouble", 0.611),
}
# It also heard a suicide risk (0.77) in 「電話番号を登録したい」, a label tried for a button.
SUICIDE_MISHEARD = {"電話帳に登録したい": ("suicide_risk", 0.77)}


@pytest.fixture(scope="module")
def kb(kb_model_dir: Path) -> KnowledgeBase:
    return real_knowledge(kb_model_dir)


@pytest.fixture
def engine(
    database: Database,
    keyring: Keyring,
    lexicon: CrisisLexicon,
    responses: Responses,
    kb: KnowledgeBase,
) -> Engine:
    return make_engine(
        database,
        ScriptedNlu(SCRIPT),
        keyring=keyring,
        lexicon=lexicon,
        responses=responses,
        knowledge=kb,
    )


async def say(engine: Engine, text: str, user: str) -> TurnResult:
    return await engine.handle(IncomingMessage(channel="line", user_ref=user, text=text))


async def cases(database: Database) -> int:
    async with database.session() as s:
        return len((await s.execute(select(Case))).scalars().all())


async def stored_flow(database: Database, conversation_id: str) -> str | None:
    async with database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.flow_state


def menu_reply(menus: Menus, menu_id: str, responses: Responses) -> Reply:
    return menus.render(menus.menu(menu_id), "ja", responses)


async def test_each_rich_menu_button_gets_its_fixed_answer_and_only_talk_hands_off(
    engine: Engine, database: Database, responses: Responses
) -> None:
    menus = Menus.load()
    everyone = tuple(SafetyCategory)
    talk = await say(engine, "人と話したい", "Umenu-talk")
    assert talk.case_id is not None
    assert talk.replies[0].text == responses.text("ja", "human_request")

    phone = await say(engine, "電話で相談できるところ", "Umenu-phone")
    assert phone.case_id is None and not phone.assessment.escalate
    assert phone.replies == (menu_reply(menus, "phone_lines", responses),)
    block = responses.hotline_block("ja", everyone, Urgency.EMERGENCY)
    assert phone.replies[0].text.endswith(block)
    assert all(h.number in phone.replies[0].text for h in responses.hotlines)
    assert phone.replies[0].quick_replies == responses.quick_replies("ja")

    for text, menu_id in [
        ("スマホの使い方を知りたい", "smartphone"),
        ("お金や契約のトラブルを相談したい", "consumer"),
        ("よくある質問", "faq"),
    ]:
        result = await say(engine, text, f"Umenu-{menu_id}")
        assert result.case_id is None, text
        assert result.replies == (menu_reply(menus, menu_id, responses),), text
        buttons = result.replies[0].quick_replies
        assert buttons[-1] == "人と話す" and len(buttons) == len(menus.menu(menu_id).choices) + 1
    consumer = menu_reply(menus, "consumer", responses)
    assert "188" in consumer.text and "人と話す" in consumer.text
    assert await cases(database) == 1


async def test_the_menu_works_when_the_nlu_is_down(
    database: Database,
    keyring: Keyring,
    lexicon: CrisisLexicon,
    responses: Responses,
    kb: KnowledgeBase,
) -> None:
    engine = make_engine(
        database,
        FakeNlu(fail=True),
        keyring=keyring,
        lexicon=lexicon,
        responses=responses,
        knowledge=kb,
    )
    for number, text in enumerate(richmenu_texts()):
        result = await say(engine, text, f"Udown{number}")
        assert (result.case_id is not None) == (text == "人と話したい"), text
        assert result.replies, text
    faq = await say(engine, "よくある質問", "Udown-faq")
    assert faq.replies[0].quick_replies[0] == "架空請求のメール・SMS"


async def test_every_quick_reply_leads_to_its_answer(
    engine: Engine, database: Database, responses: Responses, kb: KnowledgeBase
) -> None:
    menus = Menus.load()
    for number, choice in enumerate(menus.choices()):
        user = f"Uchoice{number}"
        await say(engine, "よくある質問", user)
        result = await say(engine, choice.label["ja"], user)
        text = "\n".join(r.text for r in result.replies)
        target = choice.target
        if target.kind == "menu":
            assert result.replies == (menu_reply(menus, target.ref, responses),)
        elif target.kind == "guide":
            guide = kb.guide(target.ref)
            assert guide.title["ja"] in text and result.case_id is None, choice.label
        elif result.assessment.categories:
            # 「DVの相談窓口」: the safety layer answers first (its lexicon knows 「DV」),
            # then the button's own FAQ entry.
            assert result.case_id is not None
            assert result.replies[0] == responses.safety_message(
                "ja", result.assessment.categories, result.assessment.urgency
            )
            assert kb.faq(target.ref).answer["ja"] in text
        else:
            assert result.case_id is None, choice.label
            assert result.replies[0].text == kb.faq(target.ref).answer["ja"], choice.label


async def test_safety_comes_before_the_menu(
    database: Database,
    keyring: Keyring,
    lexicon: CrisisLexicon,
    responses: Responses,
    kb: KnowledgeBase,
) -> None:
    # Should the classifier hear a crisis in a button label, the safety message wins.
    nlu = ScriptedNlu(SCRIPT | SUICIDE_MISHEARD)
    engine = make_engine(
        database, nlu, keyring=keyring, lexicon=lexicon, responses=responses, knowledge=kb
    )
    result = await say(engine, "電話帳に登録したい", "Usafety-first")
    assert result.case_id is not None
    assert SafetyCategory.SUICIDE in result.assessment.categories
    assert result.replies[0] == responses.safety_message(
        "ja", result.assessment.categories, result.assessment.urgency
    )


async def test_a_menu_tap_inside_a_guide_keeps_the_guide(
    engine: Engine, database: Database, responses: Responses
) -> None:
    user = "Uguide-menu"
    start = await say(engine, "スマホの文字を大きくしたい", user)
    assert start.replies and start.case_id is None
    before = await stored_flow(database, start.conversation_id)
    assert before is not None
    menu = await say(engine, "よくある質問", user)
    assert menu.replies == (menu_reply(Menus.load(), "faq", responses),)
    assert await stored_flow(database, menu.conversation_id) == before
