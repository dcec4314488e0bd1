"""What a waiting resident is told: place in the queue, out of hours, updates, session cap.

Real SQLite and PostgreSQL; the engine and the sweep run at pinned clocks (Asia/Tokyo).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select, update

from bot.engine import Engine, EngineDeps
from bot.responses import Responses
from bot.safety.assessment import SafetyAssessor
from bot.safety.lexicon import CrisisLexicon
from bot.types import IncomingMessage, IntentScore, SafetyCategory
from core.events import LocalEventBus, Notice, conversation_topic
from handoff import ownership
from handoff.errors import HandoffConfigError
from handoff.models import Case
from handoff.notice_texts import NOTICES_FILE, NoticeTexts
from handoff.pools import HandoffConfig, ResidentNoticeSettings, load_config
from handoff.queue import PoolRouter, WaitEstimate
from handoff.resident_notices import ResidentNotices, update_due
from storage.crypto import Keyring
from storage.db import Database, as_utc
from storage.models import Conversation, Message, OutboxMessage
from storage.transcript import Transcript
from tests.conftest import FakeNlu

JST = ZoneInfo("Asia/Tokyo")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=JST)  # general pool open (09:00-21:00)
SUNDAY_3AM = datetime(2026, 11, 22, 3, 0, tzinfo=JST)  # general pool closed all Sunday
SATURDAY_8PM = datetime(2026, 11, 28, 20, 0, tzinfo=JST)  # after Saturday's 10:00-17:00
CRISIS = "もう死にたい"


@dataclass
class Clock:
    """A settable clock shared by the engine and the sweep."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """An engine and a notice sweeper on one database, at a pinned clock."""

    database: Database
    engine: Engine
    notices: ResidentNotices
    transcript: Transcript
    responses: Responses
    clock: Clock
    events: LocalEventBus
    nlu: FakeNlu
    woken: list[int] = field(default_factory=list)

    def intent(self, name: str) -> None:
        """What the (fake) NLU answers from now on."""
        self.nlu.intent, self.nlu.ranking = name, (IntentScore(name, self.nlu.confidence),)

    async def escalate(self, user: str, *, channel: str = "line", text: str = CRISIS) -> str:
        """A resident in crisis writes; returns the case id."""
        result = await self.engine.handle(
            IncomingMessage(channel=channel, user_ref=user, text=text)
        )
        assert result.case_id is not None
        return result.case_id

    async def claim(self, case_id: str, counselor: str = "c001") -> None:
        """A counselor claims the case at the pinned clock (its session starts then)."""
        async with self.database.session() as s:
            await ownership.claim(s, case_id, counselor)
            await s.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(claimed_at=self.clock().astimezone(UTC))
            )

    async def case(self, case_id: str) -> Case:
        async with self.database.session() as s:
            case = await s.get(Case, case_id)
            assert case is not None
            return case

    async def system_texts(self, case_id: str) -> list[str]:
        """Texts of the notices (sender ``system``) the case's resident got, in order."""
        case = await self.case(case_id)
        async with self.database.sessions() as s:  # read() commits its audit record
            entries = await self.transcript.read(
                s, case.conversation_id, actor="test", role="supervisor", reason="test"
            )
        return [e.text for e in entries if e.sender == "system"]


def sweeper(
    database: Database,
    transcript: Transcript,
    responses: Responses,
    config: HandoffConfig,
    clock: Clock,
    events: LocalEventBus,
    woken: list[int],
) -> ResidentNotices:
    return ResidentNotices(
        database=database,
        transcript=transcript,
        config=config,
        texts=NoticeTexts.load(),
        hotlines=lambda lang, cats: responses.always_open_block(
            lang, tuple(SafetyCategory(c) for c in cats)
        ),
        events=events,
        on_outbox=lambda: woken.append(1),
        clock=clock,
    )


