"""The console's pages and form actions (server-rendered; JavaScript only adds live updates).

Every POST checks the CSRF token first; every transcript or note display goes through the
audited readers (the audit record is committed before anything is decrypted). After each
action commits, the message is delivered on its channel and notices (ids only) are
published so other consoles and workers look again.

A counselor opens the cases of their own pools and the cases they hold. Any other case
first shows a page asking why (a code from ``handoff/config/read_reasons.yml``; 403 and
nothing read without one, 400 for a code not in the file); with a reason the transcript is
read through the same audited function, the reason in the audit record, read-only.
Every signed-in page carries the waiting emergency alerts (``handoff/console/alerts.py``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import RuntimeDep
from app.security.rate_limit import rate_limiter
from app.wiring import Runtime
from core.logging import log_event
from handoff import audit, notes, ownership
from handoff.accounts import AuthStatus, authenticate
from handoff.console import notify
from handoff.console.alerts import waiting_alerts
from handoff.console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Staff,
    check_csrf,
    current_staff,
    read_form,
    set_cookie,
    sign_in,
    sign_out,
)
from handoff.console.resources import (
    STATIC_PATH,
    canned_replies,
    handoff_config,
    outcomes,
    read_reasons,
    templates,
)
from handoff.console.texts import text
from handoff.console.views import case_row, may_see, open_rows, queue_rows
from handoff.errors import (
    CaseConflict,
    CaseNotFound,
    CaseStateError,
    HandoffError,
    NotCaseOwner,
    UnknownOutcome,
)
from handoff.messaging import Delivery, send_counselor_message
from handoff.models import Case, CounselorAccount
from handoff.read_reasons import ReadReason, ReadReasons
from handoff.session_clock import session_clock
from storage.db import as_utc, utcnow
from storage.models import Conversation

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/console", tags=["counselor console"], include_in_schema=False)

ERROR_TEXTS: dict[type[Exception], tuple[int, str]] = {
    CaseConflict: (409, "このケースは、ほかの相談員がすでに対応しています。"),
    NotCaseOwner: (403, "このケースを担当していないため、操作できません。"),
    CaseStateError: (409, "このケースの状態では、その操作はできません。"),
    UnknownOutcome: (422, "終了の理由を選んでください。"),
    CaseNotFound: (404, "ケースが見つかりません。"),
}


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(
        request, name, {"static": STATIC_PATH, **context}, status_code=status
    )
    # With the app-wide "no-referrer", browsers send "Origin: null" on form posts and the
    # origin guard refuses them; "same-origin" still sends nothing to other sites.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def _staff_page(
    request: Request,
    runtime: Runtime,
    staff: Staff,
    name: str,
    context: dict[str, Any],
    status: int = 200,
) -> Response:
    """A signed-in page: adds the waiting emergency alerts shown on every console page."""
    async with runtime.database.reads() as session:
        alerts = await waiting_alerts(session, staff)
    return _page(request, name, {"staff": staff, "alerts": alerts, **context}, status)


async def _error_page(
    request: Request, runtime: Runtime, staff: Staff, status: int, message: str, case_id: str
) -> Response:
    return await _staff_page(
        request, runtime, staff, "error.html", {"message": message, "case_id": case_id}, status
    )


def _to_login() -> Response:
    return RedirectResponse("/console/login", status_code=303)


async def _signed_in(request: Request, runtime: Runtime) -> Staff | None:
    return await current_staff(request, runtime)


# --- sign in / out -------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, rt: RuntimeDep) -> Response:
    """The sign-in form (a fresh double-submit CSRF token in a cookie and a hidden field)."""
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", {"csrf": token, "error": None})
    set_cookie(response, rt, LOGIN_CSRF_COOKIE, token, 30 * 60)
    return response


def _login_page(request: Request, rt: Runtime, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", {"csrf": token, "error": error}, status)
    set_cookie(response, rt, LOGIN_CSRF_COOKIE, token, 30 * 60)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, rt: RuntimeDep) -> Response:
    """Checks the password (argon2id; locked after five failures) and starts a session.

    Attempts are also limited per client IP (``TSUNAGU_RATE_LIMIT_CONSOLE_LOGIN_IP``), so one
    address cannot guess across many logins; over the limit: 429 with ``Retry-After``,
    before any password is checked.
    """
    client = request.client.host if request.client else "unknown"
    decision = await rate_limiter(request).hit("console_login_ip", client)
    if not decision.allowed:
        log_event(logger, "rate_limited", status=429, action="console_login_ip")
        limited = _login_page(request, rt, text("login_rate_limited"), 429)
        limited.headers["Retry-After"] = str(decision.retry_after)
        return limited
    form = await read_form(request)
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form, request)
    async with rt.database.session() as session:
        result = await authenticate(session, form.get("login", ""), form.get("password", ""))
    if result.status is AuthStatus.OK and result.account is not None:
        signed_in = RedirectResponse("/console", status_code=303)
        set_cookie(
            signed_in,
            rt,
            SESSION_COOKIE,
            await sign_in(rt, result.account.id),
            SESSION_SECONDS,
        )
        signed_in.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
        return signed_in
    locked = result.status is AuthStatus.LOCKED
    error = (
        "ログインが一時的にロックされています。15分ほど待ってから、もう一度お試しください。"
        if locked
        else "ログイン名またはパスワードが違います。"
    )
    return _login_page(request, rt, error, 423 if locked else 401)


@router.post("/logout")
async def logout(request: Request, rt: RuntimeDep) -> Response:
    """Ends the session: the row is revoked (a copy of the cookie no longer works)."""
    staff = await _signed_in(request, rt)
    if staff is None:
        return _to_login()
    check_csrf(staff.csrf, await read_form(request), request)
    await sign_out(rt, staff)
    response = _to_login()
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# --- queue ---------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, rt: RuntimeDep) -> Response:
    """The live queue (urgency first, then waiting time) and the cases the user holds."""
    staff = await _signed_in(request, rt)
    if staff is None:
        return _to_login()
    config = handoff_config()
    async with rt.database.reads() as session:
        queued = await queue_rows(session, config, staff)
        claimed = await open_rows(session, config, staff)
    return await _staff_page(
        request,
        rt,
        staff,
        "queue.html",
        {"queued": queued, "claimed": claimed, "csrf": staff.csrf},
    )


# --- one case --------------------------------------------------------------------------------


async def _load_case(
    session: AsyncSession, staff: Staff, case_id: str, *, claiming: bool = False
) -> Case:
    case = await session.get(Case, case_id)
    # A claim on a case of one's pool that a colleague just took must get the clear 409.
    allowed = case is not None and (may_see(staff, case) or (claiming and case.pool in staff.pools))
    if case is None or not allowed:
        # The same answer for "missing" and "not yours": case ids are not to be probed.
        raise HTTPException(404, "case not found")
    return case


def _read_reason(staff: Staff, case: Case) -> str:
    if case.counselor == staff.id and case.status == "claimed":
        return "case.view"
    return "case.watch" if staff.sees_all else "case.preview"


def _reason_page(
    request: Request, rt: Runtime, staff: Staff, case: Case, status: int, message: str
) -> Awaitable[Response]:
    """Asks why a case outside the counselor's pools is opened; nothing is read or decrypted."""
    return _staff_page(
        request,
        rt,
        staff,
        "read_reason.html",
        {
            "case": case_row(case, handoff_config()),
            "reasons": read_reasons().reasons,
            "message": message,
            "invalid": status == 400,
        },
        status,
    )


