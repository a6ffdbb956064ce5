"""The real control room in headless Chromium: launched as ``farmlive up`` launches it.

A studio process serves the API, ``start_control_room`` runs Streamlit on a
free 127.0.0.1 port, and the host's clicks go from the browser through
Streamlit to the control API.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

import catalog
from studio.config import StudioConfig
from studio.control_room.launch import start_control_room
from tests.conftest import LOOPBACK, TEST_KEY, free_port
from tests.test_control_room import api

pytestmark = pytest.mark.browser

ORANGE = "ORANGE-GANNAN-5KG"  # from the demo catalog the studio seeds on first start


@pytest.fixture
def control_room(studio_process, data_dir) -> Iterator[str]:
    port = int(studio_process.url.rsplit(":", 1)[1])
    config = StudioConfig(data_dir=data_dir, key=TEST_KEY, host=LOOPBACK, port=port, ui_port=free_port())
    # The child writes to its own copy of the log's descriptor; ours closes at once.
    with open(data_dir / "control-room.log", "ab") as log:
        process = start_control_room(config, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{LOOPBACK}:{config.ui_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (data_dir / "control-room.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "control room did not start within 60 s"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_control_room_screenshot_and_one_tap(browser, studio_process, control_room, data_dir):
    api(studio_process, "POST", "/api/shows", {"title": "赣南脐橙丰收季 Orange harvest"})
    api(studio_process, "PUT", "/api/overlay", {"sku": "TEA-ANXI-250G"})
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    try:
        page.goto(control_room)
        page.get_by_role("heading", name="开播").wait_for(timeout=60_000)
        page.get_by_text("在线观众").wait_for(timeout=30_000)
        page.get_by_text("赣南脐橙", exact=True).first.wait_for()
        for text in ("直播中", "赣南脐橙丰收季 Orange harvest", "已上屏", "实时数据", "预备上屏（预览）", "手机摄像头"):
            assert page.get_by_text(text).first.is_visible(), text
        page.wait_for_timeout(1500)  # let the preview image and QR finish drawing
        shot = data_dir / "control-room.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000  # a real, busy page (a blank one is a few KB)

        # One tap in the browser puts the oranges on air, through Streamlit and the API.
        # Streamlit marks keyed widgets with a class: st-key-<key, other characters as "-">.
        page.locator(f".st-key-air-{ORANGE} button").click()
        deadline = time.monotonic() + 20
        while api(studio_process, "GET", "/api/state")["on_air"]["sku"] != ORANGE:
            assert time.monotonic() < deadline, "the click did not put the product on air"
            time.sleep(0.2)
        page.get_by_text("已上屏：赣南脐橙").first.wait_for(timeout=10_000)

        # No click: stock and the orders feed follow the database on their own.
        db = catalog.open_db(data_dir)
        try:
            db.execute("UPDATE products SET stock = 7 WHERE sku = ?", [ORANGE])
            show_id = api(studio_process, "GET", "/api/state")["show"]["id"]
            db.execute(
                "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at) VALUES (?, ?, 4, 59.9, 239.6, ?)",
                [show_id, ORANGE, catalog.now_iso()],
            )
        finally:
            db.conn.close()
        page.get_by_text("库存 7").first.wait_for(timeout=20_000)
        page.get_by_text("¥239.60").first.wait_for(timeout=20_000)
    finally:
        page.close()
