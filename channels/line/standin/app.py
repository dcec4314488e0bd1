"""The stand-in's HTTP app: LINE Messaging API paths plus control endpoints under ``/__standin/``.

Every LINE-path call goes through one pipeline — bearer check, retry-key check, injected
failure, handler, recording — under the state lock, so concurrent calls behave as at LINE:
one reply per token, one accepted push per retry key.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, Field

from channels.line.standin.state import (
    DEFAULT_REPLY_TOKEN_SECONDS,
    AcceptedPush,
    FailRule,
    RecordedRequest,
    RichMenuRecord,
    StandinState,
)
from channels.line.standin.validation import (
    CHAT_ID,
    USER_ID,
    ErrorDetail,
    error_body,
    validate_messages,
    validate_rich_menu,
)

RECORDED_HEADERS = ("content-type", "x-line-retry-key", "user-agent")
MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024
RICH_MENU_IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}
FAILURE_MESSAGES = {
    429: "The API rate limit has been exceeded. Try again later.",
    500: "An internal server error occurred.",
    503: "Service unavailable.",
}
NOT_FOUND = {"message": "Not found"}


class BadJson(Exception):
    """The request body is not the JSON object the endpoint needs."""


@dataclass
class Call:
    """One incoming LINE-path request, already read."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    request_id: str

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (LINE answers 400 otherwise)."""
        try:
            data = json.loads(self.raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJson from exc
        if not isinstance(data, dict):
            raise BadJson
        return data


@dataclass
class Result:
    """What to answer: JSON ``body`` or raw ``content``."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    media_type: str | None = None


Handler = Callable[[Call], Result]


def _bad_request(details: list[ErrorDetail]) -> Result:
    return Result(400, error_body(details))


def _message_error(message: str, status: int = 400) -> Result:
    return Result(status, {"message": message})


def _sent_messages(count: int) -> list[dict[str, str]]:
    return [
        {"id": str(secrets.randbelow(9 * 10**17) + 10**17), "quoteToken": secrets.token_urlsafe(96)}
        for _ in range(count)
    ]


