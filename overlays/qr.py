"""The QR buy code tile: "扫码购买 Scan to buy", the code, its short URL under it.

The tile is fully opaque white with a quiet zone of 4 modules and whole-pixel
modules (nearest-neighbour), so it survives the YUV round trip and H.264.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import segno
from PIL import Image

from overlays.draw import RGBA, WHITE, Line, draw_stack, even_up, fit_line
from overlays.text import short_url

QUIET_ZONE = 4  # modules; the QR standard's minimum
INK: RGBA = (17, 17, 17, 255)
ACCENT: RGBA = (200, 30, 45, 255)
LABEL = "扫码购买 Scan to buy"
MASKS = range(8)  # the QR standard's eight data masks
#: What the check puts around the code: a dark, flat camera picture.
CHECK_BACKGROUND = 40


@dataclass(frozen=True)
class QrTile:
    """The tile, where its code (quiet zone included) sits inside it, and how it was drawn."""

    image: Image.Image
    code_x: int
    code_y: int
    module_px: int
    mask: int


@functools.lru_cache(maxsize=128)
def _code(link: str, mask: int | None) -> segno.QRCode:
    return segno.make(link, error="m", micro=False, mask=mask)


def qr_matrix(link: str, mask: int | None = None) -> np.ndarray:
    """Dark modules as True, quiet zone included; error level M (boosted when it fits).

    ``mask`` None is segno's own pick (the standard's penalty rules).
    """
    matrix = np.array([list(row) for row in _code(link, mask).matrix], dtype=bool)
    return np.pad(matrix, QUIET_ZONE, constant_values=False)


def qr_modules(link: str) -> int:
    """Modules across, quiet zone included: lets the layout pick a module size first.

    The mask never changes it: all eight masks share the version.
    """
    return int(qr_matrix(link).shape[0])


def code_pixels(link: str, module_px: int, mask: int | None = None) -> np.ndarray:
    """The code as a grey image, black on white, ``module_px`` whole pixels a module."""
    module_px = max(int(module_px), 1)
    block = np.ones((module_px, module_px), dtype=bool)
    return np.where(np.kron(qr_matrix(link, mask), block), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=256)
def readable_mask(link: str, module_px: int, frame_size: tuple[int, int], at: tuple[int, int]) -> int:
    """The mask to draw: segno's pick, unless OpenCV's standard detector misses it where it sits.

    ``cv2.QRCodeDetector`` (what the clip covers, the tests and many scanner
    apps build on) misses a few percent of codes outright, depending on the
    module pattern and on where the code sits in the frame (it resamples the
    frame to a 512-px short side first). Another mask draws the same link
    with another pattern, so the first mask it reads in place is drawn; if
    none reads, segno's pick is. One check costs 15 ms at 480p, 65 ms at 720p,
    once per link and frame layout.
    """
    width, height = frame_size
    x, y = at
    canvas = np.full((height, width), CHECK_BACKGROUND, dtype=np.uint8)
    first = int(_code(link, None).mask)
    detector = cv2.QRCodeDetector()
    for mask in (first, *(m for m in MASKS if m != first)):
        code = code_pixels(link, module_px, mask)[: max(height - y, 0), : max(width - x, 0)]
        canvas[y : y + code.shape[0], x : x + code.shape[1]] = code
        if detector.detectAndDecode(canvas)[0] == link:
            return mask
    return first


def render_qr_tile(link: str, module_px: int, scale: float, mask: int | None = None) -> QrTile:
    """Opaque white tile, even width and height; the QR encodes exactly ``link``."""
    module_px = max(int(module_px), 1)
    code = code_pixels(link, module_px, mask)
    side = code.shape[0]
    width = even_up(side)
    text_max = width - 2 * module_px
    label = fit_line(LABEL, round(22 * scale), text_max, fill=ACCENT, bold=True)
    url = fit_line(short_url(link), round(18 * scale), text_max, fill=INK)
    pad = max(round(6 * scale), 2)
    # The label and URL sit outside the QR's own 4-module quiet zone.
    height = even_up(pad + label.height + side + url.height + pad)
    tile = Image.new("RGBA", (width, height), WHITE)
    code_x, code_y = (width - side) // 2, pad + label.height
    tile.paste(Image.fromarray(code, "L").convert("RGBA"), (code_x, code_y))
    _centered(tile, label, pad)
    _centered(tile, url, pad + label.height + side)
    return QrTile(tile, code_x, code_y, module_px, int(_code(link, mask).mask))


def _centered(tile: Image.Image, line: Line, y: int) -> None:
    draw_stack(tile, [line], (tile.width - line.width) // 2, y, 0)
