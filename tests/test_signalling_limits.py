"""WHIP/WHEP under hostile input: size and m-line limits, fuzzed offers, no stalled viewers, DTLS suites, ICE scope."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate, generate_certificate
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from OpenSSL import SSL

from studio.media import dtls, ice, sessions
from tests.conftest import StudioProcess, start_studio_process, stop_studio_process
from tests.test_whip_whep import SDP, viewer_offer


# -- DTLS: ECDSA and RSA peers ------------------------------------------------------
def rsa_server_context() -> SSL.Context:
    """A DTLS server with an RSA certificate, as GStreamer's webrtcbin presents."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = generate_certificate(key)  # type: ignore[arg-type]  # aiortc's self-signed helper, any key type
    context = SSL.Context(SSL.DTLS_METHOD)
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_: True)
    context.use_certificate(cert)
    context.use_privatekey(key)
    context.set_tlsext_use_srtp(b":".join(p.openssl_profile for p in SRTP_PROFILES))
    return context


def handshake(client_context: SSL.Context, server_context: SSL.Context) -> bytes:
    """Run a DTLS handshake over memory BIOs; returns the cipher name (raises SSL.Error on failure)."""
    client, server = SSL.Connection(client_context), SSL.Connection(server_context)
    client.set_connect_state()
    server.set_accept_state()
    for _ in range(20):
        for side in (client, server):
            with contextlib.suppress(SSL.WantReadError):
                side.do_handshake()
        for source, target in ((client, server), (server, client)):
            with contextlib.suppress(SSL.WantReadError):
                target.bio_write(source.bio_read(65536))
        if client.get_cipher_name() and server.get_cipher_name() and not client.want_read():
            break
    name = client.get_cipher_name()
    assert name
    return name.encode()


def test_aiortc_alone_cannot_be_the_dtls_client_of_an_rsa_peer() -> None:
    """The bug: aiortc's own cipher list has ECDSA suites only."""
    ours = RTCCertificate.generateCertificate()
    with pytest.raises(SSL.Error, match=r"(?i)no shared cipher|handshake failure"):
        handshake(dtls._original_context(ours, SRTP_PROFILES), rsa_server_context())


def test_studio_dtls_negotiates_with_rsa_and_ecdsa_peers() -> None:
    dtls.accept_rsa_peers()
    studio, peer = RTCCertificate.generateCertificate(), RTCCertificate.generateCertificate()
    # Studio as DTLS client (it answered a=setup:active) of an RSA server: an ECDHE-RSA suite.
    assert handshake(studio._create_ssl_context(SRTP_PROFILES), rsa_server_context()).startswith(b"ECDHE-RSA-")
    # Studio as client or server with an ECDSA peer (browsers, aiortc): ECDSA as before.
    assert handshake(studio._create_ssl_context(SRTP_PROFILES), peer._create_ssl_context(SRTP_PROFILES)).startswith(
        b"ECDHE-ECDSA-"
    )


# -- ICE scope: remote candidates --------------------------------------------------
OFFER_WITH_CANDIDATES = (
    "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"
    "a=candidate:2 1 udp 2122194687 198.51.100.7 50001 typ host\r\n"
    "a=candidate:3 1 udp 2122129151 4f1b9c1e-0000-4000-8000-000000000000.local 50002 typ host\r\n"
    "a=candidate:4 1 udp 1686052607 203.0.113.9 50003 typ srflx raddr 0.0.0.0 rport 0\r\n"
)


async def test_machine_scope_keeps_only_this_machines_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    own = sorted(ice.own_addresses() - {"127.0.0.1", "::1"})
    extra = f"a=candidate:5 1 udp 2122129150 {own[0]} 50004 typ host\r\n" if own else ""

    async def resolve(names: set[str]) -> dict[str, str]:
        return dict.fromkeys(names, "127.0.0.1")  # the name is this machine's

    monkeypatch.setattr(ice, "resolve_mdns_names", resolve)
    kept = await ice.admit_remote_candidates(OFFER_WITH_CANDIDATES + extra, "machine")
    hosts = [line.split()[4] for line in kept.splitlines() if line.startswith("a=candidate:")]
    assert hosts == ["127.0.0.1", "127.0.0.1", *own[:1]]  # loopback, the resolved name, an interface
    assert "m=video" in kept
    # A name nobody on this machine answers for is dropped, never handed to aioice (which would ask the LAN).
    monkeypatch.setattr(ice, "resolve_mdns_names", lambda _names: asyncio.sleep(0, result={}))
    kept = await ice.admit_remote_candidates(OFFER_WITH_CANDIDATES, "machine")
    assert ".local" not in kept and "198.51.100.7" not in kept and "203.0.113.9" not in kept
    assert await ice.admit_remote_candidates(OFFER_WITH_CANDIDATES, "any") == OFFER_WITH_CANDIDATES


