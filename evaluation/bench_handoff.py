"""``tsunagu bench handoff``: residents escalate, counselors race to claim, across 2 workers.

The setup is real: two app worker processes (uvicorn, the app ``tsunagu serve`` runs) on one
PostgreSQL database and one cross-worker event bus (Redis when reachable, else PostgreSQL
LISTEN/NOTIFY). Residents use the web chat over WebSocket on either worker; some of them
write something that must reach a person (crisis, violence at home, an unplanned pregnancy,
or the 「人と話す」 button) and keep writing while they wait, while they are claimed and
after. Counselors are real console accounts (created through the users code path), sign in
over HTTP (CSRF form), hold the console's live WebSocket on alternating workers, and race to
claim what appears in their queue, then reply.

What it checks is what a resident or a counselor would notice:

- ``bot_messages_after_claim`` — outgoing bot messages created after the case's claim, from
  the transcript metadata, and from what residents received (a bot reply whose message was
  created after the claim, or a non-empty bot reply to a message written after the
  counselor's first message arrived). Both must be 0.
- ``double_claims`` — cases that more than one counselor claimed successfully (the claim
  responses each counselor got, and the claim audit records in the database).
- ``claim_conflicts`` — the expected losers of a race (a clear 409).
- ``notification_latency_ms`` — from the case's queue commit (its ``created_at``) to the
  first live-queue frame naming the case at each counselor.
- ``counselor_reply_latency_ms`` — from the counselor's reply POST to the resident's socket.

The residents run in a process of their own (``python -m evaluation.bench_handoff
residents``), as they would on their own phones: 200 widgets sharing the counselors' event
loop made a counselor's browser see a frame only once the residents' traffic let it, which
the notification latency then counted. Both processes stamp with the same wall clock.

The texts below are the bench's own, written for it (never taken from an evaluation set).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from evaluation.app_process import AppProcess, wait_ready
from evaluation.metrics import percentile
from handoff.accounts import create_account
from handoff.models import Case
from handoff.pools import load_config
from nlu.service import free_port
from storage.crypto import generated_master_key_spec
from storage.db import Database, as_utc
from storage.models import AuditRecord, Message

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEAD_NLU_URL = "http://127.0.0.1:9"

# Written for this bench. Each reaches a person through the safety layer's rules or the
# 「人と話す」 button, so escalation does not depend on the NLU model.
ESCALATING = (
    "もう死にたいです。毎日がつらくて、夜も眠れません",
    "消えてしまいたい。ひとりで考えていると苦しい",
    "夫に殴られました。家に帰るのがこわいです",
    "彼氏に毎日なぐられていて、逃げたい",
    "生理が来なくて、妊娠したかもしれません。誰にも言えない",
    "予定外の妊娠で、どうしたらいいか分からない",
    "人と話す",
)
ORDINARY = ("こんにちは", "ゴミの出し方を教えて", "スマホの 使い方", "ありがとうございます")
FOLLOW_UPS = (
    "まだ待っています",
    "はい",
    "聞いてもらえますか",
    "わかりました",
    "よろしくお願いします",
)
COUNSELOR_REPLIES = (
    "相談員です。お話を 聞かせてください。",
    "ゆっくりで だいじょうぶです。いまは 安全な 場所に いますか？",
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GUARD_SECONDS = 60.0  # how long one reply or frame may take before the bench gives up on it
# A waiting resident writes again every 2–4 s: people type, and 80 waiting residents then
# write ~25 messages a second between them, on top of the counselors' work.
FOLLOW_UP_SECONDS = (2.0, 4.0)
# Residents arrive over this many seconds (all of them are connected at once afterwards).
ARRIVAL_SECONDS = 10.0


def worker_process(port: int, env: dict[str, str], log: Path) -> AppProcess:
    """One app worker: ``python -m evaluation.bench_handoff worker PORT``."""
    command = [sys.executable, "-m", "evaluation.bench_handoff", "worker", str(port)]
    return AppProcess(port, env, log, command)


@dataclass
class Observed:
    """Everything the simulated people saw, with wall-clock times (``time.time()``)."""

    sent_counselor: dict[str, float] = field(default_factory=dict)  # text -> POST start
    counselor_received: list[tuple[str, float]] = field(default_factory=list)  # text, time
    claims: list[tuple[str, str, int]] = field(default_factory=list)  # counselor, case, status
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)  # (case, who) -> t
    received: list[dict[str, Any]] = field(default_factory=list)  # residents' frames
    late_bot_replies: int = 0  # non-empty bot replies after the counselor's first message
    duplicate_pushes: int = 0
    residents_done: int = 0
    escalated: int = 0
    not_escalated: int = 0
    unanswered_residents: int = 0
    turns: int = 0
    errors: Counter[str] = field(default_factory=Counter)


# --- residents -----------------------------------------------------------------------------


class ResidentSocket:
    """One widget: a session over HTTP, then the WebSocket (frames collected with times)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames: list[dict[str, Any]] = []
        self.counter = 0

    async def read(self) -> None:
        """Collects frames until the socket closes (replies resolve their sender)."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame: dict[str, Any] = json.loads(raw)
                frame["_t"] = time.time()
                self.frames.append(frame)
                if frame.get("type") == "reply" and frame.get("id") in self.replies:
                    waiting = self.replies.pop(frame["id"])
                    if not waiting.done():  # the bench may have given up on it
                        waiting.set_result(frame)
                elif frame.get("type") == "message":
                    self.pushes.put_nowait(frame)

    async def say(self, text: str) -> dict[str, Any]:
        """Sends one message and waits for its ``reply`` frame."""
        self.counter += 1
        frame_id = f"m{self.counter}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[frame_id] = future
        await self.ws.send(json.dumps({"type": "message", "text": text, "id": frame_id}))
        async with asyncio.timeout(GUARD_SECONDS):
            return await future


async def _resident(
    index: int,
    url: str,
    http: httpx.AsyncClient,
    observed: Observed,
    *,
    escalate: bool,
    rng: random.Random,
    deadline: float,
) -> None:
    await asyncio.sleep(rng.uniform(0, ARRIVAL_SECONDS))
    session = (await http.post(f"{url}/api/chat/sessions", json={})).json()["session"]
    async with connect(url.replace("http://", "ws://") + "/api/chat/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "session": session}))
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            observed.errors["resident_auth"] += 1
            return
        resident = ResidentSocket(ws)
        reader = asyncio.create_task(resident.read())
        try:
            await _converse(resident, observed, escalate=escalate, rng=rng, deadline=deadline)
        finally:
            await ws.close()
            await reader
        observed.received.extend({**f, "_resident": index} for f in resident.frames)
    observed.residents_done += 1


async def _converse(
    resident: ResidentSocket,
    observed: Observed,
    *,
    escalate: bool,
    rng: random.Random,
    deadline: float,
) -> None:
    await resident.say(rng.choice(ORDINARY))
    observed.turns += 1
    if not escalate:
        for _ in range(2):
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            await resident.say(rng.choice(ORDINARY))
            observed.turns += 1
        return
    answer = await resident.say(rng.choice(ESCALATING))
    observed.turns += 1
    if not answer.get("handed_off"):
        observed.not_escalated += 1
        return
    observed.escalated += 1
    counselor_messages = 0
    follow_ups_after = 0
    seen: set[str] = set()
    # Keep writing while waiting, while being claimed and after; finish two follow-ups
    # after both counselor messages arrived (or at the deadline).
    while follow_ups_after < 2 or counselor_messages < len(COUNSELOR_REPLIES):
        if time.time() > deadline:
            observed.unanswered_residents += 1
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(rng.uniform(*FOLLOW_UP_SECONDS)):
                while True:
                    push = await resident.pushes.get()
                    if push.get("id") in seen:
                        observed.duplicate_pushes += 1
                        continue
                    seen.add(str(push.get("id")))
                    if push.get("from") == "counselor":
                        counselor_messages += 1
                        observed.counselor_received.append((str(push.get("text")), push["_t"]))
        reply = await resident.say(rng.choice(FOLLOW_UPS))
        observed.turns += 1
        if counselor_messages:
            follow_ups_after += 1
            if reply.get("replies"):
                observed.late_bot_replies += 1


# --- counselors ----------------------------------------------------------------------------


class CounselorClient:
    """One counselor's browser: a cookie jar, the CSRF token, and the live queue socket."""

    def __init__(self, login: str, password: str, url: str) -> None:
        self.login = login
        self.password = password
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=GUARD_SECONDS, follow_redirects=False)
        self.csrf = ""
        self.queued: list[str] = []
        self.changed = asyncio.Event()

    async def sign_in(self) -> None:
        """Signs in through the login form (CSRF cookie + field), keeps the page's token."""
        page = await self.http.get("/console/login")
        token = CSRF.search(page.text)
        if token is None:
            raise RuntimeError("the console login page has no CSRF field")
        response = await self.http.post(
            "/console/login",
            data={"csrf_token": token.group(1), "login": self.login, "password": self.password},
        )
        if response.status_code != 303:
            raise RuntimeError(f"console login failed with {response.status_code}")
        queue = await self.http.get("/console")
        token = CSRF.search(queue.text)
        if token is None:
            raise RuntimeError("the console queue page has no CSRF field")
        self.csrf = token.group(1)

    async def post(self, path: str, **fields: str) -> httpx.Response:
        """A console form POST with the CSRF token."""
        return await self.http.post(path, data={"csrf_token": self.csrf, **fields})

    async def live(self, observed: Observed, ready: asyncio.Event) -> None:
        """Holds the live queue socket; notes when each case first appears."""
        cookie = self.http.cookies.get("tsunagu_console") or ""
        ws_url = self.url.replace("http://", "ws://") + "/console/ws"
        async with connect(
            ws_url, additional_headers={"Cookie": f"tsunagu_console={cookie}"}
        ) as ws:
            ready.set()
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                if frame.get("type") != "queue":
                    continue
                for row in frame.get("queued", []) + frame.get("claimed", []):
                    observed.first_seen.setdefault((row["case_id"], self.login), now)
                self.queued = [row["case_id"] for row in frame.get("queued", [])]
                self.changed.set()

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        await self.http.aclose()


