"""WHIP/WHEP over real HTTP and real WebRTC (aiortc clients) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AudioStreamTrack

from studio.media import PIPELINE, WHEP, WHIP
from studio.media.ice import loopback_only_sdp, selected_pair
from tests.conftest import RunningStudio

SDP = {"Content-Type": "application/sdp"}


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {check}")


def client_pc() -> RTCPeerConnection:
    # An explicit empty server list: never aiortc's default public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def publisher_offer(*, h264: bool = False, audio: bool = False) -> RTCPeerConnection:
    """A phone (VP8) or OBS-like (H264 + Opus, bundled) publisher with a complete offer."""
    pc = client_pc()
    video = pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    if h264:
        codecs = RTCRtpSender.getCapabilities("video").codecs
        video.setCodecPreferences([c for c in codecs if c.mimeType == "video/H264"])
    if audio:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def viewer_offer() -> RTCPeerConnection:
    pc = client_pc()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def post_offer(
    http: aiohttp.ClientSession, url: str, pc: RTCPeerConnection, headers: dict[str, str]
) -> tuple[str, str]:
    async with http.post(url, data=pc.localDescription.sdp, headers={**SDP, **headers}) as response:
        body = await response.text()
        assert response.status == 201, body
        assert response.content_type == "application/sdp"
        location = response.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    return location, body


def candidate_hosts(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def video_codecs(sdp: str) -> list[str]:
    section = sdp.split("m=video", 1)[1].split("\nm=", 1)[0]
    return [line.split()[1].split("/")[0] for line in section.splitlines() if line.startswith("a=rtpmap:")]


async def test_whip_publish_answer_and_delete(running_studio: RunningStudio) -> None:
    pipeline = running_studio.app[PIPELINE]
    pc = await publisher_offer()
    async with aiohttp.ClientSession() as http:
        location, answer = await post_offer(http, f"{running_studio.url}/whip", pc, running_studio.auth)
        assert location.startswith("/whip/")
        # Loopback studio: the answer offers 127.0.0.1 and nothing else.
        assert candidate_hosts(answer) == {"127.0.0.1"}
        # The client offered VP8 first; the studio prefers H264 (phones encode it in hardware).
        assert video_codecs(pc.localDescription.sdp)[0] == "VP8"
        assert video_codecs(answer)[0] == "H264"
        await eventually(lambda: pc.connectionState == "connected")
        assert selected_pair(pc) == ("127.0.0.1", "127.0.0.1")
        await eventually(lambda: pipeline.stats()["publishing"] and pipeline.stats()["ingest_fps"] > 0)
        await eventually(lambda: running_studio.studio.figures.uplink_kbps > 0)

        async with http.delete(running_studio.url + location) as response:
            assert response.status == 401  # ending a publish needs the key too
        async with http.delete(running_studio.url + location, headers=running_studio.auth) as response:
            assert response.status == 200
        assert not pipeline.stats()["publishing"]
        async with http.delete(running_studio.url + location, headers=running_studio.auth) as response:
            assert response.status == 404
    await pc.close()


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, "v=0\r\n", 401, "studio key"),
        ({"Authorization": "Bearer wrong"}, "v=0\r\n", 401, "studio key"),
        ({"Authorization": "Basic dGVzdA=="}, "v=0\r\n", 401, "studio key"),
        ({"Content-Type": "text/plain"}, "v=0\r\n", 415, "application/sdp"),
        ({}, "hello, this is not SDP", 400, "malformed SDP"),
        ({}, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, "no video m-line"),
    ],
)
async def test_whip_rejects_bad_requests(
    running_studio: RunningStudio, headers: dict[str, str], body: str, status: int, message: str
) -> None:
    sent = {**SDP, **running_studio.auth, **headers}
    if "Authorization" in headers or status == 401:
        sent["Authorization"] = headers.get("Authorization", "")
        if not sent["Authorization"]:
            del sent["Authorization"]
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{running_studio.url}/whip", data=body, headers=sent) as response,
    ):
        assert response.status == status
        assert message in await response.text()
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert not running_studio.app[WHIP].sessions  # nothing half-open is left behind


async def test_whip_refuses_a_viewer_offer_and_whep_a_publisher_offer(running_studio: RunningStudio) -> None:
    viewer, publisher = await viewer_offer(), await publisher_offer()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{running_studio.url}/whip", data=viewer.localDescription.sdp, headers={**SDP, **running_studio.auth}
        ) as response:
            assert response.status == 400
            assert "must send video" in await response.text()
        async with http.post(
            f"{running_studio.url}/whep", data=publisher.localDescription.sdp, headers=SDP
        ) as response:
            assert response.status == 400
            assert "must receive video" in await response.text()
    await viewer.close()
    await publisher.close()


async def test_whip_patch_is_405_and_options_allows_cors(running_studio: RunningStudio) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.patch(f"{running_studio.url}/whip/anything", headers=running_studio.auth) as response:
            assert response.status == 405
        async with http.options(f"{running_studio.url}/whip") as response:
            assert response.status == 204
            assert response.headers["Accept-Post"] == "application/sdp"
            assert "Location" in response.headers["Access-Control-Expose-Headers"]


async def test_obs_like_h264_opus_offer_is_accepted(running_studio: RunningStudio) -> None:
    """OBS 30 offers H264 + Opus, bundled, sendonly."""
    pipeline = running_studio.app[PIPELINE]
    pc = await publisher_offer(h264=True, audio=True)
    assert "a=group:BUNDLE 0 1" in pc.localDescription.sdp
    async with aiohttp.ClientSession() as http:
        _, answer = await post_offer(http, f"{running_studio.url}/whip", pc, running_studio.auth)
        assert video_codecs(answer)[0] == "H264"
        assert "opus/48000/2" in answer
        await eventually(lambda: pipeline.stats()["ingest_fps"] > 0)
    await pc.close()
    await eventually(lambda: not pipeline.stats()["publishing"])


async def test_new_publisher_replaces_the_old_one(running_studio: RunningStudio) -> None:
    whip = running_studio.app[WHIP]
    first, second = await publisher_offer(), await publisher_offer()
    async with aiohttp.ClientSession() as http:
        first_location, _ = await post_offer(http, f"{running_studio.url}/whip", first, running_studio.auth)
        await eventually(lambda: first.connectionState == "connected")
        second_location, _ = await post_offer(http, f"{running_studio.url}/whip", second, running_studio.auth)
        await eventually(lambda: second.connectionState == "connected")
        await eventually(lambda: list(whip.sessions) == [second_location.rsplit("/", 1)[1]])
        assert whip.current is not None and whip.current.id == second_location.rsplit("/", 1)[1]
        # The replaced page learns it was replaced (and must not reconnect); the new one is live.
        async with http.get(running_studio.url + first_location, headers=running_studio.auth) as response:
            assert response.status == 410
        async with http.get(running_studio.url + second_location, headers=running_studio.auth) as response:
            assert (response.status, (await response.json())["state"]) == (200, "live")
        async with http.get(running_studio.url + second_location) as response:
            assert response.status == 401
        async with http.delete(running_studio.url + first_location, headers=running_studio.auth) as response:
            assert response.status == 404
        assert running_studio.app[PIPELINE].stats()["reconnects"] == 1
    await first.close()
    await second.close()


async def test_whep_viewer_gets_h264_frames_and_a_session_row(running_studio: RunningStudio) -> None:
    studio = running_studio.studio
    show = await studio.start_show("test show")
    pc = await viewer_offer()
    frames: list = []
    pulls: list[asyncio.Future[None]] = []  # held, so the event loop cannot drop a running pull

    @pc.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        if track.kind == "video":
            async def pull() -> None:
                while len(frames) < 3:
                    frames.append(await track.recv())

            pulls.append(asyncio.ensure_future(pull()))

    async with aiohttp.ClientSession(cookies={"fl_viewer": "viewer-cookie-1"}) as http:
        location, answer = await post_offer(http, f"{running_studio.url}/whep", pc, {})
        assert location.startswith("/whep/")
        assert video_codecs(answer)[0] == "H264"
        assert "packetization-mode=1" in answer
        assert candidate_hosts(answer) == {"127.0.0.1"}
        await eventually(lambda: len(frames) >= 3, timeout=20)
        assert selected_pair(pc) == ("127.0.0.1", "127.0.0.1")
        # The slate is on air (no phone): the viewer decodes real pictures of the studio's size.
        assert (frames[-1].width, frames[-1].height) == (1280, 720)
        assert studio.figures.viewers_now == 1

        def rows() -> list[tuple]:
            return list(studio._connection().execute(
                "SELECT viewer_id, transport, joined_at, left_at FROM viewer_sessions WHERE show_id = ?",
                [show.id],
            ))

        await eventually(lambda: len(rows()) == 1)
        viewer_id, transport, joined_at, left_at = rows()[0]
        assert (viewer_id, transport, left_at) == ("viewer-cookie-1", "webrtc", None)
        assert joined_at

        async with http.delete(running_studio.url + location) as response:
            assert response.status == 200
        await eventually(lambda: rows()[0][3] is not None)
        assert studio.figures.viewers_now == 0
        async with http.delete(running_studio.url + location) as response:
            assert response.status == 404
    await pc.close()
    assert len(rows()) == 1  # left exactly once, no second row


async def test_the_studio_monitor_is_served_but_not_a_viewer(running_studio: RunningStudio) -> None:
    """The control room's preview sends the studio key: it plays, but is no viewer in the figures."""
    studio = running_studio.studio
    show = await studio.start_show("test show")
    monitor, viewer = await viewer_offer(), await viewer_offer()
    frames: dict[str, int] = {"monitor": 0, "viewer": 0}
    pulls: list[asyncio.Future[None]] = []  # held, so the event loop cannot drop a running pull

    def count_frames(pc: RTCPeerConnection, name: str) -> None:
        @pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind == "video":
                async def pull() -> None:
                    while frames[name] < 3:
                        await track.recv()
                        frames[name] += 1

                pulls.append(asyncio.ensure_future(pull()))

    count_frames(monitor, "monitor")
    count_frames(viewer, "viewer")
    async with aiohttp.ClientSession() as http:
        await post_offer(http, f"{running_studio.url}/whep", monitor, running_studio.auth)
        await post_offer(http, f"{running_studio.url}/whep", viewer, {})
        await eventually(lambda: frames["monitor"] >= 3 and frames["viewer"] >= 3, timeout=20)

        def rows() -> list[tuple]:
            return list(studio._connection().execute(
                "SELECT viewer_id FROM viewer_sessions WHERE show_id = ?", [show.id]
            ))

        await eventually(lambda: len(rows()) == 1)
        await asyncio.sleep(0.5)  # the monitor's join would have been written by now
        assert len(rows()) == 1
        assert studio.figures.viewers_now == 1
    await monitor.close()
    await viewer.close()


