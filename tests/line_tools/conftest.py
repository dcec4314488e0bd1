"""A real stand-in server per module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from channels.line.standin import StandinClient, StandinState, run_standin

TOKEN = "test-channel-access-token"


@pytest.fixture(scope="module")
def standin_state() -> StandinState:
    return StandinState()


@pytest.fixture(scope="module")
def standin_url(standin_state: StandinState) -> Iterator[str]:
    with run_standin(TOKEN, state=standin_state) as url:
        yield url


@pytest.fixture
def control(standin_url: str, standin_state: StandinState) -> Iterator[StandinClient]:
    standin_state.reset()
    with StandinClient(standin_url) as client:
        yield client


@pytest.fixture
def line(standin_url: str, control: StandinClient) -> Iterator[httpx.Client]:
    """An HTTP client calling the stand-in as the app calls LINE (bearer token set)."""
    with httpx.Client(
        base_url=standin_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ) as client:
        yield client
