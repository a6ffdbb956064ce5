"""Benchmark: how long a host's tap takes, from the control room to the server and back.

Starts a real studio (``farmlive up --no-ui``) on a free 127.0.0.1 port in a
temporary data folder (demo catalog, one live show) and times, median of
``--runs`` calls each, with the same ``ControlClient`` the control room uses:

- ``GET /healthz``: the baseline (an HTTP round trip that does nothing);
- ``GET /api/state``: what the live panels poll every 2 s;
- ``PUT /api/overlay``: one tap on "On air" (validate, buy link, overlay_events row, re-render);
- ``GET /api/shows/{id}/stats``: the orders feed.

Then the staged-overlay preview (``preview_image``) against an empty overlay
on the same sample frame, and a whole Go live page run in Streamlit's AppTest
(what a click costs the host) against a one-line page in the same AppTest.

    .venv/bin/python benchmarks/control_room.py [--runs 200] [--page-runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from catalog.products import Product  # noqa: E402
from studio.control_room.client import ControlClient  # noqa: E402
from studio.control_room.preview import preview_image  # noqa: E402
from tests.conftest import TEST_KEY, start_studio_process, stop_studio_process  # noqa: E402

PRODUCT = Product(
    sku="ORANGE-GANNAN-5KG", name="Gannan navel oranges", name_zh="赣南脐橙", price=59.9,
    stock=120, unit="5 kg box", origin="Ganzhou, Jiangxi",
)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up (imports, connections, first render)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def row(name: str, ms: float, baseline: float) -> None:
    print(f"  {name:<44} {ms:8.2f} ms   x{ms / baseline:5.1f} vs baseline")


def api_figures(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = start_studio_process(Path(folder))
        try:
            client = ControlClient(server.url, TEST_KEY)
            show = client.start_show("Benchmark harvest")
            skus = ["ORANGE-GANNAN-5KG", "TEA-ANXI-250G"]
            taps = iter(range(10**9))
            base = median_ms(lambda: client._call("GET", "/healthz"), runs)
            print(f"control API over HTTP on 127.0.0.1, median of {runs} calls:")
            row("GET /healthz (baseline)", base, base)
            row("GET /api/state", median_ms(client.state, runs), base)
            tap = median_ms(lambda: client.put_overlay(skus[next(taps) % 2]), runs)
            row("PUT /api/overlay (one tap on 'On air')", tap, base)
            row("GET /api/shows/{id}/stats", median_ms(lambda: client.stats(show["id"]), runs), base)
        finally:
            stop_studio_process(server)


def picture_figures(runs: int) -> None:
    print(f"Go live pictures, median of {runs} renders:")
    link = "http://127.0.0.1:8080/b/preview"
    base = median_ms(lambda: preview_image(None), runs)
    row("empty overlay on the frame (baseline)", base, base)
    row("staged preview: card + QR on the frame", median_ms(lambda: preview_image(PRODUCT, link_url=link), runs), base)
    promo = {"kind": "countdown", "ends_at": "2030-01-01T00:00:00Z"}
    countdown = median_ms(lambda: preview_image(PRODUCT, promo=promo, link_url=link), runs)
    row("staged preview with a countdown banner", countdown, base)


def page_figures(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = start_studio_process(Path(folder))
        os.environ.update(FARMLIVE_URL=server.url, FARMLIVE_KEY=TEST_KEY, FARMLIVE_DATA_DIR=str(Path(folder)))
        try:
            ControlClient(server.url, TEST_KEY).start_show("Benchmark harvest")
            page = ROOT / "studio" / "control_room" / "views" / "go_live_page.py"
            trivial = AppTest.from_string("import streamlit as st\nst.title('farmlive')", default_timeout=60)
            at = AppTest.from_file(str(page), default_timeout=60)
            print(f"Go live page, whole script run in AppTest, median of {runs} runs:")
            base = median_ms(trivial.run, runs)
            row("one-line page (baseline: AppTest itself)", base, base)
            row("Go live page rerun (what a click costs)", median_ms(at.run, runs), base)
            assert not at.exception, at.exception
        finally:
            stop_studio_process(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--page-runs", type=int, default=10)
    args = parser.parse_args()
    api_figures(args.runs)
    picture_figures(max(args.runs // 10, 5))
    page_figures(args.page_runs)


if __name__ == "__main__":
    main()
