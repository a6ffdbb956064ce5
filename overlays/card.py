"""The product card: thumbnail, zh-CN and English name, price, stock, origin.

Rendered once per change into an RGBA image; the compositor only blends it.
"""

from __future__ import annotations

import functools
import logging
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from catalog.money import format_money
from catalog.products import Product
from overlays.draw import RGBA, Line, draw_stack, fit_line, pad_even, rounded_panel
from overlays.fonts import cjk_font, printable
from overlays.text import origin_line, stock_line

log = logging.getLogger(__name__)

PANEL: RGBA = (18, 22, 26, 205)  # dark, ~80 % opaque: legible over any video
PRICE: RGBA = (255, 208, 64, 255)
MUTED: RGBA = (214, 220, 226, 255)
SOLD_OUT: RGBA = (255, 92, 92, 255)
LOW_STOCK: RGBA = (255, 170, 60, 255)
IN_STOCK: RGBA = (150, 230, 150, 255)
LOW_STOCK_AT = 10
PLACEHOLDER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 126, 34), (39, 174, 96), (192, 57, 43), (142, 68, 173), (41, 128, 185), (211, 84, 0),
)


def render_card(
    product: Product, scale: float, max_width: int, image_root: Path | None = None, *, sold_out: bool = False
) -> Image.Image:
    """The card at ``scale`` (1.0 for a 720-px short side), no wider than ``max_width``.

    ``sold_out``: the sale is closed (the host's sold-out banner) even if stock is left, so the
    card says 已售罄 like the banner instead of contradicting it.
    """
    pad, gap = round(16 * scale), round(10 * scale)
    thumb = round(136 * scale)
    text_max = max(max_width - 2 * pad - thumb - gap - 2 * gap, 40)
    titles, details = _title_lines(product, scale, text_max), _detail_lines(product, scale, text_max, sold_out)
    price = _price_lines(product, scale, text_max)
    line_gap = round(5 * scale)
    lines = titles + details
    block_h = sum(line.height for line in lines) + max(p.height for p in price) + line_gap * len(lines)
    text_w = max([line.width for line in lines] + [sum(p.width for p in price)])
    width = min(2 * pad + thumb + 2 * gap + text_w, max_width)
    height = max(thumb, block_h) + 2 * pad
    card = rounded_panel(width, height, round(18 * scale), PANEL)
    card.alpha_composite(thumbnail(product, thumb, image_root), (pad, (height - thumb) // 2))
    x = pad + thumb + 2 * gap
    y = draw_stack(card, titles, x, (height - block_h) // 2, line_gap) + line_gap
    y = _draw_price(card, price, x, y) + line_gap
    draw_stack(card, details, x, y, line_gap)
    return pad_even(card)


def _title_lines(product: Product, scale: float, max_width: int) -> list[Line]:
    """The zh-CN name large, the English name under it (or the English name alone)."""
    lines = [fit_line(product.name_zh or product.name, round(40 * scale), max_width, bold=True)]
    if product.name_zh and product.name:
        lines.append(fit_line(product.name, round(23 * scale), max_width, fill=MUTED))
    return lines


def _detail_lines(product: Product, scale: float, max_width: int, sold_out: bool) -> list[Line]:
    """Stock ("已售罄 Sold out" in red at zero or when the sale is closed) and origin, under the price."""
    gone = sold_out or product.stock <= 0
    colour = SOLD_OUT if gone else LOW_STOCK if product.stock < LOW_STOCK_AT else IN_STOCK
    lines = [fit_line(stock_line(product, gone), round(22 * scale), max_width, fill=colour, bold=gone)]
    origin = origin_line(product)
    if origin:
        lines.append(fit_line(origin, round(21 * scale), max_width, fill=MUTED))
    return lines


def _price_lines(product: Product, scale: float, max_width: int) -> list[Line]:
    amount = fit_line(format_money(product.price, product.currency), round(36 * scale), max_width,
                      fill=PRICE, bold=True)
    if not product.unit:
        return [amount]
    unit = fit_line(f" / {product.unit}", round(23 * scale), max(max_width - amount.width, 20), fill=MUTED)
    return [amount, unit]


def _draw_price(card: Image.Image, parts: list[Line], x: int, y: int) -> int:
    draw = ImageDraw.Draw(card)
    baseline = y + max(p.font.getmetrics()[0] for p in parts)
    for part in parts:
        draw.text((x, baseline), part.text, font=part.font, fill=part.fill, anchor="ls",
                  stroke_width=part.stroke, stroke_fill=part.fill)
        x += part.width
    return y + max(p.height for p in parts)


def thumbnail(product: Product, size: int, image_root: Path | None) -> Image.Image:
    """The product photo cropped square with rounded corners, or a neat placeholder."""
    image = None
    if image_root is not None and product.image:
        path = (Path(image_root) / product.image)
        if path.is_file():
            image = _load_photo(str(path), path.stat().st_mtime_ns, size)
        else:
            log.warning("product %s image %s not found; showing a placeholder", product.sku, path)
    if image is None:
        image = _placeholder(product, size)
    mask = rounded_panel(size, size, max(size // 10, 2), (255, 255, 255, 255)).getchannel("A")
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(image, (0, 0), mask)
    return out


@functools.lru_cache(maxsize=32)
def _load_photo(path: str, _mtime_ns: int, size: int) -> Image.Image | None:
    """Cached by path, modification time and size: stock refreshes re-render the card often.

    ``_mtime_ns`` is only part of the cache key: a replaced picture is read again.
    """
    try:
        with Image.open(path) as source:
            upright = ImageOps.exif_transpose(source).convert("RGB")
            return ImageOps.fit(upright, (size, size), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("cannot read product image %s (%s); showing a placeholder", path, exc)
        return None


def _placeholder(product: Product, size: int) -> Image.Image:
    """A coloured tile with the product's first character: stable per SKU."""
    colour = PLACEHOLDER_COLOURS[zlib.crc32(product.sku.encode()) % len(PLACEHOLDER_COLOURS)]
    tile = Image.new("RGB", (size, size), colour)
    mark = next((printable(t)[:1] for t in (product.name_zh, product.name, product.sku) if printable(t or "")), "?")
    draw = ImageDraw.Draw(tile)
    draw.text((size / 2, size / 2), mark, font=cjk_font(round(size * 0.55)), fill=(255, 255, 255), anchor="mm")
    return tile
