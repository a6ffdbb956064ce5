"""The per-frame compositor the media pipeline and the control-room preview share.

``set_spec`` only records what to show (cheap, from any thread). Rendering
and precomputing the blend planes (tens of ms) happens once per change: on a
background thread for the frame sizes already in use, so the media thread
keeps composing the previous overlay meanwhile instead of stalling; or, for
a new frame size, on the first ``compose_*`` call. Every frame after that is
a few small uint8 region blends. A ticking countdown re-renders just its
banner, once per displayed second.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from catalog.timestamps import utc_now
from overlays.blend import PlaneBlend, bgr_blend, check_bgr, i420_blends, i420_planes
from overlays.render import TICKING, OverlayRegion, RenderedOverlay, refresh_overlay, render_overlay
from overlays.spec import OverlaySpec

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# One shared worker renders overlays for every compositor: changes are rare. An executor
# starts its thread on the first submit, so making it at import costs nothing.
_RENDERER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="farmlive-overlay")


@dataclass(frozen=True)
class _Plan:
    """Blends ready for one pixel format and frame size, for one spec version."""

    version: int
    rendered: RenderedOverlay
    blends: dict[str, tuple[PlaneBlend, ...]]  # region name -> its plane blends


class Compositor:
    """Draws the current overlay onto frames in place; thread-safe."""

    def __init__(self, spec: OverlaySpec | None = None, *, clock: Clock = utc_now, background: bool = True) -> None:
        self._clock = clock
        self._background = background
        self._lock = threading.Lock()
        self._spec = spec
        self._version = 0
        self._plans: dict[str, _Plan] = {}
        self._pending: concurrent.futures.Future[None] | None = None
        self._pending_version = -1

    @property
    def spec(self) -> OverlaySpec | None:
        return self._spec

    def set_spec(self, spec: OverlaySpec | None) -> None:
        """Show ``spec`` from the next frame on (``None`` clears the overlay)."""
        with self._lock:
            self._spec = spec
            self._version += 1
            sizes = [(fmt, p.rendered.width, p.rendered.height) for fmt, p in self._plans.items()]
            if self._background and sizes:
                self._pending_version = self._version
                self._pending = _RENDERER.submit(self._prepare, self._version, spec, sizes)

    def ready(self, timeout: float | None = None) -> bool:
        """Wait until a background render of the latest spec is in place (tests, previews)."""
        pending = self._pending
        if pending is not None:
            try:
                pending.result(timeout)
            except concurrent.futures.TimeoutError:
                return False
        return True

    def compose_i420(self, buf: np.ndarray) -> None:
        """Blend onto an (H*3/2, W) uint8 I420 buffer in place."""
        y, u, v = i420_planes(buf)
        planes = (y, u, v)
        for blends in self._plan("i420", y.shape[1], y.shape[0]).blends.values():
            for plane, blend in zip(planes, blends, strict=True):
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
    def _prepare(self, version: int, spec: OverlaySpec | None, sizes: list[tuple[str, int, int]]) -> None:
        """Background: render ``spec`` for the sizes in use, then swap it in if still current."""
        rendered: dict[tuple[int, int], RenderedOverlay] = {}
        for fmt, width, height in sizes:
            if version != self._version:
                return  # superseded by a newer change
            if (width, height) not in rendered:
                rendered[(width, height)] = _render(spec, width, height, self._clock())
            plan = _plan_for(version, fmt, rendered[(width, height)])
            with self._lock:
                if version == self._version:
                    self._plans[fmt] = plan

    def _plan(self, fmt: str, width: int, height: int) -> _Plan:
        """The plan to draw now. Rendering happens outside the lock, so ``set_spec``
        (called from the event loop) never waits for a render."""
        with self._lock:
            plan = self._plans.get(fmt)
            version, spec, now = self._version, self._spec, self._clock()
            same_size = plan is not None and (plan.rendered.width, plan.rendered.height) == (width, height)
            rendering = self._pending is not None and not self._pending.done() and self._pending_version == version
            other: RenderedOverlay | None = None
            if plan is not None and same_size and (plan.version == version or rendering):
                changes_at = plan.rendered.changes_at
                if plan.version != version or changes_at is None or now < changes_at:
                    return plan
                stale: _Plan | None = plan  # a countdown ticked: only its banner changes
            else:
                stale = None
                # Another format may already have rendered this version at this size: reuse it.
                other = next(
                    (p.rendered for p in self._plans.values()
                     if p.version == version and (p.rendered.width, p.rendered.height) == (width, height)),
                    None,
                )
        if stale is not None:
            new = _ticked(stale, fmt, spec, now)
        else:
            new = _plan_for(version, fmt, other or _render(spec, width, height, now))
        with self._lock:
            current = self._plans.get(fmt)
            if current is None or current.version <= new.version:
                self._plans[fmt] = new
        return new


def _render(spec: OverlaySpec | None, width: int, height: int, now: datetime) -> RenderedOverlay:
    try:
        return render_overlay(spec, width, height, now)
    except Exception:  # a broken image or spec must not stop the video
        log.exception("overlay render failed; showing the frame without it")
        return RenderedOverlay(width, height, "landscape")


def _ticked(plan: _Plan, fmt: str, spec: OverlaySpec | None, now: datetime) -> _Plan:
    """The plan with its banner re-rendered for ``now``; card and QR blends are reused."""
    rendered = refresh_overlay(plan.rendered, spec, now)
    blends = {
        r.name: plan.blends[r.name] if r.name not in TICKING and r.name in plan.blends else _blends(fmt, r)
        for r in rendered.regions
    }
    return _Plan(plan.version, rendered, blends)


def _plan_for(version: int, fmt: str, rendered: RenderedOverlay) -> _Plan:
    return _Plan(version, rendered, {r.name: _blends(fmt, r) for r in rendered.regions})


def _blends(fmt: str, region: OverlayRegion) -> tuple[PlaneBlend, ...]:
    return i420_blends(region) if fmt == "i420" else (bgr_blend(region),)
