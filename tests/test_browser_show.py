"""The whole show in real Chromium: a phone page publishes, a viewer page watches.

The studio is a real ``farmlive up`` process on 127.0.0.1; the phone is
Chromium's fake camera; what the viewer sees is read back from its <video>
element and the QR code in it is decoded with OpenCV.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import ssl
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest

from tests.conftest import LOOPBACK, StudioProcess, free_port, start_studio_process, stop_studio_process

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

T = TypeVar("T")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
GRAB_FRAME = """() => {
  const video = document.getElementById('video');
  if (!video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL('image/png');
}"""


SELECTED_PAIR = """async (name) => {
  const stats = await window[name].pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((r) => {
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
  });
  if (!pair) return null;
  const side = (id) => { const c = stats.get(id); return c.address || c.ip; };
  return [side(pair.localCandidateId), side(pair.remoteCandidateId)];
}"""


VIDEO_CODEC = """async ([name, type]) => {
  const stats = await window[name].pc.getStats();
  let codec = null;
  stats.forEach((r) => {
    if (r.type === type && r.kind === 'video' && r.codecId) codec = stats.get(r.codecId).mimeType;
  });
  return codec;
}"""


def api(server: StudioProcess, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={**server.auth, "Content-Type": "application/json"},
    )
    # A --lan studio has a self-signed certificate; trust is checked in test_tls.py.
    context = ssl._create_unverified_context() if server.url.startswith("https") else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.loads(response.read())


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None and value is not False and (isinstance(value, np.ndarray) or value):
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def viewer_frame(page: Any) -> np.ndarray | None:
    data_url = page.evaluate(GRAB_FRAME)
    if not data_url:
        return None
    png = base64.b64decode(data_url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def decode_qr(image: np.ndarray) -> str:
    detector = cv2.QRCodeDetector()
    for scale in (1.0, 2.0):
        scaled = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        text, _, _ = detector.detectAndDecode(scaled)
        if text:
            return text
    return ""


def wait_for_qr(page: Any, expected: str, timeout: float = 20.0) -> np.ndarray:
    """The viewer's picture shows a QR that decodes to ``expected``; returns that frame."""
    seen: list[str] = []

    def probe() -> np.ndarray | None:
        frame = viewer_frame(page)
        if frame is None:
            return None
        text = decode_qr(frame)
        seen.append(text)
        return frame if text == expected else None

    try:
        return wait_until(probe, timeout, f"QR {expected}")
    except AssertionError as error:
        raise AssertionError(f"{error}; decoded instead: {sorted(set(seen))}") from None


def viewer_sessions(server: StudioProcess) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(server.data_dir / "farmlive.db") as db:
        return db.execute("SELECT viewer_id, joined_at, left_at FROM viewer_sessions ORDER BY id").fetchall()


@pytest.fixture
def live_show(studio_process: StudioProcess) -> StudioProcess:
    api(studio_process, "POST", "/api/shows", {"title": "Morning harvest 早市"})
    return studio_process


def go_live(browser: Any, server: StudioProcess, on_page: Callable[[Any], object] | None = None) -> Any:
    """The phone page, live with the studio key; ``on_page`` sees the page before it loads (to watch its traffic)."""
    context = browser.new_context(**PHONE, ignore_https_errors=True)
    page = context.new_page()
    if on_page is not None:
        on_page(page)
    page.goto(f"{server.url}/publish#key={server.key}")
    assert "key" not in page.url  # read from the fragment, then taken out of the address bar
    page.click("#golive")
    page.wait_for_function("document.getElementById('status').dataset.state === 'live'", timeout=30000)
    return page


def watch(browser: Any, server: StudioProcess) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True).new_page()
    page.goto(f"{server.url}/watch")
    page.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=30000)
    return page


