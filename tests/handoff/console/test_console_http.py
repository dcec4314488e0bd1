"""The counselor console over real HTTP on SQLite and PostgreSQL: sign-in, CSRF, case actions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from channels.line.simulate import build_text_event, new_user_id
from handoff.console.resources import canned_replies
from handoff.console.views import pseudonym
from handoff.models import Case
from storage.db import utcnow
from storage.models import AuditRecord, ConversationKey, Message
from tests.channels.conftest import post_events, wait_for
from tests.handoff.console.conftest import ConsoleApp
from tests.handoff.console.support import PASSWORD, Console, add_account, csrf_of
from tests.handoff.support import make_case


@pytest.fixture
async def consoles(console_app: ConsoleApp) -> AsyncIterator[tuple[Console, Console]]:
    first, second = Console(console_app.url), Console(console_app.url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def _case_of(app: ConsoleApp, conversation_id: str) -> Case:
    async with app.runtime.database.session() as s:
        case = await s.scalar(select(Case).where(Case.conversation_id == conversation_id))
        assert case is not None
        return case


async def _line_case(app: ConsoleApp, user: str) -> tuple[str, str]:
    """A LINE resident asks for a person; returns (conversation id, case id)."""
    await post_events(
        app.http, app.url, app.standin, [build_text_event("人と話したい", user_id=user)]
    )

    async def opened() -> tuple[str, str] | None:
        async with app.runtime.database.session() as s:
            row = (await s.execute(select(Case.conversation_id, Case.id))).first()
            return (row[0], row[1]) if row is not None else None

    found: tuple[str, str] = await wait_for(opened)
    await wait_for(lambda: _delivered_count(app, user, 1))
    return found


async def _delivered_count(app: ConsoleApp, user: str, at_least: int) -> bool:
    return len(await asyncio.to_thread(app.standin.delivered, user)) >= at_least


async def test_login_lockout_and_cookie_attributes(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, other = consoles
    await add_account(console_app.runtime.database, "yamada")
    await add_account(console_app.runtime.database, "sato")

    # Not signed in: the queue sends you to the login page.
    assert (await console.http.get("/console")).headers["location"] == "/console/login"

    for _ in range(4):
        assert (await console.login("yamada", "wrong password!!")).status_code == 401
    locked = await console.login("yamada", "wrong password!!")
    assert locked.status_code == 423 and "ロック" in locked.text
    # Locked: even the right password is refused.
    assert (await console.login("yamada", PASSWORD)).status_code == 423

    signed_in = await other.login("sato")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # local set-up over http; production adds Secure

    # A forged cookie is not a session.
    forged = Console(console_app.url)
    forged.http.cookies.set("tsunagu_console", "eyJzdWIiOiJzYXRvIn0.AAAA", path="/console")
    assert (await forged.http.get("/console")).status_code == 303
    await forged.aclose()

    logout = await other.post("/console/logout")
    assert logout.status_code == 303
    assert (await other.http.get("/console")).status_code == 303


async def test_posts_without_the_csrf_token_are_refused(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, _ = consoles
    await add_account(console_app.runtime.database, "yamada")
    _, case_id = await make_case(console_app.runtime.database, channel="web")

    page = await console.http.get("/console/login")
    no_token = await console.http.post(
        "/console/login", data={"login": "yamada", "password": PASSWORD}
    )
    assert no_token.status_code == 403
    wrong_token = await console.http.post(
        "/console/login",
        data={"csrf_token": csrf_of(page.text) + "x", "login": "yamada", "password": PASSWORD},
    )
    assert wrong_token.status_code == 403

    assert (await console.login("yamada")).status_code == 303
    refused = await console.http.post(f"/console/cases/{case_id}/claim", data={})
    assert refused.status_code == 403
    assert (await _case_of(console_app, await _conversation_of(console_app, case_id))).status == (
        "queued"
    )
    accepted = await console.post(f"/console/cases/{case_id}/claim")
    assert accepted.status_code == 303


async def _conversation_of(app: ConsoleApp, case_id: str) -> str:
    async with app.runtime.database.session() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        return case.conversation_id


async def test_second_counselor_gets_a_clear_claim_conflict(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    first, second = consoles
    await add_account(console_app.runtime.database, "yamada")
    await add_account(console_app.runtime.database, "sato")
    _, case_id = await make_case(console_app.runtime.database, channel="web")
    await first.login("yamada")
    await second.login("sato")

    assert (await first.post(f"/console/cases/{case_id}/claim")).status_code == 303
    lost = await second.post(f"/console/cases/{case_id}/claim")
    assert lost.status_code == 409
    assert "ほかの相談員がすでに対応しています" in lost.text
    # The loser can neither reply nor read the colleague's conversation (not without a
    # reason code: test_read_reasons.py).
    reply = await second.post(f"/console/cases/{case_id}/reply", text="こんにちは")
    assert reply.status_code == 404
    page = await second.case_page(case_id)
    assert page.status_code == 403 and 'name="reason"' in page.text


async def test_line_resident_gets_the_reply_and_the_bot_stays_silent(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, _ = consoles
    app = console_app
    await add_account(app.runtime.database, "yamada")
    user = new_user_id()
    app.standin.set_profile(user, "山田花子")
    conversation_id, case_id = await _line_case(app, user)
    await console.login("yamada")

    queue = await console.http.get("/console")
    assert pseudonym(case_id) in queue.text
    for secret in (user, "山田花子"):
        assert secret not in queue.text

    assert (await console.post(f"/console/cases/{case_id}/claim")).status_code == 303
    before = len(app.standin.delivered(user))
    sent = await console.post(f"/console/cases/{case_id}/reply", text="相談員の田中です。")
    assert sent.status_code == 303

    async def reply_arrived() -> bool:
        texts = [m.get("text") for m in app.standin.delivered(user)]
        return "相談員の田中です。" in texts

    await wait_for(reply_arrived)

    # The resident writes again: stored for the counselor, the bot says nothing.
    during = len(app.standin.delivered(user))
    await post_events(app.http, app.url, app.standin, [build_text_event("はい", user_id=user)])

    async def stored() -> list[tuple[str, str]]:
        async with app.runtime.database.session() as s:
            rows = (
                await s.execute(
                    select(Message.direction, Message.sender)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.seq)
                )
            ).all()
        senders = [(r[0], r[1]) for r in rows]
        return senders if senders.count(("in", "resident")) == 2 else []

    senders = await wait_for(stored)
    # Processed, and nothing from the bot after the claim (only the hand-over notice).
    after_claim = senders[senders.index(("out", "system")) :]
    assert ("out", "bot") not in after_claim
    assert after_claim[-1] == ("in", "resident")
    assert len(app.standin.delivered(user)) == during > before

    page = await console.case_page(case_id)
    assert page.status_code == 200
    assert pseudonym(case_id) in page.text and "はい" in page.text
    for secret in (user, "山田花子"):
        assert secret not in page.text

    # Return to the bot: the resident is told, and the bot answers again.
    assert (await console.post(f"/console/cases/{case_id}/return")).status_code == 303
    assert (await _case_of(app, conversation_id)).status == "returned"
    await wait_for(lambda: _delivered_count(app, user, during + 1))
    await post_events(app.http, app.url, app.standin, [build_text_event("もう一度", user_id=user)])
    await wait_for(lambda: _delivered_count(app, user, during + 2))


async def test_close_requires_an_outcome(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, _ = consoles
    await add_account(console_app.runtime.database, "yamada")
    conversation_id, case_id = await make_case(console_app.runtime.database, channel="web")
    await console.login("yamada")
    await console.post(f"/console/cases/{case_id}/claim")

    missing = await console.post(f"/console/cases/{case_id}/close")
    assert missing.status_code == 422 and "終了の理由を選んでください" in missing.text
    unknown = await console.post(f"/console/cases/{case_id}/close", outcome="made_up")
    assert unknown.status_code == 422
    assert (await _case_of(console_app, conversation_id)).status == "claimed"

    done = await console.post(f"/console/cases/{case_id}/close", outcome="listened")
    assert done.status_code == 303
    closed = await _case_of(console_app, conversation_id)
    assert (closed.status, closed.outcome) == ("closed", "listened")


async def test_audit_record_is_committed_before_the_transcript_is_decrypted(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, _ = consoles
    app = console_app
    await add_account(app.runtime.database, "yamada")
    await add_account(app.runtime.database, "boss", role="supervisor", pools="general")
    user = new_user_id()
    conversation_id, case_id = await _line_case(app, user)
    await console.login("yamada")
    await console.post(f"/console/cases/{case_id}/claim")
    assert (await console.case_page(case_id)).status_code == 200

    supervisor = Console(app.url)
    await supervisor.login("boss")
    watched = await supervisor.case_page(case_id)
    assert watched.status_code == 200 and "見守り中" in watched.text
    assert "人と話したい" in watched.text

    # With the conversation's key destroyed, decryption fails; the read is still on record.
    async with app.runtime.database.session() as s:
        key = await s.get(ConversationKey, conversation_id)
        assert key is not None
        key.wrapped_key = None
    failed = await supervisor.case_page(case_id)
    assert failed.status_code == 500 and "人と話したい" not in failed.text
    await supervisor.aclose()

    async with app.runtime.database.session() as s:
        reads = (
            await s.execute(
                select(AuditRecord.actor, AuditRecord.role, AuditRecord.reason)
                .where(
                    AuditRecord.conversation_id == conversation_id,
                    AuditRecord.action == "transcript.read",
                )
                .order_by(AuditRecord.id)
            )
        ).all()
    assert [tuple(r) for r in reads] == [
        ("yamada", "counselor", "case.view"),
        ("boss", "supervisor", "case.watch"),
        ("boss", "supervisor", "case.watch"),
    ]


async def test_supervisor_sees_all_open_cases_and_reassigns(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    counselor, supervisor = consoles
    database = console_app.runtime.database
    await add_account(database, "yamada", pools="general")
    await add_account(database, "boss", role="supervisor", pools="general")
    conversation_id, case_id = await make_case(database, channel="web", pool="general")
    _, dv_case = await make_case(database, channel="web", pool="dv")
    await counselor.login("yamada")
    await supervisor.login("boss")

    queue = (await counselor.http.get("/console")).text
    assert pseudonym(case_id) in queue and pseudonym(dv_case) not in queue
    assert (await counselor.case_page(dv_case)).status_code == 403
    await counselor.post(f"/console/cases/{case_id}/claim")

    overview = (await supervisor.http.get("/console")).text
    assert pseudonym(case_id) in overview and pseudonym(dv_case) in overview
    moved = await supervisor.post(f"/console/cases/{case_id}/transfer", to="pool:dv")
    assert moved.status_code == 303
    case = await _case_of(console_app, conversation_id)
    assert (case.status, case.pool, case.counselor) == ("queued", "dv", None)
    async with database.session() as s:
        actions = (
            await s.execute(
                select(AuditRecord.actor, AuditRecord.action)
                .where(AuditRecord.conversation_id == conversation_id)
                .order_by(AuditRecord.id)
            )
        ).all()
    assert ("boss", "case.reassign") in [tuple(a) for a in actions]


async def test_notes_canned_replies_and_the_session_clock(
    console_app: ConsoleApp, consoles: tuple[Console, Console]
) -> None:
    console, _ = consoles
    database = console_app.runtime.database
    await add_account(database, "yamada")
    conversation_id, case_id = await make_case(database, channel="web")
    await console.login("yamada")
    await console.post(f"/console/cases/{case_id}/claim")

    page = (await console.case_page(case_id)).text
    assert "対応時間 0分（上限 50分）" in page
    assert canned_replies().replies[0].title in page

    noted = await console.post(f"/console/cases/{case_id}/notes", text="次回は保健師へ")
    assert noted.status_code == 303
    async with database.session() as s:
        case = await s.get(Case, case_id)
        assert case is not None
        case.claimed_at = utcnow() - timedelta(minutes=45)
    page = (await console.case_page(case_id)).text
    assert "次回は保健師へ" in page
    assert "対応時間 45分" in page and "そろそろ終わりの準備" in page
    async with database.session() as s:
        actions = (
            await s.scalars(
                select(AuditRecord.action).where(AuditRecord.conversation_id == conversation_id)
            )
        ).all()
    assert {"note.add", "note.read", "transcript.read", "case.claim"} <= set(actions)