def _is_retry_key(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


class LineStandin:
    """LINE Messaging API behaviour over a :class:`StandinState`."""

    def __init__(
        self,
        access_token: str,
        state: StandinState | None = None,
        *,
        strict_reply_tokens: bool = False,
    ) -> None:
        self.access_token = access_token
        self.state = state if state is not None else StandinState()
        self.strict_reply_tokens = strict_reply_tokens

    # --- pipeline -------------------------------------------------------------------------
    async def dispatch(
        self, request: Request, handler: Handler, *, retry_key_allowed: bool = False
    ) -> Response:
        """Runs one LINE-path call through auth, failure injection, the handler and recording."""
        call = Call(
            method=request.method,
            path=request.url.path,
            params={k: str(v) for k, v in request.path_params.items()},
            headers={k.lower(): v for k, v in request.headers.items()},
            raw=await request.body(),
            request_id=str(uuid.uuid4()),
        )
        with self.state.lock:
            result, injected = self._process(call, handler, retry_key_allowed)
            self.state.record(self._recording(call, result, injected))
        headers = {"x-line-request-id": call.request_id, **result.headers}
        if result.content is not None:
            return Response(result.content, result.status, headers, result.media_type)
        return JSONResponse(result.body if result.body is not None else {}, result.status, headers)

    def _process(
        self, call: Call, handler: Handler, retry_key_allowed: bool
    ) -> tuple[Result, bool]:
        auth = call.headers.get("authorization")
        if not auth or not auth.startswith("Bearer "):
            return _message_error(
                "Authorization header required. "
                "Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'",
                401,
            ), False
        if not secrets.compare_digest(auth.removeprefix("Bearer ").encode(), self._token_bytes):
            return _message_error(
                "Authentication failed. "
                "Confirm that the access token in the authorization header is valid.",
                401,
            ), False
        if "x-line-retry-key" in call.headers and not retry_key_allowed:
            return _message_error("The X-Line-Retry-Key header is not supported by this API"), False
        rule = self.state.take_failure(call.path)
        if rule is not None and not rule.accept:
            return self._failure(rule), True
        try:
            result = handler(call)
        except BadJson:
            result = _message_error("The request body has 1 error(s)")
        if rule is not None:
            return self._failure(rule), True
        return result, False

    @property
    def _token_bytes(self) -> bytes:
        return self.access_token.encode()

    @staticmethod
    def _failure(rule: FailRule) -> Result:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
        message = FAILURE_MESSAGES.get(rule.status, f"Injected failure {rule.status}")
        return Result(rule.status, {"message": message}, headers)

    def _recording(self, call: Call, result: Result, injected: bool) -> RecordedRequest:
        body: Any = None
        if call.raw and "json" in call.headers.get("content-type", "json"):
            try:
                body = json.loads(call.raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = None
        return RecordedRequest(
            seq=self.state.next_seq(),
            time=self.state.clock(),
            method=call.method,
            path=call.path,
            status=result.status,
            request_id=call.request_id,
            headers={k: call.headers[k] for k in RECORDED_HEADERS if k in call.headers},
            body=body,
            body_bytes=len(call.raw),
            injected=injected,
        )

    # --- messages ---------------------------------------------------------------------------
    def reply(self, call: Call) -> Result:
        """``POST /v2/bot/message/reply``: single-use reply token, then deliver."""
        body = call.json()
        token = body.get("replyToken")
        if not isinstance(token, str) or not token:
            return _bad_request([ErrorDetail("May not be empty", "replyToken")])
        details = validate_messages(body.get("messages"))
        if details:
            return _bad_request(details)
        ok, user_id = self.state.consume_reply_token(token, strict=self.strict_reply_tokens)
        if not ok:
            return _message_error("Invalid reply token")
        messages = body["messages"]
        self.state.deliver(user_id, "reply", call.request_id, messages)
        return Result(200, {"sentMessages": _sent_messages(len(messages))})

    def push(self, call: Call) -> Result:
        """``POST /v2/bot/message/push``: honours ``X-Line-Retry-Key`` (409 on a repeat)."""
        retry_key = call.headers.get("x-line-retry-key")
        if retry_key is not None and not _is_retry_key(retry_key):
            return _message_error("The retry key must be a UUID in hexadecimal format")
        body = call.json()
        to = body.get("to")
        details = (
            []
            if isinstance(to, str) and CHAT_ID.fullmatch(to)
            else [ErrorDetail("Must be a valid user, group or room ID", "to")]
        )
        details.extend(validate_messages(body.get("messages")))
        if details:
            return _bad_request(details)
        if retry_key is not None:
            accepted = self.state.retry_keys.get(retry_key.lower())
            if accepted is not None:
                return Result(
                    409,
                    {
                        "message": "The retry key is already accepted",
                        "sentMessages": accepted.sent_messages,
                    },
                    {"x-line-accepted-request-id": accepted.request_id},
                )
        messages = body["messages"]
        sent = _sent_messages(len(messages))
        if retry_key is not None:
            self.state.retry_keys[retry_key.lower()] = AcceptedPush(call.request_id, sent)
        self.state.deliver(to, "push", call.request_id, messages, retry_key)
        return Result(200, {"sentMessages": sent})

    def loading(self, call: Call) -> Result:
        """``POST /v2/bot/chat/loading/start``: 202 for a user chat, 5–60 s in steps of 5."""
        body = call.json()
        details: list[ErrorDetail] = []
        chat_id = body.get("chatId")
        if not (isinstance(chat_id, str) and USER_ID.fullmatch(chat_id)):
            details.append(ErrorDetail("Must be a valid user ID", "chatId"))
        seconds = body.get("loadingSeconds", 20)
        if not (isinstance(seconds, int) and 5 <= seconds <= 60 and seconds % 5 == 0):
            details.append(
                ErrorDetail("Must be a multiple of 5 between 5 and 60", "loadingSeconds")
            )
        return _bad_request(details) if details else Result(202, {})

    def profile(self, call: Call) -> Result:
        """``GET /v2/bot/profile/{userId}``: a registered or default profile, 404 if malformed."""
        user_id = call.params["userId"]
        if not USER_ID.fullmatch(user_id):
            return Result(404, NOT_FOUND)
        stored = self.state.profiles.get(user_id)
        profile = {"userId": user_id, "displayName": "テスト利用者", "language": "ja"}
        return Result(200, {**profile, **(stored or {})})

    # --- rich menus -----------------------------------------------------------------------
    def create_rich_menu(self, call: Call) -> Result:
        """``POST /v2/bot/richmenu``: validates and stores a menu, answers its id."""
        body = call.json()
        details = validate_rich_menu(body)
        if details:
            return _bad_request(details)
        rich_menu_id = f"richmenu-{secrets.token_hex(16)}"
        self.state.rich_menus[rich_menu_id] = RichMenuRecord(rich_menu_id, body)
        return Result(200, {"richMenuId": rich_menu_id})

    def validate_rich_menu(self, call: Call) -> Result:
        """``POST /v2/bot/richmenu/validate``: 200 when the object would be accepted."""
        details = validate_rich_menu(call.json())
        return _bad_request(details) if details else Result(200, {})

    def list_rich_menus(self, call: Call) -> Result:
        """``GET /v2/bot/richmenu/list``."""
        menus = [{"richMenuId": r.rich_menu_id, **r.menu} for r in self.state.rich_menus.values()]
        return Result(200, {"richmenus": menus})

    def get_rich_menu(self, call: Call) -> Result:
        """``GET /v2/bot/richmenu/{richMenuId}``."""
        record = self.state.rich_menus.get(call.params["richMenuId"])
        if record is None:
            return Result(404, NOT_FOUND)
        return Result(200, {"richMenuId": record.rich_menu_id, **record.menu})

    def delete_rich_menu(self, call: Call) -> Result:
        """``DELETE /v2/bot/richmenu/{richMenuId}`` (also unsets it as default)."""
        rich_menu_id = call.params["richMenuId"]
        if self.state.rich_menus.pop(rich_menu_id, None) is None:
            return Result(404, NOT_FOUND)
        if self.state.default_rich_menu == rich_menu_id:
            self.state.default_rich_menu = None
        return Result(200, {})

    def upload_rich_menu_image(self, call: Call) -> Result:
        """``POST /v2/bot/richmenu/{richMenuId}/content`` (api-data): PNG/JPEG, once, exact size."""
        record = self.state.rich_menus.get(call.params["richMenuId"])
        if record is None:
            return Result(404, NOT_FOUND)
        content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
        expected_format = RICH_MENU_IMAGE_TYPES.get(content_type)
        if expected_format is None:
            return _message_error("Content-Type must be image/png or image/jpeg", 415)
        if len(call.raw) > MAX_RICH_MENU_IMAGE_BYTES:
            return _message_error("The image is larger than 1 MB", 413)
        if record.image is not None:
            return _message_error("An image has already been uploaded to the richmenu")
        try:
            with Image.open(io.BytesIO(call.raw)) as image:
                image_format, size = image.format, image.size
        except (UnidentifiedImageError, OSError):
            return _message_error("The image could not be read")
        if image_format != expected_format:
            return _message_error(f"The image is not {expected_format}")
        menu_size = (record.menu["size"]["width"], record.menu["size"]["height"])
        if size != menu_size:
            return _message_error(
                f"The image size {size[0]}x{size[1]} does not match the rich menu size "
                f"{menu_size[0]}x{menu_size[1]}"
            )
        record.image, record.image_type, record.image_size = call.raw, content_type, size
        return Result(200, {})

    def download_rich_menu_image(self, call: Call) -> Result:
        """``GET /v2/bot/richmenu/{richMenuId}/content`` (api-data)."""
        record = self.state.rich_menus.get(call.params["richMenuId"])
        if record is None or record.image is None:
            return Result(404, NOT_FOUND)
        return Result(200, content=record.image, media_type=record.image_type)

    def set_default_rich_menu(self, call: Call) -> Result:
        """``POST /v2/bot/user/all/richmenu/{richMenuId}``: needs an uploaded image, as at LINE."""
        record = self.state.rich_menus.get(call.params["richMenuId"])
        if record is None:
            return Result(404, NOT_FOUND)
        if record.image is None:
            return _message_error("must upload richmenu image before applying it to user")
        self.state.default_rich_menu = record.rich_menu_id
        return Result(200, {})

    def get_default_rich_menu(self, call: Call) -> Result:
        """``GET /v2/bot/user/all/richmenu``."""
        if self.state.default_rich_menu is None:
            return Result(404, {"message": "no default richmenu"})
        return Result(200, {"richMenuId": self.state.default_rich_menu})

    def cancel_default_rich_menu(self, call: Call) -> Result:
        """``DELETE /v2/bot/user/all/richmenu``."""
        self.state.default_rich_menu = None
        return Result(200, {})

    def not_found(self, call: Call) -> Result:
        """Any other ``/v2/`` path: LINE's 404."""
        return Result(404, NOT_FOUND)


class FailRequest(BaseModel):
    """Body of ``POST /__standin/fail``."""

    status: int = Field(ge=400, le=599)
    count: int = Field(default=1, ge=1)
    path: str | None = None
    retry_after: int | None = Field(default=None, ge=0)
    accept: bool = False


class ReplyTokenIn(BaseModel):
    """One reply token to make valid."""

    token: str = Field(min_length=1)
    user_id: str | None = None
    expires_in: float = DEFAULT_REPLY_TOKEN_SECONDS


class ReplyTokensRequest(BaseModel):
    """Body of ``POST /__standin/reply-tokens``."""

    tokens: list[ReplyTokenIn]


class ProfileIn(BaseModel):
    """Body of ``POST /__standin/profiles``: what ``GET /v2/bot/profile`` answers.

    Field names are LINE's own (camelCase), so the body reads like LINE's profile JSON.
    """

    userId: str = Field(pattern=USER_ID.pattern)
    displayName: str
    language: str | None = None
    pictureUrl: str | None = None
    statusMessage: str | None = None


def create_standin_app(standin: LineStandin) -> FastAPI:
    """The FastAPI app serving ``standin`` (LINE paths on api.line.me and api-data.line.me)."""
    app = FastAPI(title="Tsunagu LINE API stand-in", docs_url="/__standin/docs", redoc_url=None)
    state = standin.state

    def line_route(method: str, path: str, handler: Handler, *, retry_key: bool = False) -> None:
        async def endpoint(request: Request) -> Response:
            return await standin.dispatch(request, handler, retry_key_allowed=retry_key)

        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)

    line_route("POST", "/v2/bot/message/reply", standin.reply)
    line_route("POST", "/v2/bot/message/push", standin.push, retry_key=True)
    line_route("POST", "/v2/bot/chat/loading/start", standin.loading)
    line_route("GET", "/v2/bot/profile/{userId}", standin.profile)
    line_route("POST", "/v2/bot/richmenu", standin.create_rich_menu)
    line_route("POST", "/v2/bot/richmenu/validate", standin.validate_rich_menu)
    line_route("GET", "/v2/bot/richmenu/list", standin.list_rich_menus)
    line_route("GET", "/v2/bot/richmenu/{richMenuId}", standin.get_rich_menu)
    line_route("DELETE", "/v2/bot/richmenu/{richMenuId}", standin.delete_rich_menu)
    line_route("POST", "/v2/bot/richmenu/{richMenuId}/content", standin.upload_rich_menu_image)
    line_route("GET", "/v2/bot/richmenu/{richMenuId}/content", standin.download_rich_menu_image)
    line_route("POST", "/v2/bot/user/all/richmenu/{richMenuId}", standin.set_default_rich_menu)
    line_route("GET", "/v2/bot/user/all/richmenu", standin.get_default_rich_menu)
    line_route("DELETE", "/v2/bot/user/all/richmenu", standin.cancel_default_rich_menu)
    for method in ("GET", "POST", "PUT", "DELETE"):
        line_route(method, "/v2/{rest:path}", standin.not_found)

    @app.get("/__standin/health")
    async def health() -> dict[str, bool]:
        """Readiness probe."""
        return {"ok": True}

    @app.get("/__standin/requests")
    async def list_requests(
        path: str | None = None, method: str | None = None, status: int | None = None
    ) -> dict[str, Any]:
        """Recorded calls, oldest first, optionally filtered."""
        with state.lock:
            found = [
                r.as_json()
                for r in state.requests
                if (path is None or r.path == path)
                and (method is None or r.method == method.upper())
                and (status is None or r.status == status)
            ]
        return {"requests": found}

    @app.delete("/__standin/requests")
    async def clear_requests() -> dict[str, bool]:
        """Forgets recorded calls and deliveries (tokens, retry keys and menus stay)."""
        state.clear_recordings()
        return {"ok": True}

    @app.post("/__standin/reset")
    async def reset() -> dict[str, bool]:
        """Forgets everything."""
        state.reset()
        return {"ok": True}

    @app.post("/__standin/fail")
    async def fail(rule: FailRequest) -> dict[str, int]:
        """Answers the next ``count`` matching LINE calls with ``status``."""
        pending = state.add_fail_rule(
            FailRule(rule.status, rule.count, rule.path, rule.retry_after, rule.accept)
        )
        return {"pending_rules": pending}

    @app.delete("/__standin/fail")
    async def clear_failures() -> dict[str, bool]:
        """Drops pending failure rules."""
        with state.lock:
            state.fail_rules.clear()
        return {"ok": True}

    @app.post("/__standin/reply-tokens")
    async def reply_tokens(body: ReplyTokensRequest) -> dict[str, int]:
        """Registers reply tokens (who they reply to, how long they live)."""
        for item in body.tokens:
            state.register_reply_token(item.token, item.user_id, item.expires_in)
        return {"registered": len(body.tokens)}

    @app.post("/__standin/profiles")
    async def profiles(body: ProfileIn) -> dict[str, bool]:
        """Sets what ``GET /v2/bot/profile/{userId}`` answers for one user."""
        with state.lock:
            state.profiles[body.userId] = body.model_dump(exclude_none=True)
        return {"ok": True}

    @app.get("/__standin/delivered")
    async def delivered(user_id: str | None = None) -> dict[str, Any]:
        """What reached a user: replies and accepted pushes (a 409 repeat is not delivered)."""
        deliveries = state.delivered_to(user_id)
        return {
            "deliveries": [d.as_json() for d in deliveries],
            "messages": [m for d in deliveries for m in d.messages],
        }

    @app.get("/__standin/richmenus")
    async def rich_menus() -> dict[str, Any]:
        """Created menus, their images and the default one."""
        with state.lock:
            menus = [r.as_json() for r in state.rich_menus.values()]
            return {"default": state.default_rich_menu, "richmenus": menus}

    return app
