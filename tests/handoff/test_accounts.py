"""Counselor accounts: argon2 hashes, lockout after five failures, and `tsunagu users add`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handoff.accounts import (
    AuthStatus,
    authenticate,
    create_account,
    hash_password,
    verify_password,
)
from handoff.errors import AccountError
from handoff.models import CounselorAccount
from handoff.pools import load_config
from storage.db import Database, utcnow

PASSWORD = "correct horse battery"
TSUNAGU = Path(sys.executable).parent / "tsunagu"


def test_hash_and_verify() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password("not-a-hash", PASSWORD)
    with pytest.raises(AccountError, match="at least"):
        hash_password("short")


async def test_create_validates_role_pools_and_duplicates(database: Database) -> None:
    config = load_config()
    async with database.session() as s:
        account = await create_account(
            s,
            login="yamada",
            display_name="山田",
            role="counselor",
            pools="dv,general",
            password=PASSWORD,
            config=config,
        )
    assert (account.id, account.pools) == ("yamada", "dv,general")
    for kwargs, message in [
        ({"login": "yamada", "role": "counselor", "pools": ""}, "already exists"),
        ({"login": "sato", "role": "boss", "pools": ""}, "unknown role"),
        ({"login": "sato", "role": "counselor", "pools": "dv,tarot"}, "unknown pools"),
        ({"login": "a b", "role": "counselor", "pools": ""}, "bad login"),
    ]:
        with pytest.raises(AccountError, match=message):
            async with database.session() as s:
                await create_account(s, display_name="", password=PASSWORD, config=config, **kwargs)


async def test_lockout_after_five_failures(database: Database) -> None:
    async with database.session() as s:
        await create_account(
            s, login="sato", display_name="", role="supervisor", pools=[], password=PASSWORD
        )
    now = utcnow()
    for _ in range(4):
        async with database.session() as s:
            result = await authenticate(s, "sato", "wrong password!", now=now)
        assert result.status is AuthStatus.INVALID
    async with database.session() as s:
        assert (await authenticate(s, "sato", "wrong password!", now=now)).status is (
            AuthStatus.LOCKED
        )
    # Locked: even the right password is refused, for 15 minutes.
    async with database.session() as s:
        locked = await authenticate(s, "sato", PASSWORD, now=now + timedelta(minutes=14))
    assert locked.status is AuthStatus.LOCKED and locked.account is None
    async with database.session() as s:
        ok = await authenticate(s, "sato", PASSWORD, now=now + timedelta(minutes=16))
    assert ok.status is AuthStatus.OK and ok.account is not None
    assert ok.account.role == "supervisor"
    async with database.session() as s:
        row = await s.scalar(select(CounselorAccount).where(CounselorAccount.login == "sato"))
    assert row is not None and row.failed_attempts == 0 and row.locked_until is None
    async with database.session() as s:
        unknown = await authenticate(s, "nobody", PASSWORD)
    assert unknown.status is AuthStatus.INVALID


def test_cli_users_add(tmp_path: Path) -> None:
    env = {**os.environ, "TSUNAGU_DATA_DIR": str(tmp_path)}
    args = [str(TSUNAGU), "users", "add", "--login", "tanaka", "--role", "counselor"]
    done = subprocess.run(
        [*args, "--pools", "digital,general", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "created account tanaka" in done.stdout
    again = subprocess.run(
        [*args, "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 2 and "already exists" in again.stderr
