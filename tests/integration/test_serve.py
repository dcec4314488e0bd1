"""`tsunagu serve` as a real process, spoken to over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlu.service import free_port

TSUNAGU = Path(sys.executable).parent / "tsunagu"


@pytest.fixture
def served(rasa_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "TSUNAGU_DATA_DIR": str(tmp_path), "TSUNAGU_NLU_URL": rasa_url}
    log = (tmp_path / "serve.out").open("wb")
    process = subprocess.Popen(
        [str(TSUNAGU), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            pytest.fail((tmp_path / "serve.out").read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_web_chat_over_http(served: str, tmp_path: Path) -> None:
    session = uuid.uuid4().hex
    health = httpx.get(f"{served}/healthz").json()
    assert health == {"status": "ok", "nlu": True}
    hello = httpx.post(
        f"{served}/api/chat/messages", json={"session_id": session, "text": "こんにちは"}
    ).json()
    assert not hello["handed_off"] and hello["replies"]
    crisis = httpx.post(
        f"{served}/api/chat/messages",
        json={"session_id": session, "text": "今夜、薬ためてたの全部飲む"},
    ).json()
    assert crisis["handed_off"]
    assert "119" in crisis["replies"][0]["text"]
    bad = httpx.post(f"{served}/api/chat/messages", json={"session_id": "x", "text": ""})
    assert bad.status_code == 422
    # Nothing the resident wrote appears in the logs or the database file in clear.
    logs = (tmp_path / "logs" / "tsunagu.log").read_text(encoding="utf-8")
    out = (tmp_path / "serve.out").read_text(encoding="utf-8")
    assert '"event": "turn"' in logs
    for blob in (logs, out, (tmp_path / "tsunagu.db").read_bytes().decode("latin-1")):
        assert "薬ためてた" not in blob and "こんにちは" not in blob.replace(
            "こんにちは。つなぐ", ""
        )
