"""`tsunagu serve` as a real process, spoken to over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlu.service import free_port

TSUNAGU = Path(sys.executable).parent / "tsunagu"


@pytest.fixture
def served(rasa_url: str, kb_model_dir: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "TSUNAGU_DATA_DIR": str(tmp_path),
        "TSUNAGU_NLU_URL": rasa_url,
        "TSUNAGU_KB_MODEL_DIR": str(kb_model_dir),
    }
    log = (tmp_path / "serve.out").open("wb")
    process = subprocess.Popen(
        [str(TSUNAGU), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Start-up imports torch and loads the knowledge base: generous on a busy machine.
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail((tmp_path / "serve.out").read_text())
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_web_chat_over_http(served: str, tmp_path: Path) -> None:
    health = httpx.get(f"{served}/healthz").json()
    assert health == {"status": "ok", "nlu": True}
    session = httpx.post(f"{served}/api/chat/sessions", json={}).json()["session"]
    auth = {"Authorization": f"Bearer {session}"}
    hello = httpx.post(
        f"{served}/api/chat/messages", json={"text": "こんにちは"}, headers=auth
    ).json()
    assert not hello["handed_off"] and hello["replies"]
    crisis = httpx.post(
        f"{served}/api/chat/messages", json={"text": "今夜、薬ためてたの全部飲む"}, headers=auth
    ).json()
    assert crisis["handed_off"]
    assert "119" in crisis["replies"][0]["text"]
    bad = httpx.post(f"{served}/api/chat/messages", json={"text": ""}, headers=auth)
    assert bad.status_code == 422
    unknown = httpx.post(
        f"{served}/api/chat/messages", json={"text": "こんにちは"}, headers={"Authorization": "x"}
    )
    assert unknown.status_code == 401
    # Nothing the resident wrote appears in the logs or the database file in clear.
    logs = (tmp_path / "logs" / "tsunagu.log").read_text(encoding="utf-8")
    out = (tmp_path / "serve.out").read_text(encoding="utf-8")
    assert '"event": "turn"' in logs
    for blob in (logs, out, (tmp_path / "tsunagu.db").read_bytes().decode("latin-1")):
        assert "薬ためてた" not in blob and "こんにちは" not in blob.replace(
            "こんにちは。つなぐ", ""
        )
