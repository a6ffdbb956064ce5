"""The full-screen slates viewers see instead of the camera.

- ``hold``: the farmer's phone is reconnecting. It keeps the product card and
  the QR buy code on screen, so viewers can keep ordering through a dropped uplink.
- ``starting``: before the host presses Start show ("即将开播 · Starting soon"):
  viewers never see the raw camera while the farmer is still setting up.
- ``ended``: after End show ("直播已结束 · The show has ended"), with a line
  pointing at the replay once it exists. No card and no QR: the sale of the live
  show is over.

Pure: the same arguments give the same pixels, so tests can compare a decoded
frame with a fresh render. Each kind has its own background colour, so the
three are told apart even in a small, compressed picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
from PIL import Image

from overlays.blend import bgr_blend
from overlays.draw import draw_stack, fit_line, serialized
from overlays.render import Frame, render_overlay
from overlays.spec import OverlaySpec, resolve_layout

SlateKind = Literal["hold", "starting", "ended"]
SLATE_KINDS: tuple[SlateKind, ...] = ("hold", "starting", "ended")

TITLE_ZH = "主播马上回来"
TITLE_EN = "Back in a moment"
#: Chinese title, English title, and the (top, bottom) background colours of each slate.
SLATES: dict[SlateKind, tuple[str, str, tuple[int, int, int], tuple[int, int, int]]] = {
    "hold": (TITLE_ZH, TITLE_EN, (24, 64, 40), (8, 20, 14)),  # deep field green
    "starting": ("即将开播", "Starting soon", (120, 72, 16), (40, 22, 6)),  # warm dawn amber
    "ended": ("直播已结束", "The show has ended", (40, 44, 72), (12, 12, 24)),  # dusk blue
}
STARTING_NOTE = "主播正在准备，请稍候 · The farmer is getting ready"
ENDED_NOTE = "感谢观看！回放即将上线 · Thanks for watching! The replay is coming soon"


def ended_note(replay_url: str | None) -> str:
    """The end slate's last line: where the replay is, or that it is coming."""
    if replay_url is None:
        return ENDED_NOTE
    return f"回放 Replay: {replay_url.split('://', 1)[-1]}"


@serialized
def render_slate(
    spec: OverlaySpec | None,
    width: int,
    height: int,
    now: datetime | None = None,
    *,
    kind: SlateKind = "hold",
    note: str | None = None,
) -> np.ndarray:
    """A BGR (height, width, 3) frame: the slate's bilingual title, an optional note, then ``spec``'s card and QR."""
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"slate size must be even and at least 2x2, not {width}x{height}")
    if kind not in SLATES:
        raise ValueError(f"slate kind must be one of {', '.join(SLATE_KINDS)}, not {kind!r}")
    title_zh, title_en, top_colour, bottom_colour = SLATES[kind]
    frame = Frame(width, height, resolve_layout(spec.layout if spec else "auto", width, height))
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    rgb = (np.array(top_colour, np.float32) * (1 - ramp) + np.array(bottom_colour, np.float32) * ramp)
    canvas = Image.fromarray(np.repeat(rgb, width, axis=1).astype(np.uint8), "RGB").convert("RGBA")
    usable = frame.right - frame.left
    lines = [
        fit_line(title_zh, round(64 * frame.scale), usable, bold=True),
        fit_line(title_en, round(34 * frame.scale), usable, fill=(220, 235, 225, 255)),
    ]
    if note:
        lines.append(fit_line(note, round(24 * frame.scale), usable, fill=(200, 210, 220, 255)))
    # The hold slate leaves the lower part to the card and QR; the others stand alone, higher up the middle.
    top = frame.top + round((40 if frame.layout == "landscape" else 120) * frame.scale)
    if kind != "hold":
        top = max(top, height // 3 - lines[0].height)
    gap = round(8 * frame.scale)
    for line in lines:
        draw_stack(canvas, [line], (width - line.width) // 2, top, 0)
        top += line.height + gap
    bgr = np.ascontiguousarray(np.asarray(canvas.convert("RGB"))[:, :, ::-1])
    for region in render_overlay(spec, width, height, now).regions:
        bgr_blend(region).apply(bgr)
    return bgr


def render_starting_soon(width: int, height: int, layout: str = "auto") -> np.ndarray:
    """What viewers see before the host presses Start show."""
    return render_slate(OverlaySpec(None, None, layout), width, height, kind="starting", note=STARTING_NOTE)


def render_show_ended(width: int, height: int, replay_url: str | None = None, layout: str = "auto") -> np.ndarray:
    """What viewers see after End show: the end, and where the replay is once it exists."""
    return render_slate(OverlaySpec(None, None, layout), width, height, kind="ended", note=ended_note(replay_url))