async def test_whep_sets_the_viewer_cookie_when_missing(running_studio: RunningStudio) -> None:
    pc = await viewer_offer()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{running_studio.url}/whep", data=pc.localDescription.sdp, headers=SDP) as response,
    ):
        assert response.status == 201
        assert len(response.cookies["fl_viewer"].value) >= 8
    await pc.close()


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/plain"}, "v=0\r\n", 415),
        (SDP, "garbage", 400),
        ({**SDP, "Authorization": "Bearer wrong"}, "v=0\r\n", 401),
    ],
)
async def test_whep_rejects_bad_requests(
    running_studio: RunningStudio, headers: dict[str, str], body: str, status: int
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{running_studio.url}/whep", data=body, headers=headers) as response,
    ):
        assert response.status == status
    assert not running_studio.app[WHEP].sessions
    assert running_studio.app[PIPELINE].stats()["viewers"] == 0


async def test_whep_cap_counts_connected_viewers_and_monitors_bypass_it(running_studio: RunningStudio) -> None:
    whep = running_studio.app[WHEP]
    whep.max_viewers = 1
    first, second, monitor = await viewer_offer(), await viewer_offer(), await viewer_offer()
    async with aiohttp.ClientSession() as http:
        await post_offer(http, f"{running_studio.url}/whep", first, {})
        await eventually(lambda: first.connectionState == "connected")
        async with http.post(f"{running_studio.url}/whep", data=second.localDescription.sdp, headers=SDP) as response:
            assert response.status == 503
            assert response.headers["Retry-After"]
            assert (await response.json())["code"] == "studio_full"
        # The control room's preview holds the key: never refused by the cap.
        await post_offer(http, f"{running_studio.url}/whep", monitor, running_studio.auth)
    assert len(whep.sessions) == 2
    assert running_studio.studio.figures.viewers_now == 1
    for pc in (first, second, monitor):
        await pc.close()


