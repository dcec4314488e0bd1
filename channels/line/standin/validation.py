"""Minimal LINE-style validation of message and rich menu objects.

The stand-in exists to catch the mistakes the real API would reject (too many messages, text
too long, a quick reply with 14 items, a rich menu area outside the image), answering with
LINE's error shape: ``{"message": "The request body has N error(s)", "details": [...]}``.
It is deliberately not a full schema check: unknown optional fields pass, as they do at LINE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT_UTF16 = 5000
MAX_ALT_TEXT = 1500
MAX_QUICK_REPLY_ITEMS = 13
MAX_ACTION_LABEL = 20
MAX_CAROUSEL_BUBBLES = 12
MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
)
ACTION_TYPES = (
    "postback",
    "message",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
)
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of LINE's ``details`` array."""

    message: str
    property: str


def utf16_length(text: str) -> int:
    """Length as LINE counts message text: UTF-16 code units (🍎 counts as two)."""
    return len(text.encode("utf-16-le")) // 2


def error_body(details: list[ErrorDetail]) -> dict[str, Any]:
    """LINE's 400 body for a request whose JSON failed validation."""
    return {
        "message": f"The request body has {len(details)} error(s)",
        "details": [{"message": d.message, "property": d.property} for d in details],
    }


def validate_messages(messages: object) -> list[ErrorDetail]:
    """Errors in a ``messages`` array as LINE would report them (empty when valid)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [ErrorDetail(f"Size must be between 1 and {MAX_MESSAGES}", "messages")]
    errors: list[ErrorDetail] = []
    for index, message in enumerate(messages):
        errors.extend(_validate_message(message, f"messages[{index}]"))
    return errors


def _validate_message(message: object, where: str) -> list[ErrorDetail]:
    if not isinstance(message, dict):
        return [ErrorDetail("Must be an object", where)]
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        allowed = ", ".join(MESSAGE_TYPES)
        return [ErrorDetail(f"Must be one of the following values: [{allowed}]", f"{where}.type")]
    errors: list[ErrorDetail] = []
    if kind == "text":
        errors.extend(_validate_text(message.get("text"), f"{where}.text"))
    elif kind == "flex":
        errors.extend(_validate_flex(message, where))
    if "quickReply" in message:
        errors.extend(_validate_quick_reply(message["quickReply"], f"{where}.quickReply"))
    return errors


def _validate_text(text: object, where: str) -> list[ErrorDetail]:
    if not isinstance(text, str) or not text:
        return [ErrorDetail("May not be empty", where)]
    if utf16_length(text) > MAX_TEXT_UTF16:
        return [ErrorDetail(f"Length must be between 0 and {MAX_TEXT_UTF16}", where)]
    return []


def _validate_flex(message: dict[str, Any], where: str) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    alt = message.get("altText")
    if not isinstance(alt, str) or not alt:
        errors.append(ErrorDetail("May not be empty", f"{where}.altText"))
    elif utf16_length(alt) > MAX_ALT_TEXT:
        errors.append(
            ErrorDetail(f"Length must be between 0 and {MAX_ALT_TEXT}", f"{where}.altText")
        )
    contents = message.get("contents")
    if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
        errors.append(
            ErrorDetail(
                "Must be one of the following values: [bubble, carousel]",
                f"{where}.contents.type",
            )
        )
    elif contents["type"] == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_CAROUSEL_BUBBLES:
            errors.append(
                ErrorDetail(
                    f"Size must be between 1 and {MAX_CAROUSEL_BUBBLES}",
                    f"{where}.contents.contents",
                )
            )
    return errors


def _validate_quick_reply(quick_reply: object, where: str) -> list[ErrorDetail]:
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLY_ITEMS:
        return [
            ErrorDetail(f"Size must be between 1 and {MAX_QUICK_REPLY_ITEMS}", f"{where}.items")
        ]
    errors: list[ErrorDetail] = []
    for index, item in enumerate(items):
        item_where = f"{where}.items[{index}]"
        if not isinstance(item, dict) or item.get("type") != "action":
            errors.append(ErrorDetail("Must be one of the following values: [action]", item_where))
            continue
        errors.extend(validate_action(item.get("action"), f"{item_where}.action"))
    return errors


def validate_action(
    action: object, where: str, *, label_required: bool = True
) -> list[ErrorDetail]:
    """Errors in one action object (quick reply item or rich menu area)."""
    if not isinstance(action, dict):
        return [ErrorDetail("May not be null", where)]
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        allowed = ", ".join(ACTION_TYPES)
        return [ErrorDetail(f"Must be one of the following values: [{allowed}]", f"{where}.type")]
    errors: list[ErrorDetail] = []
    label = action.get("label")
    if label is None and label_required:
        errors.append(ErrorDetail("May not be empty", f"{where}.label"))
    # LINE counts labels in grapheme clusters; code points are close enough for Japanese.
    elif isinstance(label, str) and len(label) > MAX_ACTION_LABEL:
        errors.append(
            ErrorDetail(f"Length must be between 0 and {MAX_ACTION_LABEL}", f"{where}.label")
        )
    if kind == "message" and not (isinstance(action.get("text"), str) and action["text"]):
        errors.append(ErrorDetail("May not be empty", f"{where}.text"))
    if kind == "uri" and not (isinstance(action.get("uri"), str) and action["uri"]):
        errors.append(ErrorDetail("May not be empty", f"{where}.uri"))
    if kind == "postback" and not isinstance(action.get("data"), str):
        errors.append(ErrorDetail("May not be empty", f"{where}.data"))
    return errors


def validate_rich_menu(menu: object) -> list[ErrorDetail]:
    """Errors in a rich menu object: size, chat bar text, areas inside the image."""
    if not isinstance(menu, dict):
        return [ErrorDetail("Must be an object", "richMenu")]
    errors: list[ErrorDetail] = []
    size = menu.get("size")
    width = size.get("width") if isinstance(size, dict) else None
    height = size.get("height") if isinstance(size, dict) else None
    if not (isinstance(width, int) and 800 <= width <= 2500):
        errors.append(ErrorDetail("Must be between 800 and 2500", "size.width"))
    if not (isinstance(height, int) and height >= 250):
        errors.append(ErrorDetail("Must be at least 250", "size.height"))
    elif isinstance(width, int) and width / height < 1.45:
        errors.append(ErrorDetail("Aspect ratio (width / height) must be at least 1.45", "size"))
    if not isinstance(menu.get("selected"), bool):
        errors.append(ErrorDetail("May not be null", "selected"))
    name = menu.get("name")
    if not (isinstance(name, str) and 1 <= len(name) <= 300):
        errors.append(ErrorDetail("Length must be between 1 and 300", "name"))
    bar = menu.get("chatBarText")
    if not (isinstance(bar, str) and 1 <= len(bar) <= 14):
        errors.append(ErrorDetail("Length must be between 1 and 14", "chatBarText"))
    areas = menu.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= 20:
        errors.append(ErrorDetail("Size must be between 1 and 20", "areas"))
        return errors
    for index, area in enumerate(areas):
        errors.extend(_validate_area(area, f"areas[{index}]", width, height))
    return errors


def _validate_area(area: object, where: str, width: object, height: object) -> list[ErrorDetail]:
    if not isinstance(area, dict):
        return [ErrorDetail("Must be an object", where)]
    errors = validate_action(area.get("action"), f"{where}.action", label_required=False)
    bounds = area.get("bounds")
    keys = ("x", "y", "width", "height")
    if not isinstance(bounds, dict) or not all(
        isinstance(bounds.get(k), int) and bounds[k] >= 0 for k in keys
    ):
        return [*errors, ErrorDetail("Must have non-negative integer x, y, width, height", where)]
    if isinstance(width, int) and isinstance(height, int):
        inside = (
            bounds["width"] > 0
            and bounds["height"] > 0
            and bounds["x"] + bounds["width"] <= width
            and bounds["y"] + bounds["height"] <= height
        )
        if not inside:
            errors.append(ErrorDetail("Must be inside the rich menu size", f"{where}.bounds"))
    return errors
