"""The app's Rasa client: mapping of Rasa's JSON, and a real server round trip."""

from __future__ import annotations

import pytest

from nlu.client import RasaClient, result_from_rasa
from nlu.errors import NluUnavailable
from nlu.service import free_port


def test_fallback_maps_to_out_of_scope_but_keeps_ranking() -> None:
    result = result_from_rasa(
        {
            "intent": {"name": "nlu_fallback", "confidence": 0.3},
            "intent_ranking": [
                {"name": "nlu_fallback", "confidence": 0.3},
                {"name": "suicide_risk", "confidence": 0.28},
                {"name": "greeting", "confidence": 0.2},
            ],
        }
    )
    assert result.intent == "out_of_scope"
    assert [s.name for s in result.ranking] == ["suicide_risk", "greeting"]


async def test_unreachable_server_raises_unavailable() -> None:
    client = RasaClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=0.5)
    with pytest.raises(NluUnavailable):
        await client.parse("こんにちは")
    assert not await client.ready()
    await client.aclose()


async def test_real_rasa_classifies_japanese(rasa_url: str) -> None:
    client = RasaClient(rasa_url)
    try:
        assert await client.ready()
        result = await client.parse("LINEで写真を送る方法を教えてください")
        assert result.available and result.intent == "smartphone_help"
        hiragana = await client.parse("こんにちは")
        assert hiragana.intent == "greeting"
        assert len(result.ranking) == 10
    finally:
        await client.aclose()