@pytest.fixture
async def world(
    database: Database, keyring: Keyring, lexicon: CrisisLexicon, responses: Responses
) -> AsyncIterator[World]:
    clock = Clock(MONDAY_10)
    transcript = Transcript(keyring)
    config = load_config()
    nlu = FakeNlu("suicide_risk", 0.9)
    engine = Engine(
        EngineDeps(
            database=database,
            transcript=transcript,
            nlu=nlu,
            assessor=SafetyAssessor(lexicon),
            responses=responses,
            router=PoolRouter.load(),
            pepper=b"test-pepper",
            handoff_config=config,
            clock=clock,
        )
    )
    events = LocalEventBus()
    woken: list[int] = []
    notices = sweeper(database, transcript, responses, config, clock, events, woken)
    yield World(database, engine, notices, transcript, responses, clock, events, nlu, woken)


# --- at escalation --------------------------------------------------------------------------


async def test_escalation_tells_position_and_wait_after_the_safety_message(world: World) -> None:
    first = await world.engine.handle(IncomingMessage(channel="line", user_ref="U1", text=CRISIS))
    second = await world.engine.handle(IncomingMessage(channel="line", user_ref="U2", text=CRISIS))
    # Safety message first (hotlines), then the place in the queue.
    safety, status = first.replies
    assert "0120-279-338" in safety.text and "ばんめ" not in safety.text
    # general: 3 staff (c001, c002, s001) × 30 min average → 10 min per place ahead.
    assert "1ばんめ" in status.text and "10ぷん" in status.text
    assert "2ばんめ" in second.replies[-1].text and "20ぷん" in second.replies[-1].text
    case = await world.case(str(first.case_id))
    assert (case.notified_position, case.notified_wait_minutes) == (1, 10)
    # A follow-up that does not raise the urgency is not told again.
    again = await world.engine.handle(
        IncomingMessage(channel="line", user_ref="U1", text="まだですか")
    )
    assert not any("ばんめ" in r.text for r in again.replies)


async def test_english_resident_gets_english_status(world: World) -> None:
    result = await world.engine.handle(
        IncomingMessage(channel="web", user_ref="W1", text="I want to die tonight")
    )
    assert result.language == "en"
    assert "number 1 in line" in result.replies[-1].text
    assert "about 10 minutes" in result.replies[-1].text


async def test_raised_urgency_tells_the_new_place(world: World) -> None:
    # Two calm requests for a person, then the second resident writes a crisis message.
    world.intent("human_request")
    await world.escalate("U1", text="人と話したい")
    calm = await world.engine.handle(
        IncomingMessage(channel="line", user_ref="U2", text="人と話したい")
    )
    assert "2ばんめ" in calm.replies[-1].text
    world.intent("suicide_risk")
    raised = await world.engine.handle(IncomingMessage(channel="line", user_ref="U2", text=CRISIS))
    assert raised.case_id == calm.case_id
    assert "0120-279-338" in raised.replies[0].text  # safety first
    assert "1ばんめ" in raised.replies[-1].text


async def test_out_of_hours_names_the_next_opening_and_24h_lines(world: World) -> None:
    world.clock.now = SUNDAY_3AM
    result = await world.engine.handle(IncomingMessage(channel="line", user_ref="U1", text=CRISIS))
    safety, status = result.replies
    assert "0120-279-338" in safety.text  # the safety message stays first
    assert "いない 時間" in status.text and "あした（月曜日）の 9:00" in status.text
    assert "1ばんめ" in status.text
    # The 24-hour lines come from hotlines.yml (always_open), never from the notice texts.
    for hotline in world.responses.always_open_lines((SafetyCategory.SUICIDE,)):
        assert hotline.number in status.text
    assert "0570-064-556" not in status.text  # こころの健康相談: not a 24-hour line


async def test_out_of_hours_in_english_names_weekday(world: World) -> None:
    world.clock.now = SATURDAY_8PM
    result = await world.engine.handle(
        IncomingMessage(channel="web", user_ref="W1", text="I want to die")
    )
    status = result.replies[-1].text
    assert "not available right now" in status and "Monday at 9:00" in status
    assert "24-hour line" in status and "0120-279-338" in status