async def _counselor_work(
    me: CounselorClient,
    observed: Observed,
    stop: asyncio.Event,
    rng: random.Random,
    replies: list[asyncio.Task[None]],
) -> None:
    tried: set[str] = set()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await me.changed.wait()
        me.changed.clear()
        candidates = [c for c in me.queued if c not in tried]
        if not candidates:
            continue
        # Race for the top of the queue (with a little spread, as people would).
        case_id = rng.choice(candidates[:3])
        tried.add(case_id)
        response = await me.post(f"/console/cases/{case_id}/claim")
        observed.claims.append((me.login, case_id, response.status_code))
        if response.status_code == 303:
            replies.append(asyncio.create_task(_reply_twice(me, case_id, observed)))


async def _reply_twice(me: CounselorClient, case_id: str, observed: Observed) -> None:
    for n, text in enumerate(COUNSELOR_REPLIES):
        if n:
            await asyncio.sleep(2.0)
        marked = f"{text}（{me.login}・{case_id[:8]}）"
        observed.sent_counselor[marked] = time.time()
        response = await me.post(f"/console/cases/{case_id}/reply", text=marked)
        if response.status_code != 303:
            observed.errors[f"reply_{response.status_code}"] += 1


# --- set-up --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _scratch_postgres() -> AsyncIterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    name = f"tsunagu_bench_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        async with await psycopg.AsyncConnection.connect(PG_ADMIN_URL, autocommit=True) as conn:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _redis_reachable(url: str) -> bool:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def _ready(url: str) -> None:
    await wait_ready(url, timeout=120.0)


