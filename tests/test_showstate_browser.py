"""One show state on all four screens, in real Chromium against a real ``farmlive up``.

The farmer's phone page publishes Chromium's fake camera before the show starts; a viewer watches
/watch. The host walks the show pending -> live -> sold out -> stock change -> ended through the
control API, and after each step the test checks the viewer's page, a decoded frame of the viewer's
video (which slate it is by comparing with the pure renderer, or the QR decoding to the buy link),
the phone page, and the control API state the control room renders. Page updates are timed from
the API call: each must land within 1 s (the room socket's push, not the 2 s poll).

The phone page's traffic is watched too (Playwright's request and WebSocket events): on a weak uplink
it must follow the show over its read-only room socket, not by polling /watch/state, ask for its
figures at most every 5 s, and not at all while hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from overlays import SLATE_KINDS, render_slate
from overlays.slate import STARTING_NOTE, ended_note
from tests.conftest import StudioProcess
from tests.test_browser_show import api, decode_qr, go_live, viewer_frame, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SKU = "ORANGE-GANNAN-5KG"
#: The budget from the issue: a change reaches every screen within a second.
WITHIN_S = 1.0
#: Video is checked with a bounded wait of its own (decode and jitter buffers, not the state push).
FRAME_WAIT_S = 15.0


def nearest_slate(frame: np.ndarray, replay_url: str | None = None) -> tuple[str, float]:
    """Which slate the decoded frame is, by mean difference from a fresh render at its size."""
    height, width = frame.shape[:2]
    notes = {"hold": None, "starting": STARTING_NOTE, "ended": ended_note(replay_url)}
    distances = {
        kind: float(np.abs(render_slate(None, width, height, kind=kind, note=notes[kind]).astype(np.int16)
                           - frame.astype(np.int16)).mean())
        for kind in SLATE_KINDS
    }
    kind = min(distances, key=lambda k: distances[k])
    return kind, distances[kind]


def wait_for_slate(page: Any, kind: str, replay_url: str | None = None) -> None:
    """The viewer's video shows the ``kind`` slate, with no QR on it."""
    seen: list[tuple[str, float]] = []

    def probe() -> bool:
        frame = viewer_frame(page)
        if frame is None:
            return False
        found = nearest_slate(frame, replay_url)
        seen.append(found)
        return found[0] == kind and found[1] < 20 and decode_qr(frame) == ""

    try:
        wait_until(probe, FRAME_WAIT_S, f"the {kind} slate")
    except AssertionError as error:
        raise AssertionError(f"{error}; saw {seen[-3:]}") from None


def wait_for_qr_link(page: Any, link: str) -> None:
    wait_until(lambda: (frame := viewer_frame(page)) is not None and decode_qr(frame) == link, FRAME_WAIT_S,
               f"the QR of {link}")


def within_a_second(page: Any, condition: str, started: float, what: str) -> float:
    """Wait (bounded) for ``condition`` in the page; returns seconds since ``started`` and checks the budget."""
    page.wait_for_function(condition, timeout=10000)
    elapsed = time.monotonic() - started
    assert elapsed < WITHIN_S, f"{what} took {elapsed:.2f} s"
    return elapsed


WATCH_PHASE = "document.getElementById('show-phase').dataset.phase === '{phase}'"
PHONE_PHASE = "document.getElementById('show-phase').dataset.phase === '{phase}'"
CARD_SHOWN = "!document.getElementById('card').hidden"
STOCK_IS = "document.getElementById('stock').textContent === '{text}'"


ORDER_FROM_PAGE = """async (code) => {
  const form = await fetch(`/order/${code}`, { headers: { Accept: "application/json" } });
  const body = { quantity: 1, name: "张三", phone: "13800138000", address: "江西赣州", request_id: "" };
  body.request_id = (await form.json()).order_token;
  const order = await fetch(`/order/${code}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return [order.status, (await order.json()).code];
}"""


@dataclass
class PhoneTraffic:
    """What the phone page asked for over HTTP and heard on its room socket, with monotonic times."""

    requests: list[tuple[float, str]] = field(default_factory=list)  # (at, path)
    sockets: list[str] = field(default_factory=list)  # WebSocket URLs opened
    shows: list[float] = field(default_factory=list)  # when a show state arrived over a socket

    def watch(self, page: Any) -> None:
        page.on("request", lambda request: self.requests.append((time.monotonic(), urlsplit(request.url).path)))
        page.on("websocket", self._socket)

    def _socket(self, socket: Any) -> None:
        self.sockets.append(socket.url)

        def frame(payload: str | bytes) -> None:
            if isinstance(payload, str) and payload.startswith(('{"type": "show"', '{"type": "hello"')):
                self.shows.append(time.monotonic())

        socket.on("framereceived", frame)

    def asked(self, path: str, since: float, until: float = float("inf")) -> int:
        return sum(1 for at, asked in self.requests if asked == path and since <= at < until)


