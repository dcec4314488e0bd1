"""``tsunagu bench webhook``: signed LINE events against two app workers, one killed mid-run.

Measures what the resident would notice — lost messages, double replies — plus ack and
processing latency and throughput. The setup is real: two ``tsunagu serve`` processes on
one database, the LINE stand-in as LINE, and a load generator posting signed events the way
LINE does (a worker that does not answer gets the event again, marked as a redelivery, on the
other worker). Half-way through, one worker is killed with SIGKILL and restarted.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from channels.line.simulate import (
    as_redelivery,
    build_payload,
    build_text_event,
    register_reply_tokens,
    sign,
)
from channels.line.standin.runner import StandinClient, run_standin
from evaluation.app_process import AppProcess, wait_ready
from evaluation.metrics import percentile
from nlu.service import free_port
from storage.crypto import generated_master_key_spec
from storage.db import Database, as_utc
from storage.models import InboxEvent, OutboxMessage

SECRET = "bench-channel-secret"
TOKEN = "bench-access-token"
TEXTS = ("こんにちは", "ありがとう", "スマホの文字を大きくしたい", "架空請求のハガキが来た")


def worker(port: int, env: dict[str, str], log: Path, role: str = "serve") -> AppProcess:
    """One ``tsunagu serve`` process, or with ``role="worker"`` one ``tsunagu worker``."""
    command = [str(Path(sys.executable).parent / "tsunagu"), role]
    if role == "serve":
        command += ["--port", str(port)]
    return AppProcess(port, env, log, command, serves_http=role == "serve")


@dataclass
class Load:
    """What the generator sent and how the app answered."""

    per_user: Counter[str] = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)
    redeliveries: int = 0
    refused: int = 0


async def _ready(url: str) -> None:
    await wait_ready(url, timeout=300.0)


async def _post(
    http: httpx.AsyncClient, workers: list[AppProcess], event: dict[str, Any], load: Load
) -> None:
    """Posts like LINE: on no answer, redeliver (same event id) to the other worker."""
    start = random.randrange(len(workers))
    # LINE keeps redelivering for a long time; a restarting worker takes seconds.
    for attempt in range(60):
        worker = workers[(start + attempt) % len(workers)]
        body = build_payload([event if attempt == 0 else as_redelivery(event)])
        began = time.perf_counter()
        try:
            response = await http.post(
                f"{worker.url}/webhooks/line",
                content=body,
                headers={"X-Line-Signature": sign(body, SECRET)},
            )
        except httpx.HTTPError:
            load.refused += 1
            await asyncio.sleep(0.2)
            continue
        if response.status_code == 200:
            load.ack_ms.append((time.perf_counter() - began) * 1000)
            load.redeliveries += int(attempt > 0)
            return
        load.refused += 1
        await asyncio.sleep(0.5)
    raise RuntimeError("an event could not be delivered to any worker")


async def _generate(
    workers: list[AppProcess],
    victim: AppProcess,
    standin: StandinClient,
    *,
    events: int,
    users: int,
    concurrency: int,
    kill_at: int,
    rate: float | None = None,
) -> tuple[Load, float]:
    load = Load()
    user_ids = [f"U{random.getrandbits(128):032x}" for _ in range(users)]
    plan = [
        build_text_event(random.choice(TEXTS), user_id=random.choice(user_ids))
        for _ in range(events)
    ]
    # Reply tokens belong to their user, as on LINE (one bulk registration).
    await asyncio.to_thread(register_reply_tokens, standin.base_url, plan, expires_in=600.0)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for event in plan:
        queue.put_nowait(event)
    sent = 0
    killed = asyncio.Event()

    began = time.perf_counter()
    issued = 0

    async def pump(http: httpx.AsyncClient) -> None:
        nonlocal sent, issued
        while not queue.empty():
            event = queue.get_nowait()
            if rate:
                # Paced like real traffic: event i leaves at i / rate seconds.
                due = began + issued / rate
                issued += 1
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await _post(http, workers, event, load)
            load.per_user[event["source"]["userId"]] += 1
            sent += 1
            if sent >= kill_at and not killed.is_set():
                killed.set()

    async def chaos() -> None:
        await killed.wait()
        victim.kill()
        await asyncio.sleep(1.0)
        victim.start()
        if victim.serves_http:
            await _ready(victim.url)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        chaos_task = asyncio.create_task(chaos())
        await asyncio.gather(*(pump(http) for _ in range(concurrency)))
        await chaos_task
    return load, time.perf_counter() - began


async def _drain(database: Database, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with database.session() as s:
            statuses = Counter((await s.scalars(select(InboxEvent.status))).all())
            outgoing = Counter((await s.scalars(select(OutboxMessage.status))).all())
        if statuses.get("done", 0) + statuses.get("failed", 0) >= expected and not (
            outgoing.get("pending", 0) + outgoing.get("sending", 0)
        ):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(
        f"not drained in {timeout:.0f} s: inbox {dict(statuses)}, outbox {dict(outgoing)}"
    )


async def run_bench(
    *,
    events: int = 10_000,
    users: int = 500,
    concurrency: int = 32,
    database_url: str | None = None,
    nlu_url: str,
    work_dir: Path | None = None,
    split: bool = False,
    kb_model_dir: Path | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """Runs the whole scenario and returns the report.

    ``split`` runs the docker-compose topology: two web processes that only acknowledge
    (``TSUNAGU_RUN_WORKERS=false``) and two ``tsunagu worker`` processes, one of which is
    killed; otherwise two ``tsunagu serve`` processes do both and one of them is killed.
    """
    work = Path(work_dir or tempfile.mkdtemp(prefix="tsunagu-bench-webhook-"))
    work.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{work / 'bench.db'}"
    database = Database(url)
    database.migrate()
    with run_standin(access_token=TOKEN) as standin_url, StandinClient(standin_url) as standin:
        env = {
            **os.environ,
            "TSUNAGU_DATA_DIR": str(work),
            "TSUNAGU_DATABASE_URL": url,
            "TSUNAGU_MASTER_KEY": generated_master_key_spec(),
            "TSUNAGU_USER_KEY_PEPPER": os.urandom(32).hex(),
            "TSUNAGU_NLU_URL": nlu_url,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "TSUNAGU_LINE_API_BASE_URL": standin_url,
            "TSUNAGU_LINE_API_DATA_BASE_URL": standin_url,
            # The load generator is one client IP standing in for all of LINE, and a few
            # residents send many messages: limits would measure the limiter, not delivery.
            "TSUNAGU_RATE_LIMIT_WEBHOOK_IP": "10000000/minute",
            "TSUNAGU_RATE_LIMIT_LINE_USER": "10000000/minute",
            "TSUNAGU_LOG_LEVEL": "WARNING",
        }
        if kb_model_dir is not None:
            # One built model for every process (four building it at once would collide).
            env["TSUNAGU_KB_MODEL_DIR"] = str(kb_model_dir)
        web_env = {**env, "TSUNAGU_RUN_WORKERS": "false"} if split else env
        web = [worker(free_port(), web_env, work / f"web{i}.log") for i in range(2)]
        background = (
            [worker(0, env, work / f"worker{i}.log", role="worker") for i in range(2)]
            if split
            else []
        )
        processes = web + background
        try:
            for process in processes:
                process.start()
            await asyncio.gather(*(_ready(w.url) for w in web))
            began_all = time.perf_counter()
            load, elapsed = await _generate(
                web,
                background[0] if split else web[0],
                standin,
                events=events,
                users=users,
                concurrency=concurrency,
                kill_at=events // 2,
                rate=rate,
            )
            finished = time.perf_counter()
            await _drain(database, events, timeout=max(120.0, events / 20))
            drained = time.perf_counter()
            report = await _report(database, standin, load, events)
        finally:
            for process in processes:
                process.stop()
            await database.dispose()
    report |= {
        "events": events,
        "users": users,
        "topology": "2 web + 2 worker processes" if split else "2 serve processes",
        "killed": "one worker process" if split else "one serve process",
        "database": url.split(":", 1)[0],
        "offered_rate_per_s": rate,
        "send_seconds": round(elapsed, 2),
        "throughput_events_per_s": round(events / max(elapsed, 1e-9), 1),
        "processed_per_s": round(events / max(drained - began_all, 1e-9), 1),
        "drain_seconds": round(drained - finished, 2),
    }
    return report


async def _report(
    database: Database, standin: StandinClient, load: Load, events: int
) -> dict[str, Any]:
    async with database.session() as s:
        rows = (
            await s.execute(
                select(InboxEvent.received_at, InboxEvent.processed_at, InboxEvent.status)
            )
        ).all()
        outbox_statuses = Counter((await s.scalars(select(OutboxMessage.status))).all())
    processing_ms = [
        (as_utc(done) - as_utc(received)).total_seconds() * 1000
        for received, done, status in rows
        if status == "done" and done is not None
    ]
    delivered = Counter(
        d["user_id"] for d in await asyncio.to_thread(standin.deliveries) if d.get("user_id")
    )
    lost = sum(max(0, n - delivered.get(user, 0)) for user, n in load.per_user.items())
    duplicated = sum(max(0, delivered.get(user, 0) - n) for user, n in load.per_user.items())
    return {
        "acknowledged": len(load.ack_ms),
        "stored_events": len(rows),
        "processed_events": len(processing_ms),
        "failed_events": sum(1 for *_, status in rows if status == "failed"),
        "events_lost": events - len(processing_ms),
        "replies_lost": lost,
        "duplicated_replies": duplicated,
        "redeliveries_sent": load.redeliveries,
        "refused_posts": load.refused,
        "outbox": dict(outbox_statuses),
        "ack_ms": {"p50": percentile(load.ack_ms, 50), "p99": percentile(load.ack_ms, 99)},
        "processing_ms": {
            "p50": percentile(processing_ms, 50),
            "p99": percentile(processing_ms, 99),
        },
    }
