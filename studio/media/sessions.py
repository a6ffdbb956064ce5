"""WHIP/WHEP signalling shared by both endpoints (RFC 9725 and the WHEP draft).

One HTTP POST carries a complete SDP offer; the answer comes back with every
ICE candidate already gathered (no trickle, so ``PATCH`` is 405, which RFC
9725 allows), ``201 Created`` and a ``Location`` naming the session; a
``DELETE`` of that location ends it. :class:`WebRtcEndpoint` owns that
lifecycle; subclasses add what a publisher or a viewer means to the studio.

A session is *pending* from its offer until ICE and DTLS connect. Pending
sessions cost the studio sockets and a DTLS context but nobody watches them,
so anonymous ones have a small limit of their own (overall and per client
address) and expire after :data:`CONNECT_TIMEOUT`; only connected sessions
count as viewers. Offers are bounded in size and m-lines, and at most
:data:`MAX_NEGOTIATIONS` are negotiated at once, so a flood of hostile offers
cannot stall the event loop that carries everyone's video.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription, sdp

from studio.auth import has_key, require_key
from studio.errors import Problem
from studio.media.ice import admit_remote_candidates, rtc_configuration, selected_pair
from studio.state import Studio

log = logging.getLogger(__name__)

SDP_TYPE = "application/sdp"
# A pending session that has not connected by then is closed: ICE between
# reachable peers takes well under a second, ICE over TURN a few.
CONNECT_TIMEOUT = 10.0
MAX_OFFER_BYTES = 64 * 1024  # real offers are 2-8 KB
MAX_M_LINES = 8  # video + audio (+ a data channel) is all anyone sends
MAX_NEGOTIATIONS = 4  # offers being answered at once, per endpoint
NEGOTIATION_WAIT = 5.0  # seconds an offer may queue for a negotiation slot
MAX_PENDING = 20  # anonymous sessions not yet connected, per endpoint
MAX_PENDING_PER_CLIENT = 4  # ... from one client address
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    # Every method the WHIP/WHEP routes accept or answer (PATCH is answered 405),
    # so a cross-origin client reads the studio's answer instead of "Failed to fetch".
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link",
}

Direction = Literal["send", "recv"]


def signalling_error(
    status: int, code: str, detail: str, detail_zh: str, headers: Mapping[str, str] | None = None
) -> Problem:
    """A WHIP/WHEP refusal: a problem a player on another origin can read (CORS headers on)."""
    return Problem(status, code, detail, detail_zh, headers={**CORS_HEADERS, **(headers or {})})


def check_bearer(request: web.Request, key: str) -> None:
    """The studio key, with CORS headers on the 401 so a browser player sees why."""
    require_key(request, key, CORS_HEADERS)


def ice_server_links(servers: list[dict[str, Any]]) -> str:
    """RFC 9725 section 4.6: the studio's STUN/TURN servers as ``Link`` header values (OBS reads them)."""
    links = []
    for server in servers:
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        for url in urls:
            link = f'<{url}>; rel="ice-server"'
            if server.get("username"):
                credential = server.get("credential", "")
                link += f'; username="{server["username"]}"; credential="{credential}"; credential-type="password"'
            links.append(link)
    return ", ".join(links)


def validate_offer(text: str, direction: Direction) -> sdp.SessionDescription:
    """Parse an offer and check it carries video the right way; 400 otherwise.

    aiortc's parser accepts almost anything (``"hello"`` parses to no media),
    so the checks that give a useful message live here.
    """
    if not text.lstrip().startswith("v=0"):
        raise _bad_offer("malformed SDP offer: it must start with v=0", "SDP 格式错误：必须以 v=0 开头")
    m_lines = sum(1 for line in text.splitlines() if line.startswith("m="))
    if m_lines > MAX_M_LINES:
        raise _bad_offer(
            f"the SDP offer has {m_lines} m-lines; at most {MAX_M_LINES} are accepted",
            f"SDP offer 有 {m_lines} 个 m-line，最多接受 {MAX_M_LINES} 个",
        )
    try:
        description = sdp.SessionDescription.parse(text)
    except Exception as error:  # aiortc raises ValueError, KeyError, IndexError...
        raise _bad_offer(f"malformed SDP offer: {error}", f"SDP 格式错误：{error}") from error
    video = [m for m in description.media if m.kind == "video"]
    if not video:
        raise _bad_offer("the SDP offer has no video m-line", "SDP 中没有视频（video m-line）")
    wanted = ("sendonly", "sendrecv") if direction == "send" else ("recvonly", "sendrecv")
    if not any(m.direction in wanted for m in video):
        verb, verb_zh = ("send", "发送") if direction == "send" else ("receive", "接收")
        raise _bad_offer(
            f"the SDP offer's video m-line must {verb} video ({' or '.join(wanted)})",
            f"SDP 的视频必须是{verb_zh}方向（{' 或 '.join(wanted)}）",
        )
    return description


