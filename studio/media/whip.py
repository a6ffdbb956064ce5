"""WHIP ingest (RFC 9725): the farmer's phone or OBS publishes the camera.

Only one publisher is on air: a new one (the phone reconnecting, or OBS taking
over) replaces the previous session. The pipeline keeps the show going on a
hold slate whenever no publisher is connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from aiohttp import web
from aiortc import MediaStreamTrack, RTCRtpCodecCapability, RTCRtpReceiver

from studio.media.sessions import CORS_HEADERS, PeerSession, SignallingError, WebRtcEndpoint
from studio.media.fanout import h264_preferences
from studio.state import Studio

if TYPE_CHECKING:
    from studio.media.pipeline import ShowPipeline

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 2.0  # seconds between uplink bitrate samples
REMEMBER_REPLACED = 64  # how many replaced session ids GET /whip/<id> still recognises


def ingest_preferences() -> list[RTCRtpCodecCapability]:
    """H264 (baseline profiles first), then VP8, with RTX."""
    codecs = RTCRtpReceiver.getCapabilities("video").codecs
    vp8 = [c for c in codecs if c.mimeType.lower() == "video/vp8"]
    h264 = [c for c in h264_preferences() if c.mimeType.lower() == "video/h264"]
    rtx = [c for c in codecs if c.mimeType.lower() == "video/rtx"][:1]
    return [*h264, *vp8, *rtx]


class WhipEndpoint(WebRtcEndpoint):
    name = "whip"
    direction = "send"

    def __init__(self, studio: Studio, pipeline: "ShowPipeline") -> None:
        super().__init__(studio)
        self.pipeline = pipeline
        self.current: PeerSession | None = None
        # Sessions another publisher took over: their page must not reconnect and take it back.
        self.replaced: OrderedDict[str, None] = OrderedDict()

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        app.router.add_get("/whip/{id}", self.status)

    async def status(self, request: web.Request) -> web.Response:
        """``GET /whip/<id>``: is this publish still on air? 410 if another publisher replaced it.

        A page whose connection dropped asks this before reconnecting, so the
        phone does not fight OBS (or a second phone) for the show.
        """
        self.authorize(request)
        session_id = request.match_info["id"]
        if session_id in self.replaced:
            raise SignallingError(410, "another publisher replaced this one")
        session = self.sessions.get(session_id)
        if session is None:
            raise SignallingError(404, f"no WHIP session {session_id!r}")
        state = "live" if session is self.current else "connecting"
        return web.json_response({"state": state}, headers=CORS_HEADERS)

    async def prepare(self, request: web.Request, session: PeerSession) -> None:
        # Prefer H264 from the phone: phones encode it in hardware (cooler, longer
        # battery on a farm) and it is the cheapest for the studio to decode; VP8 still works.
        video = session.pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(ingest_preferences())
        tracks: dict[str, MediaStreamTrack] = {}
        session.state["tracks"] = tracks
        session.state["agent"] = request.headers.get("User-Agent", "")[:200]

        @session.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            tracks.setdefault(track.kind, track)

    async def on_connected(self, session: PeerSession) -> None:
        tracks: dict[str, MediaStreamTrack] = session.state["tracks"]
        if "video" not in tracks:
            await self.close(session)
            return
        previous, self.current = self.current, session
        # The pipeline counts reconnects and records connect/disconnect/stats stream events.
        self.pipeline.attach_publisher(tracks["video"], tracks.get("audio"))
        self.studio.stream_health.update(publisher=session.state["agent"], uplink_kbps=0.0)
        if previous is not None:
            log.info("whip %s replaces %s", session.id, previous.id)
            self.replaced[previous.id] = None
            while len(self.replaced) > REMEMBER_REPLACED:
                self.replaced.popitem(last=False)
            await self.close(previous)
        session.state["monitor"] = self.spawn(self._monitor(session))

    async def on_closed(self, session: PeerSession) -> None:
        monitor = session.state.get("monitor")
        if monitor is not None:
            monitor.cancel()
        if session is not self.current:
            return  # never attached, or already replaced by a newer publisher
        self.current = None
        self.pipeline.detach_publisher(session.state["tracks"]["video"])
        self.studio.stream_health.update(uplink_kbps=0.0)

    async def _monitor(self, session: PeerSession) -> None:
        """The phone's uplink bitrate in ``stream_health`` (what the control room warns on)."""
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
            self.studio.stream_health["uplink_kbps"] = round(kbps, 1)
