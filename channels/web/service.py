"""What the web chat does, independent of transport: sessions, turns, and resume.

The HTTP and WebSocket routers are thin wrappers around :class:`WebChat`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.engine import Engine
from bot.types import IncomingMessage, TurnResult
from channels.web.errors import InvalidSession, SessionExpired
from channels.web.sessions import SessionTokens
from core.events import EventBus
from handoff.models import Case
from handoff.queue import OPEN_STATUSES
from privacy.consent import ConsentNotice, has_consent, record_consent
from storage.after_commit import publish_deferred
from storage.crypto import user_key
from storage.db import Database, as_utc, utcnow
from storage.models import Conversation, Message
from storage.transcript import Transcript

CHANNEL = "web"
# The widget showing residents their own conversation again is the system reading on their
# behalf (a verified session token stands for the resident); audited like any other read.
RESUME_ACTOR = "resident"
RESUME_ROLE = "system"
RESUME_REASON = "resident.resume"
# Reading a conversation's new outgoing messages to push them to the resident's own widget
# (a counselor's reply written in another worker, a queue update): audited the same way.
DELIVERY_REASON = "resident.delivery"


@dataclass(frozen=True)
class Notice:
    """The consent notice in one language, as the widget shows it before the first message."""

    version: str
    title: str
    body: str


@dataclass(frozen=True)
class OpenedSession:
    """A freshly issued session and the notice to show before the first message."""

    token: str
    resume_until: datetime
    notice: Notice


@dataclass(frozen=True)
class Answer:
    """The engine's turn plus the session's new resume deadline."""

    turn: TurnResult
    resume_until: datetime
    reply_ids: tuple[str, ...] = ()
    """Transcript ids of the bot messages the turn stored (its replies, in order)."""

    @property
    def handed_off(self) -> bool:
        """True once the conversation is queued for, or owned by, a counselor."""
        return self.turn.case_id is not None or self.turn.owner != "bot"


@dataclass(frozen=True)
class HistoryEntry:
    """One earlier message, decrypted for the resident who wrote or received it."""

    sender: str
    text: str
    at: datetime
    message_id: str = ""
    seq: int = 0


@dataclass(frozen=True)
class Outgoing:
    """Messages to the resident after a cursor, and the cursor to ask from next time."""

    entries: list[HistoryEntry]
    cursor: int
    handed_off: bool
    resume_until: datetime


@dataclass(frozen=True)
class SessionStatus:
    """Where a session stands: its conversation (None before the first message)."""

    conversation_id: str | None
    handed_off: bool
    resume_until: datetime


@dataclass(frozen=True)
class History:
    """A session's conversation so far."""

    entries: list[HistoryEntry]
    handed_off: bool
    resume_until: datetime
    conversation_id: str | None


