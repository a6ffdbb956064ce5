"""The replay page in real Chromium against a real ``farmlive up``: it plays, seeks, the card
follows the position, replay viewing is counted, and an order from it is reported as replay."""

from __future__ import annotations

import csv
import itertools
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

import analytics
import catalog
from tests.conftest import ORANGES, TEA, StudioProcess, start_studio_process, stop_studio_process
from tests.test_replay import ROOT, link_of, on_air_log, qr, recorded  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def replay_studio(recorded: Path, tmp_path: Path) -> Iterator[StudioProcess]:  # noqa: F811
    data_dir = tmp_path / "data"
    shutil.copytree(recorded, data_dir)
    server = start_studio_process(data_dir)
    try:
        yield server
    finally:
        stop_studio_process(server)


def wait_for(page, script: str, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(script, timeout=timeout_s * 1000)


def picture_qr(page) -> str:  # type: ignore[no-untyped-def]
    """The QR code in the video as Chromium shows it (a screenshot of the element, decoded)."""
    png = page.locator("#video").screenshot()
    return qr(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR))


# One end-to-end walk through the replay page in a real browser (hence its length).
def test_the_replay_plays_seeks_and_the_card_follows(browser, replay_studio: StudioProcess) -> None:  # type: ignore[no-untyped-def]  # noqa: PLR0915
    db = catalog.open_db(replay_studio.data_dir)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{replay_studio.url}/replay/1")
        wait_for(page, "window.farmliveReplay.manifest && document.getElementById('video').readyState >= 1", 60)
        log = on_air_log(db, 1)
        chapters = page.evaluate("window.farmliveReplay.manifest.chapters")
        assert [c["sku"] for c in chapters] == [sku for _, sku in log]
        buttons = page.locator("#chapters button")
        assert buttons.count() == 3 and TEA.name_zh in buttons.nth(1).inner_text()

        page.evaluate("document.getElementById('video').play()")
        wait_for(page, "document.getElementById('video').currentTime > 1")  # it plays

        # A chapter tap seeks to the product, and the card and Buy are that product's.
        for index, chapter in enumerate(chapters):
            buttons.nth(index).click()
            wait_for(page, f"Math.abs(window.farmliveReplay.showTime() - {chapter['start_s'] + 0.2}) < 0.6 "
                           f"&& window.farmliveReplay.card() === {chapter['sku']!r}")
            assert "current" in (buttons.nth(index).get_attribute("class") or "")
            href = page.get_attribute("#buy", "href")
            assert href and href.endswith("?via=replay") and link_of(db, 1, chapter["sku"]).rsplit("/", 1)[1] in href

        # Seeking across each boundary switches the card within the log's second.
        page.evaluate("document.getElementById('video').pause()")
        for before, after in itertools.pairwise(chapters):
            boundary = after["start_s"]
            for at, sku in (
                (boundary - 0.5, before["sku"]), (boundary + 0.5, after["sku"]), (boundary - 0.3, before["sku"])
            ):
                page.evaluate(f"window.farmliveReplay.seek({at})")
                page.evaluate("document.getElementById('video').pause()")
                wait_for(page, f"!document.getElementById('video').seeking && "
                               f"Math.abs(window.farmliveReplay.showTime() - {at}) < 0.1 && "
                               f"window.farmliveReplay.card() === {sku!r}")
            # In the middle of a chapter the picture itself carries the same product's QR.
            middle = (after["start_s"] + after["end_s"]) / 2
            page.evaluate(f"window.farmliveReplay.seek({middle})")
            page.evaluate("document.getElementById('video').pause()")
            wait_for(
                page,
                f"!document.getElementById('video').seeking && "
                f"Math.abs(window.farmliveReplay.showTime() - {middle}) < 0.1",
            )
            page.wait_for_timeout(300)  # the seeked frame painted
            assert picture_qr(page) == link_of(db, 1, after["sku"])

        # The page joined as a replay viewer and reports where it is while playing.
        page.evaluate("document.getElementById('video').play()")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rows = db.execute(
                "SELECT COUNT(*) FROM replay_positions p JOIN viewer_sessions s ON s.id = p.session_id "
                "WHERE s.transport = 'replay' AND s.show_id = 1"
            ).fetchone()[0]
            if rows:
                break
            time.sleep(0.5)
        assert rows, "no replay heartbeat with a position"

        # Buy from the replay: the tea card's button, the order form, an order.
        tea = next(i for i, c in enumerate(chapters) if c["sku"] == TEA.sku)
        buttons.nth(tea).click()
        wait_for(page, f"window.farmliveReplay.card() === {TEA.sku!r}")
        page.click("#buy")
        page.wait_for_url("**/order/**")
        page.fill("#quantity", "2")
        page.fill("#name", "王芳")
        page.fill("#phone", "13800138000")
        page.fill("#address", "江西省赣州市")
        page.click("button[type=submit]")
        page.wait_for_selector("text=FL-")
    finally:
        context.close()

    data = analytics.load_show(db, 1)
    [order] = data.orders.to_dict("records")
    assert (order["sku"], order["quantity"], order["channel"]) == (TEA.sku, 2, "replay")
    split = analytics.channel_split(data).set_index("channel")
    assert split.loc["replay", "orders"] == 1 and split.loc["replay", "gmv"] == pytest.approx(2 * TEA.price)
    assert split.loc["replay", "clicks"] == 1 and split.loc["replay", "viewers"] == 1
    assert split.loc["live", "orders"] == 0 and split.loc["live", "viewers"] == 0
    db.conn.close()

    # farmlive report: the live/replay split and the most-replayed chapters.
    out = replay_studio.data_dir / "report.csv"
    done = subprocess.run(
        [
            sys.executable, "-m", "studio.cli", "report", "1", "--out", str(out),
            "--data-dir", str(replay_studio.data_dir),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    with out.with_name("report.replay.csv").open(encoding="utf-8-sig") as file:
        rows = {row["Channel / 渠道"]: row for row in csv.DictReader(file)}
    assert rows["Replay / 回放"]["Orders / 订单数"] == "1" and rows["Live / 直播"]["Orders / 订单数"] == "0"
    html = replay_studio.data_dir / "report.html"
    subprocess.run(
        [
            sys.executable, "-m", "studio.cli", "report", "1", "--out", str(html),
            "--data-dir", str(replay_studio.data_dir),
        ],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )
    text = html.read_text(encoding="utf-8")
    assert "Most-replayed chapters / 回放最多的章节" in text and "Live and replay / 直播与回放" in text
    assert ORANGES.sku in text


def test_the_replay_page_explains_a_live_show(browser, replay_studio: StudioProcess) -> None:  # type: ignore[no-untyped-def]
    db = catalog.open_db(replay_studio.data_dir)
    live = catalog.shows.create_show(db, "On air now")
    db.conn.close()
    page = browser.new_page()
    try:
        page.goto(f"{replay_studio.url}/replay/{live.id}")
        wait_for(page, "document.getElementById('status').textContent.includes('直播还在进行中')")
        assert "still live" in page.inner_text("#status")
    finally:
        page.close()