def test_opening_day_words() -> None:
    texts = NoticeTexts.load()
    sunday = datetime(2026, 11, 22, 3, tzinfo=JST)
    assert texts.opens("ja", datetime(2026, 11, 22, 9, tzinfo=JST), sunday) == "きょうの 9:00"
    assert texts.opens("ja", datetime(2026, 11, 23, 9, tzinfo=JST), sunday) == (
        "あした（月曜日）の 9:00"
    )
    assert texts.opens("ja", datetime(2026, 11, 25, 15, tzinfo=JST), sunday) == "水曜日の 15:00"
    assert texts.opens("en", datetime(2026, 11, 29, 9, tzinfo=JST), sunday) == (
        "next Sunday at 9:00"
    )
    # "Today" is decided in Tokyo, not in UTC (Sunday 03:00 JST is Saturday in UTC).
    assert texts.opens("en", datetime(2026, 11, 22, 9, tzinfo=JST), sunday.astimezone(UTC)) == (
        "today at 9:00"
    )


# --- updates when the queue moves -----------------------------------------------------------


async def test_update_once_when_the_case_ahead_is_claimed(world: World) -> None:
    first = await world.escalate("U1")
    second = await world.escalate("U2", channel="web")
    world.clock.now = MONDAY_10 + timedelta(minutes=5)
    assert (await world.notices.sweep()).total == 0  # nothing changed since escalation

    await world.claim(first, "c001")
    second_case = await world.case(second)
    async with world.events.subscribe(conversation_topic(second_case.conversation_id)) as feed:
        result = await world.notices.sweep()
        assert result.updates == 1
        notice: Notice = await asyncio.wait_for(anext(feed), timeout=5)
    [update_text] = await world.system_texts(second)
    assert "すすみました" in update_text and "1ばんめ" in update_text and "10ぷん" in update_text
    # Web: the transcript holds it and the conversation topic names it (no outbox row).
    async with world.database.session() as s:
        message_id = await s.scalar(
            select(Message.id).where(
                Message.conversation_id == second_case.conversation_id, Message.sender == "system"
            )
        )
        outbox_rows = await s.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.conversation_id == second_case.conversation_id
            )
        )
    assert notice == {"kind": "message", "message_id": message_id}
    assert outbox_rows is None and world.woken == []
    assert (await world.case(second)).notified_position == 1

    # Nothing new: no second update, however often the sweep runs.
    world.clock.now += timedelta(minutes=10)
    assert (await world.notices.sweep()).total == 0
    assert len(await world.system_texts(second)) == 1


async def test_line_resident_gets_the_update_through_the_outbox(world: World) -> None:
    first = await world.escalate("U1")
    second = await world.escalate("U2")
    await world.claim(first, "c001")
    # Within 2 minutes of the escalation's own message: rate-limited.
    assert (await world.notices.sweep()).updates == 0
    world.clock.now = MONDAY_10 + timedelta(minutes=3)
    assert (await world.notices.sweep()).updates == 1
    case = await world.case(second)
    async with world.database.session() as s:
        rows = (
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.conversation_id == case.conversation_id,
                    OutboxMessage.sender == "system",
                )
            )
        ).all()
    assert len(rows) == 1 and rows[0].channel == "line" and rows[0].status == "pending"
    assert world.woken == [1]  # the LINE sender was woken after commit


async def test_two_concurrent_sweeps_send_one_update(
    world: World, database_url: str, keyring: Keyring, responses: Responses
) -> None:
    """Two workers (separate engines and sessions) sweep at once: one message, not two."""
    first = await world.escalate("U0")
    for i in range(1, 3):
        await world.escalate(f"U{i}")
    waiting = await world.escalate("U9")
    await world.claim(first, "c001")
    world.clock.now = MONDAY_10 + timedelta(minutes=5)
    other_db = Database(database_url)
    try:
        other = second_worker(world, other_db, keyring, responses)
        results = await asyncio.gather(world.notices.sweep(), other.sweep())
    finally:
        await other_db.dispose()
    # Three residents moved up (2nd, 3rd and the waiting one): each told exactly once.
    assert sum(r.updates for r in results) == 3
    texts = await world.system_texts(waiting)
    assert len(texts) == 1 and "3ばんめ" in texts[0]


