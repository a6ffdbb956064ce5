"""Fan the show's encoded packets out to every viewer: same objects, no copy, no re-encode.

Each viewer has a small bounded queue. aiortc's RTP sender pulls from it
(``track.recv()`` returning an ``av.Packet`` makes aiortc packetize instead of
encode). A viewer that cannot keep up never slows the others and never
buffers latency: when its queue is full its backlog is dropped and it waits
for the next keyframe, because P-frames that reference dropped frames would
only paint garbage.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpCodecCapability, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

#: About a third of a second of video: enough to absorb loop jitter, too
#: little to hide a viewer that is falling behind.
VIDEO_QUEUE_PACKETS = 10
#: Audio is 50 packets a second; half a second of it.
AUDIO_QUEUE_PACKETS = 25


class PacketTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns shared, already-encoded ``av.Packet`` objects.

    With ``needs_keyframe`` the track is *video*: after a drop it skips
    everything up to the next keyframe. Otherwise (audio) it drops the oldest
    packet when full, since every Opus packet decodes on its own.
    """

    def __init__(
        self,
        kind: str,
        maxsize: int,
        *,
        needs_keyframe: bool,
    ) -> None:
        super().__init__()
        self.kind = kind
        self._packets: deque[av.Packet] = deque()
        self._maxsize = maxsize
        self._needs_keyframe = needs_keyframe
        # A new viewer can only start decoding on a keyframe.
        self._waiting_for_keyframe = needs_keyframe
        self._ready = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.resyncs = 0

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._waiting_for_keyframe

    def offer(self, packet: av.Packet) -> None:
        """Queue ``packet`` for this viewer, dropping instead of ever blocking the show."""
        if self.readyState != "live":
            return
        if self._needs_keyframe:
            if self._waiting_for_keyframe:
                if not packet.is_keyframe:
                    self.dropped += 1
                    return
                self._waiting_for_keyframe = False
            elif len(self._packets) >= self._maxsize:
                self.dropped += len(self._packets)
                self._packets.clear()
                self.resyncs += 1
                if not packet.is_keyframe:
                    # No forced keyframe for it: a viewer this slow is short of
                    # bandwidth, and a big I-frame for everyone every time it
                    # falls behind would make that worse. The 1 s GOP brings one.
                    self.dropped += 1
                    self._waiting_for_keyframe = True
                    return
        elif len(self._packets) >= self._maxsize:
            self._packets.popleft()
            self.dropped += 1
        self._packets.append(packet)
        self._ready.set()

    async def recv(self) -> av.Packet:
        while not self._packets:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        self.sent += 1
        return self._packets.popleft()

    def backlog(self) -> int:
        return len(self._packets)

    def stop(self) -> None:
        super().stop()
        self._packets.clear()
        self._ready.set()  # wake a pending recv() so the sender loop ends


class ViewerFeed:
    """One viewer's tracks: hand ``video`` (and ``audio``) to ``pc.addTrack``."""

    def __init__(
        self, request_keyframe: Callable[[], None], *, with_audio: bool = True, audience: bool = True
    ) -> None:
        # False for the studio's own monitors (the control room's preview): they
        # get the show but are not viewers in the figures.
        self.audience = audience
        # False from a WHEP offer until its ICE + DTLS connect: pending, not yet watching.
        self.connected = True
        self.video = PacketTrack("video", VIDEO_QUEUE_PACKETS, needs_keyframe=True)
        self.audio: PacketTrack | None = (
            PacketTrack("audio", AUDIO_QUEUE_PACKETS, needs_keyframe=False) if with_audio else None
        )
        self._request_keyframe = request_keyframe

    def forward_keyframe_requests(self, sender: RTCRtpSender) -> None:
        """Make the viewer's PLI/FIR reach the show encoder.

        aiortc answers PLI/FIR by setting a flag that only its own encoder
        reads (``RTCRtpSender._send_keyframe``); with pre-encoded packets that
        flag is never looked at. This is the one place that wraps it: the
        sender's RTCP handler calls ``self._send_keyframe()``, so an instance
        attribute takes precedence over the method.
        """
        original = getattr(sender, "_send_keyframe", None)
        if original is None:  # another aiortc: joins still get a keyframe, and the GOP is 1 s
            log.warning("this aiortc has no RTCRtpSender._send_keyframe: PLI/FIR not forwarded")
            return
        request = self._request_keyframe

        def send_keyframe() -> None:
            original()
            request()

        sender._send_keyframe = send_keyframe  # type: ignore[method-assign]

    def stats(self) -> dict[str, Any]:
        return {
            "sent": self.video.sent,
            "dropped": self.video.dropped,
            "resyncs": self.video.resyncs,
            "backlog": self.video.backlog(),
        }

    def stop(self) -> None:
        self.video.stop()
        if self.audio is not None:
            self.audio.stop()


