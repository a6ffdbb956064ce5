"""Benchmark: the host's tap in the real control room, against the API alone, in one run.

    .venv/bin/python benchmarks/control_room.py [--taps 15] [--loads 3] [--size 960x540]

Everything on 127.0.0.1, in temporary folders, and stopped at the end:

- a real studio (``farmlive up --no-ui`` as its own process) with a show live;
- a synthetic phone: an aiortc WHIP publisher in this process (benchmarks/latency.py's camera);
- a viewer: an aiortc WHEP client in this process that decodes every frame and
  keeps it with its arrival time, so the frame where the card's QR first
  decodes (cv2) to the new product's buy link is the moment viewers see the tap;
- the real Streamlit control room as ``farmlive up`` starts it, in headless
  Debian Chromium (Playwright, never a downloaded browser).

Figures (median and p90 over ``--taps`` taps alternating two products):

- **first load**: a fresh browser context opens the control room; until the
  on-air bar, the product cards and the staged preview are drawn (the first
  screen: what a host taps), and until the lower half (figures, comments, the
  phone's pairing QR, simulcast) follows; then the same browser opens it again
  (its static files cached). Timed twice: on a quiet box (the studio idle, a
  show created, before the phone goes live: how a host starts) and during the
  live show, with this benchmark's synthetic phone encoding and viewer decoding
  on the same two cores (a reload mid-show, the worst case);
- **tap -> control room shows it**: Chromium clicks the real On air button of a
  card; from the click event to the first animation frame that shows the new
  product (the tap's echo), to the frame where the echo shows the studio's
  answer (the page's own ``PUT /api/overlay``: a direct tap), and to the frame
  where the on-air bar shows it (the fragment rerun): all timed inside the page;
- **tap -> viewers' video shows it**: from the click to the first decoded
  viewer frame whose QR is the product's link (one clock: this machine's);
- the **API-only** path in the same run: ``PUT /api/overlay`` -> viewer video.

Targets (issue #12): control room p90 <= 300 ms, video p90 <= 500 ms, first
load <= 3 s on a quiet box (the first screen). The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.latency import (  # noqa: E402
    KEY,
    LatencyViewer,
    NumberedCamera,
    first_frame_with,
    whep_watch,
    whip_publish,
)
from studio.media.ice import use_loopback_candidates  # noqa: E402
from tests.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    StudioProcess,
    free_port,
    start_control_room_process,
    start_studio_process,
    stop_process,
    stop_studio_process,
)

SKUS = ("ORANGE-GANNAN-5KG", "TEA-ANXI-250G")  # from the demo catalog the studio seeds
WATCH_S = 3.0  # frames kept after each tap; the new QR must show up within them
SETTLE_S = 0.4  # between taps
QUIET_LOAD, QUIET_WAIT_S = 1.0, 120.0  # the quiet-box loads start once the load average is under 1 (or after 2 min)

# In the control room page: time the click, the echo and the answer on animation frames.
PROBE = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__flArm = (sku) => { window.__fl = { sku, click: null, echo: null, confirmed: null, answer: null }; };
  const echoOf = (sku, state) => {
    for (const host of document.querySelectorAll("*")) {
      const found = host.shadowRoot && host.shadowRoot.querySelector(`.fl-echo[data-sku="${sku}"]${state}`);
      if (found && found.closest(".echo") && !found.closest(".echo").hidden) return found;
    }
    return null;
  };
  document.addEventListener("click", () => { if (window.__fl && !window.__fl.click) window.__fl.click = now(); }, true);
  const tick = () => {
    const fl = window.__fl;
    if (fl && fl.click) {
      if (!fl.echo && echoOf(fl.sku, "")) fl.echo = now();
      if (!fl.confirmed && echoOf(fl.sku, '[data-state="answer"]')) fl.confirmed = now();
      if (!fl.answer && document.querySelector(`.fl-on-air[data-sku="${fl.sku}"]`)) {
        fl.answer = now();
        if (!fl.echo) fl.echo = fl.answer;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def summary(name: str, samples: list[float], target: float | None = None, unit: str = "ms") -> str:
    if not samples:
        return f"  {name:<52} no samples"
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    verdict = "" if target is None else ("  meets" if p90 <= target else "  MISSES") + f" p90 <= {target:g} {unit}"
    return (
        f"  {name:<52} median {statistics.median(ordered):7.0f} {unit}  p90 {p90:7.0f} {unit}"
        f"  n={len(ordered)}{verdict}"
    )


class Viewer:
    """The WHEP viewer's frames on this machine's wall clock (the page times its clicks on it too)."""

    def __init__(self, viewer: LatencyViewer) -> None:
        self.viewer = viewer
        self.offset = time.time() - time.monotonic()

    def start(self) -> None:
        self.viewer.recording = []

    async def first_seen(self, link: str, since: float) -> float | None:
        """Wall-clock time of the first frame after ``since`` whose QR is ``link``."""
        recording, self.viewer.recording = self.viewer.recording or [], None
        frames = [(at + self.offset, luma) for at, luma in recording if at + self.offset >= since]
        return await asyncio.get_running_loop().run_in_executor(None, first_frame_with, frames, link)


async def api(http: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def api_taps(
    http: aiohttp.ClientSession, url: str, viewer: Viewer, links: dict[str, str], taps: int
) -> list[float]:
    samples = []
    for index in range(taps):
        sku = SKUS[index % 2]
        viewer.start()
        started = time.time()
        await api(http, url, "PUT", "/api/overlay", {"sku": sku})
        await asyncio.sleep(WATCH_S)
        seen = await viewer.first_seen(links[sku], started)
        if seen is not None:
            samples.append((seen - started) * 1000)
        await asyncio.sleep(SETTLE_S)
    return samples


async def room_taps(page: Any, viewer: Viewer, links: dict[str, str], taps: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"echo": [], "confirmed": [], "answer": [], "video": [], "direct": []}
    direct: list[str] = []
    page.on("request", lambda r: direct.append(r.url) if r.method == "PUT" and r.url.endswith("/api/overlay") else None)
    for index in range(taps):
        sku = SKUS[index % 2]
        button = page.locator(f".st-key-air-{sku} button")
        await button.wait_for(timeout=30_000)
        await page.wait_for_function(f"!document.querySelector('.st-key-air-{sku} button').disabled", timeout=30_000)
        await page.evaluate("sku => window.__flArm(sku)", sku)
        viewer.start()
        await button.click()
        await page.wait_for_function("window.__fl.answer !== null", timeout=30_000)
        await asyncio.sleep(WATCH_S)
        timing = await page.evaluate("window.__fl")
        clicked = timing["click"] / 1000
        figures["echo"].append(timing["echo"] - timing["click"])
        figures["answer"].append(timing["answer"] - timing["click"])
        if timing["confirmed"]:
            figures["confirmed"].append(timing["confirmed"] - timing["click"])
        figures["direct"].append(float(len(direct)))  # the page's own PUTs so far
        seen = await viewer.first_seen(links[sku], clicked)
        if seen is not None:
            figures["video"].append((seen - clicked) * 1000)
        await asyncio.sleep(SETTLE_S)
    return figures


async def first_loads(browser: Any, url: str, loads: int) -> dict[str, list[float]]:
    """Fresh browser contexts (nothing cached: the worst case), then the same browser opening the
    control room again (Streamlit's static files cached, as on the host's laptop the next time)."""
    figures: dict[str, list[float]] = {"fresh": [], "lower": [], "again": []}
    for _ in range(loads):
        context = await browser.new_context(viewport={"width": 1440, "height": 1000})
        for first_screen in ("fresh", "again"):
            page = await context.new_page()
            started = time.monotonic()
            await page.goto(url)
            await page.locator(".st-key-on_air_bar").wait_for(timeout=60_000)
            await page.locator(f".st-key-air-{SKUS[0]} button").wait_for(timeout=60_000)
            await page.locator(".st-key-staging_panel img").first.wait_for(timeout=60_000)
            figures[first_screen].append((time.monotonic() - started) * 1000)
            if first_screen == "fresh":
                await page.locator(".st-key-phone_pairing img").first.wait_for(timeout=60_000)
                figures["lower"].append((time.monotonic() - started) * 1000)
            await page.close()
        await context.close()
    return figures


async def settle(below: float, at_most_s: float) -> float:
    """Wait (at most ``at_most_s``) for the 1-minute load average to fall under ``below``: the studio,
    Streamlit and Chromium have just started, and the last run may still weigh on it. Returns it."""
    for _ in range(max(1, round(at_most_s / 2))):
        if os.getloadavg()[0] < below:
            break
        await asyncio.sleep(2)
    return os.getloadavg()[0]


def start_room(data_dir: Path) -> tuple[StudioProcess, subprocess.Popen[bytes], str]:
    """The studio and the control room as ``farmlive up`` runs them, on free loopback ports."""
    ui_port = free_port()
    # The studio lets the control room's origin frame /watch (the live preview).
    server = start_studio_process(data_dir, None, "--ui-port", str(ui_port), "--key", KEY)
    try:
        room, room_url = start_control_room_process(data_dir, server.url, ui_port, KEY)
    except BaseException:
        stop_studio_process(server)
        raise
    return server, room, room_url


async def measure(studio_url: str, room_url: str, args: argparse.Namespace) -> dict[str, Any]:
    width, height = (int(v) for v in args.size.split("x"))
    async with aiohttp.ClientSession() as http, async_playwright() as playwright:
        await api(http, studio_url, "POST", "/api/shows", {"title": "Benchmark harvest 丰收"})
        links = {sku: (await api(http, studio_url, "PUT", "/api/overlay", {"sku": sku}))["link_url"] for sku in SKUS}
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        quiet_load = await settle(QUIET_LOAD, QUIET_WAIT_S)
        quiet = await first_loads(browser, room_url, args.loads)  # before the phone goes live
        camera = NumberedCamera(width, height)
        latency_viewer = LatencyViewer(camera)
        publisher = await whip_publish(http, studio_url, camera)
        watcher = await whep_watch(http, studio_url, latency_viewer)
        viewer = Viewer(latency_viewer)
        try:
            await asyncio.sleep(3)  # first keyframe; the viewer's jitter buffer settles
            live = await first_loads(browser, room_url, args.loads)
            page = await browser.new_page(viewport={"width": 1440, "height": 1000})
            await page.add_init_script(PROBE)
            await page.goto(room_url)
            await page.locator(".st-key-on_air_bar").wait_for(timeout=60_000)
            # The page is ready for direct taps once its component has run (before that, a tap takes
            # the Python path: the fallback).
            await page.wait_for_function("window.__flTaps && window.__flTaps.air !== null", timeout=60_000)
            load_before = os.getloadavg()[0]
            room_figures = await room_taps(page, viewer, links, args.taps)
            api_figures = await api_taps(http, studio_url, viewer, links, args.taps)
            load_after = os.getloadavg()[0]
        finally:
            await browser.close()
            await publisher.close()
            await watcher.close()
    return {
        "quiet": quiet,
        "quiet_load": quiet_load,
        "live": live,
        "room": room_figures,
        "api": api_figures,
        "load": (load_before, load_after),
    }


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    room, api_only = figures["room"], figures["api"]
    print(
        f"farmlive control room on 127.0.0.1, {os.cpu_count()} cores, load average {figures['load'][0]:.1f} -> "
        f"{figures['load'][1]:.1f} (1 min); publisher {args.size} at 30 fps; {args.taps} taps per path"
    )
    quiet, live = figures["quiet"], figures["live"]
    print(f"  quiet box (the studio idle, before the phone goes live; load average {figures['quiet_load']:.1f}):")
    print(summary("first load: the first screen (fresh context)", quiet["fresh"], 3000))
    print(summary("... the lower half (figures, pairing QR) follows", quiet["lower"]))
    print(summary("... opened again in the same browser (cached)", quiet["again"]))
    print("  during the live show (the synthetic phone and viewer on the same cores):")
    print(summary("first load: the first screen (fresh context)", live["fresh"]))
    print(summary("... the lower half (figures, pairing QR) follows", live["lower"]))
    print(summary("... opened again in the same browser (cached)", live["again"]))
    print(summary("tap -> control room shows it (echo in the page)", room["echo"], 300))
    print(summary("tap -> the page shows the studio's answer (direct)", room["confirmed"]))
    print(summary("tap -> the on-air bar redraws with it (Streamlit)", room["answer"]))
    print(summary("tap -> viewers' video shows it (Chromium click)", room["video"], 500))
    print(summary("API only: PUT /api/overlay -> viewers' video", api_only))
    sent = int(room["direct"][-1]) if room["direct"] else 0
    print(f"  taps the page sent straight to the studio (PUT /api/overlay from Chromium): {sent} of {args.taps}")
    missed = args.taps - len(room["video"]), args.taps - len(api_only)
    print(f"  taps whose QR was not decoded within {WATCH_S:g} s: control room {missed[0]}, API {missed[1]}")
    if room["video"] and api_only:
        extra = statistics.median(room["video"]) - statistics.median(api_only)
        print(f"  the control room adds {extra:+.0f} ms (median) to the API-only path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=15, help="taps per path (control room, API only)")
    parser.add_argument("--loads", type=int, default=3, help="first loads of the control room to time")
    parser.add_argument("--size", default="960x540", help="publisher frame size WxH")
    args = parser.parse_args()
    use_loopback_candidates()
    with tempfile.TemporaryDirectory(prefix="farmlive-control-room-") as folder:
        server, room, room_url = start_room(Path(folder))
        try:
            figures = asyncio.run(measure(server.url, room_url, args))
        finally:
            stop_process(room)
            stop_studio_process(server)
    report(figures, args)


if __name__ == "__main__":
    main()
