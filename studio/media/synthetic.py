"""A synthetic camera and loopback peer connections, for tests, benchmarks and demos.

Real aiortc peer connections on 127.0.0.1 only (see :mod:`studio.media.ice`):
what a phone or a viewer does over WHIP/WHEP, minus the HTTP exchange.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field

import av
import cv2
import numpy as np
from aiortc import AudioStreamTrack, RTCConfiguration, RTCPeerConnection, VideoStreamTrack
from aiortc.mediastreams import MediaStreamTrack
from av.audio.frame import AudioFrame

from studio.media.fanout import ViewerFeed, media_kinds, send_feed
from studio.media.ice import use_loopback_candidates

CAMERA_TIME_BASE = fractions.Fraction(1, 90000)


class MovingPattern(VideoStreamTrack):
    """A camera stand-in: a moving orange bar and a frame counter on dark grey.

    Movement matters: a still picture compresses to nothing and would hide
    encoder and bandwidth costs.
    """

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.count = 0
        self._started: float | None = None
        self._background = np.full((height, width, 3), 40, dtype=np.uint8)

    def picture(self, index: int) -> np.ndarray:
        """The BGR picture of frame ``index`` (pure: benchmarks pre-render these)."""
        image = self._background.copy()
        bar = max(8, self.width // 16)
        x = (index * 7) % max(1, self.width - bar)
        image[:, x : x + bar] = (0, 165, 255)
        cv2.putText(image, str(index), (20, self.height // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        return image

    async def recv(self) -> av.VideoFrame:
        if self._started is None:
            self._started = time.monotonic()
        target = self._started + self.count / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame.from_ndarray(self.picture(self.count), format="bgr24").reformat(format="yuv420p")
        frame.pts = round(self.count * CAMERA_TIME_BASE.denominator / self.fps)
        frame.time_base = CAMERA_TIME_BASE
        self.count += 1
        return frame


class Tone(AudioStreamTrack):
    """A microphone stand-in: a steady 440 Hz tone in 20 ms mono frames at 48 kHz."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, sample_rate: int = 48000) -> None:
        super().__init__()
        self.frequency, self.sample_rate = frequency, sample_rate
        self._samples = 0
        self._started: float | None = None

    async def recv(self) -> AudioFrame:
        samples = self.sample_rate // 50
        if self._started is None:
            self._started = time.monotonic()
        delay = self._started + self._samples / self.sample_rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (self._samples + np.arange(samples)) / self.sample_rate
        wave = (np.sin(2 * np.pi * self.frequency * t) * 8000).astype(np.int16)
        frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts, frame.time_base = self._samples, fractions.Fraction(1, self.sample_rate)
        self._samples += samples
        return frame


def loopback_pc() -> RTCPeerConnection:
    """A peer connection that gathers 127.0.0.1 only and uses no STUN server."""
    use_loopback_candidates()
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answer(offerer, answerer)


async def answer(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    """The offerer's local offer is set; answer it."""
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


@dataclass
class LoopbackViewer:
    """A WHEP-style viewer: the studio side sends ``feed``, the client side receives it."""

    feed: ViewerFeed
    studio_pc: RTCPeerConnection
    client_pc: RTCPeerConnection
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)

    @property
    def video(self) -> MediaStreamTrack:
        return self.tracks["video"]

    async def close(self) -> None:
        await self.client_pc.close()
        await self.studio_pc.close()


async def connect_viewer(feed: ViewerFeed, *, audio: bool = True) -> LoopbackViewer:
    """Negotiate like a WHEP player: the client offers recvonly, the studio answers H.264."""
    client, studio = loopback_pc(), loopback_pc()
    viewer = LoopbackViewer(feed, studio, client)
    client.addTransceiver("video", direction="recvonly")
    if audio:
        client.addTransceiver("audio", direction="recvonly")
    client.on("track", lambda track: viewer.tracks.__setitem__(track.kind, track))
    await client.setLocalDescription(await client.createOffer())
    send_feed(studio, feed, media_kinds(client.localDescription.sdp))
    await answer(client, studio)
    return viewer


@dataclass
class LoopbackPublisher:
    """A WHIP-style phone: ``tracks`` are what the studio receives from it."""

    phone_pc: RTCPeerConnection
    studio_pc: RTCPeerConnection
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)

    async def close(self) -> None:
        await self.phone_pc.close()
        await self.studio_pc.close()


async def connect_publisher(video: MediaStreamTrack, audio: MediaStreamTrack | None = None) -> LoopbackPublisher:
    phone, studio = loopback_pc(), loopback_pc()
    publisher = LoopbackPublisher(phone, studio)
    phone.addTransceiver(video, direction="sendonly")
    if audio is not None:
        phone.addTransceiver(audio, direction="sendonly")
    studio.on("track", lambda track: publisher.tracks.__setitem__(track.kind, track))
    await negotiate(phone, studio)
    return publisher