async def test_rate_limit_and_estimate_threshold(world: World) -> None:
    cases = [await world.escalate(f"U{i}") for i in range(4)]
    last = cases[-1]
    start = MONDAY_10 + timedelta(minutes=5)
    world.clock.now = start
    await world.claim(cases[0], "c001")
    assert (await world.notices.sweep()).updates == 3
    assert "3ばんめ" in (await world.system_texts(last))[-1]

    # 30 s later the next case ahead is claimed: too soon for another message ...
    world.clock.now = start + timedelta(seconds=30)
    await world.claim(cases[1], "c002")
    assert (await world.notices.sweep()).updates == 0
    # ... but once the interval (120 s) has passed, the resident hears of it.
    world.clock.now = start + timedelta(seconds=121)
    assert (await world.notices.sweep()).updates == 2
    assert "2ばんめ" in (await world.system_texts(last))[-1]

    # A more urgent case jumps ahead: the estimate grows by 10 min (= N): an update (not
    # "moved up"); with N = 15 it would not have been worth a message.
    world.clock.now += timedelta(minutes=5)
    async with world.database.session() as s:
        await s.execute(update(Case).where(Case.id.in_(cases[2:])).values(urgency=0))
    await world.escalate("U-urgent")  # 「もう死にたい」: high (1)
    calm = world.notices.config.model_copy(
        update={"resident_notices": ResidentNoticeSettings(wait_change_minutes=15)}
    )
    quiet = sweeper(
        world.database,
        world.transcript,
        world.responses,
        calm,
        world.clock,
        world.events,
        world.woken,
    )
    before = len(await world.system_texts(last))
    assert (await quiet.sweep()).updates == 0
    assert (await world.notices.sweep()).updates == 2
    texts = await world.system_texts(last)
    assert len(texts) == before + 1 and "おしらせ" in texts[-1] and "3ばんめ" in texts[-1]


def test_update_rule() -> None:
    settings = ResidentNoticeSettings(min_interval_seconds=120, wait_change_minutes=10)
    now = MONDAY_10

    def estimate(position: int, queue_minutes: int | None) -> WaitEstimate:
        return WaitEstimate("c", "general", position, 3, True, now, queue_minutes, queue_minutes)

    def due(told: int | None, wait: int | None, ago: float, est: WaitEstimate) -> str | None:
        return update_due(
            notified_position=told,
            notified_wait_minutes=wait,
            notified_at=now - timedelta(seconds=ago) if told is not None else None,
            estimate=est,
            now=now,
            settings=settings,
        )

    assert due(None, None, 0, estimate(3, 30)) == "status"  # never told (reopened)
    assert due(3, 30, 600, estimate(2, 20)) == "forward"
    assert due(3, 30, 60, estimate(2, 20)) is None  # rate limit
    assert due(3, 30, 600, estimate(3, 30)) is None  # no change
    assert due(3, 30, 600, estimate(4, 35)) is None  # worse, but below N
    assert due(3, 30, 600, estimate(4, 40)) == "update"  # worse by N
    assert due(3, 30, 600, estimate(3, None)) == "update"  # nobody serves the pool now


async def test_requeued_case_gets_the_full_status_again(world: World) -> None:
    first = await world.escalate("U1")
    await world.claim(first, "c001")
    async with world.database.session() as s:
        await ownership.transfer(s, world.notices.config, first, "c001", to_pool="dv")
    result = await world.notices.sweep()
    assert result.updates == 1
    [text] = await world.system_texts(first)
    assert "相談員を まっている" in text and "1ばんめ" in text


# --- session cap ----------------------------------------------------------------------------


def second_worker(
    world: World, database: Database, keyring: Keyring, responses: Responses
) -> ResidentNotices:
    """Another worker's sweeper: its own database engine, the same config, clock and bus."""
    return sweeper(
        database,
        Transcript(keyring),
        responses,
        world.notices.config,
        world.clock,
        world.events,
        world.woken,
    )


async def _claimed(world: World, user: str, counselor: str = "c001") -> tuple[str, datetime]:
    """A claimed case and its (real) claim time."""
    case_id = await world.escalate(user)
    async with world.database.session() as s:
        await ownership.claim(s, case_id, counselor)
    case = await world.case(case_id)
    assert case.claimed_at is not None
    return case_id, as_utc(case.claimed_at)


