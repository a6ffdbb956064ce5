"""In headless Debian Chromium: /watch plays the show over HLS (hls.js from the studio) when WHEP is full."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import async_playwright

import catalog
from studio.media import WHEP
from studio.reach import REACH
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, RunningStudio
from tests.test_hls import wait_for_segments
from tests.test_reach import live_show_with_oranges
from tests.test_whip_whep import eventually

pytestmark = pytest.mark.browser


def hls_sessions(running_studio: RunningStudio) -> list[tuple[object, ...]]:
    db = catalog.open_db(running_studio.config.data_dir)
    try:
        return [tuple(r) for r in db.execute(
            "SELECT viewer_id, transport, left_at FROM viewer_sessions WHERE transport = 'hls'"
        ).fetchall()]
    finally:
        db.conn.close()


# An iPhone-like browser: native HLS but no Media Source Extensions, so hls.js cannot run there.
NO_MSE = """
delete window.MediaSource;
delete window.ManagedMediaSource;
"""


@pytest.mark.parametrize("native", [True, False], ids=["native-hls", "hls.js"])
async def test_watch_falls_back_to_hls_when_whep_answers_503(running_studio: RunningStudio, native: bool) -> None:
    await live_show_with_oranges(running_studio)
    show_id = running_studio.studio.show.id
    running_studio.app[WHEP].max_viewers = 0  # full: every WHEP offer gets 503
    async with aiohttp.ClientSession() as http:
        await wait_for_segments(http, f"{running_studio.url}/hls/{show_id}/index.m3u8", 2)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            if native:
                await page.add_init_script(NO_MSE)
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(f"{running_studio.url}/watch")
            await page.wait_for_function("window.farmliveTransport === 'hls'", timeout=30_000)
            if native:
                # The page hands the playlist to the browser's own player. Playback itself is the
                # browser's (iPhone Safari); headless Chromium's native HLS is too new to rely on here.
                await page.wait_for_function(
                    f"document.getElementById('video').src.endsWith('/hls/{show_id}/index.m3u8')", timeout=10_000
                )
                width = 1280
            else:
                # Frames really play: the video's clock runs and it has a picture size.
                await page.wait_for_function(
                    "document.getElementById('video').currentTime > 1"
                    " && document.getElementById('video').videoWidth > 0",
                    timeout=40_000,
                )
                width = await page.evaluate("document.getElementById('video').videoWidth")
            status = await page.text_content("#status")
            player = await page.evaluate("window.farmliveHlsPlayer")
            await eventually(lambda: len(hls_sessions(running_studio)) == 1, timeout=15)
        finally:
            await browser.close()

    assert width == 1280
    assert status is not None and "HLS" in status and "延迟" in status
    # hls.js, served by the studio, wherever MSE exists (Chromium has native HLS too: hls.js is still
    # chosen); the browser's own HLS only without MSE.
    assert player == ("native" if native else "hls.js")
    assert any(url.endswith("/live/hls.light.min.js") for url in requested) == (not native)
    if not native:
        assert any(f"/hls/{show_id}/seg-" in url for url in requested)
    # Nothing from a CDN (hls.js's own worker and media are blob: URLs of the page).
    assert all(url.startswith(running_studio.url) for url in requested if not url.startswith("blob:")), requested
    [(viewer_id, transport, left_at)] = hls_sessions(running_studio)
    assert transport == "hls" and viewer_id and left_at is None
    assert running_studio.app[REACH].hls_viewers == 1
    await running_studio.studio.end_show()
    await running_studio.app[REACH].reconcile()
    [(_, _, left_at)] = hls_sessions(running_studio)
    assert left_at is not None  # the show ended: the HLS session closed at its last heartbeat