class Fanout:
    """The set of viewers and the broadcast of each packet to all of them."""

    def __init__(self) -> None:
        self._feeds: list[ViewerFeed] = []
        self.video_packets = 0
        self.audio_packets = 0

    def __len__(self) -> int:
        return len(self._feeds)

    @property
    def feeds(self) -> list[ViewerFeed]:
        return list(self._feeds)

    def add(self, feed: ViewerFeed) -> None:
        self._feeds.append(feed)

    def remove(self, feed: ViewerFeed) -> bool:
        """Remove and stop ``feed``; returns False if it was already gone."""
        feed.stop()
        if feed in self._feeds:
            self._feeds.remove(feed)
            return True
        return False

    def send_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.video_packets += 1
            for feed in self._feeds:
                feed.video.offer(packet)

    def send_audio(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self.audio_packets += 1
            for feed in self._feeds:
                if feed.audio is not None:
                    feed.audio.offer(packet)

    def stop(self) -> None:
        for feed in self._feeds:
            feed.stop()
        self._feeds.clear()


def h264_preferences() -> list[RTCRtpCodecCapability]:
    """H.264 only (constrained baseline 42e01f first, what the show encoder makes), plus RTX.

    The packets are already H.264: a viewer that negotiated VP8 would get
    them labelled as VP8 and see nothing.
    """
    codecs = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in codecs if c.mimeType.lower() == "video/h264"]
    h264.sort(key=lambda c: c.parameters.get("profile-level-id") != "42e01f")
    return h264 + [c for c in codecs if c.mimeType.lower() == "video/rtx"]


def media_kinds(offer_sdp: str) -> set[str]:
    """The kinds ("video", "audio", ...) an SDP offer has m-lines for."""
    return {line.split()[0][2:] for line in offer_sdp.splitlines() if line.startswith("m=")}


def send_feed(pc: RTCPeerConnection, feed: ViewerFeed, offer_kinds: Collection[str]) -> RTCRtpSender:
    """Add a viewer's tracks to ``pc``; call it BEFORE ``setRemoteDescription(offer)``.

    aiortc matches the offer's m-lines to transceivers that already exist and
    applies their codec preferences while reading the offer, so this is what
    makes the answer H.264-only (an offer without H.264 then fails in
    ``setRemoteDescription``). Only the kinds the offer asks for are added
    (``offer_kinds``, e.g. from :func:`media_kinds`): a transceiver the offer
    has no m-line for breaks aiortc's answer. Returns the video sender, its
    PLI/FIR already forwarded to the show encoder (aiortc ignores PLI for
    packets it did not encode).
    """
    if "video" not in offer_kinds:
        raise ValueError("the offer has no video m-line: nothing to watch")
    video = pc.addTransceiver(feed.video, direction="sendonly")
    video.setCodecPreferences(h264_preferences())
    feed.forward_keyframe_requests(video.sender)
    if "audio" in offer_kinds:
        if feed.audio is not None:
            pc.addTransceiver(feed.audio, direction="sendonly")
        else:  # answer the audio m-line, but send nothing on it
            pc.addTransceiver("audio", direction="inactive")
    elif feed.audio is not None:
        feed.audio.stop()  # nobody pulls it: do not keep filling its queue
        feed.audio = None
    return video.sender
