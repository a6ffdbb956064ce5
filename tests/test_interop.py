"""Interop matrix: standard WHIP publishers and WHEP players against a default ``farmlive up``.

The studio runs with default flags (``farmlive up --no-ui --data-dir D --key K``:
127.0.0.1:8080, ICE scope "machine") inside a network namespace the test
creates (:mod:`tests.netns`), so clients can use a non-loopback interface
address (192.0.2.1) the way they do on a laptop, without a packet reaching a
real network. Each client must go live (or play), show frames whose QR
decodes to the product's tracked link, and hang up with DELETE; the live
viewer count is checked against the clients actually connected at each step.

- stock Chromium with only the fake-camera flags: ``/publish`` and ``/watch``
  (the viewer page hides its address behind an mDNS name);
- GStreamer ``webrtcbin`` + libnice as a WHIP publisher (RSA DTLS certificate),
  run with the system Python (``tests/gst_whip_publisher.py``);
- aiortc WHIP publisher and WHEP player written here (ECDSA);
- a WHEP player page served from another origin (CORS, PATCH answered 405).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import aioice.mdns
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.rtcicetransport import RTCIceGatherer

from studio.media.ice import restore_host_candidates, selected_pair
from tests.conftest import CHROMIUM, TEST_KEY, stop_process
from tests.netns import ADDRESS, NetNs, network_namespace
from tests.test_browser_show import SELECTED_PAIR, decode_qr, wait_for_qr

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
STUDIO = "http://127.0.0.1:8080"  # the default address: nothing passed on the command line
PLAYER_PORT = 8090
ORANGE = "ORANGE-GANNAN-5KG"
GST_PUBLISHER = Path(__file__).with_name("gst_whip_publisher.py")
SYSTEM_PYTHON = "/usr/bin/python3"
# Stock Chromium: the fake camera only (plus what running headless as root needs).
# No --allow-loopback-in-peer-connection, no mDNS switches.
STOCK_CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
OWN = {"127.0.0.1", ADDRESS}


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request (call it inside the namespace)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class NsStudio:
    ns: NetNs
    data_dir: Path
    process: subprocess.Popen[bytes]
    url: str = STUDIO
    link_url: str = ""

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, text = self.ns.call(
            http,
            method,
            self.url + path,
            json.dumps(body).encode() if body is not None else None,
            {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"},
        )
        assert status < 300, (status, text)
        return json.loads(text)

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = self.api("GET", "/api/state")["stream_health"]
        return health

    def wait(self, what: str, check: Any, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if check(health):
                return health
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {health}"
            time.sleep(0.2)

    def viewer_rows(self) -> int:
        with sqlite3.connect(self.data_dir / "farmlive.db") as db:
            count: int = db.execute("SELECT COUNT(*) FROM viewer_sessions").fetchone()[0]
            return count

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.data_dir.glob("*.log"))


@pytest.fixture(scope="module")
def netns() -> Iterator[NetNs]:
    with network_namespace() as ns:
        yield ns


@contextmanager
def studio_in(netns: NetNs, data_dir: Path, *flags: str, url: str = STUDIO) -> Iterator[NsStudio]:
    """``farmlive up --no-ui --data-dir D --key K [flags]`` in the namespace, with a live show and the orange on air."""
    data_dir.mkdir()
    command = [sys.executable, "-m", "studio.cli", "up", "--no-ui", "--data-dir", str(data_dir), "--key", TEST_KEY]
    with open(data_dir / "server.log", "ab") as log:  # the child writes to its own copy of the descriptor
        process = subprocess.Popen(netns.argv([*command, *flags]), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    studio = NsStudio(netns, data_dir, process, url)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, studio.log()
            try:
                if netns.call(http, "GET", f"{url}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "studio did not start within 60 s"
            time.sleep(0.3)
        studio.api("POST", "/api/shows", {"title": "Interop 互通测试"})
        studio.link_url = studio.api("PUT", "/api/overlay", {"sku": ORANGE})["link_url"]
        yield studio
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def default_studio(netns: NetNs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NsStudio]:
    """Default flags: 127.0.0.1:8080, ICE on this machine's own addresses."""
    with studio_in(netns, tmp_path_factory.mktemp("interop") / "data") as studio:
        yield studio