async def test_session_warning_and_warm_close_once_per_claim(world: World) -> None:
    case_id, claimed_at = await _claimed(world, "U1")
    assert (await world.notices.sweep(at=claimed_at + timedelta(minutes=39))).total == 0
    warn = await world.notices.sweep(at=claimed_at + timedelta(minutes=40, seconds=5))
    assert (warn.warnings, warn.closes) == (1, 0)
    assert (await world.notices.sweep(at=claimed_at + timedelta(minutes=45))).total == 0
    close = await world.notices.sweep(at=claimed_at + timedelta(minutes=50, seconds=5))
    assert (close.warnings, close.closes) == (0, 1)
    assert (await world.notices.sweep(at=claimed_at + timedelta(minutes=70))).total == 0
    warning, closing = await world.system_texts(case_id)
    assert "あと 10ぷん ほど" in warning
    assert "ありがとうございました" in closing and "0120-279-338" in closing
    # The counselor decides: the case is still theirs.
    case = await world.case(case_id)
    assert case.status == "claimed" and case.counselor == "c001"

    # A transfer to a colleague is a new claim with its own clock and notices.
    async with world.database.session() as s:
        await ownership.transfer(s, world.notices.config, case_id, "c001", to_counselor="c002")
    new_claim = (await world.case(case_id)).claimed_at
    assert new_claim is not None
    later = as_utc(new_claim)
    assert (await world.notices.sweep(at=later + timedelta(minutes=41))).warnings == 1


async def test_missed_warning_is_not_sent_after_the_close(world: World) -> None:
    case_id, claimed_at = await _claimed(world, "U1")
    result = await world.notices.sweep(at=claimed_at + timedelta(minutes=55))
    assert (result.warnings, result.closes) == (0, 1)
    assert (await world.notices.sweep(at=claimed_at + timedelta(minutes=56))).total == 0
    assert len(await world.system_texts(case_id)) == 1


async def test_concurrent_sweeps_send_the_session_warning_once(
    world: World, database_url: str, keyring: Keyring, responses: Responses
) -> None:
    case_id, claimed_at = await _claimed(world, "U1")
    at = claimed_at + timedelta(minutes=41)
    other_db = Database(database_url)
    try:
        other = second_worker(world, other_db, keyring, responses)
        results = await asyncio.gather(world.notices.sweep(at=at), other.sweep(at=at))
    finally:
        await other_db.dispose()
    assert sum(r.warnings for r in results) == 1
    assert len(await world.system_texts(case_id)) == 1


async def test_shredded_or_missing_conversations_are_skipped(world: World) -> None:
    first = await world.escalate("U1")
    second = await world.escalate("U2")
    case = await world.case(second)
    world.clock.now = MONDAY_10 + timedelta(minutes=5)
    await world.claim(first, "c001")
    async with world.database.session() as s:
        await s.execute(
            update(Conversation)
            .where(Conversation.id == case.conversation_id)
            .values(shredded_at=MONDAY_10)
        )
    assert (await world.notices.sweep()).total == 0


def test_content_file_loads_and_rejects_unknown_placeholders(tmp_path: Path) -> None:
    texts = NoticeTexts.load()
    assert "{hotlines}" in texts.ja.danger_24h and texts.en.weekdays[0] == "Monday"
    data = yaml.safe_load(NOTICES_FILE.read_text(encoding="utf-8"))
    data["ja"]["queued"] = "{nombre}ばんめ"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(HandoffConfigError, match="queued"):
        NoticeTexts.load(bad)


def test_texts_for_a_pool_without_hours_and_closed_updates() -> None:
    texts = NoticeTexts.load()
    never = WaitEstimate("c", "x", 2, 0, False, None, None, None)
    status = texts.status("ja", never, SUNDAY_3AM, "・よりそいホットライン　0120-279-338（24時間）")
    assert "まだ きまって いません" in status and "0120-279-338" in status
    closed = WaitEstimate("c", "general", 1, 3, False, MONDAY_10.replace(hour=9), 1450, 10)
    update_text = texts.update("en", closed, SUNDAY_3AM, forward=True)
    assert update_text == (
        "You moved up in line: you are now number 1. "
        "A counselor will read your messages from tomorrow (Monday) at 9:00."
    )
    assert "24-hour line" in texts.session_close("en", "- Police (emergency): 110 (24 hours)")