def test_datagrams_from_other_machines_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[str, int]] = []
    monkeypatch.setattr(ice, "_original_datagram_received", lambda _self, _data, addr: received.append(addr))
    for addr in (("127.0.0.1", 1), ("198.51.100.7", 2), *((address, 3) for address in ice.own_addresses())):
        ice._machine_datagram_received(None, b"x", addr)  # type: ignore[arg-type]
    assert ("198.51.100.7", 2) not in received
    assert ("127.0.0.1", 1) in received and len(received) == 1 + len(ice.own_addresses())


# -- offer limits over HTTP ------------------------------------------------------------
def many_m_lines(count: int) -> str:
    section = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n"
    return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + section * count


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (many_m_lines(1) + "a=x-padding:" + "x" * 70_000 + "\r\n", 413, "offer_too_large"),
        (many_m_lines(600), 400, "bad_offer"),
        (many_m_lines(9), 400, "bad_offer"),
    ],
)
async def test_oversized_offers_are_refused_before_any_work(running_studio, body: str, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    from studio.media import WHEP, WHIP

    async with aiohttp.ClientSession() as http:
        for path, headers in (("/whep", SDP), ("/whip", {**SDP, **running_studio.auth})):
            async with http.post(f"{running_studio.url}{path}", data=body, headers=headers) as response:
                assert response.status == status
                assert response.content_type == "application/problem+json"
                problem = await response.json()
                assert problem["code"] == code and problem["detail"] and problem["detail_zh"]
                assert response.headers["Access-Control-Allow-Origin"] == "*"
            # Chunked (no Content-Length): the read stops at the limit all the same.
            async def chunks() -> AsyncIterator[bytes]:
                for start in range(0, len(body), 8192):
                    yield body[start : start + 8192].encode()

            async with http.post(f"{running_studio.url}{path}", data=chunks(), headers=headers) as response:
                assert response.status == status
    assert not running_studio.app[WHEP].sessions and not running_studio.app[WHIP].sessions


async def test_cors_allows_every_method_the_routes_answer(running_studio) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        for path in ("/whep", "/whep/some-id", "/whip", "/whip/some-id"):
            async with http.options(f"{running_studio.url}{path}") as response:
                allowed = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
                assert {"POST", "PATCH", "DELETE", "OPTIONS", "GET"} <= allowed


async def test_negotiations_are_limited(running_studio, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """At most MAX_NEGOTIATIONS offers are answered at once; the rest wait (then 503, never 5xx)."""
    from studio.media import WHEP

    whep = running_studio.app[WHEP]
    monkeypatch.setattr(sessions, "NEGOTIATION_WAIT", 0.5)
    busy = 0
    most = 0
    original = whep._negotiate

    async def slow_negotiate(session, offer_sdp):  # type: ignore[no-untyped-def]
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        try:
            await asyncio.sleep(1.0)
            return await original(session, offer_sdp)
        finally:
            busy -= 1

    monkeypatch.setattr(whep, "_negotiate", slow_negotiate)
    offers = [await viewer_offer() for _ in range(6)]
    async with aiohttp.ClientSession() as http:

        async def post(pc) -> int:  # type: ignore[no-untyped-def]
            # The studio key: not subject to the anonymous pending limits, only to the slots.
            headers = {**SDP, **running_studio.auth}
            async with http.post(
                f"{running_studio.url}/whep", data=pc.localDescription.sdp, headers=headers
            ) as response:
                return response.status

        statuses = await asyncio.gather(*(post(pc) for pc in offers))
    assert most == sessions.MAX_NEGOTIATIONS
    assert sorted(statuses) == [201] * 4 + [503] * 2
    for pc in offers:
        await pc.close()


# -- a real studio process under hostile offers ------------------------------------------------
@pytest.fixture
def studio(data_dir) -> Iterator[StudioProcess]:  # type: ignore[no-untyped-def]
    server = start_studio_process(data_dir)
    try:
        yield server
    finally:
        stop_studio_process(server)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def health(server: StudioProcess) -> dict[str, object]:
    request = urllib.request.Request(server.url + "/api/state", headers=server.auth)
    with urllib.request.urlopen(request, timeout=10) as response:
        state: dict[str, object] = json.loads(response.read())["stream_health"]
        return state


SDP_LINES = st.sampled_from(
    [
        "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=application 9 DTLS/SCTP 5000",
        "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly", "a=sendonly", "a=sendrecv", "a=inactive", "a=rtcp-mux",
        "a=rtpmap:96 H264/90000", "a=rtpmap:96 VP8/90000", "a=rtpmap:111 opus/48000/2", "a=rtpmap:96",
        "a=fmtp:96 packetization-mode=1;profile-level-id=42e01f", "a=ice-ufrag:ab", "a=ice-pwd:x",
        "a=fingerprint:sha-256 AB:CD", "a=setup:actpass", "a=setup:passive", "a=setup:bogus",
        "a=candidate:1 1 udp 1 127.0.0.1 9 typ host", "a=candidate:x", "a=ssrc:1 cname:x", "m=video",
    ]
)
OFFERS = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(str.encode),
    st.lists(st.one_of(SDP_LINES, st.text(max_size=40)), max_size=40).map(lambda lines: "\r\n".join(lines).encode()),
    st.lists(SDP_LINES, min_size=1, max_size=60).map(lambda lines: ("v=0\r\n" + "\r\n".join(lines) + "\r\n").encode()),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=OFFERS, endpoint=st.sampled_from(["/whip", "/whep"]), content_type=st.sampled_from(
    ["application/sdp", "application/sdp; charset=utf-8", "text/plain", ""]
))
def test_fuzzed_offers_get_a_clear_answer_never_a_5xx(
    studio: StudioProcess, body: bytes, endpoint: str, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if endpoint == "/whip":
        headers.update(studio.auth)
    status, response_headers, answer = post(studio.url + endpoint, body, headers)
    assert status in (201, 400, 413, 415), (status, answer)
    if status == 201:  # a lucky offer: hang up at once, so nothing is left behind
        location = response_headers["Location"]
        request = urllib.request.Request(studio.url + location, method="DELETE", headers=studio.auth)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    else:
        problem = json.loads(answer)
        assert problem["detail"] and problem["detail_zh"]
    state = health(studio)
    assert state["viewers"] == 0 and state["viewers_now"] == 0 and not state["publishing"]


async def test_hostile_offers_do_not_stall_a_watching_viewer(studio: StudioProcess) -> None:
    """While hostile offers pour in, a connected viewer's frames keep coming (no gap over 200 ms)."""
    from tests.test_whip_whep import post_offer

    ice.use_loopback_candidates()  # this process's aiortc clients, like the studio, stay on 127.0.0.1
    pc = await viewer_offer()
    # When each video frame's last RTP packet arrives: what the studio's event loop
    # sends, without this process's decoder and jitter buffer in between.
    frames: list[float] = []
    track_ready = asyncio.Event()
    video = next(t for t in pc.getTransceivers() if t.kind == "video").receiver
    handle_rtp = video._handle_rtp_packet

    async def timed(packet, arrival_time_ms):  # type: ignore[no-untyped-def]
        if packet.marker:
            frames.append(time.monotonic())
            track_ready.set()
        return await handle_rtp(packet, arrival_time_ms)

    video._handle_rtp_packet = timed

    hostile = [
        many_m_lines(1).encode() + b"a=x:" + b"y" * 900_000,  # 900 KB
        many_m_lines(600).encode(),  # 600 m-lines
        b"\xff\xfe" * 5000,
    ]
    async with aiohttp.ClientSession() as http:
        await post_offer(http, f"{studio.url}/whep", pc, {})
        await asyncio.wait_for(track_ready.wait(), 15)
        deadline = time.monotonic() + 20
        while len(frames) < 30:  # steady playback first
            assert time.monotonic() < deadline, f"the viewer got {len(frames)} frames in 20 s"
            await asyncio.sleep(0.1)

        # Valid offers whose answers are never applied, made before the clock starts
        # (making them costs this process CPU, which would blur the viewer's timing).
        never_connect = [await viewer_offer() for _ in range(12)]

        async def attack(squatter: RTCPeerConnection) -> list[int]:
            statuses = []
            for body in [*hostile, squatter.localDescription.sdp.encode()]:
                async with http.post(f"{studio.url}/whep", data=body, headers=SDP) as response:
                    statuses.append(response.status)
            return statuses

        baseline = frames[-20:]
        started = time.monotonic()
        results = await asyncio.gather(*(attack(pc) for pc in never_connect))
        attack_seconds = time.monotonic() - started
        await asyncio.sleep(0.5)
        window = [t for t in frames if t >= started]
        for squatter in never_connect:
            await squatter.close()
    gaps = [b - a for a, b in itertools.pairwise(window)]
    quiet = max(b - a for a, b in itertools.pairwise(baseline))
    print(
        f"attack {attack_seconds:.2f} s, {len(window)} frames, longest gap {max(gaps) * 1000:.0f} ms "
        f"(before: {quiet * 1000:.0f} ms)"
    )
    assert len(window) > 10, (len(window), attack_seconds)
    assert max(gaps) < 0.2, (
        f"longest gap between the viewer's frames during the attack: {max(gaps) * 1000:.0f} ms"
        f" (before it: {quiet * 1000:.0f} ms)"
    )
    statuses = [s for r in results for s in r]
    assert set(statuses) <= {201, 400, 413, 503} and 413 in statuses and 400 in statuses
    assert statuses.count(201) <= sessions.MAX_PENDING_PER_CLIENT  # the rest: too many pending
    await pc.close()


def test_a_too_large_offer_is_not_read_whole(studio: StudioProcess) -> None:
    """A 900 KB offer is refused from its Content-Length, with CORS headers so a browser reads why."""
    status, headers, body = post(studio.url + "/whep", b"v=0\r\n" + b"x" * 900_000, {"Content-Type": "application/sdp"})
    assert status == 413 and json.loads(body)["code"] == "offer_too_large"
    assert headers["Access-Control-Allow-Origin"] == "*"