@pytest.fixture(autouse=True)
def viewer_counts(request: pytest.FixtureRequest) -> Iterator[list[int]]:
    """``viewers_now`` sampled every 0.1 s for the whole test, on a studio with at most one player at a time.

    A count above 1 (or, where a test asserts it, above 0) means a session
    counted before it connected or after it left.
    """
    samples: list[int] = []
    if "default_studio" not in request.fixturenames:
        yield samples
        return
    studio: NsStudio = request.getfixturevalue("default_studio")
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            status, body = http("GET", f"{studio.url}/api/state", None, {"Authorization": f"Bearer {TEST_KEY}"})
            if status == 200:
                samples.append(json.loads(body)["viewers_now"])

    sampler = threading.Thread(target=studio.ns.call, args=(sample,), daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join(10)
    assert samples and max(samples) <= 1, samples


@pytest.fixture
def interface_candidates() -> Iterator[None]:
    """aiortc clients in this process gather interface addresses, as on a laptop (restored after)."""
    saved = (
        aioice.ice.get_host_addresses, aioice.ice.StunProtocol.datagram_received, RTCIceGatherer.getDefaultIceServers
    )
    restore_host_candidates()
    try:
        yield
    finally:
        aioice.ice.get_host_addresses, aioice.ice.StunProtocol.datagram_received = saved[0], saved[1]
        RTCIceGatherer.getDefaultIceServers = saved[2]  # type: ignore[method-assign]


# -- aiortc clients (ECDSA), run on a thread inside the namespace ------------------
def candidate_hosts(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def figures(http_session: aiohttp.ClientSession) -> dict[str, Any]:
    async with http_session.get(f"{STUDIO}/api/state", headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
        health: dict[str, Any] = (await response.json())["stream_health"]
        return health


async def watch_with_aiortc(link_url: str, *, mdns_name: str | None = None) -> dict[str, Any]:
    """A WHEP player: counts only once connected, shows the QR, hangs up with DELETE.

    With ``mdns_name`` it hides its address behind that ``.local`` name, as a
    browser page without camera permission does, and answers mDNS queries for it.
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    tracks: list[Any] = []
    pc.on("track", lambda track: tracks.append(track) if track.kind == "video" else None)
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    responder = None
    if mdns_name is not None:
        responder = await aioice.mdns.create_mdns_protocol()
        await responder.publish(mdns_name, ADDRESS)
        offer = offer.replace(f" {ADDRESS} ", f" {mdns_name} ")
        assert candidate_hosts(offer) == {mdns_name}
    result: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{STUDIO}/whep", data=offer, headers={"Content-Type": "application/sdp"}) as response:
            answer = await response.text()
            assert response.status == 201, answer
            location = response.headers["Location"]
        result["answer_hosts"] = candidate_hosts(answer)
        # Answered but not connected (the answer is not even applied yet): pending, not a viewer.
        health = await figures(session)
        assert (health["viewers_now"], health["pending_viewers"]) == (0, 1), health
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await until(lambda: pc.connectionState == "connected", 15, "the WHEP player to connect")
        result["pair"] = selected_pair(pc)
        deadline = time.monotonic() + 10
        while (await figures(session))["viewers_now"] != 1:
            assert time.monotonic() < deadline, "the connected player never counted"
            await asyncio.sleep(0.1)
        await until(lambda: bool(tracks), 10, "the video track")
        seen: set[str] = set()
        deadline = time.monotonic() + 25
        for index in range(100000):
            frame = await asyncio.wait_for(tracks[0].recv(), 5)
            if index % 10:
                continue
            text = decode_qr(frame.to_ndarray(format="bgr24"))
            seen.add(text)
            if text == link_url:
                break
            assert time.monotonic() < deadline, f"no QR {link_url} in the player's frames; decoded {seen}"
        result["frame_size"] = (frame.width, frame.height)
        async with session.delete(f"{STUDIO}{location}") as response:
            assert response.status == 200
        health = await figures(session)
        assert health["viewers_now"] == 0, health
    await pc.close()
    if responder is not None:
        await responder.close()
    return result


async def publish_and_watch_with_aiortc(link_url: str) -> dict[str, Any]:
    """A WHIP publisher goes live; a WHEP player sees the show; both hang up with DELETE."""
    auth = {"Authorization": f"Bearer {TEST_KEY}"}
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{STUDIO}/whip", data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp", **auth}
        ) as response:
            answer = await response.text()
            assert response.status == 201, answer
            location = response.headers["Location"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await until(lambda: pc.connectionState == "connected", 15, "the WHIP publisher to connect")
        deadline = time.monotonic() + 15
        while not ((health := await figures(session))["publishing"] and health["ingest_fps"] > 0):
            assert time.monotonic() < deadline, f"the publisher never went live: {health}"
            await asyncio.sleep(0.2)
        result = {"publisher_pair": selected_pair(pc), "publisher_answer_hosts": candidate_hosts(answer)}
        result["viewer"] = await watch_with_aiortc(link_url)
        async with session.delete(f"{STUDIO}{location}", headers=auth) as response:
            assert response.status == 200
        assert not (await figures(session))["publishing"]
    await pc.close()
    return result


def test_aiortc_publisher_and_player_on_interface_addresses(
    default_studio: NsStudio, interface_candidates: None
) -> None:
    result = default_studio.ns.call(asyncio.run, publish_and_watch_with_aiortc(default_studio.link_url))
    # The studio offers loopback and the interface; the clients (which gather no
    # loopback, like browsers and libnice) connect on the interface address.
    assert result["publisher_answer_hosts"] == OWN
    for local, remote in (result["publisher_pair"], result["viewer"]["pair"]):
        assert local == ADDRESS and remote in OWN
    assert result["viewer"]["answer_hosts"] == OWN
    assert default_studio.health()["viewers"] == 0


def test_mdns_candidates_are_resolved_on_this_machine(default_studio: NsStudio, interface_candidates: None) -> None:
    """A player that offers only an mDNS name (a browser without camera permission) is found and plays."""
    name = f"{uuid.uuid4()}.local"
    viewer = default_studio.ns.call(asyncio.run, watch_with_aiortc(default_studio.link_url, mdns_name=name))
    assert viewer["pair"][0] == ADDRESS and viewer["pair"][1] in OWN
    assert f"mDNS candidates ['{name}'] resolved to {{'{name}': '{ADDRESS}'}}" in default_studio.log()


def test_gstreamer_webrtcbin_publisher_with_an_rsa_certificate(
    default_studio: NsStudio, interface_candidates: None
) -> None:
    if not os.path.exists(SYSTEM_PYTHON) or subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstWebRTC', '1.0')"], capture_output=True, check=False
    ).returncode:
        pytest.fail("GStreamer webrtcbin / python3-gi missing: run scripts/setup.sh")
    publisher = subprocess.Popen(
        default_studio.ns.argv([SYSTEM_PYTHON, str(GST_PUBLISHER), f"{STUDIO}/whip", TEST_KEY, "20"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        health = default_studio.wait(
            "the GStreamer publisher to go live",
            lambda h: h["publishing"] and h["ingest_fps"] > 0 and "Python-urllib" in h["publisher"],
            timeout=30,
        )
        viewer = default_studio.ns.call(asyncio.run, watch_with_aiortc(default_studio.link_url))
        assert viewer["pair"][0] == ADDRESS and viewer["pair"][1] in OWN
        assert default_studio.health()["publishing"]  # still GStreamer's camera while the QR was read
        out, err = publisher.communicate(timeout=60)
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()
    assert publisher.returncode == 0, err.decode()
    assert out.decode().splitlines()[-2:] == ["connected", "deleted 200"]
    assert health["ingest_size"] == "640x360"
    default_studio.wait("the slate after DELETE", lambda h: not h["publishing"], timeout=5)
    # libnice offered its interface address only (it cannot use loopback): the studio paired with it.
    assert re.search(r"whip \S+: ICE pair (127\.0\.0\.1|192\.0\.2\.1) <-> 192\.0\.2\.1", default_studio.log())


# -- Chromium, started inside the namespace ---------------------------------------
@pytest.fixture(scope="module")
def stock_chromium(netns: NetNs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)")
    wrapper = tmp_path_factory.mktemp("chromium") / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(netns.argv([CHROMIUM]))} "$@"\n')
    wrapper.chmod(0o755)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), headless=True, args=STOCK_CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_stock_chromium_publishes_and_watches(default_studio: NsStudio, stock_chromium: Any) -> None:
    phone = stock_chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(f"{STUDIO}/publish")
    phone.fill("#key", TEST_KEY)
    phone.click("#golive")
    phone.wait_for_function("document.getElementById('status').dataset.state === 'live'", timeout=30000)
    default_studio.wait("the phone to go live", lambda h: h["publishing"] and h["ingest_fps"] > 0)

    viewer = stock_chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    viewer.goto(f"{STUDIO}/watch")
    viewer.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=30000)
    frame = wait_for_qr(viewer, default_studio.link_url)
    assert frame.shape[0] > frame.shape[1]  # the phone is portrait, so is the show
    assert default_studio.health()["viewers_now"] == 1
    viewer.wait_for_function("document.getElementById('viewers').textContent === '1'", timeout=10000)
    # Chromium offers no loopback candidates: both legs run on the interface address.
    for page, name in ((phone, "farmlivePublisher"), (viewer, "farmliveViewer")):
        local, remote = page.evaluate(SELECTED_PAIR, name)
        assert local == ADDRESS and remote in OWN, (name, local, remote)
        assert page.is_hidden("#ice-hint")  # connected: no advice shown

    viewer.evaluate("window.farmliveViewer.stop()")  # WHEP DELETE
    default_studio.wait("the viewer to leave", lambda h: h["viewers_now"] == 0 and h["viewers"] == 0, timeout=10)
    phone.evaluate("window.farmlivePublisher.stop()")  # WHIP DELETE
    default_studio.wait("the phone to hang up", lambda h: not h["publishing"], timeout=10)
    assert '"DELETE /whep/' in default_studio.log() and '"DELETE /whip/' in default_studio.log()
    viewer.context.close()
    phone.context.close()


PLAYER_PAGE = """<!doctype html><meta charset="utf-8"><title>WHEP player (other origin)</title>
<video id="video" autoplay muted playsinline></video>
<script>
// A minimal standard WHEP player (draft-ietf-wish-whep): one POST, the Location, PATCH, DELETE.
window.result = {};
(async () => {
  const studio = new URLSearchParams(location.search).get("studio");
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.ontrack = (event) => {
    document.getElementById("video").srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 3000);
  });
  try {
    const response = await fetch(studio + "/whep", {
      method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
    });
    window.result.post = response.status;
    window.result.session = new URL(response.headers.get("Location"), studio).href;
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  } catch (error) {
    window.result.error = String(error);
  }
})();
async function trickle() {
  const response = await fetch(window.result.session, {
    method: "PATCH", headers: { "Content-Type": "application/trickle-ice-sdpfrag" }, body: "a=end-of-candidates\\r\\n",
  });
  return response.status;
}
async function hangUp() {
  const response = await fetch(window.result.session, { method: "DELETE" });
  window.pc.close();
  return response.status;
}
</script>
"""


@pytest.fixture(scope="module")
def player_origin(netns: NetNs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second tiny aiohttp server, another origin (another port) inside the namespace."""
    folder = tmp_path_factory.mktemp("player")
    (folder / "player.html").write_text(PLAYER_PAGE)
    serve = (
        "import sys; from aiohttp import web; app = web.Application(); "
        "app.router.add_static('/', sys.argv[1]); web.run_app(app, host='127.0.0.1', port=int(sys.argv[2]))"
    )
    process = subprocess.Popen(
        netns.argv([sys.executable, "-c", serve, str(folder), str(PLAYER_PORT)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{PLAYER_PORT}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if netns.call(http, "GET", f"{url}/player.html")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "player origin did not start"
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process)


def test_whep_player_from_another_origin(default_studio: NsStudio, stock_chromium: Any, player_origin: str) -> None:
    page = stock_chromium.new_context().new_page()
    page.goto(f"{player_origin}/player.html?studio={STUDIO}")
    page.wait_for_function("window.result.post || window.result.error", timeout=20000)
    assert page.evaluate("window.result") == {"post": 201, "session": page.evaluate("window.result.session")}
    page.wait_for_function("window.pc.connectionState === 'connected'", timeout=20000)
    page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=20000)
    wait_for_qr(page, default_studio.link_url)
    assert default_studio.health()["viewers_now"] == 1
    # Trickle is not supported: the player reads the 405 (CORS allows PATCH) instead of "Failed to fetch".
    assert page.evaluate("trickle()") == 405
    assert page.evaluate("hangUp()") == 200
    default_studio.wait("the player to leave", lambda h: h["viewers_now"] == 0 and h["viewers"] == 0, timeout=10)
    page.context.close()


def test_the_answer_never_offers_addresses_of_other_machines(
    default_studio: NsStudio, viewer_counts: list[int]
) -> None:
    """A remote candidate that is not this machine's is dropped before ICE sees it."""
    offer = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "a=group:BUNDLE 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n"
        "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        "a=candidate:1 1 udp 2122260223 198.51.100.7 50000 typ host\r\n"
        "a=candidate:2 1 udp 2122194687 203.0.113.9 50001 typ host\r\n"
    )
    rows_before = default_studio.viewer_rows()
    status, body = default_studio.ns.call(
        http, "POST", f"{STUDIO}/whep", offer.encode(), {"Content-Type": "application/sdp"}
    )
    assert status == 201, body
    health = default_studio.health()
    assert (health["viewers_now"], health["pending_viewers"]) == (0, 1)
    # With no candidate left it can never connect: it expires as pending, never counted as a viewer.
    default_studio.wait("the pending offer to expire", lambda h: h["pending_viewers"] == 0, timeout=15)
    assert default_studio.health()["viewers_now"] == 0
    assert default_studio.viewer_rows() == rows_before  # no viewer_sessions row for a session that never connected
    assert viewer_counts and max(viewer_counts) == 0  # not for a moment


def test_pages_say_what_to_try_when_ice_cannot_connect(
    netns: NetNs, stock_chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A studio this browser cannot reach (here: loopback-only ICE, and Chromium offers no loopback)."""
    url = "http://127.0.0.1:8081"
    with studio_in(
        netns, tmp_path_factory.mktemp("unreachable") / "data", "--port", "8081", "--ice-loopback-only", url=url
    ):
        phone = stock_chromium.new_context().new_page()
        phone.goto(f"{url}/publish")
        phone.fill("#key", TEST_KEY)
        phone.click("#golive")
        viewer = stock_chromium.new_context().new_page()
        viewer.goto(f"{url}/watch")
        for page in (phone, viewer):
            assert page.is_hidden("#ice-hint")  # not before 10 s
        for page in (phone, viewer):
            page.wait_for_selector("#ice-hint", state="visible", timeout=20000)
            hint = page.text_content("#ice-hint") or ""
            for advice in ("same Wi-Fi", "--lan", "TURN", "相同的 Wi-Fi", "TURN 服务器"):
                assert advice in hint, (advice, hint)
        phone.evaluate("window.farmlivePublisher.stop()")
        assert phone.is_hidden("#ice-hint")
        phone.context.close()
        viewer.context.close()
