"""Pictures the Go live page shows: the staged overlay on a sample frame, the phone's QR.

Pure functions (no Streamlit): the preview uses the very renderer the video
pipeline uses, so what the host checks before Take is what viewers get.
"""

from __future__ import annotations

import functools
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import segno
from PIL import Image

from catalog.products import Product
from overlays import OverlaySpec, Promo, render_overlay, resolve_layout

# Landscape 16:9 at 540p: big enough to read the card, small enough to render in ~10 ms.
PREVIEW_LONG_SIDE = 960
PREVIEW_SHORT_SIDE = 540
SKY = np.array([126, 178, 221], np.float32)
HILLS = np.array([88, 140, 72], np.float32)
SOIL = np.array([70, 92, 48], np.float32)


@functools.lru_cache(maxsize=4)
def sample_frame(width: int, height: int) -> Image.Image:
    """A calm sky-over-fields backdrop standing in for the farmer's camera (drawn once per size)."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    horizon = 0.45 + 0.06 * np.sin(x * 7.0) + 0.03 * np.sin(x * 19.0 + 1.3)
    field = np.clip((y - horizon) / (1.0 - horizon), 0.0, 1.0)
    is_sky = (y < horizon)[..., None]
    sky = SKY + (y[..., None] * 60.0)
    ground = HILLS * (1.0 - field[..., None]) + SOIL * field[..., None]
    rows = 0.9 + 0.1 * np.sin(field * 80.0)[..., None]  # furrows
    rgb = np.where(is_sky, sky, ground * rows)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def preview_size(layout: str) -> tuple[int, int]:
    """Portrait for a portrait overlay, else the landscape frame a laptop shows."""
    if resolve_layout(layout, PREVIEW_LONG_SIDE, PREVIEW_SHORT_SIDE) == "portrait":
        return PREVIEW_SHORT_SIDE, PREVIEW_LONG_SIDE
    return PREVIEW_LONG_SIDE, PREVIEW_SHORT_SIDE


def preview_image(
    product: Product | None,
    *,
    layout: str = "auto",
    promo: dict[str, Any] | None = None,
    link_url: str | None = None,
    image_root: Path | None = None,
    now: datetime | None = None,
) -> Image.Image:
    """The frame viewers would see with this product, layout and promo on air (at ``now``)."""
    width, height = preview_size(layout)
    spec = OverlaySpec(
        product=product,
        link_url=link_url,
        layout=layout,
        promo=Promo.from_dict(promo) if promo else None,
        image_root=image_root,
    )
    frame = sample_frame(width, height).convert("RGBA")  # a copy: the cached frame stays clean
    overlay = Image.fromarray(render_overlay(spec, width, height, now).to_rgba(), "RGBA")
    return Image.alpha_composite(frame, overlay).convert("RGB")


def publish_qr_png(url: str, *, scale: int = 8) -> bytes:
    """The phone's publish page as a QR code PNG (scanned off the laptop screen)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
