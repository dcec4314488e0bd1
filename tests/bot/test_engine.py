"""The engine end to end with a FakeNlu on real SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.responses import Responses
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage, IntentScore, Urgency
from handoff.models import Case
from storage.crypto import Keyring
from storage.db import Database
from storage.models import Conversation, Message
from tests.conftest import FakeNlu, make_engine


def msg(text: str, user: str = "Uresident0001") -> IncomingMessage:
    return IncomingMessage(channel="line", user_ref=user, text=text)


@pytest.fixture
def deps(keyring: Keyring, lexicon: CrisisLexicon, responses: Responses) -> dict[str, object]:
    return {"keyring": keyring, "lexicon": lexicon, "responses": responses}


async def test_crisis_gets_safety_message_with_hotlines_and_a_case(
    database: Database, deps: dict[str, Any]
) -> None:
    engine = make_engine(database, FakeNlu("suicide_risk", 0.8), **deps)
    result = await engine.handle(msg("もう全部終わりにしたい。薬ためてる"))
    assert result.assessment.escalate and result.assessment.urgency is Urgency.EMERGENCY
    # The safety message first, then the resident's place in the queue.
    reply, status = result.replies
    assert "119" in reply.text and "0120-279-338" in reply.text
    assert "1ばんめ" in status.text
    async with database.session() as s:
        case = await s.scalar(select(Case).where(Case.conversation_id == result.conversation_id))
        assert (
            case is not None and case.urgency == int(Urgency.EMERGENCY) and case.pool == "general"
        )
        assert "suicide" not in (case.reasons or "") or case.reasons.startswith(
            ("intent", "lexicon", "ranking")
        )


async def test_dv_routes_to_dv_pool_with_dv_hotlines(
    database: Database, deps: dict[str, Any]
) -> None:
    engine = make_engine(database, FakeNlu("dv", 0.9), **deps)
    result = await engine.handle(msg("夫に殴られています"))
    assert "0120-279-889" in result.replies[0].text and "#8008" in result.replies[0].text
    async with database.session() as s:
        case = await s.scalar(select(Case).where(Case.id == result.case_id))
        assert case is not None and case.pool == "dv"


async def test_conversation_stays_sensitive(database: Database, deps: dict[str, Any]) -> None:
    engine = make_engine(database, FakeNlu("suicide_risk", 0.9), **deps)
    first = await engine.handle(msg("消えたい"))
    engine2 = make_engine(database, FakeNlu("thanks", 0.99), **deps)
    second = await engine2.handle(msg("ありがとう"))
    assert second.conversation_id == first.conversation_id
    assert second.case_id == first.case_id  # the case stays queued
    thanks = deps["responses"].text("ja", "thanks")
    assert second.replies[0].text != thanks
    assert "0120-279-338" in second.replies[0].text


async def test_risk_is_rescored_on_every_message(database: Database, deps: dict[str, Any]) -> None:
    engine = make_engine(database, FakeNlu("smartphone_help", 0.95), **deps)
    first = await engine.handle(msg("LINEの使い方を教えて"))
    assert not first.assessment.escalate
    later = await engine.handle(msg("実はもう消えたいんです"))
    assert later.assessment.escalate and later.case_id is not None


async def test_nlu_down_still_escalates_and_replies(
    database: Database, deps: dict[str, Any]
) -> None:
    engine = make_engine(database, FakeNlu(fail=True), **deps)
    crisis = await engine.handle(msg("ﾀﾋにたい"))
    assert crisis.assessment.escalate and crisis.replies
    calm = await engine.handle(msg("こんにちは", user="Uother"))
    assert not calm.assessment.escalate and calm.replies


async def test_slow_nlu_times_out_and_safety_layer_decides(
    database: Database, deps: dict[str, Any]
) -> None:
    slow = FakeNlu("greeting", 0.99, delay=5.0)
    engine = make_engine(database, slow, timeout=0.2, **deps)
    result = await engine.handle(msg("首を絞められた"))
    assert result.assessment.escalate and not result.assessment.nlu_available
    assert result.assessment.urgency is Urgency.EMERGENCY


async def test_counselor_owned_conversation_gets_no_bot_reply(
    database: Database, deps: dict[str, Any]
) -> None:
    engine = make_engine(database, FakeNlu("dv", 0.9), **deps)
    first = await engine.handle(msg("彼に叩かれる"))
    async with database.session() as s:
        conv = await s.get(Conversation, first.conversation_id)
        assert conv is not None
        conv.owner = "counselor:1"
    result = await engine.handle(msg("まだいますか"))
    assert result.replies == ()
    async with database.session() as s:
        rows = (
            await s.scalars(select(Message).where(Message.conversation_id == first.conversation_id))
        ).all()
        # Safety message and queue status out; the resident's later text is still kept.
        assert [r.direction for r in rows] == ["in", "out", "out", "in"]


async def test_english_message_gets_english_reply(database: Database, deps: dict[str, Any]) -> None:
    engine = make_engine(database, FakeNlu("dv", 0.9), **deps)
    result = await engine.handle(msg("My husband hits me"))
    assert result.language == "en" and "It is not your fault" in result.replies[0].text


async def test_bodies_are_never_stored_in_clear(
    database: Database, deps: dict[str, Any], database_url: str
) -> None:
    engine = make_engine(database, FakeNlu("dv", 0.9), **deps)
    secret = "夫に殴られている田中花子です"
    await engine.handle(msg(secret, user="U0123456789abcdef0123456789abcdef"))
    async with database.session() as s:
        rows = (await s.scalars(select(Message))).all()
        convs = (await s.scalars(select(Conversation))).all()
    assert rows and all(secret.encode() not in r.body_ciphertext for r in rows)
    assert all("U0123456789abcdef" not in c.user_key for c in convs)
    if database_url.startswith("sqlite"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert secret.encode() not in raw and b"U0123456789abcdef" not in raw


async def test_empty_text_is_refused(database: Database, deps: dict[str, Any]) -> None:
    engine = make_engine(database, FakeNlu(), **deps)
    with pytest.raises(ValueError, match="empty"):
        await engine.handle(msg("   "))


async def test_weak_sensitive_ranking_escalates(database: Database, deps: dict[str, Any]) -> None:
    nlu = FakeNlu(
        "out_of_scope",
        0.4,
        ranking=(IntentScore("out_of_scope", 0.4), IntentScore("pregnancy_sos", 0.35)),
    )
    engine = make_engine(database, nlu, **deps)
    result = await engine.handle(msg("ちょっと相談が"))
    assert result.assessment.escalate and result.case_id
