"""Errors of the web chat channel; the routers map them to HTTP statuses and close codes."""

from __future__ import annotations


class WebChatError(Exception):
    """Base class for web chat errors."""


class InvalidSession(WebChatError):
    """The session token is missing, malformed or was not issued by this server."""


class SessionExpired(WebChatError):
    """The resume window of the session has passed; the widget starts a new session."""
