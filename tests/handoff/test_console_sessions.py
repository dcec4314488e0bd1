"""Server-side console sessions and the roster check, on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handoff import console_sessions
from handoff.accounts import (
    AuthStatus,
    authenticate,
    change_password,
    create_account,
    remove_account,
    roster_problems,
)
from handoff.errors import AccountError
from handoff.models import ConsoleSession, CounselorAccount
from handoff.pools import load_config
from storage.db import Database, as_utc, utcnow

PASSWORD = "correct horse battery"
TSUNAGU = Path(sys.executable).parent / "tsunagu"


async def _account(database: Database, login: str, role: str = "counselor", pools: str = "") -> str:
    async with database.session() as s:
        account = await create_account(
            s, login=login, display_name="", role=role, pools=pools.split(","), password=PASSWORD
        )
        return account.id


async def _start(database: Database, account_id: str) -> str:
    async with database.session() as s:
        return (await console_sessions.start(s, account_id)).id


async def _check(database: Database, session_id: str) -> str | None:
    async with database.session() as s:
        live = await console_sessions.check(s, session_id)
        return live.account.id if live is not None else None


async def test_check_revoke_and_expiry(database: Database) -> None:
    yamada = await _account(database, "yamada", pools="dv")
    first, second = await _start(database, yamada), await _start(database, yamada)
    assert first != second and len(first) >= 40
    assert await _check(database, first) == yamada
    assert await _check(database, "no-such-session") is None

    async with database.session() as s:
        assert await console_sessions.revoke(s, first)
        assert not await console_sessions.revoke(s, first)  # already revoked
    assert await _check(database, first) is None
    assert await _check(database, second) == yamada  # only that one

    # Past its expiry a session is not signed in, revoked or not.
    async with database.session() as s:
        row = await s.get(ConsoleSession, second)
        assert row is not None
        later = as_utc(row.expires_at) + timedelta(seconds=1)
        assert await console_sessions.check(s, second, now=later) is None


async def test_last_seen_is_touched_at_most_once_a_minute(database: Database) -> None:
    yamada = await _account(database, "yamada", pools="dv")
    session_id = await _start(database, yamada)
    async with database.session() as s:
        row = await s.get(ConsoleSession, session_id)
        assert row is not None
        started = row.last_seen
    async with database.session() as s:
        await console_sessions.check(s, session_id, now=utcnow() + timedelta(seconds=30))
    async with database.session() as s:
        row = await s.get(ConsoleSession, session_id, populate_existing=True)
        assert row is not None and row.last_seen == started
    async with database.session() as s:
        await console_sessions.check(s, session_id, now=utcnow() + timedelta(minutes=2))
    async with database.session() as s:
        row = await s.get(ConsoleSession, session_id, populate_existing=True)
        assert row is not None and row.last_seen > started


async def test_lockout_password_change_and_removal_revoke_every_session(
    database: Database,
) -> None:
    sato = await _account(database, "sato", pools="general")
    tanaka = await _account(database, "tanaka", pools="general")
    sato_sessions = [await _start(database, sato) for _ in range(2)]
    tanaka_session = await _start(database, tanaka)

    # Five wrong passwords lock the login and sign it out everywhere.
    now = utcnow()
    for _ in range(5):
        async with database.session() as s:
            result = await authenticate(s, "sato", "wrong password!", now=now)
    assert result.status is AuthStatus.LOCKED
    for session_id in sato_sessions:
        assert await _check(database, session_id) is None
    assert await _check(database, tanaka_session) == tanaka  # others are untouched

    # A new password (also lifting the lock) signs out the sessions started before it.
    async with database.session() as s:
        ok = await authenticate(s, "tanaka", PASSWORD)
    assert ok.status is AuthStatus.OK
    async with database.session() as s:
        assert await change_password(s, "tanaka", "another long password") == 1
    assert await _check(database, tanaka_session) is None
    async with database.session() as s:
        assert (await authenticate(s, "tanaka", PASSWORD)).status is AuthStatus.INVALID
        assert (await authenticate(s, "tanaka", "another long password")).status is AuthStatus.OK

    fresh = await _start(database, tanaka)
    async with database.session() as s:
        assert await remove_account(s, "tanaka") == 1
    assert await _check(database, fresh) is None
    async with database.session() as s:
        assert await s.get(CounselorAccount, "tanaka") is None
        assert (
            await s.scalars(select(ConsoleSession).where(ConsoleSession.account_id == tanaka))
        ).all() == []
    with pytest.raises(AccountError, match="no account"):
        async with database.session() as s:
            await remove_account(s, "tanaka")


async def test_present_accounts_and_who_serves_a_pool(database: Database) -> None:
    dv = await _account(database, "dv1", pools="dv")
    general = await _account(database, "gen1", pools="general")
    boss = await _account(database, "boss", role="supervisor")
    await _account(database, "away", pools="dv")  # never signed in
    gone = await _account(database, "gone", pools="dv")
    for account_id in (dv, dv, general, boss):
        await _start(database, account_id)
    gone_session = await _start(database, gone)
    async with database.session() as s:
        await console_sessions.revoke(s, gone_session)

    async with database.session() as s:
        present = await console_sessions.present_accounts(s)
    assert [a.id for a in present] == sorted([dv, general, boss])  # each once
    assert [a.id for a in present if console_sessions.serves(a, "dv")] == sorted([boss, dv])
    # Seen too long ago: the console was closed without signing out.
    async with database.session() as s:
        later = utcnow() + console_sessions.PRESENT_WITHIN + timedelta(minutes=1)
        assert await console_sessions.present_accounts(s, now=later) == []


async def test_roster_problems_name_every_difference(database: Database) -> None:
    config = load_config()
    async with database.session() as s:
        problems = await roster_problems(s, config)
    assert {(p.counselor_id, p.problem) for p in problems} == {
        (c.id, "no_account") for c in config.counselors
    }
    for entry in config.counselors:
        await _account(database, entry.id, role=entry.role, pools=",".join(entry.pools))
    async with database.session() as s:
        assert await roster_problems(s, config) == []

    async with database.session() as s:
        c001 = await s.get(CounselorAccount, "c001")
        assert c001 is not None
        c001.pools = "general"
        c002 = await s.get(CounselorAccount, "c002")
        assert c002 is not None
        c002.role = "supervisor"
    await _account(database, "extra", pools="general")
    async with database.session() as s:
        found = {(p.counselor_id, p.problem): str(p) for p in await roster_problems(s, config)}
    assert set(found) == {
        ("c001", "pools_differ"),
        ("c002", "role_differs"),
        ("extra", "not_on_roster"),
    }
    assert found[("c001", "pools_differ")] == (
        "c001: pools_differ (roster general,dv, account general)"
    )


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TSUNAGU), "users", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_users_check_passwd_remove(tmp_path: Path) -> None:
    env = {**os.environ, "TSUNAGU_DATA_DIR": str(tmp_path)}
    env.pop("TSUNAGU_DATABASE_URL", None)
    check = _cli(env, "check")
    assert check.returncode == 1
    assert "c001: no_account" in check.stdout and "difference(s)" in check.stderr

    for entry in load_config().counselors:
        added = _cli(
            env,
            "add",
            "--login",
            entry.id,
            "--role",
            entry.role,
            "--pools",
            ",".join(entry.pools),
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert added.returncode == 0, added.stderr
    check = _cli(env, "check")
    assert check.returncode == 0 and "roster and accounts agree" in check.stdout

    changed = _cli(env, "passwd", "--login", "c001", "--password-stdin", stdin="new password 123\n")
    assert changed.returncode == 0 and "0 session(s) signed out" in changed.stdout
    short = _cli(env, "passwd", "--login", "c001", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    removed = _cli(env, "remove", "--login", "c004")
    assert removed.returncode == 0 and "removed c004" in removed.stdout
    check = _cli(env, "check")
    assert check.returncode == 1 and check.stdout.strip() == "c004: no_account"
