"""The real control room in headless Chromium: launched as ``farmlive up`` launches it.

A studio process serves the API, ``start_control_room`` runs Streamlit on a
free 127.0.0.1 port, and the host's clicks go from the browser through
Streamlit to the control API. One browser, one control room: a laptop tap
(instant echo, the answer, the live preview keeps its connection) and the
laptop / tablet / phone layouts (nothing cut, screenshots into docs/).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import catalog
from tests.conftest import (
    StudioProcess,
    free_port,
    start_control_room_process,
    start_studio_process,
    stop_process,
    stop_studio_process,
)
from tests.test_control_room import api

pytestmark = pytest.mark.browser

ORANGE = "ORANGE-GANNAN-5KG"  # from the demo catalog the studio seeds on first start
TEA = "TEA-ANXI-250G"
SHIITAKE = "SHIITAKE-SUIZHOU-500G"
DOCS = Path(__file__).resolve().parents[1] / "docs"
LOCAL_URLS = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")


@pytest.fixture
def ui_port() -> int:
    return free_port()


@pytest.fixture
def studio_process(data_dir, ui_port) -> Iterator[StudioProcess]:
    """The studio told the control room's port, so it lets it frame /watch (the live preview)."""
    server = start_studio_process(data_dir, None, "--ui-port", str(ui_port))
    try:
        yield server
    finally:
        stop_studio_process(server)


@pytest.fixture
def control_room(studio_process, data_dir, ui_port) -> Iterator[str]:
    process, url = start_control_room_process(data_dir, studio_process.url, ui_port)
    try:
        yield url
    finally:
        stop_process(process)


# In every document of the page, the /watch preview's frame too: count the peer connections it makes,
# and a random birth mark that a reload would change.
PEERS = """
(() => {
  window.__flBorn = Math.random();
  window.__flPeers = 0;
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__flPeers += 1; }
  };
})();
"""

# Every button and figure that is laid out: its text must fit (no scrolling, no "…"); and nothing
# (a segmented control, a radio row) may stick out of its column.
OVERFLOW = """
() => {
  const cut = [];
  const texts = 'button, button p, [data-testid="stMetricValue"], [data-testid="stMetricValue"] > div, '
    + '[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] p, .fl-price, .fl-name';
  for (const el of document.querySelectorAll(texts)) {
    if (!el.getClientRects().length) continue;  // not laid out (a closed popover)
    const ellipsis = getComputedStyle(el).textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth;
    if (el.scrollWidth > el.clientWidth + 1 || ellipsis) {
      cut.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  for (const column of document.querySelectorAll('[data-testid="stColumn"]')) {
    const right = column.getBoundingClientRect().right;
    for (const el of column.querySelectorAll('button, [role="radiogroup"], [data-testid="stMetric"], p')) {
      if (el.getClientRects().length && el.getBoundingClientRect().right > right + 1) {
        cut.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" sticks out of its column`);
      }
    }
  }
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
    cut.push(`page ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`);
  }
  return cut;
}
"""


def preview_frame(page):  # type: ignore[no-untyped-def]
    """The live preview's /watch document, once it has opened its peer connection."""
    deadline = time.monotonic() + 30
    while True:
        frame = next((f for f in page.frames if "/watch" in f.url), None)
        if frame is not None and frame.evaluate("window.__flPeers || 0") >= 1:
            return frame
        assert time.monotonic() < deadline, "the live preview never connected"
        page.wait_for_timeout(200)


def box(page, selector: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    found = page.locator(selector).first.bounding_box()
    assert found, selector
    return found


def test_control_room_taps_layouts_and_the_preview_that_stays(browser, studio_process, control_room, data_dir):
    api(studio_process, "POST", "/api/shows", {"title": "赣南脐橙丰收季 Orange harvest"})
    api(studio_process, "PUT", "/api/overlay", {"sku": TEA})
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    context.add_init_script(PEERS)
    # Nothing is fetched from outside the machine (a CDN font, a tab icon): the studio runs offline.
    outside: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(LOCAL_URLS) else outside.append(r.url))
    page = context.new_page()
    try:
        page.goto(control_room)
        page.get_by_role("heading", name="开播").wait_for(timeout=60_000)
        page.get_by_text("在线观众").wait_for(timeout=30_000)
        page.get_by_text("赣南脐橙", exact=True).first.wait_for()
        for text in ("直播中", "赣南脐橙丰收季 Orange harvest", "已上屏", "实时数据", "预备上屏（预览）", "手机摄像头"):
            assert page.get_by_text(text).first.is_visible(), text
        assert not page.locator('[data-testid="stSidebar"]').is_visible()  # no sidebar eating a tablet's width
        # Laptop: staging sits beside the on-air bar, to its right, level with it.
        bar, staging = box(page, ".st-key-on_air_bar"), box(page, ".st-key-staging_panel")
        assert staging["x"] > bar["x"] + bar["width"] - 1 and abs(staging["y"] - bar["y"]) < 120
        frame = preview_frame(page)
        born = frame.evaluate("window.__flBorn")
        page.locator("iframe").first.evaluate("el => { el.dataset.flMark = 'kept'; }")
        page.wait_for_timeout(1500)  # let the preview image and QR finish drawing
        page.screenshot(path=str(DOCS / "control-room-go-live.png"))

        direct_taps(page, studio_process)
        stage_and_take(page, studio_process, data_dir)

        # The live preview lived through every tap: the same frame element, never reloaded, one connection.
        assert page.locator("iframe").first.evaluate("el => el.dataset.flMark") == "kept"
        frame = preview_frame(page)
        assert frame.evaluate("window.__flBorn") == born
        assert frame.evaluate("window.__flPeers") == 1

        figures_follow_the_database(page, studio_process, data_dir)
        layouts_fit(page)
        assert outside == []
    finally:
        context.close()


