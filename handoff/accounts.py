"""Counselor console accounts: argon2id password hashes and lockout after repeated failures.

Five wrong passwords in a row lock the login for 15 minutes; while locked even the right
password is refused (without checking it), so guessing cannot continue. Failed attempts are
counted with an atomic ``UPDATE … SET failed_attempts = failed_attempts + 1`` so parallel
guesses on several workers are all counted.

Locking an account, changing its password or removing it also revokes every console session
of the account (``handoff/console_sessions.py``): whoever held a cookie is signed out.

The accounts are the source of truth for access: ``counselor_accounts.pools`` decides what a
login sees, claims and is alerted to. The roster in ``pools.yml`` (names for transfers,
staff counts for wait estimates) must agree with them: :func:`roster_problems` lists every
difference (``tsunagu users check``; logged at start-up).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import console_sessions
from handoff.errors import AccountError
from handoff.models import CounselorAccount
from handoff.pools import HandoffConfig
from storage.db import as_utc, utcnow

ROLES = ("counselor", "supervisor", "admin")
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_CHARS = 12
LOGIN = re.compile(r"^[A-Za-z0-9_.@-]{3,60}$")

_hasher = PasswordHasher()
# Verified against when the login is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("tsunagu-no-such-account")


class AuthStatus(enum.Enum):
    """The outcome of one login attempt."""

    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class AuthResult:
    """The outcome and, when it succeeded, the account."""

    status: AuthStatus
    account: CounselorAccount | None = None
    locked_until: datetime | None = None


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with the library's recommended cost)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for a malformed hash)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def parse_pools(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"dv,general"`` (or a list) as a tuple of unique pool ids, in the given order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(dict.fromkeys(p.strip() for p in items if p.strip()))


async def create_account(
    session: AsyncSession,
    *,
    login: str,
    display_name: str,
    role: str,
    pools: Iterable[str],
    password: str,
    config: HandoffConfig | None = None,
    account_id: str | None = None,
) -> CounselorAccount:
    """Adds an account; role, pools (checked against ``config``) and login are validated.

    The account id (the counselor id used in ``Conversation.owner``) defaults to the login.
    """
    if not LOGIN.match(login):
        raise AccountError(f"bad login {login!r}: 3–60 of letters, digits, _ . @ -")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    pool_ids = parse_pools(pools)
    if config is not None:
        unknown = sorted(set(pool_ids) - set(config.pools))
        if unknown:
            raise AccountError(f"unknown pools {unknown}; known: {sorted(config.pools)}")
    if not display_name.strip():
        display_name = login
    identifier = account_id or login.replace("@", "_")
    existing = await session.scalar(
        select(CounselorAccount.id).where(
            (CounselorAccount.login == login) | (CounselorAccount.id == identifier)
        )
    )
    if existing is not None:
        raise AccountError(f"an account with login {login!r} already exists")
    account = CounselorAccount(
        id=identifier,
        login=login,
        display_name=display_name[:80],
        role=role,
        pools=",".join(pool_ids),
        password_hash=hash_password(password),
        failed_attempts=0,
    )
    session.add(account)
    await session.flush()
    return account


async def authenticate(
    session: AsyncSession, login: str, password: str, *, now: datetime | None = None
) -> AuthResult:
    """Checks a login; counts failures and locks after five. The caller must commit.

    Returns a result rather than raising, so the caller commits the failure count too.
    """
    now = now or utcnow()
    account = await session.scalar(
        select(CounselorAccount)
        .where(CounselorAccount.login == login)
        .execution_options(populate_existing=True)
    )
    if account is None:
        verify_password(_DUMMY_HASH, password)
        return AuthResult(AuthStatus.INVALID)
    if account.locked_until is not None and as_utc(account.locked_until) > now:
        return AuthResult(AuthStatus.LOCKED, locked_until=as_utc(account.locked_until))
    if account.locked_until is not None:
        # The lock has expired: start counting afresh.
        account.locked_until = None
        account.failed_attempts = 0
        await session.flush()
    if verify_password(account.password_hash, password):
        account.failed_attempts = 0
        account.locked_until = None
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        await session.flush()
        return AuthResult(AuthStatus.OK, account=account)
    await session.execute(
        update(CounselorAccount)
        .where(CounselorAccount.id == account.id)
        .values(failed_attempts=CounselorAccount.failed_attempts + 1)
    )
    failures = await session.scalar(
        select(CounselorAccount.failed_attempts).where(CounselorAccount.id == account.id)
    )
    if (failures or 0) >= MAX_FAILURES:
        until = now + LOCKOUT
        await session.execute(
            update(CounselorAccount)
            .where(CounselorAccount.id == account.id)
            .values(locked_until=until, failed_attempts=0)
        )
        await console_sessions.revoke_all(session, account.id, now=now)
        return AuthResult(AuthStatus.LOCKED, locked_until=until)
    return AuthResult(AuthStatus.INVALID)


def account_pools(account: CounselorAccount) -> tuple[str, ...]:
    """The pools of an account as a tuple."""
    return parse_pools(account.pools)


async def _by_login(session: AsyncSession, login: str) -> CounselorAccount:
    account = await session.scalar(select(CounselorAccount).where(CounselorAccount.login == login))
    if account is None:
        raise AccountError(f"no account with login {login!r}")
    return account


async def change_password(session: AsyncSession, login: str, password: str) -> int:
    """Sets a new password and signs the account out everywhere; returns sessions revoked.

    Also lifts a lockout: an administrator resetting the password has checked who asks.
    """
    account = await _by_login(session, login)
    account.password_hash = hash_password(password)
    account.failed_attempts = 0
    account.locked_until = None
    await session.flush()
    return await console_sessions.revoke_all(session, account.id)


async def remove_account(session: AsyncSession, login: str) -> int:
    """Revokes the account's sessions, then deletes it; returns sessions revoked.

    Cases keep the counselor id they were handled by (the audit log names it too).
    """
    account = await _by_login(session, login)
    revoked = await console_sessions.revoke_all(session, account.id)
    await session.delete(account)
    await session.flush()
    return revoked


@dataclass(frozen=True)
class RosterProblem:
    """One difference between the roster (``pools.yml``) and the accounts (ids only)."""

    counselor_id: str
    problem: str  # "no_account" | "not_on_roster" | "role_differs" | "pools_differ"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.counselor_id}: {self.problem}" + (f" ({self.detail})" if self.detail else "")


async def roster_problems(session: AsyncSession, config: HandoffConfig) -> list[RosterProblem]:
    """Every difference between the roster and the accounts (empty when they agree).

    The accounts decide access; the roster must name the same ids with the same role and
    pools, or transfers and wait estimates would count people who cannot sign in (or
    miss people who can).
    """
    accounts = {a.id: a for a in (await session.scalars(select(CounselorAccount))).all()}
    problems: list[RosterProblem] = []
    for entry in config.counselors:
        account = accounts.get(entry.id)
        if account is None:
            problems.append(RosterProblem(entry.id, "no_account"))
            continue
        if account.role != entry.role:
            problems.append(
                RosterProblem(
                    entry.id, "role_differs", f"roster {entry.role}, account {account.role}"
                )
            )
        if set(account_pools(account)) != set(entry.pools):
            problems.append(
                RosterProblem(
                    entry.id,
                    "pools_differ",
                    f"roster {','.join(entry.pools) or '-'}, "
                    f"account {','.join(account_pools(account)) or '-'}",
                )
            )
    on_roster = {c.id for c in config.counselors}
    problems.extend(
        RosterProblem(account_id, "not_on_roster")
        for account_id in sorted(accounts)
        if account_id not in on_roster
    )
    return problems