async def _add_counselors(database: Database, n: int, run: str) -> list[tuple[str, str]]:
    """Console accounts for every pool, created the way ``tsunagu users add`` does."""
    config = load_config()
    accounts: list[tuple[str, str]] = []
    async with database.session() as session:
        for i in range(n):
            login, password = f"bench-{run}-{i:02d}", secrets.token_urlsafe(18)
            await create_account(
                session,
                login=login,
                display_name=f"ベンチ相談員 {i + 1}",
                role="counselor",
                pools=list(config.pools),
                password=password,
                config=config,
            )
            accounts.append((login, password))
    return accounts


# --- the run -------------------------------------------------------------------------------


async def run_bench(
    *,
    residents: int = 200,
    counselors: int = 10,
    escalate_share: float = 0.4,
    database_url: str | None = None,
    redis_url: str | None = None,
    nlu_url: str | None = None,
    work_dir: Path | None = None,
    seed: int = 20261121,
    max_seconds: float = 180.0,
) -> dict[str, Any]:
    """Runs the scenario and returns the report (see the module docstring).

    Without ``database_url`` a scratch PostgreSQL database is created on 127.0.0.1:5432
    and dropped afterwards. Without ``redis_url`` the local Redis is used if it answers,
    else PostgreSQL LISTEN/NOTIFY. Without ``nlu_url`` the workers run on the safety layer
    and the buttons alone (every escalating text here escalates without the model).
    """
    work = Path(work_dir or tempfile.mkdtemp(prefix="tsunagu-bench-handoff-"))
    work.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        url = database_url
        if url is None:
            url = await stack.enter_async_context(_scratch_postgres())
        if not url.startswith("postgresql"):
            raise ValueError("bench handoff needs PostgreSQL (two workers share it)")
        redis = redis_url or os.environ.get("TSUNAGU_REDIS_URL") or DEFAULT_REDIS_URL
        bus = "redis" if await _redis_reachable(redis) else "postgres"
        return await _run(
            residents=residents,
            counselors=counselors,
            escalate_share=escalate_share,
            database_url=url,
            bus=bus,
            redis_url=redis,
            nlu_url=nlu_url,
            work=work,
            seed=seed,
            max_seconds=max_seconds,
        )
    raise AssertionError("unreachable")  # pragma: no cover - for mypy's flow analysis