def direct_taps(page, studio_process) -> None:  # type: ignore[no-untyped-def]
    # Taps: the page itself sends PUT /api/overlay to the studio (a direct tap, not through Streamlit);
    # the echo shows each one at once, then the studio's answer, and the on-air bar redraws from it.
    overlay = f"{studio_process.url}/api/overlay"
    for sku, name in ((ORANGE, "赣南脐橙"), (TEA, "安溪铁观音"), (ORANGE, "赣南脐橙")):
        before = page.evaluate("performance.now()")
        with page.expect_response(lambda r: r.url == overlay and r.request.method == "PUT") as sent:
            page.locator(f".st-key-air-{sku} button").click()
        assert sent.value.status == 200 and sent.value.request.post_data_json["sku"] == sku
        assert sent.value.request.headers["authorization"] == f"Bearer {studio_process.key}"
        page.locator(f'.fl-on-air[data-sku="{sku}"]').wait_for(timeout=20_000)
        # The echo showed this tap, then the answer (it may be hidden again already: the bar shows it).
        echo = page.locator(".st-key-tap_echo .echo")
        assert float(echo.get_attribute("data-at") or 0) > before
        assert float(echo.get_attribute("data-answered-at") or 0) > float(echo.get_attribute("data-at") or 0)
        assert page.locator(".st-key-tap_echo .fl-echo").get_attribute("data-sku") == sku
        assert api(studio_process, "GET", "/api/state")["on_air"]["sku"] == sku
        assert name in page.locator(".st-key-on_air_bar").inner_text()
        page.get_by_text(f"已上屏：{name}").first.wait_for(timeout=10_000)  # the toast
    page.locator(f'.fl-echo[data-sku="{ORANGE}"]').wait_for(state="hidden", timeout=10_000)

    # The studio out of the browser's reach (an untrusted certificate, a proxy): the same tap goes the
    # Python path (the button's Streamlit callback), and still reaches the studio.
    page.route(overlay, lambda route: route.abort())
    page.locator(f".st-key-air-{TEA} button").click()
    page.locator(f'.fl-on-air[data-sku="{TEA}"]').wait_for(timeout=20_000)
    assert api(studio_process, "GET", "/api/state")["on_air"]["sku"] == TEA
    page.unroute(overlay)
    page.locator(f".st-key-air-{ORANGE} button").click()
    page.locator(f'.fl-on-air[data-sku="{ORANGE}"]').wait_for(timeout=20_000)



def cards_redrawn_with(page, sku: str) -> None:  # type: ignore[no-untyped-def]
    """The cards' redraw after a tap has come back (its On air button is off): the next tap on a card is not
    sent while the last one's fragment reruns are still on their way."""
    page.wait_for_function(f"document.querySelector('.st-key-air-{sku} button').disabled", timeout=20_000)


