"""Turns the bot's replies into LINE message objects (JSON, as the Messaging API takes them).

Quick replies become LINE quick-reply buttons; labels are cut to LINE's 20-character limit
but the text sent back stays whole, so a tap reads exactly like typing the word.
"""

from __future__ import annotations

from typing import Any

from bot.types import Reply, StepCard

MAX_MESSAGES_PER_REQUEST = 5
MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20


def quick_reply(labels: tuple[str, ...]) -> dict[str, Any]:
    """A LINE quickReply object of message actions."""
    return {
        "items": [
            {
                "type": "action",
                "action": {"type": "message", "label": label[:MAX_LABEL], "text": label},
            }
            for label in labels[:MAX_QUICK_REPLIES]
        ]
    }


def step_bubble(reply: Reply, card: StepCard) -> dict[str, Any]:
    """A guide step as a Flex bubble: big dark text on white, the step count on top.

    ``altText`` carries the whole step, so notifications and old clients still read it.
    """
    return {
        "type": "flex",
        "altText": reply.text[:400],
        "contents": {
            "type": "bubble",
            "size": "giga",
            "header": {
                "type": "box",
                "layout": "vertical",
                "backgroundColor": "#1A3D6D",
                "contents": [
                    {
                        "type": "text",
                        "text": card.title[:120],
                        "color": "#FFFFFF",
                        "weight": "bold",
                        "size": "lg",
                        "wrap": True,
                    },
                    {
                        "type": "text",
                        "text": f"{card.step_no} / {card.step_total}",
                        "color": "#FFFFFF",
                        "size": "md",
                    },
                ],
            },
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "text",
                        "text": reply.text[:2000],
                        "size": "xl",
                        "color": "#111111",
                        "wrap": True,
                    }
                ],
            },
        },
    }


def message(reply: Reply) -> dict[str, Any]:
    """One LINE message (text, or a Flex bubble for a guide step); quick replies ride on it."""
    obj: dict[str, Any]
    if reply.card is not None:
        obj = step_bubble(reply, reply.card)
    else:
        obj = {"type": "text", "text": reply.text[:MAX_TEXT]}
    if reply.quick_replies:
        obj["quickReply"] = quick_reply(reply.quick_replies)
    return obj


def batches(replies: list[Reply] | tuple[Reply, ...]) -> list[list[dict[str, Any]]]:
    """Groups messages into requests of at most five (LINE's limit per reply/push)."""
    objs = [message(r) for r in replies if r.text.strip()]
    return [
        objs[i : i + MAX_MESSAGES_PER_REQUEST]
        for i in range(0, len(objs), MAX_MESSAGES_PER_REQUEST)
    ]
