"""Packet taps: hand the show's encoded packets to outputs that are not WebRTC viewers.

An RTMP push or the HLS writer is a *sink*: :meth:`ShowPipeline.add_sink`
offers it the very H.264 packets the viewers get (with the picture size,
which a muxer needs to describe the stream) and, if it wants sound, the AAC
packets encoded once for all sinks. ``offer_*`` is called on the event loop
and must never block: a sink keeps a :class:`TapQueue` and drains it on its
own thread, so a slow or dead network only ever costs that sink frames.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

import av

from studio.media.encoder import VIDEO_TIME_BASE

#: About 2 s of video with its sound (30 video + ~47 AAC packets a second).
TAP_QUEUE_PACKETS = 160


class PacketSink(Protocol):
    """What the pipeline hands encoded packets to (see the module docstring)."""

    @property
    def wants_audio(self) -> bool: ...

    def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None: ...

    def offer_audio(self, packets: list[av.Packet]) -> None: ...


@dataclass(frozen=True)
class Tapped:
    """One packet as a sink receives it; ``size`` is the picture size of video packets."""

    kind: Literal["video", "audio"]
    packet: av.Packet
    size: tuple[int, int] = (0, 0)


class TapQueue:
    """A bounded, thread-safe queue of video and audio in show order.

    The loop puts, the sink's thread takes. When the sink falls behind and the
    queue is full, the whole backlog is dropped and the queue waits for the
    next keyframe (the show's GOP is 1 s): P-frames after a gap would only
    paint garbage, and a stale backlog would only add delay. Audio waits with
    the video, so a sink starts with both on the same keyframe.
    """

    def __init__(self, maxsize: int = TAP_QUEUE_PACKETS) -> None:
        self._items: deque[Tapped] = deque()
        self._maxsize = maxsize
        self._ready = threading.Condition()
        self._waiting_for_keyframe = True
        self._closed = False
        self.dropped = 0
        self.resyncs = 0

    def put_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        with self._ready:
            for packet in packets:
                if len(self._items) >= self._maxsize:
                    self._drop_backlog()
                if self._waiting_for_keyframe:
                    if not packet.is_keyframe:
                        self.dropped += 1
                        continue
                    self._waiting_for_keyframe = False
                self._items.append(Tapped("video", packet, size))
            self._ready.notify()

    def put_audio(self, packets: list[av.Packet]) -> None:
        with self._ready:
            if self._waiting_for_keyframe:
                return
            for packet in packets:
                if len(self._items) >= self._maxsize:
                    self._drop_backlog()
                    return
                self._items.append(Tapped("audio", packet))
            self._ready.notify()

    def resync(self) -> None:
        """Forget the backlog and start again on the next keyframe (after a reconnect)."""
        with self._ready:
            self._items.clear()
            self._waiting_for_keyframe = True

    @property
    def waiting_for_keyframe(self) -> bool:
        """True while video is refused until a keyframe: an own encoder (own-QR picture) makes one then."""
        return self._waiting_for_keyframe

    def get(self, timeout: float) -> Tapped | None:
        """The next packet, or None after ``timeout`` seconds or once closed."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            if self._closed or not self._items:
                return None
            return self._items.popleft()

    def next_keyframe(self, stop: threading.Event) -> Tapped | None:
        """Wait for the next video keyframe (what a stream must start with); None once ``stop`` is set."""
        while not stop.is_set():
            item = self.get(0.5)
            if item is not None and item.kind == "video" and item.packet.is_keyframe:
                return item
        return None

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._items.clear()
            self._ready.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    def _drop_backlog(self) -> None:
        self.dropped += len(self._items)
        self.resyncs += 1
        self._items.clear()
        self._waiting_for_keyframe = True


class Rebase:
    """Millisecond timestamps counted from a stream's first keyframe, rising per kind.

    Video and the shared AAC are both on the pipeline's clock; a muxer that
    starts on a keyframe wants both counted from there, never going back.
    """

    def __init__(self, first: Tapped) -> None:
        self.size = first.size
        self._origin_s = (first.packet.pts or 0) * VIDEO_TIME_BASE
        self._last_ms = {"video": -1, "audio": -1}

    def ms(self, item: Tapped) -> int | None:
        """``item``'s time in ms, or None if it is before the start or not after the last one."""
        packet = item.packet
        if packet.pts is None or packet.time_base is None:
            return None
        ms = round((packet.pts * packet.time_base - self._origin_s) * 1000)
        if ms < 0 or ms <= self._last_ms[item.kind]:
            return None
        self._last_ms[item.kind] = ms
        return ms
