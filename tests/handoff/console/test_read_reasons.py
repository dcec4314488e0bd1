"""Issue 6: a counselor opens another pool's case only with a reason code, audited first.

Over real HTTP on SQLite and PostgreSQL: a DV counselor opening a pregnancy case gets the
reason page (403) and no transcript and no read record; a code not in
``handoff/config/read_reasons.yml`` gets 400; a listed code gets the read-only page, with
the ``transcript.read`` audit record naming the reason committed before decryption.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.wiring import Runtime
from handoff.console.resources import read_reasons
from handoff.console.texts import text
from handoff.errors import HandoffConfigError
from handoff.read_reasons import ReadReasons
from storage.models import AuditRecord, Conversation, ConversationKey
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings
from tests.handoff.console.support import Console, add_account
from tests.handoff.support import make_case

SECRET_TEXT = "予定日は来月で、だれにも言えていません"


@pytest.fixture
async def web_app(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[str, FastAPI, Runtime]]:
    async with serve_app(web_settings(tmp_path, database_url), ScriptedNlu()) as served:
        yield served


async def _pregnancy_case(runtime: Runtime) -> tuple[str, str]:
    conversation_id, case_id = await make_case(
        runtime.database, channel="web", pool="pregnancy", urgency=1
    )
    async with runtime.database.session() as s:
        conversation = await s.get(Conversation, conversation_id)
        assert conversation is not None
        await runtime.transcript.append(
            s, conversation, direction="in", sender="resident", body=SECRET_TEXT
        )
    return conversation_id, case_id


async def _reads(runtime: Runtime, conversation_id: str) -> list[tuple[str, str, str]]:
    async with runtime.database.session() as s:
        rows = (
            await s.execute(
                select(AuditRecord.actor, AuditRecord.action, AuditRecord.reason)
                .where(AuditRecord.conversation_id == conversation_id)
                .order_by(AuditRecord.id)
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


async def test_other_pool_case_needs_a_reason_and_the_reason_is_audited_first(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "dv1", pools="dv")
    conversation_id, case_id = await _pregnancy_case(runtime)
    console = Console(url)
    await console.login("dv1")

    # Not in the queue of a DV counselor.
    assert case_id not in (await console.http.get("/console")).text

    # No reason: 403, the reason page, nothing read and nothing decrypted.
    refused = await console.case_page(case_id)
    assert refused.status_code == 403
    assert text("read_reason_required") in refused.text
    for reason in read_reasons().reasons:
        assert f'value="{reason.code}"' in refused.text and reason.ja in refused.text
    assert SECRET_TEXT not in refused.text
    assert await _reads(runtime, conversation_id) == []

    # A code that is not in the file: 400, still nothing read.
    for bad in ("curiosity", "case.view", ""):
        invalid = await console.http.get(f"/console/cases/{case_id}", params={"reason": bad})
        assert invalid.status_code == (400 if bad else 403)
        assert SECRET_TEXT not in invalid.text
    assert await _reads(runtime, conversation_id) == []

    # A listed reason: the read-only page, and the audit record with that reason.
    chosen = read_reasons().get("emergency_support")
    assert chosen is not None
    page = await console.http.get(f"/console/cases/{case_id}", params={"reason": chosen.code})
    assert page.status_code == 200
    assert SECRET_TEXT in page.text
    assert text("read_reason_banner", reason=chosen.ja) in page.text
    for action in ("/claim", "/reply", "/notes", "/transfer", "/close"):
        assert f"/console/cases/{case_id}{action}" not in page.text
    assert await _reads(runtime, conversation_id) == [
        ("dv1", "transcript.read", "case.reason:emergency_support")
    ]
    assert ReadReasons.audit_reason(chosen) == "case.reason:emergency_support"

    # Written *before* decrypting: with the data key destroyed the read fails, and the
    # record of the attempt is there all the same.
    async with runtime.database.session() as s:
        key = await s.get(ConversationKey, conversation_id)
        assert key is not None
        key.wrapped_key = None
    failed = await console.http.get(
        f"/console/cases/{case_id}", params={"reason": "handover_check"}
    )
    assert failed.status_code == 500 and SECRET_TEXT not in failed.text
    assert (await _reads(runtime, conversation_id))[-1] == (
        "dv1",
        "transcript.read",
        "case.reason:handover_check",
    )
    # The actions stay closed whatever the reason.
    claim = await console.post(f"/console/cases/{case_id}/claim")
    assert claim.status_code == 404
    await console.aclose()


async def test_own_pool_and_supervisors_need_no_reason(
    web_app: tuple[str, FastAPI, Runtime],
) -> None:
    url, _app, runtime = web_app
    await add_account(runtime.database, "midwife", pools="pregnancy")
    await add_account(runtime.database, "boss", role="supervisor", pools="general")
    conversation_id, case_id = await _pregnancy_case(runtime)
    for login, reason in (("midwife", "case.preview"), ("boss", "case.watch")):
        console = Console(url)
        await console.login(login)
        page = await console.case_page(case_id)
        assert page.status_code == 200 and SECRET_TEXT in page.text
        assert (login, "transcript.read", reason) in await _reads(runtime, conversation_id)
        await console.aclose()


def test_reasons_file_has_codes_and_both_languages() -> None:
    reasons = ReadReasons.load()
    labels = {r.ja for r in reasons.reasons}
    assert {"緊急対応の応援", "スーパーバイザーの指示", "引き継ぎ確認"} <= labels
    assert all(r.en and r.code.isascii() for r in reasons.reasons)
    assert reasons.get("made_up") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("version: 1\nreasons: {}\n", "non-empty"),
        ("version: 1\nreasons:\n  Bad-Code: {ja: 理由, en: reason}\n", "bad reason code"),
        ("version: 1\nreasons:\n  handover_check: {ja: 引き継ぎ確認}\n", "'ja' and 'en'"),
    ],
)
def test_a_bad_reasons_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "read_reasons.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HandoffConfigError, match=message):
        ReadReasons.load(path)