async def _run(
    *,
    residents: int,
    counselors: int,
    escalate_share: float,
    database_url: str,
    bus: str,
    redis_url: str,
    nlu_url: str | None,
    work: Path,
    seed: int,
    max_seconds: float,
) -> dict[str, Any]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    database = Database(database_url)
    await asyncio.to_thread(database.migrate)
    accounts = await _add_counselors(database, counselors, run)
    env = {
        **os.environ,
        "TSUNAGU_DATA_DIR": str(work),
        "TSUNAGU_DATABASE_URL": database_url,
        "TSUNAGU_MASTER_KEY": generated_master_key_spec(),
        "TSUNAGU_USER_KEY_PEPPER": os.urandom(32).hex(),
        "TSUNAGU_NLU_URL": nlu_url or DEAD_NLU_URL,
        "TSUNAGU_EVENT_BUS": bus,
        # One client IP stands in for 200 residents: limits would measure the limiter.
        "TSUNAGU_RATE_LIMIT_CHAT_IP": "10000000/minute",
        "TSUNAGU_RATE_LIMIT_CHAT_USER": "10000000/minute",
        # Ten counselors sign in per run from the same IP; with Redis the per-IP count is
        # shared with every other run (and test) within the hour, so back-to-back runs hit 429.
        "TSUNAGU_RATE_LIMIT_CONSOLE_LOGIN_IP": "10000000/minute",
        "TSUNAGU_LOG_LEVEL": "WARNING",
    }
    env.pop("LINE_CHANNEL_SECRET", None)
    env.pop("LINE_CHANNEL_ACCESS_TOKEN", None)
    if bus == "redis":
        env["TSUNAGU_REDIS_URL"] = redis_url
    else:
        env.pop("TSUNAGU_REDIS_URL", None)
    workers = [worker_process(free_port(), env, work / f"worker{i}.log") for i in range(2)]
    observed = Observed()
    load_before = os.getloadavg()
    try:
        for worker in workers:
            worker.start()
        await asyncio.gather(*(_ready(w.url) for w in workers))
        began = time.time()
        began_perf = time.perf_counter()
        cpu_before = [w.cpu_seconds() for w in workers]
        await _scenario(
            workers, accounts, observed, residents, escalate_share, rng, began + max_seconds
        )
        duration = time.perf_counter() - began_perf
        cpu_used = [w.cpu_seconds() - b for w, b in zip(workers, cpu_before, strict=True)]
        report = await _report(database, observed, since=began)
    finally:
        for worker in workers:
            worker.stop()
        await database.dispose()
    escalating = round(residents * escalate_share)
    return report | {
        "residents": residents,
        "escalating_residents": escalating,
        "counselors": counselors,
        "workers": 2,
        "event_bus": bus,
        "database": "postgresql",
        "nlu": "rasa" if nlu_url else "none (safety layer and buttons only)",
        "duration_seconds": round(duration, 2),
        "turns": observed.turns,
        # How much CPU the two workers actually got: on a shared machine the latencies
        # measure the share as much as the app.
        "worker_cpu_seconds": [round(c, 1) for c in cpu_used],
        "worker_cpu_share_of_one_core": [round(c / max(duration, 1e-9), 3) for c in cpu_used],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "work_dir": str(work),
    }


