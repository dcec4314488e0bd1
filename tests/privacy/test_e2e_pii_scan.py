"""The proof of issue 6: PII sent through LINE and the web chat is readable nowhere at rest.

A real ``tsunagu serve`` process (real Rasa, real knowledge base, the LINE stand-in as LINE's
API) receives PII-laden messages that escalate, from a LINE user over a signed webhook and
from a web resident over the WebSocket. A counselor created with ``tsunagu users add`` signs in
to the console over HTTP, claims both cases, reads the transcripts (so the plaintext really is
decrypted and shown), writes a private note and replies, both with PII. The server is then
stopped and every byte it left behind is scanned: the SQLite file(s) with their WAL/SHM/journal
or a plain ``pg_dump`` of the PostgreSQL database, every file under the data directory (logs,
keys, caches) and the process's stdout and stderr. Each PII string is looked for in several
spellings (as sent, NFKC, digits only, JSON ``\\u`` escapes, URL encoding), and so is any LINE
user id (``U`` + 32 hex): none may appear. What the stand-in recorded is LINE's side and out of
scope.

The My Number must be masked before anything is stored, so even the audited transcript read
returns the masked form.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from channels.line.simulate import build_follow_event, build_text_event, new_user_id
from channels.line.standin.runner import StandinClient, run_standin
from core.config import Settings
from handoff.models import Case
from nlu.service import free_port
from storage.db import Database
from storage.keys import load_keyring
from storage.models import AuditRecord, Conversation
from storage.transcript import Transcript
from tests.channels.conftest import SECRET, TOKEN, post_events, wait_for
from tests.handoff.console.support import PASSWORD, Console

pytestmark = pytest.mark.rasa

TSUNAGU = Path(sys.executable).parent / "tsunagu"
MY_NUMBER = "123456789018"  # valid check digit (requirements §4)
CARD = "4111 1111 1111 1111"  # Luhn-valid
LOGIN = "soudan.e2e"

# --- what the residents write (DV and suicide-risk wording that escalates) ------------------
LINE_MESSAGES = (
    "夫の篠宮隆之さんに毎日なぐられていて、もう死にたいです。"
    "電話は090-1234-5678です。"
    "〒513-0801 三重県鈴鹿市神戸9丁目17番地 ハイツ神戸南202号室に住んでいます。",
    f"わたしは篠宮美月です。昭和58年7月14日生まれです。マイナンバーは{MY_NUMBER}です。"
    f"メールは mizuki.shinomiya83@example.ne.jp です。カード{CARD}も夫にとられました。",
)
WEB_MESSAGES = (
    "彼氏の柊木蓮くんに首をしめられました。こわくて家に帰れません。今夜消えたい。"
    "連絡は０９０－８７６５－４３２１にお願いします。",
    "私は北條さくらです。生年月日は平成4年2月29日です。個人番号は１２３４ ５６７８ ９０１８です。"
    "住所は〒５１４－００６２ 津市観音寺町41番地 メゾン観音寺305号室です。",
)
# --- what the counselor writes ---------------------------------------------------------------
NOTE = "本人確認済み：篠宮美月さん 折り返し先 080-2468-1357、避難先候補は 四日市市浜田町5番地。"
LINE_REPLY = "篠宮美月さん、相談員です。080-2468-1357 に 今日 17時に お電話しても いいですか？"
WEB_REPLY = "北條さくらさん、相談員です。sakura.hojo92@example.com に 窓口の案内を 送ります。"

# Every PII value above, as it was typed.
PII = (
    "篠宮隆之",
    "篠宮美月",
    "柊木蓮",
    "北條さくら",
    "090-1234-5678",
    "０９０－８７６５－４３２１",
    "080-2468-1357",
    "〒513-0801",
    "〒５１４－００６２",
    "鈴鹿市神戸9丁目17番地",
    "ハイツ神戸南202号室",
    "観音寺町41番地",
    "メゾン観音寺305号室",
    "浜田町5番地",
    "昭和58年7月14日",
    "平成4年2月29日",
    MY_NUMBER,
    "１２３４ ５６７８ ９０１８",
    "mizuki.shinomiya83@example.ne.jp",
    "sakura.hojo92@example.com",
    CARD,
)
LINE_USER_ID = re.compile(rb"U[0-9a-f]{32}")


@dataclass(frozen=True)
class Needle:
    """One spelling of one PII value, as a bytes pattern."""

    value: str
    form: str
    pattern: re.Pattern[bytes]


def _json_escaped(text: str) -> list[str]:
    escaped = json.dumps(text)[1:-1]
    if escaped == text:
        return []
    upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped)
    return [escaped, upper]


def needles(values: tuple[str, ...]) -> list[Needle]:
    """Each value as sent, NFKC, digits only, JSON-escaped and URL-encoded (UTF-8 bytes)."""
    found: dict[tuple[str, str], Needle] = {}

    def add(value: str, form: str, text: str) -> None:
        pattern = re.compile(re.escape(text.encode()))
        found.setdefault((value, text), Needle(value, form, pattern))

    for value in values:
        nfkc = unicodedata.normalize("NFKC", value)
        for form, text in (("as sent", value), ("NFKC", nfkc)):
            add(value, form, text)
            for escaped in _json_escaped(text):
                add(value, f"{form}, JSON-escaped", escaped)
            add(value, f"{form}, URL-encoded", urllib.parse.quote(text))
            add(value, f"{form}, form-encoded", urllib.parse.quote_plus(text))
        digits = re.sub(r"\D", "", nfkc)
        if len(digits) >= 7:
            # The digits with or without any separators (513-0801, 5130801, 4111.1111…); the
            # digit look-arounds keep a longer number that merely contains them out.
            joined = rb"[\s./()_-]{0,2}".join(re.escape(d.encode()) for d in digits)
            pattern = re.compile(rb"(?<![0-9])" + joined + rb"(?![0-9])")
            found.setdefault((value, digits), Needle(value, "digits, any separators", pattern))
    return list(found.values())


def scan(blobs: dict[str, bytes], values: tuple[str, ...]) -> list[str]:
    """Every hit of a PII spelling or a LINE user id, as 'where: what (context)'."""
    hits: list[str] = []
    patterns = [*needles(values)]
    for name, data in blobs.items():
        for needle in patterns:
            for match in needle.pattern.finditer(data):
                context = data[max(0, match.start() - 40) : match.end() + 40]
                hits.append(f"{name}@{match.start()}: {needle.value!r} ({needle.form}) {context!r}")
        for match in LINE_USER_ID.finditer(data):
            context = data[max(0, match.start() - 40) : match.end() + 40]
            hits.append(f"{name}@{match.start()}: LINE user id {context!r}")
    return hits


# --- the server process ------------------------------------------------------------------------


@dataclass
class Backend:
    """Where the app keeps its data: the SQLite file in the data dir, or a fresh PostgreSQL."""

    name: str
    database_url: str | None

    def settings(self, data_dir: Path) -> Settings:
        values: dict[str, Any] = {"data_dir": data_dir}
        if self.database_url:
            values["database_url"] = self.database_url
        return Settings(_env_file=None, **values)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", None)
    return Backend("postgres", str(request.getfixturevalue("postgres_url")))


def server_env(
    data_dir: Path, backend: Backend, rasa_url: str, kb_model_dir: Path, standin_url: str
) -> dict[str, str]:
    """The documented configuration only: the test's own TSUNAGU_/LINE_ variables are dropped.

    Logs at DEBUG: the most an operator can turn on must still carry no text (INFO, the
    default, logs a subset of it).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TSUNAGU_", "LINE_"))}
    env.update(
        {
            "TSUNAGU_DATA_DIR": str(data_dir),
            "TSUNAGU_LOG_LEVEL": "DEBUG",
            "TSUNAGU_NLU_URL": rasa_url,
            "TSUNAGU_KB_MODEL_DIR": str(kb_model_dir),
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "TSUNAGU_LINE_API_BASE_URL": standin_url,
            "TSUNAGU_LINE_API_DATA_BASE_URL": standin_url,
        }
    )
    if backend.database_url:
        env["TSUNAGU_DATABASE_URL"] = backend.database_url
    return env


