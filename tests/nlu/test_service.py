"""The local Rasa process manager: model caching and supervision (a killed Rasa comes back)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from nlu.service import RasaProcess, free_port, model_fingerprint, train, url_is_ready
from tests.conftest import TEST_CACHE, fixture_training_data


def fixture_model() -> Path:
    """The fixture model the rasa_url fixture trains (cached)."""
    return train(
        models_dir=TEST_CACHE / "models",
        work_dir=TEST_CACHE / "work",
        data=fixture_training_data(),
        name="fixture",
        quiet=True,
    )


def test_fingerprint_changes_with_training_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.yml").write_text("x", encoding="utf-8")
    config = tmp_path / "config.yml"
    config.write_text("c", encoding="utf-8")
    before = model_fingerprint(config, data)
    assert model_fingerprint(config, data) == before
    (data / "a.yml").write_text("y", encoding="utf-8")
    assert model_fingerprint(config, data) != before


def test_cached_model_is_not_retrained(rasa_url: str) -> None:
    # rasa_url already trained the fixture model; a second call must return at once.
    started = time.perf_counter()
    model = fixture_model()
    assert model.exists()
    assert time.perf_counter() - started < 5


@pytest.mark.rasa
async def test_supervisor_restarts_a_killed_rasa(rasa_url: str, tmp_path: Path) -> None:
    model = fixture_model()
    process = RasaProcess(
        model=model, port=free_port(), work_dir=TEST_CACHE / "work", log_file=tmp_path / "rasa.log"
    )
    await process.start(wait=True)
    try:
        assert await url_is_ready(process.url)
        assert process._process is not None
        process._process.kill()
        await asyncio.sleep(1)
        assert not await url_is_ready(process.url)
        for _ in range(240):
            if await url_is_ready(process.url):
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail("Rasa was not restarted within 120 s")
    finally:
        await process.stop()
    assert not await url_is_ready(process.url)