async def _scenario(
    workers: list[AppProcess],
    accounts: list[tuple[str, str]],
    observed: Observed,
    residents: int,
    escalate_share: float,
    rng: random.Random,
    deadline: float,
) -> None:
    staff = [
        CounselorClient(login, pw, workers[i % 2].url) for i, (login, pw) in enumerate(accounts)
    ]
    stop = asyncio.Event()
    replies: list[asyncio.Task[None]] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(c.sign_in() for c in staff))
        live_ready = [asyncio.Event() for _ in staff]
        for counselor, ready in zip(staff, live_ready, strict=True):
            tasks.append(asyncio.create_task(counselor.live(observed, ready)))
            tasks.append(
                asyncio.create_task(
                    _counselor_work(counselor, observed, stop, random.Random(rng.random()), replies)
                )
            )
        async with asyncio.timeout(30):
            await asyncio.gather(*(e.wait() for e in live_ready))
        await _residents_elsewhere(
            [w.url for w in workers], residents, escalate_share, rng.random(), deadline, observed
        )
        stop.set()
        await asyncio.gather(*replies, return_exceptions=True)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in staff))


# What the residents' process hands back (``Observed`` fields, all JSON).
_RESIDENT_FIELDS = (
    "counselor_received",
    "received",
    "late_bot_replies",
    "duplicate_pushes",
    "residents_done",
    "escalated",
    "not_escalated",
    "unanswered_residents",
    "turns",
    "errors",
)


async def _residents_elsewhere(
    urls: list[str],
    residents: int,
    escalate_share: float,
    seed: float,
    deadline: float,
    observed: Observed,
) -> None:
    """Runs every resident in a process of their own and adds what they saw to ``observed``."""
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-residents-") as folder:
        out = Path(folder) / "residents.json"
        plan = {
            "urls": urls,
            "residents": residents,
            "escalate_share": escalate_share,
            "seed": seed,
            "deadline": deadline,
            "out": str(out),
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "evaluation.bench_handoff", "residents", json.dumps(plan)
        )
        if await child.wait() != 0 or not out.exists():
            raise RuntimeError(f"the residents' process failed (exit {child.returncode})")
        seen = json.loads(out.read_text("utf-8"))
    for name in _RESIDENT_FIELDS:
        value = seen[name]
        current = getattr(observed, name)
        if isinstance(current, Counter):
            current.update(value)
        elif isinstance(current, list):
            current.extend(tuple(v) if name == "counselor_received" else v for v in value)
        else:
            setattr(observed, name, current + value)