def add_counselor(env: dict[str, str], out_dir: Path) -> None:
    """``tsunagu users add`` as an operator would run it (its output is scanned too)."""
    with (
        (out_dir / "users-add.out").open("wb") as out,
        (out_dir / "users-add.err").open("wb") as err,
    ):
        result = subprocess.run(
            [
                str(TSUNAGU),
                "users",
                "add",
                "--login",
                LOGIN,
                "--role",
                "counselor",
                "--pools",
                "general,dv",
                "--password-stdin",
            ],
            input=f"{PASSWORD}\n".encode(),
            env=env,
            stdout=out,
            stderr=err,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, (out_dir / "users-add.err").read_text(errors="replace")


@contextmanager
def running_server(env: dict[str, str], out_dir: Path) -> Iterator[str]:
    """``tsunagu serve`` with stdout and stderr in files; stopped with SIGTERM at the end."""
    port = free_port()
    stdout = (out_dir / "serve.stdout").open("wb")
    stderr = (out_dir / "serve.stderr").open("wb")
    process = subprocess.Popen(
        [str(TSUNAGU), "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Start-up imports torch and loads the knowledge base: generous on a busy machine.
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "tsunagu serve did not start: "
                    + (out_dir / "serve.stderr").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.25)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        stdout.close()
        stderr.close()


@pytest.fixture
def standin_url() -> Iterator[str]:
    with run_standin(access_token=TOKEN) as url:
        yield url


# --- the residents -----------------------------------------------------------------------------


@asynccontextmanager
async def web_resident(url: str) -> AsyncIterator[ClientConnection]:
    """A web chat session over the WebSocket, authenticated and ready."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        opened = await http.post("/api/chat/sessions", json={"language": "ja"})
        assert opened.status_code == 201
        session = opened.json()["session"]
    async with connect(url.replace("http://", "ws://") + "/api/chat/ws") as socket:
        await socket.send(json.dumps({"type": "auth", "session": session}))
        assert (await _next_frame(socket, "ready"))["type"] == "ready"
        yield socket


async def _next_frame(socket: ClientConnection, kind: str, timeout: float = 20.0) -> dict[str, Any]:
    """The next frame of type ``kind`` (status notices in between are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await socket.recv())
            assert frame["type"] != "error", frame
            if frame["type"] == kind:
                return frame


async def send_line(http: httpx.AsyncClient, url: str, standin: StandinClient, user: str) -> None:
    """Follow, then the PII messages, each a signed webhook; the first one escalates."""
    assert (await post_events(http, url, standin, [build_follow_event(user_id=user)])).is_success
    await wait_for(lambda: _delivered(standin, user, ("つなぐ",)))
    for text in LINE_MESSAGES:
        response = await post_events(http, url, standin, [build_text_event(text, user_id=user)])
        assert response.status_code == 200
    # The crisis message is answered with the hotlines.
    await wait_for(lambda: _delivered(standin, user, ("110", "119")), timeout=30)


async def _delivered(standin: StandinClient, user: str, parts: tuple[str, ...]) -> bool:
    """Whether a message containing one of ``parts`` reached ``user``."""
    messages = await asyncio.to_thread(standin.delivered, user)
    return any(part in str(m.get("text", "")) for m in messages for part in parts)


# --- the counselor -----------------------------------------------------------------------------

CASE_LINK = re.compile(r'href="/console/cases/([0-9a-f-]{36})"')


async def counselor_session(
    url: str, standin: StandinClient, line_user: str, socket: ClientConnection
) -> None:
    """Sign in, claim both cases, read them, write a note and reply on each channel."""
    console = Console(url)
    try:
        assert (await console.login(LOGIN)).status_code == 303

        async def two_cases() -> list[str]:
            page = await console.http.get("/console")
            return list(dict.fromkeys(CASE_LINK.findall(page.text))) if page.is_success else []

        cases = await wait_for(lambda: _at_least(two_cases(), 2), timeout=30)
        by_channel: dict[str, str] = {}
        for case_id in cases:
            claimed = await console.post(f"/console/cases/{case_id}/claim")
            assert claimed.status_code == 303, claimed.text
            page = await console.case_page(case_id)
            assert page.status_code == 200
            by_channel["line" if "篠宮" in page.text else "web"] = case_id
        assert set(by_channel) == {"line", "web"}

        # The transcript is decrypted for the counselor: the resident's own words are shown,
        # the My Number only masked (it was never stored).
        line_page = await _transcript_with(console, by_channel["line"], "篠宮美月")
        assert "090-1234-5678" in line_page and "ハイツ神戸南202号室" in line_page
        assert "mizuki.shinomiya83@example.ne.jp" in line_page
        web_page = await _transcript_with(console, by_channel["web"], "北條さくら")
        assert "柊木蓮" in web_page and "０９０－８７６５－４３２１" in web_page
        for html in (line_page, web_page):
            assert "[my_number]" in html
            assert MY_NUMBER not in html and "５６７８ ９０１８" not in html

        note = await console.post(f"/console/cases/{by_channel['line']}/notes", text=NOTE)
        assert note.status_code == 303
        shown = await console.case_page(by_channel["line"])
        assert NOTE in shown.text

        sent = await console.post(f"/console/cases/{by_channel['line']}/reply", text=LINE_REPLY)
        assert sent.status_code == 303
        sent = await console.post(f"/console/cases/{by_channel['web']}/reply", text=WEB_REPLY)
        assert sent.status_code == 303
    finally:
        await console.aclose()

    # Each resident receives the reply on their own channel.
    async def line_reply_arrived() -> bool:
        messages = await asyncio.to_thread(standin.delivered, line_user)
        return any(m.get("text") == LINE_REPLY for m in messages)

    await wait_for(line_reply_arrived, timeout=20)
    async with asyncio.timeout(20):
        while (await _next_frame(socket, "message"))["text"] != WEB_REPLY:
            pass


async def _at_least(found: Any, n: int) -> Any:
    value = await found
    return value if len(value) >= n else None


async def _transcript_with(console: Console, case_id: str, text: str) -> str:
    """The transcript fragment once it shows ``text`` (the LINE worker may still be busy)."""

    async def page() -> str | None:
        response = await console.http.get(f"/console/cases/{case_id}/transcript")
        assert response.status_code == 200
        return response.text if text in response.text else None

    found: str = await wait_for(page, timeout=20)
    return found


# --- after the server stopped ----------------------------------------------------------------


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (database, WAL/SHM/journal, logs, keys, caches)."""
    return {
        str(path.relative_to(root.parent)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def pg_dump(database_url: str, target: Path) -> bytes:
    """A plain-format dump of the whole database: what a leaked backup would show."""
    subprocess.run(
        ["pg_dump", "--format=plain", "--no-owner", "--file", str(target), database_url],
        check=True,
        timeout=120,
    )
    return target.read_bytes()


async def audited_transcripts(settings: Settings) -> dict[str, list[str]]:
    """Decrypts each conversation through the audited reader, by channel."""
    database = Database(settings.resolved_database_url)
    transcript = Transcript(load_keyring(settings))
    texts: dict[str, list[str]] = {}
    try:
        # ``sessions()``: the audited reader commits its audit record itself.
        async with database.sessions() as session:
            conversations = (await session.scalars(select(Conversation))).all()
            for conversation in conversations:
                entries = await transcript.read(
                    session, conversation.id, actor="e2e-test", role="supervisor", reason="test"
                )
                texts.setdefault(conversation.channel, []).extend(e.text for e in entries)
            reads = (
                await session.scalars(
                    select(AuditRecord).where(AuditRecord.action == "transcript.read")
                )
            ).all()
            cases = (await session.scalars(select(Case))).all()
    finally:
        await database.dispose()
    # The console's reads were audited in the counselor's name before anything was shown.
    assert "case.view" in {r.reason for r in reads if r.role == "counselor"}
    assert len(cases) == 2 and all(c.status == "claimed" for c in cases)
    return texts


async def test_pii_is_nowhere_at_rest_after_line_web_and_console(
    tmp_path: Path, backend: Backend, rasa_url: str, kb_model_dir: Path, standin_url: str
) -> None:
    data_dir = tmp_path / "data"
    out_dir = tmp_path / "out"
    data_dir.mkdir()
    out_dir.mkdir()
    env = server_env(data_dir, backend, rasa_url, kb_model_dir, standin_url)
    add_counselor(env, out_dir)
    line_user = new_user_id()

    with StandinClient(standin_url) as standin, running_server(env, out_dir) as url:
        async with httpx.AsyncClient(timeout=10) as http, web_resident(url) as socket:
            await send_line(http, url, standin, line_user)
            for index, text in enumerate(WEB_MESSAGES):
                await socket.send(json.dumps({"type": "message", "text": text, "id": f"w{index}"}))
                reply = await _next_frame(socket, "reply")
                assert reply["id"] == f"w{index}"
                if index == 0:
                    assert reply["handed_off"] is True
                    assert any("110" in r["text"] or "119" in r["text"] for r in reply["replies"])
            await counselor_session(url, standin, line_user, socket)
        # While it runs, as a crash would leave it: SQLite's WAL holds the recent writes.
        live = {f"live:{name}": data for name, data in files_under(data_dir).items()}
    if not backend.database_url:
        assert "live:data/tsunagu.db-wal" in live

    # The server has stopped: look at everything it left behind.
    blobs = live | files_under(data_dir)
    blobs |= {f"out/{p.name}": p.read_bytes() for p in sorted(out_dir.iterdir())}
    assert any(name.endswith("logs/tsunagu.log") for name in blobs)
    assert b'"event"' in blobs["out/serve.stderr"]  # the JSON logs reach stderr as well
    if backend.database_url:
        blobs["pg_dump.sql"] = pg_dump(backend.database_url, tmp_path / "dump.sql")
        assert b"COPY public.messages" in blobs["pg_dump.sql"]
    else:
        assert "data/tsunagu.db" in blobs
    hits = scan(blobs, (*PII, line_user))
    assert not hits, "PII at rest:\n" + "\n".join(hits[:50])

    # The transcript itself holds the text (encrypted) — with the My Number masked.
    texts = await audited_transcripts(backend.settings(data_dir))
    line_text, web_text = "\n".join(texts["line"]), "\n".join(texts["web"])
    assert "篠宮隆之" in line_text and LINE_REPLY in line_text
    assert "北條さくら" in web_text and WEB_REPLY in web_text
    for text in (line_text, web_text):
        assert "[my_number]" in text
        assert not re.search(
            r"(?<!\d)1234\D?5678\D?9018(?!\d)", unicodedata.normalize("NFKC", text)
        )


def test_scanner_finds_every_spelling() -> None:
    """The scan would catch a leak: each spelling of a planted value is reported."""
    value = "０９０－８７６５－４３２１"
    user = new_user_id()
    planted = {
        "raw": value.encode(),
        "nfkc": b"tel 090-8765-4321.",
        "digits": b'{"n": "09087654321"}',
        "separators": b"call 090 8765.4321 now",
        "json": json.dumps({"t": "北條さくら"}).encode(),
        "url": b"text=%E5%8C%97%E6%A2%9D%E3%81%95%E3%81%8F%E3%82%89",
        "user": f"to={user}".encode(),
    }
    hits = scan(planted, (value, "北條さくら", user))
    for name in planted:
        assert any(hit.startswith(f"{name}@") for hit in hits), name
    # Digits inside a longer number are not this phone number.
    assert not scan({"longer": b"1090876543219"}, (value,))
