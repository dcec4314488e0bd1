"""Simulated webhooks: signatures LINE's SDK accepts, realistic events, real HTTP posts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from linebot.v3 import WebhookParser
from linebot.v3.webhook import SignatureValidator
from linebot.v3.webhooks import (
    FollowEvent,
    ImageMessageContent,
    MessageEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
)
from typer.testing import CliRunner

from app.cli import cli
from channels.line import simulate as sim
from channels.line.standin import StandinClient, serve_app
from core.config import get_settings
from tests.line_tools.conftest import TOKEN

SECRET = "0123456789abcdef0123456789abcdef"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Receiver:
    """A minimal webhook endpoint verifying signatures with the SDK, keeping what it got."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.app = FastAPI()
        self.app.add_api_route("/webhooks/line", self.receive, methods=["POST"])

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-line-signature", "")
        if not SignatureValidator(SECRET).validate(body.decode("utf-8"), signature):
            return Response(status_code=401)
        self.bodies.append(body)
        return Response(status_code=200)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    r = Receiver()
    with serve_app(r.app) as url:
        yield r, f"{url}/webhooks/line"


def test_signature_verifies_with_line_bot_sdk_and_detects_tampering() -> None:
    body = sim.build_payload([sim.build_text_event("たすけて")])
    signature = sim.sign(body, SECRET)
    validator = SignatureValidator(SECRET)
    assert validator.validate(body.decode("utf-8"), signature)
    assert not validator.validate(body.decode("utf-8").replace("たすけて", "こんにちは"), signature)
    assert not SignatureValidator("another-secret").validate(body.decode("utf-8"), signature)
    assert sim.webhook_headers(body, SECRET)["X-Line-Signature"] == signature


def test_every_event_kind_parses_with_the_sdk_as_the_right_class() -> None:
    user = sim.new_user_id()
    events = [
        sim.build_text_event("スマホの 文字を 大きくしたい", user_id=user),
        sim.build_follow_event(user_id=user),
        sim.build_unfollow_event(user_id=user),
        sim.build_unsend_event("123456789012345678", user_id=user),
        sim.build_sticker_event(user_id=user),
        sim.build_image_event(user_id=user),
    ]
    body = sim.build_payload(events).decode("utf-8")
    parsed = WebhookParser(SECRET).parse(body, sim.sign(body.encode(), SECRET))
    assert [type(e) for e in parsed] == [
        MessageEvent,
        FollowEvent,
        UnfollowEvent,
        UnsendEvent,
        MessageEvent,
        MessageEvent,
    ]
    text, follow, unfollow, unsend, sticker, image = parsed
    assert isinstance(text.message, TextMessageContent)
    assert text.message.text == "スマホの 文字を 大きくしたい"
    assert text.message.quote_token
    assert isinstance(sticker.message, StickerMessageContent)
    assert isinstance(image.message, ImageMessageContent)
    assert unsend.unsend.message_id == "123456789012345678"
    assert follow.follow.is_unblocked is False
    for event in parsed:
        assert event.source.user_id == user
        assert event.mode.value == "active"
        assert len(event.webhook_event_id) == 26
        assert event.delivery_context.is_redelivery is False
    assert unfollow.to_dict().get("replyToken") is None
    assert len(text.reply_token) == 32
    int(text.reply_token, 16)


def test_webhook_event_id_is_a_ulid_carrying_the_timestamp() -> None:
    stamp = 1_795_000_000_123
    ulid = sim.new_webhook_event_id(stamp)
    assert len(ulid) == 26
    assert set(ulid) <= set(_CROCKFORD)
    value = 0
    for char in ulid:
        value = value * 32 + _CROCKFORD.index(char)
    assert value >> 80 == stamp
    assert sim.new_webhook_event_id(stamp) != ulid


def test_ids_have_line_shapes() -> None:
    assert len(sim.new_user_id()) == 33
    assert sim.new_user_id().startswith("U")
    assert len(sim.new_message_id()) == 18
    assert sim.new_user_id() != sim.new_user_id()


def test_repeat_without_redeliver_replays_the_same_bytes(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    posts = sim.simulate(url, SECRET, [sim.build_text_event("こんにちは")], repeat=3)
    assert [p.status for p in posts] == [200, 200, 200]
    assert len(set(r.bodies)) == 1
    assert len(r.bodies) == 3


def test_redeliver_keeps_the_event_id_and_marks_later_posts(
    receiver: tuple[Receiver, str],
) -> None:
    r, url = receiver
    event = sim.build_text_event("こんにちは")
    sim.simulate(url, SECRET, [event], repeat=2, redeliver=True)
    first, second = (p["events"][0] for p in r.payloads())
    assert first["webhookEventId"] == second["webhookEventId"] == event["webhookEventId"]
    assert first["deliveryContext"]["isRedelivery"] is False
    assert second["deliveryContext"]["isRedelivery"] is True


def test_wrong_secret_is_rejected_by_the_receiver(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    [post] = sim.simulate(url, "wrong-secret", [sim.build_follow_event()])
    assert post.status == 401
    assert r.bodies == []


def test_verify_request_has_no_events(receiver: tuple[Receiver, str]) -> None:
    r, url = receiver
    sim.simulate(url, SECRET, sim.build_events("verify"))
    assert r.payloads() == [{"destination": sim.DESTINATION, "events": []}]


def test_build_events_refuses_incomplete_requests() -> None:
    with pytest.raises(ValueError, match="unsend"):
        sim.build_events("unsend")
    with pytest.raises(ValueError, match="unknown"):
        sim.build_events("postback")


@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_cli_posts_and_registers_the_reply_token_with_the_standin(
    receiver: tuple[Receiver, str],
    standin_url: str,
    control: StandinClient,
    clean_settings: pytest.MonkeyPatch,
) -> None:
    r, url = receiver
    clean_settings.setenv("LINE_CHANNEL_SECRET", SECRET)
    user = sim.new_user_id()
    result = CliRunner().invoke(
        cli,
        [
            *("line", "simulate", "--url", url, "--user", user, "--text", "人と話したい"),
            *("--register-token-at", standin_url, "--repeat", "2", "--redeliver"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "→ 200" in result.output
    [first, second] = [p["events"][0] for p in r.payloads()]
    assert first["message"]["text"] == "人と話したい"
    assert second["deliveryContext"]["isRedelivery"] is True
    reply = httpx.post(
        f"{standin_url}/v2/bot/message/reply",
        json={"replyToken": first["replyToken"], "messages": [{"type": "text", "text": "はい"}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert reply.status_code == 200
    assert control.delivered(user) == [{"type": "text", "text": "はい"}]


def test_cli_rejects_a_malformed_user_and_reports_http_failures(
    receiver: tuple[Receiver, str], clean_settings: pytest.MonkeyPatch
) -> None:
    _, url = receiver
    runner = CliRunner()
    bad_user = runner.invoke(
        cli, ["line", "simulate", "--url", url, "--secret", SECRET, "--user", "Uxyz"]
    )
    rejected = runner.invoke(
        cli, ["line", "simulate", "--url", url, "--secret", "wrong", "--event", "follow"]
    )
    assert bad_user.exit_code == 2
    assert rejected.exit_code == 1
    assert "→ 401" in rejected.output
