"""The QR buy code tile: "扫码购买 Scan to buy", the code, its short URL under it.

The tile is fully opaque white with a quiet zone of 4 modules and whole-pixel
modules (nearest-neighbour), so it survives the YUV round trip and H.264.
"""

from __future__ import annotations

import functools

import numpy as np
import segno
from PIL import Image

from overlays.draw import RGBA, WHITE, Line, draw_stack, even_up, fit_line
from overlays.text import short_url

QUIET_ZONE = 4  # modules; the QR standard's minimum
INK: RGBA = (17, 17, 17, 255)
ACCENT: RGBA = (200, 30, 45, 255)
LABEL = "扫码购买 Scan to buy"


@functools.lru_cache(maxsize=64)
def qr_matrix(link: str) -> np.ndarray:
    """Dark modules as True, quiet zone included; error level M (boosted when it fits)."""
    code = segno.make(link, error="m", micro=False)
    matrix = np.array([list(row) for row in code.matrix], dtype=bool)
    return np.pad(matrix, QUIET_ZONE, constant_values=False)


def qr_modules(link: str) -> int:
    """Modules across, quiet zone included: lets the layout pick a module size first."""
    return int(qr_matrix(link).shape[0])


def render_qr_tile(link: str, module_px: int, scale: float) -> Image.Image:
    """Opaque white tile, even width and height; the QR encodes exactly ``link``."""
    matrix = qr_matrix(link)
    module_px = max(int(module_px), 1)
    code = np.where(np.kron(matrix, np.ones((module_px, module_px), dtype=bool)), 0, 255).astype(np.uint8)
    side = code.shape[0]
    width = even_up(side)
    text_max = width - 2 * module_px
    label = fit_line(LABEL, round(22 * scale), text_max, fill=ACCENT, bold=True)
    url = fit_line(short_url(link), round(18 * scale), text_max, fill=INK)
    pad = max(round(6 * scale), 2)
    # The label and URL sit outside the QR's own 4-module quiet zone.
    height = even_up(pad + label.height + side + url.height + pad)
    tile = Image.new("RGBA", (width, height), WHITE)
    tile.paste(Image.fromarray(code, "L").convert("RGBA"), ((width - side) // 2, pad + label.height))
    _centered(tile, label, pad)
    _centered(tile, url, pad + label.height + side)
    return tile


def _centered(tile: Image.Image, line: Line, y: int) -> None:
    draw_stack(tile, [line], (tile.width - line.width) // 2, y, 0)
