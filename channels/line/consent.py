"""The consent notice on LINE: shown on follow, or with the first reply if there was none."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from channels.line.processor import NoticeProvider
from core.config import Settings
from privacy.consent import consent_notice, has_consent, notice_version, record_consent
from storage.models import Conversation


def consent_provider(settings: Settings) -> NoticeProvider:
    """Returns the notice to send (and records it), or None if this version was shown."""

    async def provide(session: AsyncSession, conversation: Conversation, method: str) -> str | None:
        version = notice_version(settings)
        # A follow always shows the notice: the resident may have come back after blocking.
        if method != "line_follow" and await has_consent(
            session, conversation.user_key, conversation.channel, version
        ):
            return None
        await record_consent(
            session,
            user_key=conversation.user_key,
            channel=conversation.channel,
            conversation_id=conversation.id,
            method=method,
            version=version,
        )
        return consent_notice(conversation.language, settings)

    return provide