async def _colleagues(session: AsyncSession, staff: Staff) -> list[CounselorAccount]:
    """Transfer targets: counselor accounts (the source of truth) that the roster lists too."""
    config = handoff_config()
    accounts = await session.scalars(
        select(CounselorAccount)
        .where(CounselorAccount.role == "counselor", CounselorAccount.id != staff.id)
        .order_by(CounselorAccount.display_name)
    )
    return [a for a in accounts.all() if config.counselor(a.id) is not None]


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: str, rt: RuntimeDep, reason: str | None = None
) -> Response:
    """Classification, transcript (audited read), notes (audited read) and the actions.

    A counselor opening a case outside their pools (or a colleague's case) gets the reason
    page (403) and, with a reason code from the file, a read-only view audited with it.
    """
    staff = await _signed_in(request, rt)
    if staff is None:
        return _to_login()
    config = handoff_config()
    chosen: ReadReason | None = None
    async with rt.database.sessions() as session:
        case = await session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, "case not found")
        if not may_see(staff, case):
            if not reason:
                return await _reason_page(
                    request, rt, staff, case, 403, text("read_reason_required")
                )
            chosen = read_reasons().get(reason)
            if chosen is None:
                return await _reason_page(
                    request, rt, staff, case, 400, text("read_reason_invalid")
                )
        conversation = await session.get(Conversation, case.conversation_id)
        if conversation is None:
            raise HTTPException(404, "case not found")
        last_intent = conversation.last_intent
        categories = tuple(c for c in conversation.categories.split(",") if c)
        row = case_row(case, config)
        claimed_at = case.claimed_at
        holder = case.counselor if case.status == "claimed" else None
        conversation_id = case.conversation_id
        entries = await rt.transcript.read(
            session,
            conversation_id,
            actor=staff.id,
            role=staff.role,
            reason=(
                ReadReasons.audit_reason(chosen)
                if chosen is not None
                else _read_reason(staff, case)
            ),
        )
        # A read with a reason shows the conversation only: no notes, no actions.
        case_notes = (
            []
            if chosen is not None
            else await notes.read_notes(
                session, rt.transcript, case_id, actor=staff.id, role=staff.role
            )
        )
        colleagues = await _colleagues(session, staff) if chosen is None else []
    clock = None
    if holder is not None and claimed_at is not None:
        clock = session_clock(claimed_at, config.session, utcnow())
    return await _staff_page(
        request,
        rt,
        staff,
        "case.html",
        {
            "csrf": staff.csrf,
            "case": row,
            "holder": holder,
            "mine": holder == staff.id,
            "last_intent": last_intent,
            "categories": categories,
            "entries": entries,
            "notes": case_notes,
            "clock": clock,
            "claimed_at": as_utc(claimed_at).isoformat() if claimed_at is not None else "",
            "limits": config.session,
            "canned": canned_replies(),
            "outcomes": outcomes().labels,
            "pools": config.pools,
            "colleagues": colleagues,
            "conversation_id": conversation_id,
            "read_banner": (
                text("read_reason_banner", reason=chosen.ja) if chosen is not None else None
            ),
        },
    )