class WebChat:
    """Sessions and turns of the web widget; one instance per process."""

    def __init__(
        self,
        *,
        engine: Engine,
        database: Database,
        transcript: Transcript,
        pepper: bytes,
        resume_minutes: int,
        notice: ConsentNotice,
        events: EventBus | None = None,
    ) -> None:
        """Keeps collaborators; ``pepper`` is the same one the engine keys residents with.

        ``events`` carries the turn's notices (new case, new message) to every worker's
        console once the turn has committed.
        """
        self._engine = engine
        self._database = database
        self._transcript = transcript
        self._pepper = pepper
        self._tokens = SessionTokens(pepper)
        self._window = timedelta(minutes=resume_minutes)
        self.resume_minutes = resume_minutes
        self._notice = notice
        self._events = events

    def resident(self, token: str | None) -> str:
        """The ``user_ref`` of a token this server issued; raises :class:`InvalidSession`."""
        user_ref = self._tokens.verify(token)
        if user_ref is None:
            raise InvalidSession("unknown or malformed session token")
        return user_ref

    def open_session(self, language: str) -> OpenedSession:
        """Issues a new session; nothing is stored until the first message."""
        return OpenedSession(
            token=self._tokens.issue(),
            resume_until=utcnow() + self._window,
            notice=self.notice(language),
        )

    def notice(self, language: str) -> Notice:
        """The consent notice (``privacy/content/consent_notice.yml``) in ``language``."""
        return Notice(
            version=self._notice.version,
            title=self._notice.title(language),
            body=self._notice.body(language),
        )

    async def send(self, user_ref: str, text: str, language: str | None) -> Answer:
        """Runs one turn through the engine (safety, queue, encrypted transcript).

        The first message of a session is the resident going on after the notice the widget
        showed: that consent is recorded in the same transaction as the turn.
        """
        message = IncomingMessage(
            channel=CHANNEL, user_ref=user_ref, text=text, language_hint=language
        )
        key = self.user_key(user_ref)
        async with self._database.session() as session:
            turn = await self._engine.handle(message, session=session)
            if not await has_consent(session, key, CHANNEL, self._notice.version):
                await record_consent(
                    session,
                    user_key=key,
                    channel=CHANNEL,
                    conversation_id=turn.conversation_id,
                    method="web_first_message",
                    version=self._notice.version,
                )
        await publish_deferred(self._events, session)
        # Each reply is stored as one bot message, in order. Should a turn ever store an
        # outgoing message it does not return, no id is claimed: a push may then repeat a
        # reply, but never swallows a message.
        out = turn.stored_out
        reply_ids = out if len(out) == len(turn.replies) else ()
        return Answer(turn=turn, resume_until=utcnow() + self._window, reply_ids=reply_ids)

    def user_key(self, user_ref: str) -> str:
        """The resident's HMAC pseudonym (what the engine, consent and rate limits key on)."""
        return user_key(self._pepper, CHANNEL, user_ref)

    async def _conversation(self, user_ref: str) -> tuple[Conversation | None, bool]:
        async with self._database.reads() as session:
            conversation = await session.scalar(
                select(Conversation)
                .where(
                    Conversation.channel == CHANNEL,
                    Conversation.user_key == self.user_key(user_ref),
                )
                .order_by(Conversation.created_at.desc())
                .limit(1)
            )
            if conversation is None:
                return None, False
            open_case = await session.scalar(
                select(Case.id)
                .where(Case.conversation_id == conversation.id, Case.status.in_(OPEN_STATUSES))
                .limit(1)
            )
            return conversation, open_case is not None or conversation.owner != "bot"

    async def status(self, user_ref: str) -> SessionStatus:
        """The session's conversation, handoff flag and resume deadline."""
        conversation, handed_off = await self._conversation(user_ref)
        if conversation is None:
            return SessionStatus(None, False, utcnow() + self._window)
        return SessionStatus(
            conversation.id, handed_off, as_utc(conversation.updated_at) + self._window
        )

    async def history(self, user_ref: str) -> History:
        """The conversation so far, if its last message is within the resume window.

        The read goes through :meth:`Transcript.read`, so it is audited like a counselor's.
        """
        conversation, handed_off = await self._conversation(user_ref)
        now = utcnow()
        if conversation is None:
            return History([], False, now + self._window, None)
        resume_until = as_utc(conversation.updated_at) + self._window
        if not self._window or resume_until < now:
            raise SessionExpired("the resume window of this session has passed")
        # The audit record is committed as it is written, before anything is decrypted.
        async with self._database.reads() as session:
            entries = await self._transcript.read(
                session,
                conversation.id,
                actor=RESUME_ACTOR,
                role=RESUME_ROLE,
                reason=RESUME_REASON,
            )
        return History(
            entries=[
                HistoryEntry(e.sender, e.text, as_utc(e.created_at), e.message_id, e.seq)
                for e in entries
            ],
            handed_off=handed_off,
            resume_until=resume_until,
            conversation_id=conversation.id,
        )

    async def latest_seq(self, conversation_id: str) -> int:
        """The number of the conversation's newest message (0 when it has none)."""
        async with self._database.reads() as session:
            seq = await session.scalar(
                select(func.max(Message.seq)).where(Message.conversation_id == conversation_id)
            )
        return int(seq or 0)

    async def unsent(
        self, conversation_id: str, after: int, sent: Collection[str] = ()
    ) -> list[HistoryEntry]:
        """Outgoing messages numbered after ``after`` and not in ``sent``, oldest first.

        A text-free look at the message numbers comes first, so a notice that brings
        nothing new (the resident's own turn, a case moving) costs no audit record and no
        decryption; otherwise the conversation is read through :meth:`Transcript.read`,
        audited like the resume read (reason ``resident.delivery``).
        """
        async with self._database.reads() as session:
            pending = set(
                (
                    await session.scalars(
                        select(Message.id).where(
                            Message.conversation_id == conversation_id,
                            Message.direction == "out",
                            Message.seq > after,
                            Message.hidden.is_(False),
                        )
                    )
                ).all()
            ).difference(sent)
            if not pending:
                return []
            entries = await self._transcript.read(
                session,
                conversation_id,
                actor=RESUME_ACTOR,
                role=RESUME_ROLE,
                reason=DELIVERY_REASON,
            )
        return [
            HistoryEntry(e.sender, e.text, as_utc(e.created_at), e.message_id, e.seq)
            for e in entries
            if e.message_id in pending
        ]

    async def outgoing(self, user_ref: str, after: int, skip: Collection[str] = ()) -> Outgoing:
        """The session's messages to the resident after ``after`` (the plain-HTTP fallback).

        Bound by the same resume window as :meth:`history`, so an old token cannot replay
        the conversation through this path either. Messages in ``skip`` (already shown by
        the widget) are neither read nor returned, but the cursor moves past them.
        """
        conversation, handed_off = await self._conversation(user_ref)
        now = utcnow()
        if conversation is None:
            return Outgoing([], 0, False, now + self._window)
        resume_until = as_utc(conversation.updated_at) + self._window
        if not self._window or resume_until < now:
            raise SessionExpired("the resume window of this session has passed")
        latest = await self.latest_seq(conversation.id)
        entries = await self.unsent(conversation.id, after, skip) if latest > after else []
        cursor = max([latest, after, *(e.seq for e in entries)])
        return Outgoing(entries, cursor, handed_off, resume_until)
