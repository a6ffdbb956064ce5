"""WHEP playback: every viewer gets the same encoded H264 packets.

The pipeline encodes the composed show once; aiortc only packetises those
``av.Packet`` objects, which works only if the viewer negotiated H264, so the
video transceiver prefers H264 before the offer is applied. aiortc ignores
PLI/FIR for pre-encoded packets, so a viewer's keyframe request is forwarded
to the pipeline (which rate-limits it).

Each viewer is a row in ``viewer_sessions`` while a show is live: joined on
connect, a heartbeat every ~15 s, left exactly once (DELETE, ICE failure,
page closed, server shutdown). A viewer who is already watching when a show
starts joins that show; one watching across a show change leaves the old one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiohttp import web
from aiortc import RTCPeerConnection, sdp

from analytics import events
from studio.media.fanout import ViewerFeed, send_feed
from studio.media.pipeline import ShowPipeline
from studio.media.sessions import PeerSession, WebRtcEndpoint, check_bearer, signalling_error
from studio.state import Studio
from studio.viewers import viewer_cookie, viewer_id_of

log = logging.getLogger(__name__)

MAX_VIEWERS = 200
SYNC_INTERVAL = 5.0  # seconds: how soon a viewer joins a show that just started
HEARTBEAT_INTERVAL = 15.0  # seconds between record_viewer_seen writes


@dataclass
class ViewerRecord:
    """A viewer's row in ``viewer_sessions`` (``session_id`` None while no show is live)."""

    viewer_id: str
    user_agent: str
    show_id: int | None = None
    session_id: int | None = None
    last_seen: float = 0.0
    gone: bool = False
    monitor: bool = False  # the studio's own preview: never a viewer session


@dataclass(eq=False)
class ViewerSession(PeerSession):
    """A WHEP viewer: its row in ``viewer_sessions`` and its share of the fan-out."""

    viewer: ViewerRecord = field(default_factory=lambda: ViewerRecord("", ""))
    new_cookie: bool = False
    feed: ViewerFeed | None = None


class WhepEndpoint(WebRtcEndpoint[ViewerSession]):
    name = "whep"
    direction = "recv"

    def __init__(self, studio: Studio, pipeline: ShowPipeline, *, max_viewers: int = MAX_VIEWERS) -> None:
        super().__init__(studio)
        self.pipeline = pipeline
        self.max_viewers = max_viewers
        self._sync_task: asyncio.Task[None] | None = None

    async def authorize(self, request: web.Request) -> None:
        """Viewers are public; a client that does send a key must send the right one.

        A client with the studio key is the studio's own monitor (the control
        room's preview): it is not counted or recorded as a viewer.
        """
        if "Authorization" in request.headers:
            check_bearer(request, self.studio.config.key)

    def admit(self, request: web.Request) -> None:
        """Only connected viewers fill the cap; pending offers have their own limits (see the base class).

        The studio's own monitors hold the key and are never refused.
        """
        super().admit(request)
        if "Authorization" in request.headers:  # authorize() has checked the key
            return
        watching = sum(1 for s in self.sessions.values() if s.connected.is_set() and not s.viewer.monitor)
        if watching >= self.max_viewers:
            raise signalling_error(
                503,
                "studio_full",
                f"the studio is full ({self.max_viewers} viewers): try again soon",
                f"直播间已满（{self.max_viewers} 位观众），请稍后再试",
                {"Retry-After": "10"},
            )

    def new_session(
        self, request: web.Request, session_id: str, pc: RTCPeerConnection, offer: sdp.SessionDescription
    ) -> ViewerSession:
        viewer_id, is_new = viewer_id_of(request)
        monitor = "Authorization" in request.headers  # authorize() has checked the key
        viewer = ViewerRecord(viewer_id, request.headers.get("User-Agent", ""), monitor=monitor)
        return ViewerSession(session_id, pc, offer, viewer=viewer, new_cookie=is_new)

    async def prepare(self, request: web.Request, session: ViewerSession) -> None:
        session.feed = self.pipeline.add_viewer(audience=not session.viewer.monitor, connected=False)
        send_feed(session.pc, session.feed, {m.kind for m in session.offer.media})

    def response_headers(self, request: web.Request, session: ViewerSession) -> dict[str, str]:
        if session.new_cookie:
            return {"Set-Cookie": viewer_cookie(session.viewer.viewer_id)}
        return {}

    async def on_connected(self, session: ViewerSession) -> None:
        if session.feed is not None:
            self.pipeline.viewer_connected(session.feed)  # from now on it counts in viewers_now
        await self._sync_viewer(session.viewer)
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = self.spawn(self._sync_forever())

    async def on_closed(self, session: ViewerSession) -> None:
        if session.feed is not None:
            self.pipeline.remove_viewer(session.feed)  # the pipeline counts the viewers now
        session.viewer.gone = True
        await self._leave(session.viewer)

    async def _leave(self, viewer: ViewerRecord) -> None:
        if viewer.session_id is not None:
            session_id, viewer.session_id = viewer.session_id, None
            await self.studio.db(events.record_viewer_leave, session_id)

    async def _sync_viewer(self, viewer: ViewerRecord) -> None:
        """Match the viewer's session row to the live show, heartbeat when due."""
        if viewer.gone or viewer.monitor:
            return
        show = self.studio.show
        show_id = show.id if show else None
        if viewer.show_id != show_id:
            await self._leave(viewer)
            viewer.show_id = show_id
            if show_id is not None:
                viewer.session_id = await self.studio.db(
                    events.record_viewer_join, show_id, viewer.viewer_id, "webrtc", viewer.user_agent
                )
                if _left_meanwhile(viewer):
                    await self._leave(viewer)
            viewer.last_seen = time.monotonic()
        elif viewer.session_id is not None and time.monotonic() - viewer.last_seen >= HEARTBEAT_INTERVAL:
            viewer.last_seen = time.monotonic()
            await self.studio.db(events.record_viewer_seen, viewer.session_id)

    async def _sync_forever(self) -> None:
        while self.sessions:
            await asyncio.sleep(SYNC_INTERVAL)
            for session in list(self.sessions.values()):
                if session.connected.is_set() and not session.closed:
                    try:
                        await self._sync_viewer(session.viewer)
                    except Exception:
                        log.exception("viewer heartbeat failed")


def _left_meanwhile(viewer: ViewerRecord) -> bool:
    """Did the viewer leave while its join was being written? (``gone`` changes across that await.)"""
    return viewer.gone