def test_phone_publishes_and_viewer_sees_the_product_qr(browser: Any, live_show: StudioProcess) -> None:
    server = live_show
    orange = api(server, "PUT", "/api/overlay", {"sku": "ORANGE-GANNAN-5KG"})
    phone = go_live(browser, server)
    viewer = watch(browser, server)

    # The phone is portrait, so the show is portrait, and its QR is the orange's tracked link.
    wait_until(lambda: api(server, "GET", "/api/state")["stream_health"].get("publishing"), 15, "publishing")
    frame = wait_for_qr(viewer, orange["link_url"])
    assert frame.shape[0] > frame.shape[1]
    # Both WebRTC legs ran on loopback only.
    assert phone.evaluate(SELECTED_PAIR, "farmlivePublisher") == ["127.0.0.1", "127.0.0.1"]
    assert viewer.evaluate(SELECTED_PAIR, "farmliveViewer") == ["127.0.0.1", "127.0.0.1"]
    # The phone sends H264 (hardware encoders on phones) and the viewer receives the studio's H264.
    assert phone.evaluate(VIDEO_CODEC, ["farmlivePublisher", "outbound-rtp"]) == "video/H264"
    assert viewer.evaluate(VIDEO_CODEC, ["farmliveViewer", "inbound-rtp"]) == "video/H264"

    # The HTML card and buy button match what is on air; the count shows this viewer.
    viewer.wait_for_function("document.getElementById('viewers').textContent === '1'", timeout=10000)
    assert viewer.text_content("#name-zh") == "赣南脐橙"
    assert viewer.get_attribute("#buy", "href") == f"/b/{orange['link_code']}?via=click"

    # The host switches the product: the viewer's QR follows.
    tea = api(server, "PUT", "/api/overlay", {"sku": "TEA-ANXI-250G"})
    assert tea["link_url"] != orange["link_url"]
    wait_for_qr(viewer, tea["link_url"])
    viewer.wait_for_function("document.getElementById('name-zh').textContent === '安溪铁观音'", timeout=10000)

    # One viewer session, open while watching, closed when the page goes away.
    sessions = wait_until(lambda: viewer_sessions(server), 10, "a viewer session row")
    assert len(sessions) == 1 and sessions[0][1] and sessions[0][2] is None
    viewer.context.close()
    wait_until(lambda: viewer_sessions(server)[0][2], 15, "left_at after the viewer closed the page")
    phone.context.close()


def test_viewers_keep_the_show_when_the_phone_drops(browser: Any, live_show: StudioProcess) -> None:
    server = live_show
    apricot = api(server, "PUT", "/api/overlay", {"sku": "APRICOT-LUNTAI-2KG"})
    phone = go_live(browser, server)
    viewer = watch(browser, server)
    wait_for_qr(viewer, apricot["link_url"])

    phone.context.close()  # the farmer's phone loses the page / network
    wait_until(lambda: not api(server, "GET", "/api/state")["stream_health"].get("publishing"), 15, "slate")

    # The viewer still gets pictures: the hold slate, with the product and its working QR.
    before = viewer.evaluate("document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames")
    wait_for_qr(viewer, apricot["link_url"])
    wait_until(
        lambda: viewer.evaluate("document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames")
        > before + 30,
        10,
        "viewer frames while the phone is away",
    )
    assert viewer.evaluate("window.farmliveViewer.pc.connectionState") == "connected"

    # The phone comes back: same viewer connection, live camera again.
    go_live(browser, server).context.close()
    state = api(server, "GET", "/api/state")
    assert state["stream_health"]["reconnects"] >= 1
    assert viewer.evaluate("window.farmliveViewer.pc.connectionState") == "connected"
    viewer.context.close()


def test_a_replaced_phone_does_not_take_the_show_back(browser: Any, studio_process: StudioProcess) -> None:
    """OBS (here: a second phone page) takes over; the first page stops instead of fighting back."""
    first = go_live(browser, studio_process)
    second = go_live(browser, studio_process)
    first.wait_for_function(
        "document.getElementById('status').dataset.state === 'replaced'", timeout=30000
    )
    assert "其他设备已接管推流" in first.text_content("#status")
    time.sleep(3)
    assert second.evaluate("document.getElementById('status').dataset.state") == "live"
    assert first.is_visible("#golive")  # the farmer can take it back on purpose
    first.context.close()
    second.context.close()


def test_lan_studio_over_https(browser: Any, data_dir: Any) -> None:
    """``farmlive up --lan``: the phone page works on the HTTPS origin phones require for the camera."""
    port = free_port()
    base = f"https://{LOOPBACK}:{port}"
    server = start_studio_process(data_dir, port, "--lan", "--base-url", base)
    try:
        api(server, "POST", "/api/shows", {"title": "LAN show"})
        sugar = api(server, "PUT", "/api/overlay", {"sku": "SUGAR-YUNNAN-500G"})
        assert sugar["link_url"].startswith(base + "/b/")
        phone = go_live(browser, server)
        assert phone.evaluate("location.protocol") == "https:"  # WHIP, assets and media config over TLS too
        viewer = watch(browser, server)
        wait_for_qr(viewer, sugar["link_url"])
        viewer.context.close()
        phone.context.close()
    finally:
        stop_studio_process(server)


def test_a_wrong_key_says_so_and_does_not_retry(browser: Any, studio_process: StudioProcess) -> None:
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{studio_process.url}/publish")
    page.click("#golive")
    assert page.get_attribute("#status", "data-state") == "error"  # no key: asked for one, nothing sent
    assert "输入直播间密钥" in page.text_content("#status")
    page.fill("#key", "not-the-key")
    page.click("#golive")
    page.wait_for_function("document.getElementById('status').dataset.state === 'error'", timeout=20000)
    assert "直播间密钥错误" in page.text_content("#status")
    time.sleep(2)
    assert page.get_attribute("#status", "data-state") == "error"  # no reconnect loop on 401
    assert not api(studio_process, "GET", "/api/state")["stream_health"].get("publishing")
    page.context.close()
