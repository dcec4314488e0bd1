"""Errors raised by the handoff layer."""


class HandoffError(Exception):
    """Base class for handoff errors."""


class RoutingConfigError(HandoffError):
    """The pool routing configuration is missing or names an unknown pool."""


class HandoffConfigError(HandoffError):
    """``pools.yml``, ``outcomes.yml`` or the canned replies are missing or invalid."""


class CaseNotFound(HandoffError):
    """No case has the given id."""


class CaseConflict(HandoffError):
    """Someone else changed the case first (another counselor claimed it, for example)."""


class NotCaseOwner(HandoffError):
    """The counselor does not hold the case or the conversation."""


class CaseStateError(HandoffError):
    """The case is not in a state that allows the operation (e.g. closing a queued case)."""


class UnknownOutcome(HandoffError):
    """A close was attempted with an outcome code that is not in ``outcomes.yml``."""


class AccountError(HandoffError):
    """A counselor account could not be created (duplicate login, bad role or pool)."""
