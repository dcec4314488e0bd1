"""「データを けして」: ask, confirm, cancel — and never instead of a crisis response."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.data_requests import DataRequest, DataRequests
from bot.responses import Responses
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage
from handoff.models import Case
from storage.crypto import Keyring
from storage.db import Database
from storage.errors import ConversationShredded
from storage.models import AuditRecord
from storage.transcript import Transcript
from tests.conftest import FakeNlu, make_engine


@pytest.fixture
def deps(keyring: Keyring, lexicon: CrisisLexicon, responses: Responses) -> dict[str, Any]:
    return {"keyring": keyring, "lexicon": lexicon, "responses": responses}


def msg(text: str) -> IncomingMessage:
    return IncomingMessage(channel="web", user_ref="session-erase-0001", text=text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("データを けして", DataRequest.ASK),
        ("ﾃﾞｰﾀを消してください。", DataRequest.ASK),
        ("delete my data", DataRequest.ASK),
        ("はい、けしてください", DataRequest.CONFIRM),
        ("けさない", DataRequest.CANCEL),
        ("データを消してほしいと思っているけれど、その前に相談したいことがあります", None),
        ("こんにちは", None),
        # Freely worded: a record of theirs + delete, as the whole message.
        ("これまで話した相談の記録を全部削除してほしいです", DataRequest.ASK),
        ("私のデータを消してもらえますか", DataRequest.ASK),
        ("Please erase all of my messages", DataRequest.ASK),
        ("Could you delete everything I wrote here?", DataRequest.ASK),
        ("今まで書いたもの、全部消してもらえる？", DataRequest.ASK),
        ("書いたこと消えたらいいのに", None),
        ("erase everything", None),
        ("I want to erase myself", None),
        ("消えたい", None),
        ("消してほしい", None),
        ("記録を消して、もう終わりにしたい", None),
        ("スマホの写真を消したい", None),
    ],
)
def test_phrases(text: str, expected: DataRequest | None) -> None:
    assert DataRequests.load().match(text) is expected


async def test_ask_then_confirm_shreds_and_answers_in_a_new_conversation(
    database: Database, deps: dict[str, Any], keyring: Keyring
) -> None:
    nlu = FakeNlu("dv", 0.9)
    engine = make_engine(database, nlu, **deps)
    first = await engine.handle(msg("夫に殴られています"))
    nlu.intent, nlu.ranking = "out_of_scope", ()
    assert first.case_id is not None
    question = await engine.handle(msg("データを けして"))
    (reply,) = question.replies
    assert reply.quick_replies == ("はい、けしてください", "けさない")
    assert question.conversation_id == first.conversation_id
    done = await engine.handle(msg("はい、けしてください"))
    assert done.conversation_id != first.conversation_id
    assert "けしました" in done.replies[0].text
    async with database.session() as s:
        case = await s.scalar(select(Case).where(Case.id == first.case_id))
        assert case is not None and case.status == "closed"
        audit = (await s.scalars(select(AuditRecord.reason))).all()
        assert "resident.request" in audit
    async with database.sessions() as s:
        with pytest.raises(ConversationShredded):
            await Transcript(keyring).read(
                s, first.conversation_id, actor="c", role="counselor", reason="x"
            )


async def test_cancel_keeps_everything(database: Database, deps: dict[str, Any]) -> None:
    engine = make_engine(database, FakeNlu("greeting", 0.9), **deps)
    first = await engine.handle(msg("データを消して"))
    kept = await engine.handle(msg("けさない"))
    assert kept.conversation_id == first.conversation_id
    assert "けしません" in kept.replies[0].text


async def test_a_crisis_is_never_taken_for_a_data_request(
    database: Database, deps: dict[str, Any]
) -> None:
    # The phrase is a request, but the lexicon does not fire on it; a crisis message that
    # happens to be short still gets the safety path.
    engine = make_engine(database, FakeNlu("suicide_risk", 0.9), **deps)
    result = await engine.handle(msg("しにたい"))
    assert result.assessment.escalate and result.case_id is not None
