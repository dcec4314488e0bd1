"""The widget's pages: ``/chat``, the embed script, the neutral quick-exit page, static files.

Everything the widget needs comes from this app (no third-party requests) and nothing is
inline, so the app's strict Content-Security-Policy (``app.security.headers``: ``default-src
'self'``, ``frame-ancestors`` = the embedding sites) holds without exceptions.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.deps import RuntimeDep
from channels.web.texts import LANGUAGES, STATIC_DIR, TEMPLATES_DIR, neutral_page, ui_texts

router = APIRouter(prefix="/chat", tags=["web chat widget"])
# Mounted without the prefix: an APIRouter's prefix does not apply to its mounts.
static_files = StaticFiles(directory=STATIC_DIR)
templates = Jinja2Templates(directory=TEMPLATES_DIR)

EMBED_TEXT_KEYS = ("embed_open", "embed_close", "embed_frame_title")


def _static_prefix(request: Request) -> str:
    # Root-relative, so pages work behind a TLS-terminating proxy without absolute http URLs.
    return f"{request.scope.get('root_path', '')}/chat/static"


@router.get("", response_class=HTMLResponse)
async def chat_page(
    request: Request,
    rt: RuntimeDep,
    lang: Annotated[Literal["ja", "en"], Query(description="Interface language.")] = "ja",
    embed: Annotated[bool, Query(description="Shown inside embed.js's iframe.")] = False,
) -> Response:
    """The chat widget page (Japanese by default; an English toggle on the page)."""
    settings = rt.settings
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "lang": lang,
            "t": ui_texts(lang),
            "quick_exit_url": settings.web_quick_exit_url,
            "resume_minutes": settings.web_session_resume_minutes,
            "embedded": embed,
            "static": _static_prefix(request),
            "api": f"{request.scope.get('root_path', '')}/api/chat",
        },
    )


@router.get("/neutral", response_class=HTMLResponse)
async def neutral(request: Request) -> Response:
    """An ordinary everyday page that replaces the chat on 「すぐに閉じる」."""
    return templates.TemplateResponse(
        request, "neutral.html", {"page": neutral_page(), "static": _static_prefix(request)}
    )


@router.get("/embed.js", response_class=Response)
async def embed_script(request: Request, rt: RuntimeDep) -> Response:
    """One script tag on a prefecture page adds a 「相談する」 button opening the widget."""
    texts = {lang: {key: ui_texts(lang)[key] for key in EMBED_TEXT_KEYS} for lang in LANGUAGES}
    response = templates.TemplateResponse(
        request,
        "embed.js",
        {"texts": texts, "quick_exit_url": rt.settings.web_quick_exit_url},
        media_type="text/javascript",
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