def stage_and_take(page, studio_process, data_dir) -> None:  # type: ignore[no-untyped-def]
    overlay = f"{studio_process.url}/api/overlay"
    # Stage, then Take with a coupon but no code: the error sits under the coupon field.
    page.locator(f".st-key-stage-{TEA} button").click()
    page.wait_for_function(
        "document.querySelector('.st-key-stage_pick input').value.includes('安溪铁观音')", timeout=20_000
    )
    page.locator(".st-key-stage_promo").get_by_text("优惠券").click()
    page.locator(".st-key-stage_coupon input").wait_for(timeout=20_000)
    page.locator(".st-key-take button").click()
    error = page.locator(".st-key-staging_panel").get_by_text("请先填写优惠码")
    error.wait_for(timeout=20_000)
    assert box(page, ".st-key-stage_coupon")["y"] < error.bounding_box()["y"] < box(page, ".st-key-take")["y"]
    assert api(studio_process, "GET", "/api/state")["on_air"]["sku"] == ORANGE  # nothing went on air
    page.locator(".st-key-stage_coupon input").fill("TEA10")
    page.locator(".st-key-stage_coupon input").press("Enter")
    # The code reaches Python and the staging panel's run tells the page; Take then goes direct with it.
    page.wait_for_function(
        "(t => t.take && t.take.data.take && t.take.data.take.promo && t.take.data.take.promo.code === 'TEA10'"
        " && t.editedAt <= t.take.at)(window.__flTaps)", timeout=20_000,
    )
    with page.expect_request(lambda r: r.url == overlay and r.method == "PUT") as sent:
        page.locator(".st-key-take button").click()
    assert sent.value.post_data_json == {"sku": TEA, "layout": "auto", "promo": {"kind": "coupon", "code": "TEA10"}}
    page.locator(f'.fl-on-air[data-sku="{TEA}"]').wait_for(timeout=20_000)
    assert api(studio_process, "GET", "/api/state")["on_air"]["promo"] == {"kind": "coupon", "code": "TEA10"}
    # A card's Stage makes the page's description of Take stale at once (a Take before the staging panel's
    # run reaches the page goes the Python way, which reads the staging: never the product staged before),
    # and fresh again with that run.
    cards_redrawn_with(page, TEA)
    page.locator(f".st-key-stage-{ORANGE} button").click()
    assert page.evaluate("(t => t.editedAt > t.take.at && t.take.data.take.sku)(window.__flTaps)") == TEA
    page.wait_for_function(
        f"(t => t.take.data.take.sku === '{ORANGE}' && t.editedAt <= t.take.at)(window.__flTaps)", timeout=20_000
    )
    with page.expect_request(lambda r: r.url == overlay and r.method == "PUT") as sent:
        page.locator(".st-key-take button").click()
    assert sent.value.post_data_json["sku"] == ORANGE
    page.locator(f'.fl-on-air[data-sku="{ORANGE}"]').wait_for(timeout=20_000)
    cards_redrawn_with(page, ORANGE)

    # A direct tap the studio refuses (the staged product was deleted meanwhile: 404): its words sit under
    # Take, as on the Python path, and nothing changes on air.
    page.locator(f".st-key-stage-{SHIITAKE} button").click()
    page.wait_for_function(
        "document.querySelector('.st-key-stage_pick input').value.includes('香菇')", timeout=20_000
    )
    # The staging panel's run has told the page what Take now sends (until then Take takes the Python way).
    page.wait_for_function(f"window.__flTaps.take && window.__flTaps.take.data.take.sku === '{SHIITAKE}'")
    db = catalog.open_db(data_dir)
    try:
        db.execute("DELETE FROM products WHERE sku = ?", [SHIITAKE])
    finally:
        db.conn.close()
    with page.expect_response(lambda r: r.url == overlay and r.request.method == "PUT") as refused:
        page.locator(".st-key-take button").click()
    assert refused.value.status == 404
    error = page.locator(".st-key-staging_panel").get_by_text(f"找不到商品 {SHIITAKE}")
    error.wait_for(timeout=20_000)
    assert error.bounding_box()["y"] > box(page, ".st-key-take")["y"]
    assert api(studio_process, "GET", "/api/state")["on_air"]["sku"] == ORANGE


def figures_follow_the_database(page, studio_process, data_dir) -> None:  # type: ignore[no-untyped-def]
    # No click: stock and the orders feed follow the database on their own.
    db = catalog.open_db(data_dir)
    try:
        db.execute("UPDATE products SET stock = 7 WHERE sku = ?", [ORANGE])
        show_id = api(studio_process, "GET", "/api/state")["show"]["id"]
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at) VALUES (?, ?, 4, 59.9, 23459.6, ?)",
            [show_id, ORANGE, catalog.now_iso()],
        )
    finally:
        db.conn.close()
    page.get_by_text("库存 7").first.wait_for(timeout=20_000)
    page.get_by_text("¥23,459.60").first.wait_for(timeout=20_000)  # a long figure, for the layouts below


def layouts_fit(page) -> None:  # type: ignore[no-untyped-def]
    # Tablet landscape and portrait, and a phone: nothing cut, screenshots kept in docs/.
    for width, height, shot in (
        (1180, 820, "control-room-tablet-1180.png"),
        (820, 1180, "control-room-tablet-820.png"),
        (390, 844, "control-room-phone-390.png"),
    ):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(600)  # the layout settles (columns wrap, the top bar folds)
        assert page.evaluate(OVERFLOW) == [], width
        bar, staging = box(page, ".st-key-on_air_bar"), box(page, ".st-key-staging_panel")
        if width >= 1024:
            assert staging["x"] > bar["x"] + bar["width"] - 1, width  # still beside it
        else:
            assert staging["y"] > bar["y"] + bar["height"] - 1, width  # stacked below
        page.screenshot(path=str(DOCS / shot))
