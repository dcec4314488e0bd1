"""``tsunagu retention run`` and ``tsunagu erase``: the operator's privacy commands."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from core.config import Settings
from privacy.erasure import ConversationNotFound, erase_conversation
from privacy.rekey import rewrap_data_keys
from privacy.retention import RetentionPolicy, run_retention
from storage.db import Database
from storage.keys import load_keyring
from storage.transcript import Transcript


def _echo_counts(result: dict[str, Any], as_json: bool) -> None:
    for key, value in result.items():
        typer.echo(f"{key}: {value}")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))


def register(cli: typer.Typer, load_settings: Callable[[], Settings]) -> None:
    """Adds the privacy commands to the ``tsunagu`` command line."""
    retention_cli = typer.Typer(
        help="Apply the retention periods (TSUNAGU_RETENTION_*_DAYS).", no_args_is_help=True
    )

    @retention_cli.command("run")
    def retention_run(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Only count what would be shredded/deleted.")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object last.")
        ] = False,
    ) -> None:
        """Shred expired transcripts and delete expired rows; safe to run daily (idempotent)."""
        settings = load_settings()

        async def run() -> dict[str, Any]:
            database = Database(settings.resolved_database_url)
            try:
                report = await run_retention(
                    database,
                    Transcript(load_keyring(settings)),
                    RetentionPolicy.from_settings(settings),
                    dry_run=dry_run,
                )
            finally:
                await database.dispose()
            return report.as_dict()

        Database(settings.resolved_database_url).migrate()
        _echo_counts(asyncio.run(run()), as_json)

    @cli.command("erase")
    def erase(
        conversation: Annotated[str, typer.Option("--conversation", help="Conversation id.")],
        reason: Annotated[
            str,
            typer.Option("--reason", help="Reason code, e.g. resident.request, operator.request."),
        ],
        actor: Annotated[
            str | None, typer.Option(help="Who asks (default operator:<login name>).")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object last.")
        ] = False,
    ) -> None:
        """Erase a conversation: destroy its data key, close its cases, audit the request."""
        settings = load_settings()
        who = actor or f"operator:{getpass.getuser()}"

        async def run() -> dict[str, Any]:
            database = Database(settings.resolved_database_url)
            try:
                async with database.session() as session:
                    result = await erase_conversation(
                        session,
                        conversation,
                        who,
                        "operator",
                        reason,
                        transcript=Transcript(load_keyring(settings)),
                    )
            finally:
                await database.dispose()
            return result.as_dict()

        Database(settings.resolved_database_url).migrate()
        try:
            result = asyncio.run(run())
        except ConversationNotFound as exc:
            typer.echo(f"error: no conversation {exc.args[0]!r}", err=True)
            raise typer.Exit(1) from exc
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        _echo_counts(result, as_json)

    keys_cli = typer.Typer(help="Master key rotation.", no_args_is_help=True)

    @keys_cli.command("rewrap")
    def keys_rewrap() -> None:
        """Re-wrap every live data key under the newest TSUNAGU_MASTER_KEY version."""
        settings = load_settings()
        keyring = load_keyring(settings)

        async def run() -> int:
            database = Database(settings.resolved_database_url)
            try:
                return await rewrap_data_keys(database, keyring)
            finally:
                await database.dispose()

        Database(settings.resolved_database_url).migrate()
        typer.echo(f"rewrapped: {asyncio.run(run())}")
        typer.echo(f"master_version: {keyring.current_version}")

    cli.add_typer(retention_cli, name="retention")
    cli.add_typer(keys_cli, name="keys")
