"""A local stand-in for the LINE Messaging API, for development and tests (no network).

It serves the api.line.me / api-data.line.me paths the app uses, checks the bearer token,
enforces single-use reply tokens and retry keys like LINE, validates message objects, can be
told to fail (429/500 with Retry-After), and records every call for assertions.
"""

from channels.line.standin.app import LineStandin, create_standin_app
from channels.line.standin.runner import StandinClient, run_standin, serve_app
from channels.line.standin.state import StandinState

__all__ = [
    "LineStandin",
    "StandinClient",
    "StandinState",
    "create_standin_app",
    "run_standin",
    "serve_app",
]
