"""The show timeline as one inline SVG: viewers, products on air, orders, uplink.

A report must open on a phone in a village without internet, so the chart is
plain SVG text inside the HTML (no JavaScript, no CDN). Pure: frames in,
markup out.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.labels import label

WIDTH, HEIGHT = 960, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 64, 48, 44
PALETTE = ("#f28c28", "#3a9d5d", "#8e5ea2", "#c94c4c", "#2f7fc1", "#b58b00", "#5b6770", "#d4679b")
# Times on the x axis -> pixel columns of the plot.
XScale = Callable[[pd.Series], npt.NDArray[np.float64]]
VIEWERS_COLOR, BITRATE_COLOR, ORDER_COLOR, DROP_COLOR = "#2f6db5", "#e0a100", "#1b8a3a", "#d62728"


def timeline_svg(
    frames: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, tz: str = "Asia/Shanghai"
) -> str:
    """SVG of :func:`analytics.metrics.timeline_figure_data` output, times shown in ``tz``."""
    span = max((end - start) / pd.Timedelta(seconds=1), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h

    def x(times: pd.Series) -> npt.NDArray[np.float64]:
        seconds = ((times - start) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
        return np.asarray(LEFT + np.clip(seconds / span, 0.0, 1.0) * plot_w, dtype=np.float64)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(label("section.timeline"))}" font-family="sans-serif" font-size="11">'
        ),
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    parts += _pins(frames["pins"], x, skus=sorted(frames["pins"]["sku"].unique()))
    concurrency = frames["concurrency"]
    peak = max(int(concurrency["viewers"].max()) if len(concurrency) else 0, 1)
    if len(concurrency):
        xs = x(concurrency["time"])
        ys = bottom - concurrency["viewers"].to_numpy(dtype=float) / peak * plot_h
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
        parts.append(
            f'<polygon points="{xs[0]:.1f},{bottom} {points} {xs[-1]:.1f},{bottom}" '
            f'fill="{VIEWERS_COLOR}" fill-opacity="0.25" stroke="{VIEWERS_COLOR}" stroke-width="1.5"/>'
        )
    parts += _stream(frames["stream"], x, bottom, plot_h)
    parts += _orders(frames["orders"], x, bottom)
    later = int((frames["orders"]["time"] > end).sum())
    if later:  # platform orders paid after the show, inside the attribution window
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{bottom - 18}" text-anchor="end" fill="{ORDER_COLOR}">'
            f"+{later} {escape(label('after_show'))}</text>"
        )
    parts += _axes(start, end, tz, peak=peak, bottom=bottom, plot_w=plot_w)
    parts.append("</svg>")
    return "\n".join(parts)


def _pins(pins: pd.DataFrame, x: XScale, skus: list[str]) -> list[str]:
    """Coloured bands above the plot: which product was on air, and when."""
    out: list[str] = []
    colors = {sku: PALETTE[i % len(PALETTE)] for i, sku in enumerate(skus)}
    if not len(pins):
        return out
    lefts, rights = x(pins["start"]), x(pins["end"])
    for left, right, sku, name in zip(lefts, rights, pins["sku"], pins["name"], strict=True):
        width = max(right - left, 1.0)
        out.append(
            f'<rect x="{left:.1f}" y="{TOP - 22}" width="{width:.1f}" height="18" fill="{colors[sku]}">'
            f"<title>{escape(str(name))} ({escape(str(sku))})</title></rect>"
        )
        if width > 48:
            text = escape(str(name)[: int(width / 7)])
            out.append(f'<text x="{left + 3:.1f}" y="{TOP - 9}" fill="#fff">{text}</text>')
    return out


def _stream(stream: pd.DataFrame, x: XScale, bottom: float, plot_h: float) -> list[str]:
    """Uplink bitrate as a line on its own scale; disconnects as red dashed lines."""
    out = []
    stats = stream[stream["kind"] == "stats"].dropna(subset=["bitrate_kbps"])
    if len(stats):
        top_rate = max(float(stats["bitrate_kbps"].max()), 1.0)
        ys = bottom - stats["bitrate_kbps"].to_numpy(dtype=float) / top_rate * plot_h
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x(stats["time"]), ys, strict=True))
        out.append(f'<polyline points="{points}" fill="none" stroke="{BITRATE_COLOR}" stroke-width="1"/>')
        out.append(
            f'<text x="{WIDTH - RIGHT + 4}" y="{bottom - plot_h + 10}" fill="{BITRATE_COLOR}">{top_rate:,.0f}</text>'
            f'<text x="{WIDTH - RIGHT + 4}" y="{bottom}" fill="{BITRATE_COLOR}">0 kbit/s</text>'
        )
    out.extend(
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{bottom - plot_h}" y2="{bottom}" stroke="{DROP_COLOR}" '
        f'stroke-dasharray="4 3"><title>{escape(label("disconnect"))}</title></line>'
        for left in x(stream.loc[stream["kind"] == "disconnect", "time"])
    )
    return out


def _orders(orders: pd.DataFrame, x: XScale, bottom: float) -> list[str]:
    """Each order a dot on the baseline, its area growing with the amount.

    Orders paid after the show sit on the right edge; a note counts them.
    """
    if not len(orders):
        return []
    largest = max(float(orders["total"].max()), 1.0)
    radii = 2.0 + 5.0 * np.sqrt(orders["total"].to_numpy(dtype=float) / largest)
    return [
        f'<circle cx="{cx:.1f}" cy="{bottom - 8:.1f}" r="{r:.1f}" fill="{ORDER_COLOR}" fill-opacity="0.6">'
        f"<title>{escape(str(sku))} × {int(q)}: {total:,.2f}</title></circle>"
        for cx, r, sku, q, total in zip(
            x(orders["time"]), radii, orders["sku"], orders["quantity"], orders["total"], strict=True
        )
    ]


def _axes(start: pd.Timestamp, end: pd.Timestamp, tz: str, *, peak: int, bottom: float, plot_w: float) -> list[str]:
    out = []
    for i in range(7):
        moment = start + (end - start) * (i / 6)
        left = LEFT + plot_w * i / 6
        out.append(
            f'<text x="{left:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{moment.tz_convert(tz).strftime('%H:%M')}</text>"
        )
    for value in (0, peak // 2, peak):
        y = bottom - value / peak * (bottom - TOP)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{VIEWERS_COLOR}">{value:,}</text>')
    legend = [
        (VIEWERS_COLOR, label("section.concurrency")),
        (BITRATE_COLOR, label("bitrate")),
        (ORDER_COLOR, label("orders")),
        (DROP_COLOR, label("disconnect")),
    ]
    left = LEFT
    for color, text in legend:
        out.append(
            f'<rect x="{left}" y="{HEIGHT - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + 14}" y="{HEIGHT - 5}">{escape(text)}</text>'
        )
        left += 14 + 7 * len(text)
    out.append(f'<text x="{WIDTH - RIGHT}" y="{bottom + 30}" text-anchor="end">{escape(tz)}</text>')
    return out
