"""A farmer goes live by scanning one QR code: real Chromium phone, real ``farmlive up`` process.

The pairing QR is read off the real control room's screen (a screenshot of the
Go live page in Chromium, decoded with OpenCV: the phone's camera app) and
opened on a phone-sized page; from there one tap publishes, with no key typed
or stored. The control room then raises the red alert when the phone stops.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import catalog
from tests.conftest import StudioProcess
from tests.test_browser_show import PHONE, api, decode_qr, wait_until
from tests.test_control_room_browser import control_room, studio_process, ui_port  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

STATE = "document.getElementById('status').dataset.state"
DOCS = Path(__file__).resolve().parents[1] / "docs"


def scan(png: bytes) -> str:
    """What a phone's camera app reads off the control room's screen."""
    return decode_qr(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))


def visible_without_scrolling(page: Any, selector: str) -> bool:
    return bool(page.evaluate(
        """(selector) => {
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
        }""",
        selector,
    ))


def open_control_room_and_scan(browser: Any, control_room: str) -> tuple[Any, str]:  # noqa: F811
    """The host's page, and what the phone's camera reads off its pairing QR."""
    host = browser.new_page(viewport={"width": 1440, "height": 1400})
    host.goto(control_room)
    qr = host.locator(".st-key-phone-pairing img").first
    qr.wait_for(timeout=60_000)
    host.wait_for_timeout(500)  # the image finishes drawing
    return host, scan(qr.screenshot())


def red_alert_on_top(host: Any) -> None:
    """The host's page turns red where the host looks: in the first screen, over the on-air bar
    (not with the figures below the fold). Its screenshot is kept in docs/."""
    alert = host.locator(".fl-alert-red").first
    alert.wait_for(timeout=20_000)
    assert "手机已断线" in alert.text_content()
    host.evaluate("document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    host.wait_for_timeout(300)
    banner, bar = alert.bounding_box(), host.locator(".st-key-on_air_bar").first.bounding_box()
    assert banner and bar and 0 <= banner["y"] < banner["y"] + banner["height"] <= bar["y"] < 900
    host.screenshot(path=str(DOCS / "control-room-alert.png"))


def an_order_and_a_comment(server: StudioProcess, show_id: int) -> None:
    with sqlite3.connect(server.data_dir / catalog.DB_FILENAME) as db:
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at) VALUES (?, ?, ?, ?, ?, ?)",
            [show_id, "ORANGE-GANNAN-5KG", 2, 59.9, 119.8, catalog.now_iso()],
        )
        db.execute(
            "INSERT INTO comments (show_id, at, viewer_id, nickname, text) VALUES (?, ?, ?, ?, ?)",
            [show_id, catalog.now_iso(), "viewer-1", "小王", "橙子甜吗？"],
        )


def test_a_farmer_goes_live_by_scanning_one_qr_code(
    browser: Any, studio_process: StudioProcess, control_room: str  # noqa: F811
) -> None:
    server = studio_process
    show = api(server, "POST", "/api/shows", {"title": "Morning harvest 早市"})
    api(server, "PUT", "/api/overlay", {"sku": "ORANGE-GANNAN-5KG"})

    # The host's Go live page shows the phone QR: a pairing link, no key in it.
    host, link = open_control_room_and_scan(browser, control_room)
    assert link.startswith(f"{server.url}/publish#pair=") and server.key not in link

    phone = browser.new_context(**PHONE).new_page()
    phone.goto(link)
    phone.wait_for_function("localStorage.getItem('farmlive.publishToken') !== null", timeout=10000)
    assert "pair" not in phone.url  # the code left the address bar at once
    assert phone.evaluate("localStorage.getItem('farmlive.studioKey')") is None  # no key on the phone
    assert phone.is_visible("#paired") and not phone.is_visible("#key-field")

    # Start camera is on screen without scrolling; one tap and the phone is live.
    assert phone.text_content("#golive").startswith("开始推流")
    assert visible_without_scrolling(phone, "#golive")
    phone.click("#golive")
    phone.wait_for_function(f"{STATE} === 'live'", timeout=30000)
    wait_until(lambda: api(server, "GET", "/api/state")["stream_health"].get("publishing"), 15, "publishing")
    assert visible_without_scrolling(phone, "#stop")  # and Stop stays on screen too

    # While live the phone shows the product on air, the show's orders and the newest comments.
    an_order_and_a_comment(server, show["id"])
    phone.wait_for_function("document.getElementById('orders').textContent === '1'", timeout=10000)
    assert "赣南脐橙" in phone.text_content("#on-air")
    assert "119.8" in phone.text_content("#gmv")
    assert phone.text_content("#watching") == "0"
    assert phone.is_visible("#comments-box") and "橙子甜吗？" in phone.text_content("#phone-comments")
    assert "Morning harvest" in phone.text_content("#show-line")

    # Stop asks first; keeping on leaves the show live.
    phone.click("#stop")
    assert phone.is_visible("#stop-confirm") and "确定停止推流" in phone.text_content("#stop-confirm")
    phone.click("#stop-no")
    assert phone.evaluate(STATE) == "live" and phone.is_visible("#stop")

    # The farmer stops for real: the host's page turns red, counting the seconds.
    phone.click("#stop")
    phone.click("#stop-yes")
    phone.wait_for_function(f"{STATE} === 'stopped'", timeout=10000)
    wait_until(lambda: not api(server, "GET", "/api/state")["stream_health"].get("publishing"), 15, "unpublished")
    red_alert_on_top(host)
    host.close()

    # The host ends the show (下播): the phone is told within a second (pushed over its room socket).
    started = time.monotonic()
    api(server, "POST", f"/api/shows/{show['id']}/end")
    phone.wait_for_selector("#show-ended", state="visible", timeout=10000)
    assert time.monotonic() - started < 1.0
    assert "主播已下播" in phone.text_content("#show-ended")

    # A reload stays paired (the token is kept on the phone), and the used code pairs nobody else.
    phone.goto(f"{server.url}/publish")
    assert phone.is_visible("#paired")
    other = browser.new_context(**PHONE).new_page()
    other.goto(link)
    other.wait_for_selector("#pair-error", state="visible", timeout=10000)
    assert "已被使用" in other.text_content("#pair-error")
    other.context.close()
    phone.context.close()