async def _all_residents(plan: dict[str, Any]) -> Observed:
    """The residents' side of the run: every widget, over HTTP and WebSocket."""
    observed = Observed()
    rng = random.Random(plan["seed"])
    residents, urls = int(plan["residents"]), list(plan["urls"])
    escalating = set(rng.sample(range(residents), round(residents * plan["escalate_share"])))
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=GUARD_SECONDS, limits=limits) as http:

        async def one(i: int) -> None:
            try:
                await _resident(
                    i,
                    urls[i % len(urls)],
                    http,
                    observed,
                    escalate=i in escalating,
                    rng=random.Random(rng.random()),
                    deadline=float(plan["deadline"]),
                )
            except Exception as exc:  # one resident failing must not stop the others
                observed.errors[f"resident_{type(exc).__name__}"] += 1

        await asyncio.gather(*(one(i) for i in range(residents)))
    return observed


def _run_residents(plan_json: str) -> None:
    """``python -m evaluation.bench_handoff residents PLAN``: writes what they saw."""
    plan = json.loads(plan_json)
    observed = asyncio.run(_all_residents(plan))
    seen = {name: getattr(observed, name) for name in _RESIDENT_FIELDS}
    Path(plan["out"]).write_text(json.dumps(seen, ensure_ascii=False), "utf-8")


def _epoch(value: datetime) -> float:
    return as_utc(value).timestamp()


