"""Small Pillow helpers shared by the card, QR tile, banner and slate renderers."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from overlays.fonts import cjk_font, printable

P = ParamSpec("P")
T = TypeVar("T")
RGBA = tuple[int, int, int, int]
WHITE: RGBA = (255, 255, 255, 255)
ELLIPSIS = "…"


# FreeType faces are not safe to use from two threads at once, and the cached
# fonts are shared by the background renderer and the media thread (countdown
# ticks). Renders are rare and short, so they simply take turns.
_RENDER_LOCK = threading.RLock()


def serialized(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a renderer under the one render lock."""

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> T:
        with _RENDER_LOCK:
            return fn(*args, **kwargs)

    return locked


@dataclass(frozen=True)
class Line:
    """One line of text, fitted to a width: the text as shown and the font it uses."""

    text: str
    font: ImageFont.FreeTypeFont
    fill: RGBA = WHITE
    stroke: int = 0

    @property
    def width(self) -> int:
        return text_width(self.text, self.font, self.stroke)

    @property
    def height(self) -> int:
        ascent, descent = self.font.getmetrics()
        return ascent + descent

    def draw(self, draw: ImageDraw.ImageDraw, x: int, y: int) -> None:
        """Draw with its top-left (ascender line) at ``x, y``."""
        ascent, _ = self.font.getmetrics()
        draw.text(
            (x, y + ascent), self.text, font=self.font, fill=self.fill, anchor="ls",
            stroke_width=self.stroke, stroke_fill=self.fill,
        )


def text_width(text: str, font: ImageFont.FreeTypeFont, stroke: int = 0) -> int:
    return int(np.ceil(font.getlength(text))) + 2 * stroke


def fit_line(text: str, size: int, max_width: int, *, fill: RGBA = WHITE, bold: bool = False) -> Line:
    """Shrink the font down to 75 % to fit, then cut with "…": long names never overflow.

    Characters the font lacks (emoji, mostly) are left out rather than drawn as boxes.
    """
    text = printable(text)
    min_size = max(int(size * 0.75), 6)
    for px in range(int(size), min_size - 1, -1):
        line = _line(text, px, fill, bold)
        if line.width <= max_width:
            return line
    line = _line(text, min_size, fill, bold)
    cut = text
    while cut and line.width > max_width:
        cut = cut[:-1]
        line = _line(cut.rstrip() + ELLIPSIS, min_size, fill, bold)
    return line


def _line(text: str, px: int, fill: RGBA, bold: bool) -> Line:
    # One-weight fonts (WenQuanYi Micro Hei) get their bold from a thin stroke.
    return Line(text, cjk_font(px), fill, max(px // 48, 1) if bold and px >= 28 else 0)


def even(n: float) -> int:
    """Round down to even: I420 chroma is subsampled 2x2, regions must align to it."""
    return int(n) // 2 * 2


def even_up(n: float) -> int:
    return (int(np.ceil(n)) + 1) // 2 * 2


def pad_even(image: Image.Image, fill: RGBA = (0, 0, 0, 0)) -> Image.Image:
    """Grow an RGBA image to even width and height (right/bottom edge)."""
    w, h = image.size
    if w % 2 == 0 and h % 2 == 0:
        return image
    out = Image.new("RGBA", (even_up(w), even_up(h)), fill)
    out.paste(image, (0, 0))
    return out


def rounded_panel(width: int, height: int, radius: int, fill: RGBA) -> Image.Image:
    """A filled rounded rectangle; its mask is drawn 2x and box-filtered so corners are smooth."""
    mask = Image.new("L", (width * 2, height * 2), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width * 2 - 1, height * 2 - 1), radius=radius * 2, fill=fill[3])
    panel = Image.new("RGBA", (width, height), fill)
    panel.putalpha(mask.resize((width, height), Image.Resampling.BOX))
    return panel


def draw_stack(image: Image.Image, lines: list[Line], x: int, y: int, gap: int) -> int:
    """Draw lines top to bottom from ``x, y``; returns the y below the last one."""
    draw = ImageDraw.Draw(image)
    for line in lines:
        line.draw(draw, x, y)
        y += line.height + gap
    return y - gap if lines else y
