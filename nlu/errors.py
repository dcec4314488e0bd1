"""Errors raised by the NLU client and service manager (app side)."""


class NluError(Exception):
    """Base class for NLU errors."""


class NluUnavailable(NluError):
    """The Rasa service did not answer in time or answered with an error."""


class NluSetupError(NluError):
    """The Rasa environment or a trained model is missing; the message says how to fix it."""
