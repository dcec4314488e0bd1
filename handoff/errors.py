"""Errors raised by the handoff layer."""


class HandoffError(Exception):
    """Base class for handoff errors."""


class RoutingConfigError(HandoffError):
    """The pool routing configuration is missing or names an unknown pool."""
