"""A viewer's phone in real Chromium: scan the QR link, fill the order form, see the order number."""

from __future__ import annotations

import pytest

import catalog
from catalog.shows import create_show, link_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_scan_fill_and_order_on_a_phone(browser, studio_process):
    db = catalog.open_db(studio_process.data_dir)  # the demo catalog was seeded on first start
    code = link_for(db, create_show(db, "Orange harvest").id, "ORANGE-GANNAN-5KG").code
    stock = catalog.get_product(db, "ORANGE-GANNAN-5KG").stock
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{studio_process.url}/b/{code}")
        assert page.url.endswith(f"/order/{code}")
        assert page.locator("h1").inner_text() == "Gannan navel oranges"
        assert "赣南脐橙" in page.content()
        # The product picture drawn on first start really loads.
        assert page.eval_on_selector("img", "img => img.complete && img.naturalWidth") == 320
        page.fill("#quantity", "2")
        page.fill("#name", "张三")
        page.fill("#phone", "not a phone")
        page.fill("#address", "江西省赣州市信丰县")
        page.click("button[type=submit]")
        page.wait_for_selector("#phone-error")
        assert "手机号码格式不正确" in page.inner_text("#phone-error")
        assert page.input_value("#address") == "江西省赣州市信丰县"  # nothing typed is lost
        page.fill("#phone", "138 0013 8000")
        page.click("button[type=submit]")
        page.wait_for_selector("#order-number")
        number = page.inner_text("#order-number")
        assert number.startswith("FL-") and page.inner_text("#order-total") == "¥119.80"
        viewer = next(c["value"] for c in context.cookies() if c["name"] == "fl_viewer")
    finally:
        context.close()
    row = db.execute("SELECT quantity, buyer_id, link_code FROM orders WHERE number = ?", [number]).fetchone()
    assert row == (2, viewer, code)
    assert db.execute("SELECT kind, viewer_id FROM link_events").fetchall() == [("scan", viewer)]
    assert catalog.get_product(db, "ORANGE-GANNAN-5KG").stock == stock - 2
    db.conn.close()
