"""The widget's pages and files as served: CSP-clean markup, texts from data, nothing external."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from channels.web.texts import STATIC_DIR, TEMPLATES_DIR, neutral_page, ui_texts
from tests.channels.web_support import ScriptedNlu, serve_app, web_settings


@pytest.fixture
async def site(tmp_path: Path, sqlite_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = web_settings(
        tmp_path, sqlite_url, web_embed_origins="https://www.pref.example.lg.jp"
    )
    async with (
        serve_app(settings, ScriptedNlu()) as (url, _app, _runtime),
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        yield url, http


class _Markup(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, inline styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and not names.get("src"):
            self.problems.append("inline <script>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{name}= attribute on <{tag}>")
            if name in ("src", "href") and value:
                self.urls.append(value)


def _check_markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    assert parser.problems == []
    # Everything is served by this app: root-relative URLs only (the quick-exit link included).
    assert all(url.startswith("/") for url in parser.urls), parser.urls
    return parser


async def test_chat_page_is_japanese_csp_clean_and_framable_only_by_listed_sites(
    site: tuple[str, httpx.AsyncClient],
) -> None:
    _url, http = site
    page = await http.get("/chat")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'self' https://www.pref.example.lg.jp" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<html lang="ja"' in page.text
    texts = ui_texts("ja")
    for key in ("title", "quick_exit", "text_size", "send", "language_toggle"):
        assert texts[key] in page.text, key
    _check_markup(page.text)

    english = await http.get("/chat", params={"lang": "en"})
    assert '<html lang="en"' in english.text and ui_texts("en")["quick_exit"] in english.text
    assert (await http.get("/chat", params={"lang": "fr"})).status_code == 422


async def test_neutral_page_says_nothing_about_the_chat(
    site: tuple[str, httpx.AsyncClient],
) -> None:
    _url, http = site
    page = await http.get("/chat/neutral")
    assert page.status_code == 200
    _check_markup(page.text)
    assert neutral_page()["title"] in page.text
    visible = re.sub(r"<[^>]+>", " ", page.text)
    for word in ("相談", "チャット", "つなぐ", "DV", "Tsunagu", "chat"):
        assert word not in visible, word


async def test_embed_script_carries_texts_and_the_exit_url(
    site: tuple[str, httpx.AsyncClient],
) -> None:
    _url, http = site
    script = await http.get("/chat/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    for lang in ("ja", "en"):
        assert json.dumps(ui_texts(lang)["embed_open"]) in script.text
    assert '"/chat/neutral"' in script.text
    assert "eval(" not in script.text and "innerHTML" not in script.text


async def test_static_files_are_served_and_reference_nothing_external(
    site: tuple[str, httpx.AsyncClient],
) -> None:
    _url, http = site
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".js", ".css", ".json", ".svg"}
    for path in files:
        response = await http.get(f"/chat/static/{path.relative_to(STATIC_DIR).as_posix()}")
        assert response.status_code == 200, path
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?<!xmlns=\")https?://", text), path
        if path.suffix == ".js":
            assert "eval(" not in text and "innerHTML" not in text and "new Function" not in text
            assert "localStorage" not in text and "document.cookie" not in text, path


def test_ja_and_en_texts_have_the_same_keys() -> None:
    ja, en = ui_texts("ja"), ui_texts("en")
    assert ja.keys() == en.keys()
    assert len(ja["starters"]) == len(en["starters"]) >= 2
    used = set()
    for path in [*TEMPLATES_DIR.iterdir(), *STATIC_DIR.rglob("*.js")]:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"data-i18n(?:-aria-label)?=\"(\w+)\"", source))
        used |= set(re.findall(r"\bt\.(\w+)", source))
        used |= set(re.findall(r"texts\.(\w+)", source))
    assert used <= ja.keys(), used - ja.keys()