@router.get("/cases/{case_id}/transcript", response_class=HTMLResponse)
async def transcript_fragment(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """The transcript alone, for the live page to refresh (audited like the full page)."""
    staff = await _signed_in(request, rt)
    if staff is None:
        raise HTTPException(401, "sign in")
    async with rt.database.sessions() as session:
        case = await _load_case(session, staff, case_id)
        entries = await rt.transcript.read(
            session,
            case.conversation_id,
            actor=staff.id,
            role=staff.role,
            reason=_read_reason(staff, case),
        )
    return _page(request, "transcript.html", {"entries": entries})


Action = Callable[[AsyncSession, Staff, Case, dict[str, str]], Awaitable[Delivery | None]]


async def _act(
    request: Request, runtime: Runtime, case_id: str, kind: str, action: Action
) -> Response:
    """Runs one case action in a transaction, then delivers and publishes notices."""
    staff = await _signed_in(request, runtime)
    if staff is None:
        return _to_login()
    form = await read_form(request)
    check_csrf(staff.csrf, form, request)
    if kind == "claim":
        # Most claims that lose a race see the case already taken: said from one plain
        # read, with no transaction to roll back (bench handoff: ten counselors racing).
        async with runtime.database.reads() as session:
            taken = (await _load_case(session, staff, case_id, claiming=True)).status != "queued"
        if taken:
            status, message = ERROR_TEXTS[CaseConflict]
            return await _error_page(request, runtime, staff, status, message, case_id)
    try:
        async with runtime.database.session() as session:
            case = await _load_case(session, staff, case_id, claiming=kind == "claim")
            conversation_id = case.conversation_id
            delivery = await action(session, staff, case, form)
    except HandoffError as exc:
        status, message = ERROR_TEXTS.get(type(exc), (409, "この操作はできませんでした。"))
        return await _error_page(request, runtime, staff, status, message, case_id)
    except ValueError:
        return await _error_page(request, runtime, staff, 422, "入力を確かめてください。", case_id)
    await notify.deliver(request, runtime, delivery)
    await notify.case_changed(runtime, case_id, conversation_id, kind)
    target = "/console" if kind in ("release", "close", "transfer") else None
    return RedirectResponse(target or f"/console/cases/{case_id}", status_code=303)


async def _conversation(session: AsyncSession, case: Case) -> Conversation:
    conversation = await session.get(Conversation, case.conversation_id)
    if conversation is None:
        raise CaseNotFound(case.id)
    return conversation


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Takes the case; a second counselor gets a clear 409 page."""

    async def run(s: AsyncSession, staff: Staff, case: Case, _f: dict[str, str]) -> Delivery:
        await ownership.claim(s, case.id, staff.id, role=staff.role)
        return await ownership.announce(
            s, rt.transcript, canned_replies(), case.conversation_id, "claimed"
        )

    return await _act(request, rt, case_id, "claim", run)


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Sends the counselor's message to the resident (LINE outbox or web socket)."""

    async def run(s: AsyncSession, staff: Staff, case: Case, form: dict[str, str]) -> Delivery:
        conversation = await _conversation(s, case)
        return await send_counselor_message(
            s, rt.transcript, conversation, staff.id, form.get("text", "")
        )

    return await _act(request, rt, case_id, "message", run)


@router.post("/cases/{case_id}/notes")
async def add_note(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Adds a private note (encrypted; never shown to the resident)."""

    async def run(s: AsyncSession, staff: Staff, case: Case, form: dict[str, str]) -> None:
        await notes.add_note(
            s, rt.transcript, case.id, staff.id, form.get("text", ""), role=staff.role
        )

    return await _act(request, rt, case_id, "note", run)


@router.post("/cases/{case_id}/transfer")
async def transfer(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Hands the case to a colleague (``to`` = ``counselor:<id>``) or a pool (``pool:<id>``).

    A supervisor may reassign a case held by someone else; that is audited in their name.
    """

    async def run(s: AsyncSession, staff: Staff, case: Case, form: dict[str, str]) -> Delivery:
        target_kind, _, target = form.get("to", "").partition(":")
        if target_kind not in ("counselor", "pool") or not target:
            raise ValueError("choose a transfer target")
        holder = case.counselor or ""
        if holder != staff.id:
            if not staff.sees_all:
                raise NotCaseOwner(case.id)
            audit.record(
                s,
                actor=staff.id,
                role=staff.role,
                conversation_id=case.conversation_id,
                action="case.reassign",
                reason=f"case:{case.id}",
            )
        await ownership.transfer(
            s,
            handoff_config(),
            case.id,
            holder,
            to_counselor=target if target_kind == "counselor" else None,
            to_pool=target if target_kind == "pool" else None,
            role=staff.role,
        )
        return await ownership.announce(
            s, rt.transcript, canned_replies(), case.conversation_id, "transferred"
        )

    return await _act(request, rt, case_id, "transfer", run)


@router.post("/cases/{case_id}/return")
async def return_to_bot(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Gives the conversation back to the bot (the resident is told)."""

    async def run(s: AsyncSession, staff: Staff, case: Case, _f: dict[str, str]) -> Delivery:
        return await ownership.release_to_bot(
            s, rt.transcript, canned_replies(), case.id, staff.id, role=staff.role
        )

    return await _act(request, rt, case_id, "release", run)


@router.post("/cases/{case_id}/close")
async def close(request: Request, case_id: str, rt: RuntimeDep) -> Response:
    """Closes the case with a required outcome code and a warm closing message."""

    async def run(
        s: AsyncSession, staff: Staff, case: Case, form: dict[str, str]
    ) -> Delivery | None:
        return await ownership.close(
            s,
            rt.transcript,
            canned_replies(),
            outcomes(),
            case.id,
            staff.id,
            form.get("outcome", ""),
            role=staff.role,
        )

    return await _act(request, rt, case_id, "close", run)
