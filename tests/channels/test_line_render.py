"""LINE message objects from bot replies, checked by the stand-in's LINE validation rules."""

from __future__ import annotations

from bot.types import Reply, StepCard
from channels.line.render import batches, message
from channels.line.standin.validation import validate_messages


def test_guide_step_is_a_large_flex_bubble_with_quick_replies() -> None:
    reply = Reply(
        text="「設定」を おします。",
        quick_replies=("できた", "わからない", "もう一回", "前へ", "最初から", "やめる"),
        card=StepCard(title="文字を大きくする", step_no=2, step_total=5),
    )
    obj = message(reply)
    assert obj["type"] == "flex" and obj["altText"] == reply.text
    body = obj["contents"]["body"]["contents"][0]
    assert body["size"] == "xl" and body["text"] == reply.text
    assert obj["contents"]["header"]["contents"][1]["text"] == "2 / 5"
    labels = [item["action"]["text"] for item in obj["quickReply"]["items"]]
    assert labels == list(reply.quick_replies)
    assert validate_messages([obj]) == []


def test_long_labels_are_cut_but_the_sent_text_stays_whole() -> None:
    label = "とても長いクイックリプライのラベルです二十文字を超える"
    (obj,) = batches([Reply(text="はい", quick_replies=(label,))])[0]
    item = obj["quickReply"]["items"][0]["action"]
    assert len(item["label"]) == 20 and item["text"] == label
    assert validate_messages([obj]) == []


def test_more_than_five_replies_are_split_into_requests() -> None:
    groups = batches([Reply(text=f"{n}") for n in range(7)] + [Reply(text="  ")])
    assert [len(g) for g in groups] == [5, 2]
