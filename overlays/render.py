"""Lay out the card, QR tile and banner for one frame size: RGBA regions, rendered once.

Landscape 16:9: card bottom-left, QR bottom-right, banner above the card.
Portrait 9:16: banner, card and QR stacked and centred in the lower-middle of
the frame, above the bottom ~15 % that phone apps cover with their own UI.
Everything stays inside ~5 % safe margins.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from PIL import Image

from catalog.money import DEFAULT_CURRENCY
from catalog.timestamps import utc_now
from overlays.banner import render_banner, render_headline
from overlays.card import render_card
from overlays.draw import even, even_up, serialized
from overlays.qr import QrTile, qr_modules, readable_mask, render_qr_tile
from overlays.spec import Orientation, OverlaySpec, resolve_layout

MARGIN = 0.05
BOTTOM_UI_BAND = 0.15  # portrait phone apps draw comments, buttons and likes here
QR_SHARE = 0.28  # of the short side
MIN_MODULE_PX = 4  # at 480p: crisp after chroma subsampling and H.264


@dataclass(frozen=True)
class OverlayRegion:
    """One RGBA image placed at even ``x, y`` (``rgba`` is (h, w, 4) uint8, even h and w)."""

    name: str
    x: int
    y: int
    rgba: np.ndarray

    @property
    def width(self) -> int:
        return int(self.rgba.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgba.shape[0])

    @functools.cached_property
    def opaque(self) -> bool:
        """Fully opaque regions (the QR tile) are copied, not blended."""
        return bool((self.rgba[:, :, 3] == 255).all())


@dataclass(frozen=True)
class RenderedOverlay:
    """The overlay for one frame size; ``changes_at`` is when a countdown next ticks."""

    width: int
    height: int
    layout: Orientation
    regions: tuple[OverlayRegion, ...] = ()
    changes_at: datetime | None = None
    banner_max_width: int = 0

    def region(self, name: str) -> OverlayRegion | None:
        return next((r for r in self.regions if r.name == name), None)

    def to_rgba(self) -> np.ndarray:
        """The whole frame as one RGBA canvas (transparent elsewhere): for previews and baselines."""
        canvas = np.zeros((self.height, self.width, 4), np.uint8)
        for r in self.regions:
            canvas[r.y : r.y + r.height, r.x : r.x + r.width] = r.rgba
        return canvas


@dataclass(frozen=True)
class Frame:
    """A frame size and orientation with its scale and safe area."""

    width: int
    height: int
    layout: Orientation

    @property
    def scale(self) -> float:
        """1.0 at a 720-px short side (1280x720, 720x1280), 0.67 at 480p, 1.5 at 1080p."""
        return min(self.width, self.height) / 720

    @property
    def left(self) -> int:
        return even_up(self.width * MARGIN)

    @property
    def right(self) -> int:
        return even(self.width * (1 - MARGIN))

    @property
    def top(self) -> int:
        return even_up(self.height * MARGIN)

    @property
    def bottom(self) -> int:
        band = BOTTOM_UI_BAND if self.layout == "portrait" else MARGIN
        return even(self.height * (1 - band))

    @property
    def gap(self) -> int:
        return max(even(12 * self.scale), 2)


@serialized
def render_overlay(spec: OverlaySpec | None, width: int, height: int, now: datetime | None = None) -> RenderedOverlay:
    """Render the card, QR and banner for a ``width`` x ``height`` frame. Pure."""
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"frame size must be even and at least 2x2, not {width}x{height}")
    layout = resolve_layout(spec.layout if spec else "auto", width, height)
    frame = Frame(width, height, layout)
    if spec is None:
        return RenderedOverlay(width, height, layout)
    now = now or utc_now()
    qr = _qr_tile(spec.link_url, frame) if spec.link_url else None
    column = frame.right - frame.left
    if layout == "landscape" and qr is not None:
        column -= qr.image.width + frame.gap * 2
    card = None
    if spec.product is not None:
        card = render_card(spec.product, frame.scale, column, spec.image_root, sold_out=spec.sold_out)
    banner = spec.banner
    banner_img = render_banner(banner, now, frame.scale, column, _currency(spec)) if banner else None
    regions = _place(frame, qr.image if qr else None, card, banner_img)
    if qr is not None and spec.link_url:
        regions = tuple(_readable(r, spec.link_url, qr, frame) if r.name == "qr" else r for r in regions)
    if spec.headline is not None:
        headline = _headline_region(spec, frame, now)
        regions = (*regions, headline) if headline is not None else regions
    return RenderedOverlay(
        width, height, layout, regions,
        changes_at=_next_change(spec, now),
        banner_max_width=column,
    )


def _currency(spec: OverlaySpec) -> str:
    """A flash price on the banner is in the product's currency."""
    return spec.product.currency if spec.product is not None else DEFAULT_CURRENCY


