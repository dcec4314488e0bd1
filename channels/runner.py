"""Starts this process's background workers (inbox, LINE sender, resident notices)."""

from __future__ import annotations

import asyncio

from app.wiring import Runtime
from channels.line.api import LineApi
from channels.line.consent import consent_provider
from channels.line.processor import LineProcessor
from channels.workers import InboxWorker, LineSender
from handoff.resident_notices import NoticeSweeper


def start_workers(runtime: Runtime) -> list[asyncio.Task[None]]:
    """Creates the workers (needs a running loop) and returns their tasks."""
    settings = runtime.settings
    sqlite = runtime.database.url.startswith("sqlite")
    sender: LineSender | None = None
    if settings.line_channel_access_token is not None:
        runtime.line_api = LineApi(
            access_token=settings.line_channel_access_token.get_secret_value(),
            base_url=settings.line_api_base_url,
        )
        sender = LineSender(
            database=runtime.database,
            transcript=runtime.transcript,
            api=runtime.line_api,
            lease_seconds=settings.worker_lease_seconds,
            # SQLite has one writer: parallel turns would only queue for the lock.
            concurrency=1 if sqlite else 8,
        )
    line_api = runtime.line_api
    processor = LineProcessor(
        engine=runtime.engine,
        events=runtime.channel_events,
        transcript=runtime.transcript,
        reply_token_seconds=settings.line_reply_token_seconds,
        show_loading=line_api.show_loading if line_api is not None else None,
        consent_notice=consent_provider(settings),
    )
    inbox_worker = InboxWorker(
        database=runtime.database,
        keyring=runtime.keyring,
        processors={"line": processor},
        lease_seconds=settings.worker_lease_seconds,
        concurrency=1 if sqlite else 8,
        on_processed=sender.wake if sender is not None else None,
        events=runtime.events,
    )
    runtime.workers = [inbox_worker] + ([sender] if sender is not None else [])
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(w.run()) for w in runtime.workers]
    notices = runtime.resident_notices
    if notices is not None:
        # Queue updates and session-cap notices for waiting residents: swept periodically
        # (changes made by other processes) and woken by this process's console actions.
        notices.on_outbox = sender.wake if sender is not None else None
        runtime.notice_sweeper = NoticeSweeper(notices)
        tasks.append(loop.create_task(runtime.notice_sweeper.run()))
    return tasks
