"""Overlay compositing speed: ms per frame, against a naive full-frame blend in the same run.

    .venv/bin/python benchmarks/overlay.py [--frames 300]

For 480p, 720p, 1080p and 720x1280 portrait it times, per frame, the
compositor's I420 and BGR paths (card + QR, and card + QR + countdown banner)
and, as the baseline, a naive full-frame float32 alpha blend of the same
overlay. It also times one re-render (what a product switch costs, once).
Figures are medians; the machine is shared, so expect noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog import Product
from overlays import Compositor, OverlaySpec, Promo, font_description, render_overlay
from overlays.blend import i420_blends

SIZES = [(854, 480, "480p"), (1280, 720, "720p"), (1920, 1080, "1080p"), (720, 1280, "portrait 720x1280")]
NOW = datetime(2026, 11, 23, 19, 0, 0, tzinfo=UTC)
PRODUCT = Product(
    sku="ORANGE-5KG", name="Gannan navel oranges", name_zh="赣南脐橙", price=59.0,
    unit="5 kg box", stock=120, origin="江西赣州 Ganzhou, Jiangxi",
)
LINK = "http://127.0.0.1:8080/b/k3m9qx"


def median_ms(fn: Callable[[], object], frames: int) -> float:
    for _ in range(min(frames // 10, 20)):
        fn()
    times = []
    for _ in range(frames):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def naive_blend(overlay_rgba: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Float32 blend of a full-frame RGBA canvas: the approach the compositor replaces."""
    colour = overlay_rgba[:, :, 2::-1].astype(np.float32)
    alpha = overlay_rgba[:, :, 3:4].astype(np.float32) / 255
    return lambda frame: (frame.astype(np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)


def bench(width: int, height: int, spec: OverlaySpec, frames: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    i420 = rng.integers(0, 256, (height * 3 // 2, width), dtype=np.uint8)
    compositor = Compositor(spec, clock=lambda: NOW)
    rendered = render_overlay(spec, width, height, NOW)
    naive = naive_blend(rendered.to_rgba())

    def rerender() -> None:
        for region in render_overlay(spec, width, height, NOW).regions:
            i420_blends(region)

    return {
        "i420": median_ms(lambda: compositor.compose_i420(i420), frames),
        "bgr": median_ms(lambda: compositor.compose_bgr(bgr), frames),
        "naive": median_ms(lambda: naive(bgr), max(frames // 5, 20)),
        "render": median_ms(rerender, 15),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames timed per figure (default 300)")
    args = parser.parse_args(argv)
    card_qr = OverlaySpec(PRODUCT, LINK)
    with_banner = OverlaySpec(
        PRODUCT, LINK, promo=Promo("countdown", ends_at=(NOW + timedelta(minutes=5)).isoformat())
    )
    print(f"font: {font_description()}")
    print(f"median ms per frame over {args.frames} frames; naive = full-frame float32 alpha blend (BGR)")
    header = f"{'frame':<20} {'overlay':<18} {'i420':>7} {'bgr':>7} {'naive':>7} {'naive/i420':>11} {'render once':>12}"
    print(header)
    print("-" * len(header))
    for width, height, label in SIZES:
        for name, spec in (("card + QR", card_qr), ("card + QR + banner", with_banner)):
            r = bench(width, height, spec, args.frames)
            print(
                f"{label:<20} {name:<18} {r['i420']:>7.3f} {r['bgr']:>7.3f} {r['naive']:>7.2f} "
                f"{r['naive'] / r['i420']:>10.0f}x {r['render']:>11.1f}"
            )


if __name__ == "__main__":
    main()
