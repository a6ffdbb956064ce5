"""Promo banners: a coloured pill above the card ("限时秒杀 Flash sale 04:59")."""

from __future__ import annotations

import re
from datetime import datetime

from PIL import Image

from catalog.money import DEFAULT_CURRENCY
from overlays.draw import RGBA, draw_stack, fit_line, pad_even, rounded_panel
from overlays.headline import Headline
from overlays.promo import Promo

BANNER_COLOURS: dict[str, RGBA] = {
    "countdown": (214, 40, 40, 235),
    "coupon": (230, 140, 0, 235),
    "sold_out": (90, 90, 96, 235),
}
HEADLINE_COLOURS: dict[str, RGBA] = {
    "draw": (124, 58, 237, 235),
    "pinned": (21, 128, 61, 235),
}


def render_banner(
    promo: Promo, now: datetime, scale: float, max_width: int, currency: str = DEFAULT_CURRENCY
) -> Image.Image:
    """The banner as shown at ``now``; its size does not change while a countdown ticks."""
    return _pill(promo.banner_text(now, currency), BANNER_COLOURS[promo.kind], scale, max_width)


def render_headline(headline: Headline, now: datetime, scale: float, max_width: int) -> Image.Image:
    """The headline pill across the top, the same steady width as the banner while it ticks."""
    return _pill(headline.banner_text(now), HEADLINE_COLOURS[headline.kind], scale, max_width)


def _pill(text: str, colour: RGBA, scale: float, max_width: int) -> Image.Image:
    pad_x, pad_y = round(16 * scale), round(6 * scale)
    line = fit_line(text, round(30 * scale), max_width - 2 * pad_x, bold=True)
    # Measure with every digit as "8" so the pill keeps its width from 10:00 to 09:59.
    steady = fit_line(re.sub(r"\d", "8", line.text), round(line.font.size), max_width - 2 * pad_x, bold=True)
    width = min(max(line.width, steady.width) + 2 * pad_x, max_width)
    height = line.height + 2 * pad_y
    banner = rounded_panel(width, height, height // 2, colour)
    draw_stack(banner, [line], pad_x, pad_y, 0)
    return pad_even(banner)