def _bad_offer(detail: str, detail_zh: str) -> Problem:
    return signalling_error(400, "bad_offer", detail, detail_zh)


async def read_offer(request: web.Request, direction: Direction) -> tuple[str, sdp.SessionDescription]:
    if request.content_type != SDP_TYPE:
        raise signalling_error(
            415,
            "unsupported_media_type",
            f"Content-Type must be {SDP_TYPE}, got {request.content_type or 'nothing'}",
            f"Content-Type 必须是 {SDP_TYPE}",
            {"Accept-Post": SDP_TYPE},
        )
    if (request.content_length or 0) > MAX_OFFER_BYTES:
        raise _too_large()
    # The body is already read (within the app's 1 MiB cap and 10 s deadline) by
    # studio.limits.body_deadline_middleware; this returns that cached copy.
    body = await request.read()
    if len(body) > MAX_OFFER_BYTES:  # a chunked body has no length up front
        raise _too_large()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_offer("malformed SDP offer: not UTF-8 text", "SDP 格式错误：不是 UTF-8 文本") from error
    return text, validate_offer(text, direction)


def _too_large() -> Problem:
    return signalling_error(
        413,
        "offer_too_large",
        f"the SDP offer is larger than {MAX_OFFER_BYTES // 1024} KB",
        f"SDP offer 超过 {MAX_OFFER_BYTES // 1024} KB",
    )


def _expired() -> Problem:
    return signalling_error(
        503, "expired", "the offer took too long to answer: try again", "应答超时，请重试", {"Retry-After": "1"}
    )


@dataclass(eq=False)
class PeerSession:
    """One WHIP publisher or WHEP viewer: its peer connection and what to undo.

    Each endpoint extends it with typed fields of its own (the viewer's feed,
    the publisher's tracks).
    """

    id: str
    pc: RTCPeerConnection
    offer: sdp.SessionDescription
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    client: str = ""  # the client's address: pending sessions are limited per address
    trusted: bool = False  # sent the studio key: not subject to the anonymous limits


SessionT = TypeVar("SessionT", bound=PeerSession)


