"""The hold frame viewers see while the farmer's phone reconnects.

It keeps the product card and the QR buy code on screen, so viewers can keep
ordering through a dropped uplink.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from PIL import Image

from overlays.blend import bgr_blend
from overlays.draw import draw_stack, fit_line, serialized
from overlays.render import Frame, render_overlay
from overlays.spec import OverlaySpec, resolve_layout

TITLE_ZH = "主播马上回来"
TITLE_EN = "Back in a moment"
TOP = (24, 64, 40)  # deep field green, BGR-agnostic enough to read either way
BOTTOM = (8, 20, 14)


@serialized
def render_slate(spec: OverlaySpec | None, width: int, height: int, now: datetime | None = None) -> np.ndarray:
    """A BGR (height, width, 3) frame: "主播马上回来 / Back in a moment" with the card and QR."""
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"slate size must be even and at least 2x2, not {width}x{height}")
    frame = Frame(width, height, resolve_layout(spec.layout if spec else "auto", width, height))
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    rgb = (np.array(TOP, np.float32) * (1 - ramp) + np.array(BOTTOM, np.float32) * ramp)
    canvas = Image.fromarray(np.repeat(rgb, width, axis=1).astype(np.uint8), "RGB").convert("RGBA")
    usable = frame.right - frame.left
    zh = fit_line(TITLE_ZH, round(64 * frame.scale), usable, bold=True)
    en = fit_line(TITLE_EN, round(34 * frame.scale), usable, fill=(220, 235, 225, 255))
    top = frame.top + round((40 if frame.layout == "landscape" else 120) * frame.scale)
    draw_stack(canvas, [zh], (width - zh.width) // 2, top, 0)
    draw_stack(canvas, [en], (width - en.width) // 2, top + zh.height + round(8 * frame.scale), 0)
    bgr = np.ascontiguousarray(np.asarray(canvas.convert("RGB"))[:, :, ::-1])
    for region in render_overlay(spec, width, height, now).regions:
        bgr_blend(region).apply(bgr)
    return bgr