#: The phone page's figures cadence (publish.js STATUS_EVERY_MS) and its poll fallback (showstate.js).
STATUS_EVERY_S = 5.0
#: How long the phone is watched while live, at least.
LIVE_WINDOW_S = 6.0
HIDE_PHONE = """(hidden) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => hidden ? "hidden" : "visible" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


class Screens:
    """The four screens: the viewer's /watch page (DOM and video), the phone's /publish page, the control API."""

    def __init__(self, browser: Any, server: StudioProcess) -> None:
        self.server = server
        self.timings: dict[str, float] = {}
        self.traffic = PhoneTraffic()
        self.opened = time.monotonic()
        self.phone = go_live(browser, server, self.traffic.watch)  # the farmer sets up before the host starts
        self.viewer = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        self.viewer.goto(f"{server.url}/watch")
        self.viewer.wait_for_function("document.getElementById('video').videoWidth > 0", timeout=30000)
        self.viewer.wait_for_function("window.farmliveRoom.socket && window.farmliveRoom.socket.readyState === 1")

    def control(self) -> dict[str, Any]:
        return api(self.server, "GET", "/api/state")

    def timed(self, name: str, page: Any, condition: str, started: float) -> None:
        self.timings[name] = within_a_second(page, condition, started, name)

    def close(self) -> None:
        self.viewer.context.close()
        self.phone.context.close()


def pending(screens: Screens) -> None:
    """Before Start: "starting soon" everywhere, never the raw camera, no card even with a product staged."""
    api(screens.server, "PUT", "/api/overlay", {"sku": SKU})
    viewer, phone = screens.viewer, screens.phone
    viewer.wait_for_function(WATCH_PHASE.format(phase="pending"), timeout=10000)
    assert viewer.is_hidden("#card") and "即将开播" in viewer.inner_text("#show-phase")
    wait_for_slate(viewer, "starting")
    phone.wait_for_function(PHONE_PHASE.format(phase="pending"), timeout=10000)
    assert "未开播" in phone.inner_text("#show-phase")
    control = screens.control()
    assert control["show_state"]["phase"] == "pending" and control["show_state"]["on_air"] is None
    assert control["stream_health"]["publishing"]


def live(screens: Screens) -> dict[str, Any]:
    """Start: the camera with the card and the QR of the show's buy link; Buy works."""
    viewer, phone = screens.viewer, screens.phone
    started = time.monotonic()
    show = api(screens.server, "POST", "/api/shows", {"title": "早市 Morning market"})
    screens.timed("live /watch", viewer, CARD_SHOWN, started)
    screens.timed("live /publish", phone, PHONE_PHASE.format(phase="live"), started)
    assert viewer.is_hidden("#show-phase") and viewer.inner_text("#name-zh") == "赣南脐橙"
    assert "直播中" in phone.inner_text("#show-phase")
    control = screens.control()
    assert control["show_state"]["phase"] == "live" and control["show"]["id"] == show["id"]
    assert viewer.get_attribute("#buy", "href") == f"/b/{control['on_air']['link_code']}?via=click"
    wait_for_qr_link(viewer, control["on_air"]["link_url"])
    frame = viewer_frame(viewer)
    assert frame is not None and nearest_slate(frame)[1] > 20  # the camera, not a slate
    return {**show, "link_url": control["on_air"]["link_url"], "link_code": control["on_air"]["link_code"]}


def sold_out(screens: Screens, show: dict[str, Any]) -> None:
    """The host's sold-out: the card says 已售罄, Buy is off, orders get 409; the QR stays under the banner."""
    viewer = screens.viewer
    started = time.monotonic()
    api(screens.server, "PUT", "/api/overlay", {"sku": SKU, "promo": {"kind": "sold_out"}})
    screens.timed("sold out /watch", viewer, STOCK_IS.format(text="已售罄 · Sold out"), started)
    assert "disabled" in (viewer.get_attribute("#buy", "class") or "")
    assert viewer.get_attribute("#buy", "href") == "#"
    assert viewer.inner_text("#buy").split() == ["已售罄", "Sold", "out"]
    control = screens.control()
    assert control["on_air"]["sold_out"] and control["show_state"]["on_air"]["sold_out"]
    assert viewer.evaluate(ORDER_FROM_PAGE, show["link_code"]) == [409, "sold_out"]
    wait_for_qr_link(viewer, show["link_url"])
    assert "直播中" in screens.phone.inner_text("#show-phase")


