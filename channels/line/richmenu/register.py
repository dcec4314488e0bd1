"""Create the rich menu at LINE (or the stand-in), upload its image, make it the default.

Uses line-bot-sdk v3's synchronous ``MessagingApi`` / ``MessagingApiBlob``; the hosts come from
``TSUNAGU_LINE_API_BASE_URL`` and ``TSUNAGU_LINE_API_DATA_BASE_URL`` so the same command works
against the local stand-in. Older menus with the same name are deleted only after the new one
is the default, so residents never see a moment without a menu.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    RichMenuRequest,
)
from PIL import Image

from bot.responses import Responses

RICHMENU_DIR = Path(__file__).resolve().parent
MENU_FILE = RICHMENU_DIR / "richmenu.json"
DESIGN_FILE = RICHMENU_DIR / "image.yml"
IMAGE_FILE = RICHMENU_DIR / "richmenu.png"
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
MAX_IMAGE_BYTES = 1024 * 1024


class RichMenuError(Exception):
    """The menu or its image would be refused, or would send residents somewhere unsafe."""


@dataclass(frozen=True)
class Registered:
    """What ``register_rich_menu`` did."""

    rich_menu_id: str
    deleted: tuple[str, ...]


def load_menu(path: Path = MENU_FILE) -> dict[str, Any]:
    """The LINE rich menu object from ``richmenu.json``."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_design(path: Path = DESIGN_FILE) -> dict[str, Any]:
    """The drawing instructions from ``image.yml``."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _digits(number: str) -> str:
    return "".join(c for c in unquote(number) if c.isdigit() or c in "#*+")


def check_menu(menu: dict[str, Any], image: bytes | None = None) -> None:
    """Refuses ``tel:`` links to numbers not in ``hotlines.yml`` and a wrongly sized image.

    A phone button is a safety feature: a typo would send a resident in crisis to a stranger,
    so only the reviewed hotline list may be dialled from the menu.
    """
    allowed = {_digits(h.number) for h in Responses.load().hotlines}
    for index, area in enumerate(menu.get("areas", [])):
        uri = str(area.get("action", {}).get("uri", ""))
        if uri.startswith("tel:") and _digits(uri.removeprefix("tel:")) not in allowed:
            raise RichMenuError(
                f"area {index}: {uri} is not a number from bot/content/hotlines.yml"
            )
    if image is not None:
        image_type(image)
        with Image.open(io.BytesIO(image)) as picture:
            size = picture.size
        expected = (menu["size"]["width"], menu["size"]["height"])
        if size != expected:
            raise RichMenuError(f"the image is {size[0]}x{size[1]}, the menu {expected}")


def image_type(image: bytes) -> str:
    """The image's content type (PNG or JPEG under 1 MB, as LINE requires)."""
    if len(image) > MAX_IMAGE_BYTES:
        raise RichMenuError(f"the image has {len(image)} bytes; LINE accepts at most 1 MB")
    with Image.open(io.BytesIO(image)) as picture:
        kind = IMAGE_TYPES.get(picture.format or "")
    if kind is None:
        raise RichMenuError("the image must be PNG or JPEG")
    return kind


def register_rich_menu(
    *,
    access_token: str,
    api_base_url: str,
    data_base_url: str,
    menu: dict[str, Any] | None = None,
    image: bytes | None = None,
    set_default: bool = True,
    delete_old: bool = True,
) -> Registered:
    """Validates, creates, uploads and (by default) makes the menu everyone's default.

    With ``delete_old`` (and ``set_default``), menus of the same ``name`` are deleted last.
    """
    menu = menu if menu is not None else load_menu()
    image = image if image is not None else IMAGE_FILE.read_bytes()
    check_menu(menu, image)
    request = RichMenuRequest.from_dict(menu)
    with (
        ApiClient(Configuration(access_token=access_token, host=api_base_url)) as client,
        ApiClient(Configuration(access_token=access_token, host=data_base_url)) as data_client,
    ):
        api, blob = MessagingApi(client), MessagingApiBlob(data_client)
        api.validate_rich_menu_object(request)
        old = [m.rich_menu_id for m in api.get_rich_menu_list().richmenus if m.name == menu["name"]]
        rich_menu_id = api.create_rich_menu(request).rich_menu_id
        blob.set_rich_menu_image(rich_menu_id, image, _headers={"Content-Type": image_type(image)})
        if set_default:
            api.set_default_rich_menu(rich_menu_id)
        deleted: list[str] = []
        if delete_old and set_default:
            for old_id in old:
                api.delete_rich_menu(old_id)
                deleted.append(old_id)
    return Registered(rich_menu_id, tuple(deleted))
