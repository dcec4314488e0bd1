"""The rich menu: definition, image, safety check on phone links, registration via the SDK."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from app.cli import cli
from channels.line.richmenu.image import FontChoice, FontError, draw_menu_image
from channels.line.richmenu.register import (
    IMAGE_FILE,
    RichMenuError,
    check_menu,
    load_design,
    load_menu,
    register_rich_menu,
)
from channels.line.standin import StandinClient
from channels.line.standin.validation import validate_rich_menu
from core.config import get_settings
from tests.line_tools.conftest import TOKEN

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def test_menu_has_few_large_areas_for_the_main_topics() -> None:
    menu = load_menu()
    assert validate_rich_menu(menu) == []
    assert (menu["size"]["width"], menu["size"]["height"]) in {(2500, 1686), (2500, 843)}
    assert 3 <= len(menu["areas"]) <= 6
    labels = [a["action"]["label"] for a in menu["areas"]]
    assert labels[0] == "相談する"
    assert menu["areas"][0]["action"]["text"] == "人と話したい"
    for expected in ("スマホのつかいかた", "消費生活のトラブル", "よくある質問", "すぐに電話する"):
        assert expected in labels
    for area in menu["areas"]:
        assert area["bounds"]["width"] >= 800
        assert area["bounds"]["height"] >= 800
    total = sum(a["bounds"]["width"] * a["bounds"]["height"] for a in menu["areas"])
    assert total == menu["size"]["width"] * menu["size"]["height"]  # no dead zones


def test_committed_image_fits_the_menu_and_the_design_matches() -> None:
    menu, image = load_menu(), IMAGE_FILE.read_bytes()
    check_menu(menu, image)
    assert len(load_design()["areas"]) == len(menu["areas"])
    assert len(image) < 1024 * 1024


def test_phone_links_must_be_reviewed_hotlines() -> None:
    menu = load_menu()
    menu["areas"][1]["action"] = {"type": "uri", "label": "電話", "uri": "tel:189"}
    check_menu(menu)  # 189 is in bot/content/hotlines.yml
    menu["areas"][1]["action"]["uri"] = "tel:0120-000-000"
    with pytest.raises(RichMenuError, match="hotlines"):
        check_menu(menu)


def test_wrongly_sized_image_is_refused_before_calling_line() -> None:
    small = io.BytesIO()
    Image.new("RGB", (2500, 843), "#000000").save(small, "PNG")
    with pytest.raises(RichMenuError, match="2500x843"):
        check_menu(load_menu(), small.getvalue())


def test_drawing_refuses_a_font_without_japanese_glyphs() -> None:
    with pytest.raises(FontError, match="cannot draw"):
        draw_menu_image(load_menu(), load_design(), FontChoice(LATIN_FONT))


def test_drawing_paints_each_area_in_its_colour() -> None:
    menu, design = load_menu(), copy.deepcopy(load_design())
    for number, panel in enumerate(design["areas"]):
        panel["title"], panel["reading"] = [f"Topic {number}"], "read me"
    png = draw_menu_image(menu, design, FontChoice(LATIN_FONT))
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (2500, 1686)
        rgb = image.convert("RGB")
        for area, panel in zip(menu["areas"], design["areas"], strict=True):
            b = area["bounds"]
            corner = rgb.getpixel((b["x"] + 30, b["y"] + 30))
            expected = tuple(int(panel["background"][i : i + 2], 16) for i in (1, 3, 5))
            assert corner == expected
            inner = rgb.crop(
                (b["x"] + 30, b["y"] + 30, b["x"] + b["width"] - 30, b["y"] + b["height"] - 30)
            )
            colours = {c for _, c in inner.getcolors(maxcolors=4096) or []}
            assert (255, 255, 255) in colours  # the words are drawn inside the panel


def test_register_against_the_standin_creates_uploads_and_sets_default(
    standin_url: str, control: StandinClient
) -> None:
    first = register_rich_menu(
        access_token=TOKEN, api_base_url=standin_url, data_base_url=standin_url
    )
    second = register_rich_menu(
        access_token=TOKEN, api_base_url=standin_url, data_base_url=standin_url
    )
    state = control.rich_menus()
    assert state["default"] == second.rich_menu_id
    assert second.deleted == (first.rich_menu_id,)
    [menu] = state["richmenus"]
    assert menu["menu"]["name"] == load_menu()["name"]
    assert menu["image"]["contentType"] == "image/png"
    assert (menu["image"]["width"], menu["image"]["height"]) == (2500, 1686)
    uploads = [r for r in control.requests(method="POST") if r["path"].endswith("/content")]
    assert [u["headers"]["content-type"] for u in uploads] == ["image/png", "image/png"]


def test_standin_refuses_a_default_menu_without_image(
    standin_url: str, control: StandinClient
) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(f"{standin_url}/v2/bot/richmenu", json=load_menu(), headers=headers)
    menu_id = created.json()["richMenuId"]
    early = httpx.post(f"{standin_url}/v2/bot/user/all/richmenu/{menu_id}", headers=headers)
    wrong = io.BytesIO()
    Image.new("RGB", (800, 540), "#000000").save(wrong, "PNG")
    upload = httpx.post(
        f"{standin_url}/v2/bot/richmenu/{menu_id}/content",
        content=wrong.getvalue(),
        headers={**headers, "Content-Type": "image/png"},
    )
    assert early.status_code == 400
    assert upload.status_code == 400
    assert "does not match" in upload.json()["message"]
    assert control.rich_menus()["default"] is None


@pytest.fixture
def standin_env(standin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("TSUNAGU_LINE_API_BASE_URL", standin_url)
    monkeypatch.setenv("TSUNAGU_LINE_API_DATA_BASE_URL", standin_url)
    get_settings.cache_clear()
    yield standin_url
    get_settings.cache_clear()


def test_cli_register_uses_the_configured_hosts(standin_env: str, control: StandinClient) -> None:
    result = CliRunner().invoke(cli, ["line", "richmenu", "register"])
    assert result.exit_code == 0, result.output
    assert control.rich_menus()["default"] in result.output