class WebRtcEndpoint(Generic[SessionT]):
    """``POST /<name>``, ``DELETE/PATCH /<name>/<id>``, ``OPTIONS`` for both.

    Subclasses implement :meth:`new_session`, :meth:`authorize`,
    :meth:`prepare` (before the answer), :meth:`on_connected` and
    :meth:`on_closed` (called exactly once).
    """

    name: str = ""
    direction: Direction = "send"

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        # Every session from its offer on; pending ones have ``connected`` unset.
        self.sessions: dict[str, SessionT] = {}
        self._negotiations = asyncio.Semaphore(MAX_NEGOTIATIONS)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def pending(self) -> list[SessionT]:
        """Sessions whose offer arrived but whose ICE + DTLS have not connected (yet)."""
        return [s for s in self.sessions.values() if not s.connected.is_set()]

    # -- hooks ----------------------------------------------------------
    def new_session(
        self, request: web.Request, session_id: str, pc: RTCPeerConnection, offer: sdp.SessionDescription
    ) -> SessionT:
        """The endpoint's own session type for one offer."""
        raise NotImplementedError

    async def authorize(self, request: web.Request) -> None:
        """The studio key (WHIP also takes a phone's publish token)."""
        check_bearer(request, self.studio.config.key)

    def admit(self, request: web.Request) -> None:
        """Refuse before any work is done; here, the limits on anonymous pending sessions.

        Key holders (the host's own tools) are never refused. Subclasses add
        their own checks (the viewer cap).
        """
        if has_key(request, self.studio.config.key):
            return
        anonymous = [s for s in self.pending if not s.trusted]
        by_client = Counter(s.client for s in anonymous)
        if len(anonymous) >= MAX_PENDING or by_client[request.remote or ""] >= MAX_PENDING_PER_CLIENT:
            raise signalling_error(
                503,
                "too_many_pending",
                "too many connections are being set up right now: try again in a few seconds",
                "正在建立的连接太多，请几秒后再试",
                {"Retry-After": "5"},
            )

    async def prepare(self, request: web.Request, session: SessionT) -> None:
        """Add transceivers/tracks before the remote offer is applied."""

    def response_headers(self, request: web.Request, session: SessionT) -> dict[str, str]:
        return {}

    async def on_connected(self, session: SessionT) -> None:
        """ICE + DTLS are up."""

    async def on_closed(self, session: SessionT) -> None:
        """Undo :meth:`prepare`/:meth:`on_connected`; runs once per session."""

    # -- routes ---------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        base = f"/{self.name}"
        app.router.add_post(base, self.post)
        app.router.add_route("OPTIONS", base, self.options)
        app.router.add_delete(base + "/{id}", self.delete)
        app.router.add_route("PATCH", base + "/{id}", self.patch)
        app.router.add_route("OPTIONS", base + "/{id}", self.options)

    async def options(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers={**CORS_HEADERS, "Accept-Post": SDP_TYPE})

    async def patch(self, request: web.Request) -> web.Response:
        raise signalling_error(
            405,
            "trickle_not_supported",
            "trickle ICE and ICE restarts are not supported: send a complete offer with POST",
            "不支持 trickle ICE 和 ICE 重启：请用 POST 发送完整的 offer",
            {"Allow": "DELETE, OPTIONS"},
        )

    def session_of(self, request: web.Request) -> SessionT:
        session_id = request.match_info["id"]
        session = self.sessions.get(session_id)
        if session is None:
            kind = self.name.upper()
            raise signalling_error(
                404, "unknown_session", f"no {kind} session {session_id!r}", f"找不到 {kind} 会话 {session_id}"
            )
        return session

    async def delete(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        await self.close(self.session_of(request))
        return web.Response(status=200, headers=CORS_HEADERS)

    async def post(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        text, offer = await read_offer(request, self.direction)
        self.admit(request)
        config = self.studio.config
        pc = RTCPeerConnection(rtc_configuration(config.ice_servers, scope=config.ice_scope))
        session = self.new_session(request, secrets.token_urlsafe(12), pc, offer)
        session.client = request.remote or ""
        session.trusted = has_key(request, config.key)
        # Registered (and pending) from now on, so the limits see offers still being answered.
        self.sessions[session.id] = session
        self.spawn(self._expire_unconnected(session))
        try:
            async with self._negotiation_slot():
                await self.prepare(request, session)
                answer = await self._negotiate(session, text)
        except BaseException as error:
            expired = session.closed
            await self.close(session)
            if expired and isinstance(error, Exception) and not isinstance(error, Problem):
                raise _expired() from error  # its peer connection was closed under it
            raise
        if session.closed:  # expired or deleted while it was being answered
            raise _expired()
        self._watch(session)
        headers = {
            **CORS_HEADERS,
            "Location": f"/{self.name}/{session.id}",
            "ETag": f'"{session.id}"',
        }
        links = ice_server_links(config.ice_servers) if config.ice_scope == "any" else ""
        if links:
            headers["Link"] = links
        headers.update(self.response_headers(request, session))
        return web.Response(status=201, body=answer.encode(), content_type=SDP_TYPE, headers=headers)

    @contextlib.asynccontextmanager
    async def _negotiation_slot(self) -> AsyncIterator[None]:
        """One of :data:`MAX_NEGOTIATIONS` slots, or 503 if none frees up soon."""
        try:
            async with asyncio.timeout(NEGOTIATION_WAIT):
                await self._negotiations.acquire()
        except TimeoutError as error:
            raise signalling_error(
                503, "busy", "the studio is busy answering other offers: try again", "直播间正忙，请稍后重试",
                {"Retry-After": "2"},
            ) from error
        try:
            yield
        finally:
            self._negotiations.release()

    async def _negotiate(self, session: SessionT, offer_sdp: str) -> str:
        offer_sdp = await admit_remote_candidates(offer_sdp, self.studio.config.ice_scope)
        pc = session.pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as error:
            raise _bad_offer(f"the SDP offer was refused: {error}", f"SDP offer 被拒绝：{error}") from error
        # setLocalDescription gathers every candidate before it returns: no trickle needed.
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    # -- lifecycle ------------------------------------------------------
    def _watch(self, session: SessionT) -> None:
        pc = session.pc

        @pc.on("connectionstatechange")
        async def _changed() -> None:
            state = pc.connectionState
            log.info("%s %s: %s", self.name, session.id, state)
            if state == "connected" and not session.connected.is_set():
                session.connected.set()
                pair = selected_pair(pc)
                if pair:
                    log.info("%s %s: ICE pair %s <-> %s", self.name, session.id, *pair)
                await self.on_connected(session)
            elif state in ("failed", "closed"):
                await self.close(session)

    async def _expire_unconnected(self, session: SessionT) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await session.connected.wait()
        except TimeoutError:
            log.info("%s %s: never connected, closing", self.name, session.id)
            await self.close(session)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """A background task the endpoint cancels on shutdown."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, session: SessionT) -> None:
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.id, None)
        try:
            await self.on_closed(session)
        except Exception:
            log.exception("%s %s: cleanup failed", self.name, session.id)
        await session.pc.close()

    async def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            await self.close(session)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

