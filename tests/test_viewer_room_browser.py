"""The viewer room on a phone-sized Chromium: everything without leaving the stream.

One page on ``/watch`` (390x844, touch) against a real ``farmlive up``: it comments,
sees the host's pin, opens the shelf · 小黄车, buys the product on air with the
coupon of the promo applied in the buy sheet, and wins a lucky draw; all the while
the URL never changes and the <video> keeps playing (its currentTime advances).
The order stored in SQLite is checked for the charged price, coupon and channel.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StudioProcess
from tests.test_room_browser import api

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# The screenshots go to the test's data folder; FARMLIVE_SHOTS=docs refreshes the ones in docs/.
SHOTS = os.environ.get("FARMLIVE_SHOTS")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
ORANGE = "ORANGE-GANNAN-5KG"  # ¥59.90 in the demo catalog; 10 % off is ¥53.91
PLAYHEAD = "document.getElementById('video').currentTime"


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not on screen"
    return found


def check_pop_up_and_coupon(page: Any) -> None:
    """The pop-up: bottom left, the price, clear of the middle of the picture; the coupon on the page."""
    page.wait_for_selector("#card:not([hidden])")
    assert page.inner_text("#name-zh") == "赣南脐橙"
    card = box(page, "#card")
    assert card["y"] > 844 * 0.6 and card["x"] < 20 and card["x"] + card["width"] < 390 * 0.8
    assert not (card["x"] <= 195 <= card["x"] + card["width"] and card["y"] <= 422 <= card["y"] + card["height"])
    page.wait_for_selector("#promo-strip:not([hidden])")
    assert page.inner_text("#promo-code") == "FARM10" and "10%" in page.inner_text("#promo-off")


def comment_and_see_the_pin(page: Any, server: StudioProcess) -> None:
    page.wait_for_function("window.farmliveRoom.socket && window.farmliveRoom.socket.readyState === 1")
    page.fill("#nickname", "小明")
    page.fill("#comment-text", "橙子甜吗？")
    page.click("#comment-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#comments li').length === 1")
    api(server, "PUT", "/api/pin", {"text": "今晚包邮 free shipping"})
    page.wait_for_selector("#pinned:not([hidden])")
    assert page.inner_text("#pinned") == "今晚包邮 free shipping"


def shot(page: Any, server: StudioProcess, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else server.data_dir
    page.screenshot(path=str(folder / name))


def buy_from_the_shelf_with_the_coupon(page: Any, server: StudioProcess) -> str:
    """Shelf, then the buy sheet over the playing video with the coupon applied; the order number."""
    page.click("#shelf-open")
    page.wait_for_function("document.querySelectorAll('#shelf-list .shelf-item').length === 7")
    first = page.locator("#shelf-list .shelf-item").first  # the product on air first, and marked
    assert first.get_attribute("data-sku") == ORANGE and "讲解中" in first.inner_text()
    assert "¥59.90" in first.inner_text() and "剩余" in first.inner_text()
    first.locator(".shelf-buy").click()
    page.wait_for_selector("#buysheet:not([hidden])")
    assert page.is_hidden("#shelf")
    page.wait_for_function("document.getElementById('coupon-note').textContent.includes('FARM10')")
    assert page.input_value("#buy-coupon") == "FARM10"
    page.click("#qty-plus")
    assert page.inner_text("#qty") == "2"
    assert page.inner_text("#sum-unit").startswith("¥53.91")
    assert page.inner_text("#sum-discount") == "-¥11.98"
    assert page.inner_text("#sum-total") == "¥107.82"
    page.fill("#buy-name", "张三")
    page.fill("#buy-phone", "138 0013 8000")
    page.fill("#buy-address", "江西省赣州市信丰县")
    shot(page, server, "watch-phone-buy.png")
    page.click("#buy-submit")
    page.wait_for_selector("#buy-done:not([hidden])")
    assert page.inner_text("#buy-done-total") == "¥107.82"
    assert "FARM10" in page.inner_text("#buy-done-discount")
    number = page.inner_text("#buy-number")
    page.click("#buy-done [data-close]")
    assert page.is_hidden("#buysheet")
    return number


def win_a_draw(page: Any, server: StudioProcess) -> None:
    """One entrant, by the one-tap Join: this viewer wins."""
    api(server, "POST", "/api/draws", {"prize": "一箱橙子", "rule": "comment", "keyword": "扣1", "seconds": 10})
    page.wait_for_selector("#draw:not([hidden])")
    page.click("#draw-join")
    page.wait_for_function("document.getElementById('draw-clock').textContent.includes('小明')", timeout=25000)
    assert "1 人参与" in page.inner_text("#draw-how")


def test_a_phone_viewer_does_everything_without_leaving_the_stream(
    browser: Any, studio_process: StudioProcess
) -> None:
    server = studio_process
    show = api(server, "POST", "/api/shows", {"title": "Orange harvest 赣南脐橙"})
    coupon = {"kind": "coupon", "code": "FARM10", "discount_percent": 10}
    api(server, "PUT", "/api/overlay", {"sku": ORANGE, "promo": coupon})
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/watch")
        watch_url = page.url
        page.wait_for_function(f"{PLAYHEAD} > 0.5", timeout=30000)
        started = page.evaluate(PLAYHEAD)
        check_pop_up_and_coupon(page)
        comment_and_see_the_pin(page, server)
        shot(page, server, "watch-phone.png")
        number = buy_from_the_shelf_with_the_coupon(page, server)
        win_a_draw(page, server)
        # The show ends: no pop-up, no Buy, no promo (the stream page itself stays).
        api(server, "POST", f"/api/shows/{show['id']}/end")
        page.wait_for_selector("#card", state="hidden")
        page.wait_for_selector("#show-phase", state="visible")  # the end message of the one show state
        assert page.is_hidden("#promo-strip") and page.is_hidden("#no-card")
        assert "直播已结束" in page.inner_text("#show-phase-text")
        # Never left the stream: same URL, the video still playing.
        assert page.url == watch_url
        assert page.evaluate(PLAYHEAD) > started + 10
        assert page.evaluate("document.getElementById('video').paused") is False
        viewer = next(c["value"] for c in context.cookies() if c["name"] == "fl_viewer")
    finally:
        context.close()

    with sqlite3.connect(server.data_dir / "farmlive.db") as db:
        order = db.execute(
            "SELECT quantity, unit_price, list_price, total, coupon, channel, buyer_id, show_id FROM orders "
            "WHERE number = ?",
            [number],
        ).fetchone()
        assert order == (2, 53.91, 59.9, 107.82, "FARM10", "shelf", viewer, show["id"])
        kinds = db.execute("SELECT kind FROM link_events WHERE viewer_id = ?", [viewer]).fetchall()
        assert kinds == [("shelf",)]
        # One viewer session the whole time: the page never reconnected or left.
        sessions = db.execute("SELECT left_at FROM viewer_sessions WHERE viewer_id = ?", [viewer]).fetchall()
        assert len(sessions) == 1