def stock_change(screens: Screens, show: dict[str, Any]) -> None:
    """The host reopens the sale and restocks: the card follows within a second."""
    viewer = screens.viewer
    api(screens.server, "PUT", "/api/overlay", {"sku": SKU})
    viewer.wait_for_function("!document.getElementById('buy').classList.contains('disabled')", timeout=5000)
    started = time.monotonic()
    values = {"sku": SKU, "name": "Gannan navel oranges", "price": 59, "stock": 7}
    api(screens.server, "PUT", "/api/products", {"products": [{"values": values, "fields": ["stock"]}]})
    screens.timed("stock /watch", viewer, STOCK_IS.format(text="剩余 7 · 7 left"), started)
    state = screens.control()["show_state"]
    assert state["on_air"]["stock"] == 7 and not state["on_air"]["sold_out"]
    assert viewer.inner_text("#buy").split() == ["立即购买", "Buy", "now"]
    assert "直播中" in screens.phone.inner_text("#show-phase")
    wait_for_qr_link(viewer, show["link_url"])


def ended(screens: Screens, show: dict[str, Any]) -> None:
    """End: no card, QR or Buy; the end slate; the phone is told; then the replay link once it is made."""
    viewer, phone = screens.viewer, screens.phone
    started = time.monotonic()
    api(screens.server, "POST", f"/api/shows/{show['id']}/end")
    screens.timed("ended /watch", viewer, WATCH_PHASE.format(phase="ended"), started)
    screens.timed("ended /publish", phone, PHONE_PHASE.format(phase="ended"), started)
    assert viewer.is_hidden("#card") and viewer.is_hidden("#no-card")
    assert "直播已结束" in viewer.inner_text("#show-phase")
    assert "直播已结束" in phone.inner_text("#show-phase") and "The show has ended" in phone.inner_text("#show-phase")
    control = screens.control()
    assert control["show"] is None and control["show_state"]["phase"] == "ended"
    assert control["show_state"]["show"]["id"] == show["id"] and control["show_state"]["on_air"] is None
    viewer.wait_for_selector("#replay-link:not([hidden])", timeout=30000)
    replay_url = screens.control()["show_state"]["replay_url"]
    assert replay_url == f"{screens.server.url}/replay/{show['id']}"
    assert viewer.get_attribute("#replay-link", "href") == replay_url
    wait_for_slate(viewer, "ended", replay_url)


def phone_traffic(screens: Screens, live_at: float, hidden_at: float, shown_at: float) -> None:
    """While live the phone heard the show over one read-only socket and barely asked for anything."""
    traffic, now = screens.traffic, time.monotonic()
    assert now - live_at >= LIVE_WINDOW_S
    assert len(traffic.sockets) == 1 and traffic.sockets[0].endswith("/room/ws?only=show"), traffic.sockets
    # Sold out, reopened, restocked: each pushed; /watch/state not polled (it was every 0.5 s).
    assert sum(1 for at in traffic.shows if at >= live_at) >= 3, traffic.shows
    assert traffic.asked("/watch/state", live_at) == 0
    assert traffic.asked("/watch/state", screens.opened) <= 1, traffic.requests
    visible = traffic.asked("/api/phone/status", live_at, hidden_at)
    assert visible <= (hidden_at - live_at) / STATUS_EVERY_S + 1, traffic.requests
    assert traffic.asked("/api/phone/status", hidden_at, shown_at) == 0  # hidden: no figures asked for
    # The room does not count the farmer's phone among its connected viewers (the one /watch page is).
    assert api(screens.server, "GET", "/api/comments")["connected"] == 1
    print(f"phone while live {now - live_at:.1f} s: {visible} status requests visible, "
          f"{traffic.asked('/watch/state', live_at)} state polls, {len(traffic.shows)} pushed states")


def test_one_show_state_on_every_screen(browser: Any, studio_process: StudioProcess) -> None:
    screens = Screens(browser, studio_process)
    pending(screens)
    show = live(screens)
    live_at = time.monotonic()
    sold_out(screens, show)
    # The farmer's phone goes to the background for a while (longer than the figures' cadence).
    screens.phone.evaluate(HIDE_PHONE, True)
    hidden_at = time.monotonic()
    stock_change(screens, show)
    hidden_for = time.monotonic() - hidden_at
    if hidden_for < STATUS_EVERY_S + 0.5:
        screens.phone.wait_for_timeout((STATUS_EVERY_S + 0.5 - hidden_for) * 1000)
    shown_at = time.monotonic()
    # Back on screen: the figures are asked for at once.
    with screens.phone.expect_request(lambda r: urlsplit(r.url).path == "/api/phone/status", timeout=2000):
        screens.phone.evaluate(HIDE_PHONE, False)
    watched = time.monotonic() - live_at  # the steps above can be quicker than the window on a quiet box
    if watched < LIVE_WINDOW_S:
        screens.phone.wait_for_timeout((LIVE_WINDOW_S - watched) * 1000)
    phone_traffic(screens, live_at, hidden_at, shown_at)
    ended(screens, show)
    print("show state reached the pages after (s):", {k: round(v, 3) for k, v in screens.timings.items()})
    screens.close()