@pytest.mark.parametrize(("overall", "per_client"), [(50, 3), (3, 50)])
async def test_pending_offers_cannot_squat_the_viewer_cap(
    running_studio: RunningStudio, monkeypatch: pytest.MonkeyPatch, overall: int, per_client: int
) -> None:
    """Offers that never connect fill only their own small limit, then expire; real viewers still get in."""
    from studio.media import sessions

    monkeypatch.setattr(sessions, "MAX_PENDING", overall)
    monkeypatch.setattr(sessions, "MAX_PENDING_PER_CLIENT", per_client)
    monkeypatch.setattr(sessions, "CONNECT_TIMEOUT", 1.5)
    whep = running_studio.app[WHEP]
    whep.max_viewers = 2
    squatters = [await viewer_offer() for _ in range(4)]
    async with aiohttp.ClientSession() as http:

        async def post(pc: RTCPeerConnection, headers: dict[str, str]) -> int:
            async with http.post(
                f"{running_studio.url}/whep", data=pc.localDescription.sdp, headers={**SDP, **headers}
            ) as response:
                if response.status == 503:
                    assert (await response.json())["code"] == "too_many_pending"
                return response.status

        # ...the answers are never applied, so none of these ever connects.
        statuses = [await post(pc, {}) for pc in squatters]
        assert statuses == [201, 201, 201, 503]
        figures = running_studio.studio.figures
        assert (figures.viewers_now, figures.pending_viewers) == (0, 3)
        monitor = await viewer_offer()
        assert await post(monitor, running_studio.auth) == 201  # the host's preview is never locked out
        await eventually(lambda: running_studio.studio.figures.pending_viewers == 0, timeout=5)
        viewer = await viewer_offer()
        await post_offer(http, f"{running_studio.url}/whep", viewer, {})
        await eventually(lambda: viewer.connectionState == "connected")
        await eventually(lambda: running_studio.studio.figures.viewers_now == 1)
    for pc in [*squatters, monitor, viewer]:
        await pc.close()


