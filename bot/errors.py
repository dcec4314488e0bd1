"""Errors raised by the conversation engine."""


class BotError(Exception):
    """Base class for conversation-engine errors."""


class ContentError(BotError):
    """A content file (responses, hotlines, lexicon) is missing or malformed."""