async def _report(database: Database, observed: Observed, *, since: float) -> dict[str, Any]:
    async with database.session() as s:
        cases = [
            c for c in (await s.scalars(select(Case))).all() if _epoch(c.created_at) >= since - 5
        ]
        by_conversation = {c.conversation_id: c for c in cases}
        messages = (
            await s.execute(
                select(Message.id, Message.conversation_id, Message.created_at).where(
                    Message.direction == "out", Message.sender == "bot"
                )
            )
        ).all()
        claim_audits = Counter(
            (
                await s.scalars(
                    select(AuditRecord.reason).where(AuditRecord.action == "case.claim")
                )
            ).all()
        )
    created: dict[str, float] = {}
    bot_after_claim_db = 0
    for message_id, conversation_id, created_at in messages:
        created[message_id] = _epoch(created_at)
        case = by_conversation.get(conversation_id)
        if case is not None and case.claimed_at is not None:
            bot_after_claim_db += int(created_at > case.claimed_at)
    # What residents received: bot messages (replies or pushes) created after their claim.
    claimed_at = {
        c.conversation_id: _epoch(c.claimed_at) for c in cases if c.claimed_at is not None
    }
    conversation_of = {m[0]: m[1] for m in messages}
    bot_after_claim_received = observed.late_bot_replies
    for frame in observed.received:
        ids: list[str] = []
        if frame.get("type") == "reply":
            ids = [r["id"] for r in frame.get("replies", []) if r.get("id")]
        elif frame.get("type") == "message" and frame.get("from") == "bot":
            ids = [str(frame.get("id"))]
        for message_id in ids:
            conversation = conversation_of.get(message_id)
            claim = claimed_at.get(conversation or "")
            if claim is not None and created.get(message_id, 0.0) > claim:
                bot_after_claim_received += 1

    wins: dict[str, list[str]] = defaultdict(list)
    conflicts = 0
    other_claim_statuses: Counter[int] = Counter()
    for login, case_id, status in observed.claims:
        if status == 303:
            wins[case_id].append(login)
        elif status == 409:
            conflicts += 1
        else:
            other_claim_statuses[status] += 1
    holder_mismatch = sum(
        1 for c in cases if c.id in wins and (c.counselor or "") not in wins[c.id]
    )
    notification_ms = [
        (seen - _epoch(case.created_at)) * 1000
        for case in cases
        for (case_id, _who), seen in observed.first_seen.items()
        if case_id == case.id
    ]
    first_notice_ms = []
    for case in cases:
        times = [t for (cid, _w), t in observed.first_seen.items() if cid == case.id]
        if times:
            first_notice_ms.append((min(times) - _epoch(case.created_at)) * 1000)
    reply_latency_ms = [
        (received - observed.sent_counselor[text]) * 1000
        for text, received in observed.counselor_received
        if text in observed.sent_counselor
    ]
    received_counselor = sum(
        1 for f in observed.received if f.get("type") == "message" and f.get("from") == "counselor"
    )
    return {
        "bot_messages_after_claim": {
            "db": bot_after_claim_db,
            "received": bot_after_claim_received,
        },
        "double_claims": {
            "responses": sum(1 for logins in wins.values() if len(logins) > 1),
            "db": sum(1 for n in claim_audits.values() if n > 1),
            "holder_mismatch": holder_mismatch,
        },
        "claim_conflicts": conflicts,
        "claim_other_statuses": {str(k): v for k, v in other_claim_statuses.items()},
        "cases": len(cases),
        "cases_claimed": sum(1 for c in cases if c.claimed_at is not None),
        "notification_latency_ms": {
            "p50": percentile(notification_ms, 50),
            "p99": percentile(notification_ms, 99),
            "max": round(max(notification_ms), 3) if notification_ms else 0.0,
            "n": len(notification_ms),
        },
        "first_counselor_notified_ms": {
            "p50": percentile(first_notice_ms, 50),
            "p99": percentile(first_notice_ms, 99),
        },
        "counselor_reply_latency_ms": {
            "p50": percentile(reply_latency_ms, 50),
            "p99": percentile(reply_latency_ms, 99),
            "n": len(reply_latency_ms),
        },
        "counselor_messages_sent": len(observed.sent_counselor),
        "counselor_messages_received": received_counselor,
        "duplicate_pushes": observed.duplicate_pushes,
        "residents_escalated": observed.escalated,
        "residents_not_escalated": observed.not_escalated,
        "residents_unanswered": observed.unanswered_residents,
        "residents_finished": observed.residents_done,
        "errors": dict(observed.errors),
    }


def passed(report: dict[str, Any]) -> bool:
    """No bot message after a claim, no double claim, nothing lost, every resident served."""
    return (
        report["bot_messages_after_claim"] == {"db": 0, "received": 0}
        and not any(report["double_claims"].values())
        and report["duplicate_pushes"] == 0
        and report["counselor_messages_received"] == report["counselor_messages_sent"]
        and report["residents_unanswered"] == 0
        and not report["errors"]
    )


def _serve_worker(port: int) -> None:
    """One app worker process: the app ``tsunagu serve`` runs, on the settings from the env.

    No knowledge base (the bot answers from its templates) and no supervised Rasa: the
    bench measures the handoff, and two workers building the KB model would only add load.
    """
    import uvicorn

    from app.main import create_app, freeze_startup_heap
    from app.wiring import build_runtime
    from core.config import get_settings
    from core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.resolved_data_dir, settings.log_level)
    runtime = build_runtime(settings, nlu_url=settings.nlu_url or DEAD_NLU_URL)
    app = create_app(runtime)
    freeze_startup_heap()  # as ``tsunagu serve`` does
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        ws_max_size=settings.max_body_bytes,
        server_header=False,
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        _serve_worker(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "residents":
        _run_residents(sys.argv[2])
    else:
        sys.exit("usage: python -m evaluation.bench_handoff worker PORT | residents PLAN")
