"""The phone's camera track, read as fast as it arrives, keeping only the newest frame.

On a weak uplink frames arrive late and in bursts; queueing them would add
their delay to every viewer's. The show clock instead samples whatever frame
is newest when it ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import VideoFrame

log = logging.getLogger(__name__)

#: Arrival times kept for the ingest frame rate (a window of ~2 s at 30 fps).
FPS_WINDOW = 64


async def read_track(track: MediaStreamTrack, handle: Callable[[Any], None], what: str) -> bool:
    """Feed every frame of ``track`` to ``handle`` until it ends.

    Returns True when the track ended or failed (the publisher is gone),
    False when the reading task was cancelled (it was replaced on purpose).
    """
    try:
        while True:
            handle(await track.recv())
    except MediaStreamError:
        log.info("publisher %s track ended", what)
    except asyncio.CancelledError:
        return False
    except Exception:
        log.exception("publisher %s track failed", what)
    return True


class LatestFrame:
    """Pulls ``track`` in a task; :meth:`fresh` returns the newest frame if it is recent."""

    def __init__(self, track: MediaStreamTrack, on_ended: Callable[[MediaStreamTrack], None]) -> None:
        self.track = track
        self._on_ended = on_ended
        self.frame: VideoFrame | None = None
        self.received_at = 0.0
        self.frames = 0
        self._arrivals: deque[float] = deque(maxlen=FPS_WINDOW)
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        if await read_track(self.track, self._on_frame, "video"):
            self._on_ended(self.track)

    def _on_frame(self, frame: object) -> None:
        if not isinstance(frame, VideoFrame):
            return
        now = time.monotonic()
        self.frame, self.received_at = frame, now
        self.frames += 1
        self._arrivals.append(now)
        self._arrived.set()

    async def next_frame(self, within: float) -> None:
        """Return when the next frame arrives, or after ``within`` seconds."""
        self._arrived.clear()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that lands as the frame arrives, and the clock would
        # then never stop.
        try:
            async with asyncio.timeout(within):
                await self._arrived.wait()
        except TimeoutError:
            pass

    def fresh(self, max_age: float, now: float | None = None) -> VideoFrame | None:
        """The newest frame, or None if nothing arrived within ``max_age`` seconds."""
        now = time.monotonic() if now is None else now
        if self.frame is None or now - self.received_at > max_age:
            return None
        return self.frame

    def fps(self, now: float | None = None) -> float:
        """Frames per second over the last ~2 s (0 when the phone has stalled)."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._arrivals if now - t <= 2.0]
        if len(recent) < 2:
            return 0.0
        span = max(recent[-1] - recent[0], now - recent[0])
        return (len(recent) - 1) / span if span > 0 else 0.0

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