async def test_viewer_watching_before_the_show_joins_it_and_leaves_on_shutdown(
    running_studio: RunningStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.media import whep as whep_module

    monkeypatch.setattr(whep_module, "SYNC_INTERVAL", 0.2)
    studio = running_studio.studio
    pc = await viewer_offer()
    async with aiohttp.ClientSession() as http:
        await post_offer(http, f"{running_studio.url}/whep", pc, {})
        await eventually(lambda: pc.connectionState == "connected")
        show = await studio.start_show("late show")

        def rows() -> list[tuple]:
            return list(studio._connection().execute(
                "SELECT joined_at, left_at FROM viewer_sessions WHERE show_id = ?", [show.id]
            ))

        await eventually(lambda: len(rows()) == 1, timeout=5)
        await running_studio.app[WHEP].shutdown()
        assert rows()[0][1] is not None
    await pc.close()


async def test_a_session_that_never_connects_is_closed(
    running_studio: RunningStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.media import sessions

    monkeypatch.setattr(sessions, "CONNECT_TIMEOUT", 0.5)
    pc = await viewer_offer()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{running_studio.url}/whep", data=pc.localDescription.sdp, headers=SDP) as response,
    ):
        assert response.status == 201  # ...but the client never applies the answer
    assert running_studio.app[PIPELINE].stats()["viewers"] == 1
    await eventually(lambda: not running_studio.app[WHEP].sessions, timeout=5)
    assert running_studio.app[PIPELINE].stats()["viewers"] == 0
    await pc.close()


def test_loopback_only_sdp_drops_other_candidates() -> None:
    offer = (
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"
        "a=candidate:2 1 udp 2122194687 192.0.2.2 50001 typ host\r\n"
        "a=candidate:3 1 udp 2122129151 4f1b9c1e-0000-4000-8000-000000000000.local 50002 typ host\r\n"
        "a=candidate:4 1 tcp 1518280447 ::1 9 typ host tcptype active\r\n"
    )
    kept = loopback_only_sdp(offer)
    assert candidate_hosts(kept) == {"127.0.0.1", "::1"}
    assert "m=video" in kept


def test_ice_servers_are_advertised_as_link_headers() -> None:
    from studio.media.sessions import ice_server_links

    links = ice_server_links([
        {"urls": "stun:stun.farm.lan:3478"},
        {"urls": "turn:turn.farm.lan:3478", "username": "farm", "credential": "s3cret"},
    ])
    assert links == (
        '<stun:stun.farm.lan:3478>; rel="ice-server", '
        '<turn:turn.farm.lan:3478>; rel="ice-server"; username="farm"; credential="s3cret"; credential-type="password"'
    )