def _next_change(spec: OverlaySpec, now: datetime) -> datetime | None:
    """The earliest moment a countdown (the promo's or the headline's) shows another second."""
    moments = [
        ticking.next_change(now) for ticking in (spec.banner, spec.headline) if ticking is not None
    ]
    return min((t for t in moments if t is not None), default=None)


def _headline_region(spec: OverlaySpec, frame: Frame, now: datetime) -> OverlayRegion | None:
    """Centred at the top, inside the safe margins, whatever the layout."""
    assert spec.headline is not None
    image = np.asarray(render_headline(spec.headline, now, frame.scale, frame.right - frame.left))
    return _clip("headline", image, even(frame.width / 2 - image.shape[1] / 2), frame.top, frame)


#: The regions a countdown re-renders every second; the card and QR never change with the clock.
TICKING = ("promo", "headline")


@serialized
def refresh_overlay(rendered: RenderedOverlay, spec: OverlaySpec | None, now: datetime) -> RenderedOverlay:
    """Re-render only the ticking banners, in place; the card and QR are reused as they are."""
    if spec is None or rendered.changes_at is None or now < rendered.changes_at:
        return rendered
    frame = Frame(rendered.width, rendered.height, rendered.layout)
    fresh: dict[str, OverlayRegion | None] = {}
    old = rendered.region("promo")
    if old is not None and spec.banner is not None:
        image = np.asarray(render_banner(spec.banner, now, frame.scale, rendered.banner_max_width, _currency(spec)))
        x = old.x if rendered.layout == "landscape" else even(old.x + (old.width - image.shape[1]) / 2)
        fresh["promo"] = _clip("promo", image, x, old.y + old.height - image.shape[0], frame)
    if rendered.region("headline") is not None and spec.headline is not None:
        fresh["headline"] = _headline_region(spec, frame, now)
    # A banner that fell outside the frame is dropped.
    regions = tuple(
        r for r in (fresh.get(r.name, r) if r.name in fresh else r for r in rendered.regions) if r is not None
    )
    return replace(rendered, regions=regions, changes_at=_next_change(spec, now))


def module_px(link: str, frame: Frame) -> int:
    """Whole pixels per QR module: ~28 % of the short side, never under 4 px if it fits."""
    modules = qr_modules(link)
    fits = min(frame.right - frame.left, frame.bottom - frame.top) * 0.8 // modules
    wanted = max(MIN_MODULE_PX, math.floor(min(frame.width, frame.height) * QR_SHARE / modules))
    return int(max(min(wanted, fits), 1))


def _qr_tile(link: str, frame: Frame) -> QrTile:
    return render_qr_tile(link, module_px(link, frame), frame.scale)


def _readable(region: OverlayRegion, link: str, tile: QrTile, frame: Frame) -> OverlayRegion:
    """The placed tile, redrawn with another mask if OpenCV's detector misses it there."""
    at = (region.x + tile.code_x, region.y + tile.code_y)
    mask = readable_mask(link, tile.module_px, (frame.width, frame.height), at)
    if mask == tile.mask:
        return region
    redrawn = render_qr_tile(link, tile.module_px, frame.scale, mask)
    return _clip(region.name, np.asarray(redrawn.image), region.x, region.y, frame) or region


def _place(
    frame: Frame, qr: Image.Image | None, card: Image.Image | None, banner: Image.Image | None
) -> tuple[OverlayRegion, ...]:
    placed: list[tuple[str, Image.Image, int, int]] = []
    bottom = frame.bottom
    if frame.layout == "landscape":
        if qr is not None:
            placed.append(("qr", qr, frame.right - qr.width, bottom - qr.height))
        if card is not None:
            placed.append(("card", card, frame.left, bottom - card.height))
            bottom -= card.height + frame.gap
        if banner is not None:
            placed.append(("promo", banner, frame.left, bottom - banner.height))
    else:
        centre = frame.width / 2
        for name, image in (("qr", qr), ("card", card), ("promo", banner)):
            if image is not None:
                placed.append((name, image, even(centre - image.width / 2), bottom - image.height))
                bottom -= image.height + frame.gap
    regions = (_clip(name, np.asarray(img), x, y, frame) for name, img, x, y in placed)
    return tuple(r for r in regions if r is not None)


def _clip(name: str, rgba: np.ndarray, x: int, y: int, frame: Frame) -> OverlayRegion | None:
    """Keep a region inside the frame (tiny frames): crop what does not fit, even-aligned."""
    x, y = max(even(x), 0), max(even(y), 0)
    w = even(min(rgba.shape[1], frame.width - x))
    h = even(min(rgba.shape[0], frame.height - y))
    if w <= 0 or h <= 0:
        return None
    return OverlayRegion(name, x, y, np.ascontiguousarray(rgba[:h, :w]))
