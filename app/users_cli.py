"""``tsunagu users …``: counselor console accounts (passwords hashed with argon2id).

``add`` creates one; ``passwd`` sets a new password and ``remove`` deletes one, both signing
the account out of every console session at once; ``check`` compares the roster in
``pools.yml`` with the accounts (the accounts decide what a login sees) and exits 1 on any
difference, for a deployment check.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from handoff.accounts import (
    ROLES,
    change_password,
    create_account,
    parse_pools,
    remove_account,
    roster_problems,
)
from handoff.errors import AccountError, HandoffConfigError
from handoff.pools import load_config
from storage.db import Database

T = TypeVar("T")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _in_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrates, runs ``action`` in one committed session and turns AccountError into exit 2."""
    url = settings.resolved_database_url
    Database(url).migrate()

    async def run() -> T:
        database = Database(url)
        try:
            async with database.session() as session:
                return await action(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def register(cli: typer.Typer, load_settings: Callable[[], Settings]) -> None:
    """Adds the ``users`` command group to the ``tsunagu`` command line."""
    users_cli = typer.Typer(help="Counselor console accounts.", no_args_is_help=True)
    cli.add_typer(users_cli, name="users")

    @users_cli.command("add")
    def add(
        login: Annotated[str, typer.Option(help="Login name (3–60 of A-Z a-z 0-9 _ . @ -).")],
        role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
        pools: Annotated[
            str, typer.Option(help="Comma-separated pools from pools.yml, e.g. dv,general.")
        ] = "",
        display_name: Annotated[
            str, typer.Option(help="Name shown to colleagues (default: the login).")
        ] = "",
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
    ) -> None:
        """Create an account; prompts for the password twice unless --password-stdin."""
        settings = load_settings()
        try:
            config = load_config()
        except HandoffConfigError as exc:
            typer.echo(f"configuration error: {exc}", err=True)
            raise typer.Exit(2) from exc
        password = _read_password(password_stdin)

        async def add_one(session: AsyncSession) -> str:
            account = await create_account(
                session,
                login=login,
                display_name=display_name,
                role=role,
                pools=parse_pools(pools),
                password=password,
                config=config,
            )
            return account.id

        account_id = _in_session(settings, add_one)
        typer.echo(f"created account {account_id} (login {login}, role {role})")

    @users_cli.command("passwd")
    def passwd(
        login: Annotated[str, typer.Option(help="The account's login.")],
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
    ) -> None:
        """Set a new password (lifts a lockout) and sign the account out everywhere."""
        settings = load_settings()
        password = _read_password(password_stdin)

        revoked = _in_session(settings, lambda session: change_password(session, login, password))
        typer.echo(f"password changed for {login}; {revoked} session(s) signed out")

    @users_cli.command("remove")
    def remove(login: Annotated[str, typer.Option(help="The account's login.")]) -> None:
        """Delete an account after signing it out of every console session."""
        settings = load_settings()

        revoked = _in_session(settings, lambda session: remove_account(session, login))
        typer.echo(f"removed {login}; {revoked} session(s) signed out")

    @users_cli.command("check")
    def check() -> None:
        """Compare the roster in pools.yml with the accounts; exit 1 if they differ."""
        settings = load_settings()
        try:
            config = load_config()
        except HandoffConfigError as exc:
            typer.echo(f"configuration error: {exc}", err=True)
            raise typer.Exit(2) from exc

        async def differences(session: AsyncSession) -> list[str]:
            return [str(p) for p in await roster_problems(session, config)]

        problems = _in_session(settings, differences)
        for line in problems:
            typer.echo(line)
        if problems:
            typer.echo(
                f"{len(problems)} difference(s) between pools.yml's roster and the accounts",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo("roster and accounts agree")
