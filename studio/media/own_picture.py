"""An own-QR destination's picture: the show's frame with that destination's own overlay, encoded again.

A destination marked own-QR shows a QR of its own buy link, so its picture
differs from the show's and cannot reuse the shared H.264. The media thread
hands every camera (or slate) frame, *before* the show's overlay, to each
:class:`OwnPicture` through a one-frame mailbox (:meth:`OwnPicture.offer_frame`
never waits). The picture's own thread composes the destination's overlay
(its own :class:`~overlays.Compositor`) and encodes with its own single-threaded
x264, then hands the packets to the destination's pusher like any tap. If the
thread falls behind, the mailbox keeps only the newest frame: this destination
drops frames, the show never waits. Sound is the show's shared AAC.

The cost is measured where it is paid: the CPU time of this one thread
(compose + encode; x264 runs inside it with ``threads=1``) per second of
wall time, as :attr:`OwnPicture.cpu_percent` of one core.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import av
import numpy as np

from overlays import Compositor, OverlaySpec
from studio.media.encoder import H264Encoder, H264Settings
from studio.media.taps import TapQueue

log = logging.getLogger(__name__)

#: At most one forced keyframe per this many seconds when the pusher waits for one.
KEYFRAME_EVERY = 0.5
#: The CPU share is measured over windows of this many seconds (steady enough for the panel).
CPU_WINDOW = 3.0


class OwnPicture:
    """One own-QR destination's compose + encode; see the module docstring.

    ``queue`` is the destination pusher's :class:`TapQueue`: this picture puts
    its packets there (thread-safe) and watches whether it waits for a keyframe.
    """

    wants_audio = True

    def __init__(
        self, name: str, queue: TapQueue, settings: H264Settings, *, wanted: Callable[[], bool] = lambda: True
    ) -> None:
        self.name = name
        self._queue = queue
        # False while nobody can take the packets (a push that failed for good): then encode nothing.
        self._wanted = wanted
        self._compositor = Compositor()
        # One x264 thread: the cost stays in this thread (measured) and off the show's two.
        self._encoder = H264Encoder(replace(settings, threads=1))
        self._slot: tuple[np.ndarray, tuple[int, int], int] | None = None
        self._ready = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"farmlive-own-qr-{name}", daemon=True)
        self._last_keyframe = -1e9
        self._cpu_mark = (time.monotonic(), 0.0)  # (wall, this thread's CPU), set when it starts
        #: Share of one core this picture's compose + encode took over the last window, in percent.
        self.cpu_percent = 0.0
        self.frames_offered = 0
        self.frames_dropped = 0  # replaced in the mailbox before this thread took them

    # -- from the pipeline (never blocks) ---------------------------------
    def set_spec(self, spec: OverlaySpec | None) -> None:
        """The destination's overlay: the show's, with its own buy link in the QR."""
        self._compositor.set_spec(spec)

    @property
    def spec(self) -> OverlaySpec | None:
        return self._compositor.spec

    def offer_frame(self, i420: np.ndarray, size: tuple[int, int], pts: int) -> None:
        """The show's frame before its overlay (shared, read-only); replaces one not taken yet."""
        with self._ready:
            self.frames_offered += 1
            if self._slot is not None:
                self.frames_dropped += 1
            self._slot = (i420, size, pts)
            self._ready.notify()

    def offer_audio(self, packets: list[av.Packet]) -> None:
        self._queue.put_audio(packets)

    def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        """The show's shared packets are not this destination's picture: ignored."""

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def thread_id(self) -> int | None:
        """This picture's thread's OS id (the benchmark reads its CPU time from /proc)."""
        return self._thread.native_id

    @property
    def frames_encoded(self) -> int:
        return self._encoder.frames_encoded

    # -- this picture's own thread ---------------------------------------------
    def _take(self) -> tuple[np.ndarray, tuple[int, int], int] | None:
        with self._ready:
            if self._slot is None and not self._stopped:
                self._ready.wait(0.5)
            taken, self._slot = self._slot, None
            return None if self._stopped else taken

    def _run(self) -> None:
        self._cpu_mark = (time.monotonic(), time.thread_time())
        while not self._stopped:
            taken = self._take()
            if taken is not None and self._wanted():
                try:
                    self._encode(*taken)
                except Exception:  # one bad frame costs this destination that frame, not its thread
                    log.exception("own-QR picture for %s failed on a frame", self.name)
            self._measure()

    def _encode(self, shared: np.ndarray, size: tuple[int, int], pts: int) -> None:
        buf = shared.copy()  # the show's frame is shared with the other pictures: compose on our own copy
        self._compositor.compose_i420(buf)
        now = time.monotonic()
        keyframe = self._queue.waiting_for_keyframe and now - self._last_keyframe >= KEYFRAME_EVERY
        if keyframe:
            self._last_keyframe = now
        packets = self._encoder.encode(buf, pts, keyframe=keyframe)
        if packets:
            self._queue.put_video(packets, size)

    def _measure(self) -> None:
        now = time.monotonic()
        since, cpu_before = self._cpu_mark
        if now - since >= CPU_WINDOW:
            cpu = time.thread_time()
            self.cpu_percent = round((cpu - cpu_before) / (now - since) * 100, 1)
            self._cpu_mark = (now, cpu)
