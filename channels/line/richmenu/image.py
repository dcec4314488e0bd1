"""Draw the rich menu image from ``richmenu.json`` (areas) and ``image.yml`` (words, colours).

The committed ``richmenu.png`` was drawn with this module; operators redraw it after changing
labels (``tsunagu line richmenu image``). Japanese needs a Japanese font, which most servers
lack, so the font is looked up in the usual places or given explicitly, and a font without the
glyphs is refused instead of silently drawing empty boxes (豆腐) into the menu.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# Bold Japanese fonts on common systems, best first (Debian: apt-get install fonts-noto-cjk).
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
    Path("/System/Library/Fonts/ヒラギノ角ゴシック W6.ttc"),
    Path("C:/Windows/Fonts/meiryob.ttc"),
)
_NOT_A_CHARACTER = "\U0010fffd"  # private use: every font draws its "missing glyph" box


class FontError(Exception):
    """No usable Japanese font: the image would show empty boxes instead of words."""


@dataclass(frozen=True)
class FontChoice:
    """A font file and, for collections (.ttc), the face to use."""

    path: Path
    index: int = 0

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        """The face at ``size`` pixels."""
        return ImageFont.truetype(str(self.path), size, index=self.index)


def choose_font(path: Path | None = None) -> FontChoice:
    """``path`` or the first installed candidate; the Japanese face of a collection."""
    candidates = [path] if path is not None else [p for p in FONT_CANDIDATES if p.exists()]
    if not candidates:
        raise FontError(
            "no Japanese font found; install one (Debian: apt-get install fonts-noto-cjk) "
            "or pass --font"
        )
    chosen = candidates[0]
    if not chosen.exists():
        raise FontError(f"font file not found: {chosen}")
    return FontChoice(chosen, _japanese_face(chosen))


def _japanese_face(path: Path) -> int:
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(16):
        try:
            family, _style = ImageFont.truetype(str(path), 12, index=index).getname()
        except OSError:
            break
        if family and " JP" in family:
            return index
    return 0


def _bitmap(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    size = int(font.size) * 2
    canvas = Image.new("L", (size, size))
    ImageDraw.Draw(canvas).text((0, 0), char, font=font, fill=255)
    return canvas.tobytes()


def missing_glyphs(font: ImageFont.FreeTypeFont, texts: Iterable[str]) -> list[str]:
    """Characters of ``texts`` the font can only draw as its missing-glyph box."""
    box = _bitmap(font, _NOT_A_CHARACTER)
    chars = {c for text in texts for c in text if not c.isspace()}
    return sorted(c for c in chars if _bitmap(font, c) == box)


def _fit(choice: FontChoice, lines: list[str], width: int, start: int) -> ImageFont.FreeTypeFont:
    size = start
    while size > 20:
        font = choice.load(size)
        if max(font.getlength(line) for line in lines) <= width:
            return font
        size -= 4
    return choice.load(size)


def draw_menu_image(menu: dict[str, Any], design: dict[str, Any], font: FontChoice) -> bytes:
    """The PNG for ``menu``: one coloured panel per area, reading above a large title."""
    areas, panels = menu["areas"], design["areas"]
    if len(areas) != len(panels):
        raise ValueError(f"image.yml has {len(panels)} areas, richmenu.json has {len(areas)}")
    texts = [line for p in panels for line in [*p["title"], p.get("reading", "")]]
    missing = missing_glyphs(font.load(48), texts)
    if missing:
        raise FontError(f"{font.path} cannot draw {''.join(missing)!r}; use a Japanese font")
    size = (menu["size"]["width"], menu["size"]["height"])
    image = Image.new("RGB", size, design["border"]["color"])
    draw = ImageDraw.Draw(image)
    border, padding = int(design["border"]["width"]), int(design["padding"])
    reading_font = font.load(int(design["reading_size"]))
    for area, panel in zip(areas, panels, strict=True):
        b = area["bounds"]
        half = border // 2
        box = (
            b["x"] + half,
            b["y"] + half,
            b["x"] + b["width"] - half,
            b["y"] + b["height"] - half,
        )
        draw.rectangle(box, fill=panel["background"])
        lines: list[str] = list(panel["title"])
        title_font = _fit(font, lines, b["width"] - 2 * padding, int(design["title_max_size"]))
        rows: list[tuple[str, ImageFont.FreeTypeFont]] = []
        if panel.get("reading"):
            rows.append((panel["reading"], reading_font))
        rows.extend((line, title_font) for line in lines)
        heights = [int(f.size * 1.25) for _, f in rows]
        y = b["y"] + (b["height"] - sum(heights)) / 2
        center_x = b["x"] + b["width"] / 2
        for (text, row_font), height in zip(rows, heights, strict=True):
            draw.text(
                (center_x, y + height / 2),
                text,
                font=row_font,
                fill=panel["foreground"],
                anchor="mm",
            )
            y += height
    out = io.BytesIO()
    image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(out, "PNG", optimize=True)
    return out.getvalue()
