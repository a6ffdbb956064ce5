"""Promo banners: a coloured pill above the card ("限时秒杀 Flash sale 04:59")."""

from __future__ import annotations

import re
from datetime import datetime

from PIL import Image

from overlays.draw import RGBA, draw_stack, fit_line, pad_even, rounded_panel
from overlays.promo import Promo

BANNER_COLOURS: dict[str, RGBA] = {
    "countdown": (214, 40, 40, 235),
    "coupon": (230, 140, 0, 235),
    "sold_out": (90, 90, 96, 235),
}


def render_banner(promo: Promo, now: datetime, scale: float, max_width: int) -> Image.Image:
    """The banner as shown at ``now``; its size does not change while a countdown ticks."""
    pad_x, pad_y = round(16 * scale), round(6 * scale)
    text = promo.banner_text(now)
    line = fit_line(text, round(30 * scale), max_width - 2 * pad_x, bold=True)
    # Measure with every digit as "8" so the pill keeps its width from 10:00 to 09:59.
    steady = fit_line(re.sub(r"\d", "8", line.text), round(line.font.size), max_width - 2 * pad_x, bold=True)
    width = min(max(line.width, steady.width) + 2 * pad_x, max_width)
    height = line.height + 2 * pad_y
    banner = rounded_panel(width, height, height // 2, BANNER_COLOURS[promo.kind])
    draw_stack(banner, [line], pad_x, pad_y, 0)
    return pad_even(banner)
