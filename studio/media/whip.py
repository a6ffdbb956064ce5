"""WHIP ingest (RFC 9725): the farmer's phone or OBS publishes the camera.

Publishing takes the studio key or a paired phone's publish token. Only one
publisher is on air: a new one (the phone reconnecting, or OBS taking over)
replaces the previous session. The pipeline keeps the show going on a
hold slate whenever no publisher is connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpCodecCapability, RTCRtpReceiver, sdp

from studio.media.fanout import h264_preferences
from studio.media.pipeline import ShowPipeline
from studio.media.sessions import CORS_HEADERS, PeerSession, WebRtcEndpoint, signalling_error
from studio.phone import require_publisher
from studio.state import Studio

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 2.0  # seconds between uplink bitrate samples
REMEMBER_REPLACED = 64  # how many replaced session ids GET /whip/<id> still recognises


def ingest_preferences() -> list[RTCRtpCodecCapability]:
    """H264 (baseline profiles first), then VP8, with RTX."""
    capabilities = RTCRtpReceiver.getCapabilities("video")
    codecs = capabilities.codecs if capabilities is not None else []
    vp8 = [c for c in codecs if c.mimeType.lower() == "video/vp8"]
    h264 = [c for c in h264_preferences() if c.mimeType.lower() == "video/h264"]
    rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"][:1]
    return [*h264, *vp8, *rtx]


@dataclass(eq=False)
class PublisherSession(PeerSession):
    """A WHIP publisher: the tracks it sends and the task that measures its uplink."""

    user_agent: str = ""
    video: MediaStreamTrack | None = None
    audio: MediaStreamTrack | None = None
    monitor: asyncio.Task[Any] | None = field(default=None, repr=False)


class WhipEndpoint(WebRtcEndpoint[PublisherSession]):
    name = "whip"
    direction = "send"

    def __init__(self, studio: Studio, pipeline: ShowPipeline) -> None:
        super().__init__(studio)
        self.pipeline = pipeline
        self.current: PublisherSession | None = None
        # Sessions another publisher took over: their page must not reconnect and take it back.
        self.replaced: OrderedDict[str, None] = OrderedDict()

    async def authorize(self, request: web.Request) -> None:
        """The studio key (OBS, scripts) or the publish token of a phone paired by QR (``studio.phone``)."""
        await require_publisher(self.studio, request, CORS_HEADERS)

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/whip/{id}", self.status)

    async def status(self, request: web.Request) -> web.Response:
        """``GET /whip/<id>``: is this publish still on air? 410 if another publisher replaced it.

        A page whose connection dropped asks this before reconnecting, so the
        phone does not fight OBS (or a second phone) for the show.
        """
        await self.authorize(request)
        if request.match_info["id"] in self.replaced:
            raise signalling_error(
                410, "replaced", "another publisher replaced this one", "另一台设备已接替推流"
            )
        session = self.session_of(request)
        state = "live" if session is self.current else "connecting"
        return web.json_response({"state": state}, headers=CORS_HEADERS)

    def new_session(
        self, request: web.Request, session_id: str, pc: RTCPeerConnection, offer: sdp.SessionDescription
    ) -> PublisherSession:
        return PublisherSession(session_id, pc, offer, user_agent=request.headers.get("User-Agent", "")[:200])

    async def prepare(self, request: web.Request, session: PublisherSession) -> None:
        # Prefer H264 from the phone: phones encode it in hardware (cooler, longer
        # battery on a farm) and it is the cheapest for the studio to decode; VP8 still works.
        video = session.pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(ingest_preferences())

        @session.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and session.video is None:
                session.video = track
            elif track.kind == "audio" and session.audio is None:
                session.audio = track

    async def on_connected(self, session: PublisherSession) -> None:
        if session.video is None:
            await self.close(session)
            return
        previous, self.current = self.current, session
        # The pipeline counts reconnects and records connect/disconnect/stats stream events.
        self.pipeline.attach_publisher(session.video, session.audio, user_agent=session.user_agent)
        if previous is not None:
            log.info("whip %s replaces %s", session.id, previous.id)
            self.replaced[previous.id] = None
            while len(self.replaced) > REMEMBER_REPLACED:
                self.replaced.popitem(last=False)
            await self.close(previous)
        session.monitor = self.spawn(self._monitor(session))

    async def on_closed(self, session: PublisherSession) -> None:
        if session.monitor is not None:
            session.monitor.cancel()
        if session is not self.current or session.video is None:
            return  # never attached, or already replaced by a newer publisher
        self.current = None
        self.pipeline.detach_publisher(session.video)

    async def _monitor(self, session: PublisherSession) -> None:
        """Measure the phone's uplink bitrate and hand it to the pipeline (the control room warns on it)."""
        last_bytes, last_time = 0, time.monotonic()
        while not session.closed:
            await asyncio.sleep(HEALTH_INTERVAL)
            # aiortc's inbound-rtp stats carry no byte count; the transport's do.
            received = sum(
                report.bytesReceived
                for report in (await session.pc.getStats()).values()
                if report.type == "transport"
            )
            now = time.monotonic()
            kbps = (received - last_bytes) * 8 / 1000 / (now - last_time)
            last_bytes, last_time = received, now
            if session is self.current:
                self.pipeline.report_uplink(session.video, round(kbps, 1))
