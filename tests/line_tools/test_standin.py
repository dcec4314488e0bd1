"""The LINE API stand-in over real HTTP: auth, reply tokens, retry keys, failures, recording."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)

from channels.line.simulate import new_reply_token, new_user_id
from channels.line.standin import StandinClient, run_standin
from tests.line_tools.conftest import TOKEN

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"


def text(value: str = "こんにちは") -> dict[str, Any]:
    return {"type": "text", "text": value}


def push(
    line: httpx.Client, to: str, key: str | None = None, messages: list[Any] | None = None
) -> httpx.Response:
    headers = {"X-Line-Retry-Key": key} if key else {}
    return line.post(PUSH, json={"to": to, "messages": messages or [text()]}, headers=headers)


def test_missing_or_wrong_bearer_token_is_401_and_recorded(
    standin_url: str, control: StandinClient
) -> None:
    body = {"to": new_user_id(), "messages": [text()]}
    missing = httpx.post(f"{standin_url}{PUSH}", json=body)
    wrong = httpx.post(f"{standin_url}{PUSH}", json=body, headers={"Authorization": "Bearer x"})
    assert missing.status_code == wrong.status_code == 401
    assert "Authentication failed" in wrong.json()["message"]
    assert [r["status"] for r in control.requests(path=PUSH)] == [401, 401]
    assert control.delivered() == []


def test_registered_reply_token_is_single_use(line: httpx.Client, control: StandinClient) -> None:
    user, token = new_user_id(), new_reply_token()
    control.register_reply_token(token, user)
    first = line.post(REPLY, json={"replyToken": token, "messages": [text("一回目")]})
    second = line.post(REPLY, json={"replyToken": token, "messages": [text("二回目")]})
    assert first.status_code == 200
    assert len(first.json()["sentMessages"]) == 1
    assert first.headers["x-line-request-id"]
    assert second.status_code == 400
    assert second.json() == {"message": "Invalid reply token"}
    assert control.delivered(user) == [text("一回目")]


def test_expired_reply_token_is_refused(line: httpx.Client, control: StandinClient) -> None:
    user, token = new_user_id(), new_reply_token()
    control.register_reply_token(token, user, expires_in=0)
    answer = line.post(REPLY, json={"replyToken": token, "messages": [text()]})
    assert answer.status_code == 400
    assert answer.json()["message"] == "Invalid reply token"
    assert control.delivered(user) == []


def test_unregistered_tokens_pass_only_when_well_formed(line: httpx.Client) -> None:
    good = line.post(REPLY, json={"replyToken": new_reply_token(), "messages": [text()]})
    bad = line.post(REPLY, json={"replyToken": "not-a-token", "messages": [text()]})
    assert good.status_code == 200
    assert bad.status_code == 400


def test_strict_mode_refuses_unregistered_tokens() -> None:
    with (
        run_standin(TOKEN, strict_reply_tokens=True) as url,
        StandinClient(url) as control,
    ):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        unknown = httpx.post(
            f"{url}{REPLY}",
            json={"replyToken": new_reply_token(), "messages": [text()]},
            headers=headers,
        )
        token = new_reply_token()
        control.register_reply_token(token)
        known = httpx.post(
            f"{url}{REPLY}", json={"replyToken": token, "messages": [text()]}, headers=headers
        )
    assert unknown.status_code == 400
    assert known.status_code == 200


def test_invalid_messages_do_not_spend_the_reply_token(
    line: httpx.Client, control: StandinClient
) -> None:
    token = new_reply_token()
    control.register_reply_token(token)
    invalid = line.post(REPLY, json={"replyToken": token, "messages": [text("")]})
    valid = line.post(REPLY, json={"replyToken": token, "messages": [text()]})
    assert invalid.status_code == 400
    assert invalid.json()["details"] == [
        {"message": "May not be empty", "property": "messages[0].text"}
    ]
    assert valid.status_code == 200


def test_repeated_retry_key_is_409_with_the_accepted_request_id(
    line: httpx.Client, control: StandinClient
) -> None:
    user, key = new_user_id(), str(uuid.uuid4())
    first = push(line, user, key)
    again = push(line, user, key)
    other = push(line, user, str(uuid.uuid4()))
    assert first.status_code == 200
    assert again.status_code == 409
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.json()["sentMessages"] == first.json()["sentMessages"]
    assert other.status_code == 200
    assert [d["retry_key"] for d in control.deliveries(user)] == [
        key,
        other.request.headers["X-Line-Retry-Key"],
    ]
    assert [r["status"] for r in control.requests(path=PUSH)] == [200, 409, 200]


def test_malformed_retry_key_and_retry_key_on_reply_are_400(line: httpx.Client) -> None:
    assert push(line, new_user_id(), "not-a-uuid").status_code == 400
    reply = line.post(
        REPLY,
        json={"replyToken": new_reply_token(), "messages": [text()]},
        headers={"X-Line-Retry-Key": str(uuid.uuid4())},
    )
    assert reply.status_code == 400


def test_injected_429_carries_retry_after_and_only_hits_matching_paths(
    line: httpx.Client, control: StandinClient
) -> None:
    user = new_user_id()
    control.fail(429, count=2, path="/v2/bot/message/push", retry_after=3)
    reply = line.post(REPLY, json={"replyToken": new_reply_token(), "messages": [text()]})
    answers = [push(line, user, str(uuid.uuid4())) for _ in range(3)]
    assert reply.status_code == 200
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert "rate limit" in answers[0].json()["message"]
    assert len(control.delivered(user)) == 1
    assert [r["injected"] for r in control.requests(path=PUSH)] == [True, True, False]


def test_500_then_retry_with_same_key_delivers_once(
    line: httpx.Client, control: StandinClient
) -> None:
    user, key = new_user_id(), str(uuid.uuid4())
    control.fail(500, path="/v2/bot/message/*")
    failed = push(line, user, key)
    retried = push(line, user, key)
    assert (failed.status_code, retried.status_code) == (500, 200)
    assert control.delivered(user) == [text()]


def test_500_after_acceptance_makes_the_retry_a_409(
    line: httpx.Client, control: StandinClient
) -> None:
    user, key = new_user_id(), str(uuid.uuid4())
    control.fail(500, accept=True)
    lost = push(line, user, key)
    retried = push(line, user, key)
    assert (lost.status_code, retried.status_code) == (500, 409)
    assert control.delivered(user) == [text()]


def test_concurrent_pushes_with_one_retry_key_deliver_once(
    line: httpx.Client, control: StandinClient
) -> None:
    user, key = new_user_id(), str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(lambda _: push(line, user, key).status_code, range(16)))
    assert statuses == [200] + [409] * 15
    assert len(control.delivered(user)) == 1


@pytest.mark.parametrize(
    ("messages", "prop"),
    [
        ([text()] * 6, "messages"),
        ([text("🍎" * 2501)], "messages[0].text"),
        ([{"type": "video-call"}], "messages[0].type"),
        ([{"type": "flex", "contents": {"type": "bubble"}}], "messages[0].altText"),
        (
            [
                {
                    **text(),
                    "quickReply": {
                        "items": [
                            {
                                "type": "action",
                                "action": {"type": "message", "label": "x", "text": "x"},
                            }
                        ]
                        * 14
                    },
                }
            ],
            "messages[0].quickReply.items",
        ),
    ],
)
def test_invalid_message_objects_get_line_style_400(
    line: httpx.Client, control: StandinClient, messages: list[Any], prop: str
) -> None:
    answer = push(line, new_user_id(), messages=messages)
    assert answer.status_code == 400
    assert prop in [d["property"] for d in answer.json()["details"]]
    assert control.delivered() == []


def test_limits_themselves_are_accepted(line: httpx.Client) -> None:
    longest = text("🍎" * 2500)  # 5000 UTF-16 code units
    items = [{"type": "action", "action": {"type": "message", "label": "x", "text": "x"}}] * 13
    assert (
        push(
            line,
            new_user_id(),
            messages=[longest] * 4 + [{**text(), "quickReply": {"items": items}}],
        ).status_code
        == 200
    )


def test_loading_animation_and_profile(line: httpx.Client, control: StandinClient) -> None:
    user = new_user_id()
    loading = line.post("/v2/bot/chat/loading/start", json={"chatId": user, "loadingSeconds": 10})
    bad = line.post("/v2/bot/chat/loading/start", json={"chatId": user, "loadingSeconds": 7})
    assert (loading.status_code, bad.status_code) == (202, 400)
    assert line.get(f"/v2/bot/profile/{user}").json()["displayName"] == "テスト利用者"
    control.set_profile(user, "山田 花子", language="en")
    profile = line.get(f"/v2/bot/profile/{user}").json()
    assert (profile["displayName"], profile["language"]) == ("山田 花子", "en")
    assert line.get("/v2/bot/profile/nobody").status_code == 404
    assert line.get("/v2/bot/unknown").status_code == 404


def test_requests_are_recorded_with_body_and_headers_and_can_be_cleared(
    line: httpx.Client, control: StandinClient
) -> None:
    user, key = new_user_id(), str(uuid.uuid4())
    push(line, user, key, messages=[text("記録")])
    [recorded] = control.requests(path=PUSH)
    assert recorded["method"] == "POST"
    assert recorded["body"] == {"to": user, "messages": [text("記録")]}
    assert recorded["headers"]["x-line-retry-key"] == key
    assert "authorization" not in recorded["headers"]
    control.clear_requests()
    assert control.requests() == []
    assert control.delivered() == []
    assert push(line, user, key).status_code == 409  # retry keys survive clearing recordings


def test_line_bot_sdk_talks_to_the_standin(standin_url: str, control: StandinClient) -> None:
    user, token, key = new_user_id(), new_reply_token(), str(uuid.uuid4())
    control.register_reply_token(token, user)
    with ApiClient(Configuration(access_token=TOKEN, host=standin_url)) as client:
        api = MessagingApi(client)
        api.reply_message(
            ReplyMessageRequest(replyToken=token, messages=[TextMessage(text="返信")])
        )
        request = PushMessageRequest(to=user, messages=[TextMessage(text="プッシュ")])
        api.push_message(request, x_line_retry_key=key)
        with pytest.raises(ApiException) as repeated:
            api.push_message(request, x_line_retry_key=key)
        with pytest.raises(ApiException) as reused:
            api.reply_message(
                ReplyMessageRequest(replyToken=token, messages=[TextMessage(text="再")])
            )
    assert repeated.value.status == 409
    assert repeated.value.headers["x-line-accepted-request-id"]
    assert reused.value.status == 400
    assert [m["text"] for m in control.delivered(user)] == ["返信", "プッシュ"]
