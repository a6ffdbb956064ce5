"""The per-frame compositor the media pipeline and the control-room preview share.

``set_spec`` only records what to show (cheap, from any thread); the next
``compose_*`` call for a frame size renders it once and precomputes blend
planes, and every later frame is a few small uint8 region blends. A ticking
countdown re-renders just its banner, once per displayed second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from catalog.timestamps import utc_now
from overlays.blend import PlaneBlend, bgr_blend, check_bgr, i420_blends, i420_planes
from overlays.render import OverlayRegion, RenderedOverlay, refresh_overlay, render_overlay
from overlays.spec import OverlaySpec

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class _Plan:
    """Blends ready for one pixel format and frame size, for one spec version."""

    version: int
    rendered: RenderedOverlay
    blends: dict[str, tuple[PlaneBlend, ...]]  # region name -> its plane blends


class Compositor:
    """Draws the current overlay onto frames in place; thread-safe."""

    def __init__(self, spec: OverlaySpec | None = None, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._spec = spec
        self._version = 0
        self._plans: dict[str, _Plan] = {}

    @property
    def spec(self) -> OverlaySpec | None:
        return self._spec

    def set_spec(self, spec: OverlaySpec | None) -> None:
        """Show ``spec`` from the next frame on (``None`` clears the overlay)."""
        with self._lock:
            self._spec = spec
            self._version += 1

    def compose_i420(self, buf: np.ndarray) -> None:
        """Blend onto an (H*3/2, W) uint8 I420 buffer in place."""
        y, u, v = i420_planes(buf)
        planes = (y, u, v)
        for blends in self._plan("i420", y.shape[1], y.shape[0]).blends.values():
            for plane, blend in zip(planes, blends):
                blend.apply(plane)

    def compose_bgr(self, frame: np.ndarray) -> None:
        """Blend onto an (H, W, 3) uint8 BGR frame in place (odd sizes: the last row/column stays bare)."""
        check_bgr(frame)
        plan = self._plan("bgr", frame.shape[1] // 2 * 2, frame.shape[0] // 2 * 2)
        for blends in plan.blends.values():
            blends[0].apply(frame)

    def rendered(self, width: int, height: int) -> RenderedOverlay:
        """The overlay as it is drawn on a frame of this size now (for previews and tests)."""
        return self._plan("bgr", width, height).rendered

    # -- internals ----------------------------------------------------------
    def _plan(self, fmt: str, width: int, height: int) -> _Plan:
        with self._lock:
            plan = self._plans.get(fmt)
            if plan is None or plan.version != self._version or (plan.rendered.width, plan.rendered.height) != (width, height):
                plan = self._new_plan(fmt, width, height)
            elif plan.rendered.changes_at is not None:
                now = self._clock()
                if now >= plan.rendered.changes_at:
                    plan = self._refreshed(plan, fmt, now)
            self._plans[fmt] = plan
            return plan

    def _new_plan(self, fmt: str, width: int, height: int) -> _Plan:
        # Another format may already have rendered this version at this size: reuse it.
        other = next(
            (p.rendered for p in self._plans.values()
             if p.version == self._version and (p.rendered.width, p.rendered.height) == (width, height)),
            None,
        )
        try:
            rendered = other or render_overlay(self._spec, width, height, self._clock())
        except Exception:  # a broken image or spec must not stop the video
            log.exception("overlay render failed; showing the frame without it")
            rendered = RenderedOverlay(width, height, "landscape")
        return _Plan(self._version, rendered, {r.name: _blends(fmt, r) for r in rendered.regions})

    def _refreshed(self, plan: _Plan, fmt: str, now: datetime) -> _Plan:
        rendered = refresh_overlay(plan.rendered, self._spec, now)
        blends = {
            r.name: plan.blends[r.name] if r.name != "promo" and r.name in plan.blends else _blends(fmt, r)
            for r in rendered.regions
        }
        return _Plan(plan.version, rendered, blends)


def _blends(fmt: str, region: OverlayRegion) -> tuple[PlaneBlend, ...]:
    return i420_blends(region) if fmt == "i420" else (bgr_blend(region),)
