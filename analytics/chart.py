"""The show timeline as inline SVG: viewers, products on air, orders, the room, then the uplink.

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
COMMENT_COLOR, WANT_COLOR, DRAW_COLOR, FALL_COLOR = "#9aa5b1", "#e8590c", "#ae3ec9", "#5c2d91"
HOLD_COLOR = "#495057"
UPLINK_HEIGHT = 130  # the uplink's own small chart under the timeline
LEGEND_ROW = 18
COMMENT_SHARE = 0.22  # comment bars use the bottom fifth of the plot, on their own scale
KEY = [
    (VIEWERS_COLOR, label("section.concurrency", sep=" ")),
    (ORDER_COLOR, label("orders", sep=" ")),
    (COMMENT_COLOR, label("comments_per_min", sep=" ")),
    (WANT_COLOR, label("wants", sep=" ")),
    (DRAW_COLOR, label("draw", sep=" ")),
    (HOLD_COLOR, label("on_hold", sep=" · ")),
    (FALL_COLOR, label("drop_off", sep=" ")),
]


def timeline_svg(
    frames: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, tz: str = "Asia/Shanghai"
) -> str:
    """SVG of :func:`analytics.metrics.timeline_figure_data` output, times shown in ``tz``.

    Viewers, products on air (every product named in the legend), order
    dots, comments and wants per minute, lucky draws and labelled drop-offs,
    then the phone uplink in its own small chart underneath, on the same
    time axis, so neither line crowds the other.
    """
    span = max((end - start) / pd.Timedelta(seconds=1), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h

    def x(times: pd.Series) -> npt.NDArray[np.float64]:
        seconds = ((times - start) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
        return np.asarray(LEFT + np.clip(seconds / span, 0.0, 1.0) * plot_w, dtype=np.float64)

    pins = frames["pins"]
    names = dict(zip(pins["sku"], pins["name"], strict=False))
    colors = product_colors(sorted(names))
    items = [(color, text, "key") for color, text in KEY] + [
        (colors[sku], f"{names[sku]} ({sku})", "product-legend") for sku in sorted(names)
    ]
    legend_top = HEIGHT - BOTTOM + 26
    legend, legend_h = _legend(items, top=legend_top)
    uplink_top = legend_top + legend_h + 6
    total_h = uplink_top + UPLINK_HEIGHT
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total_h}" role="img" '
            f'aria-label="{escape(label("section.timeline"))}" font-family="sans-serif" font-size="11">'
        ),
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    parts += _pins(pins, x, colors)
    parts += _draws(frames.get("draws"), x, bottom, plot_h)
    parts += _holds(frames.get("holds"), x, bottom, plot_h)
    parts += _comments(frames.get("comments"), x, bottom, plot_h, span)
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
    parts += _drops(frames.get("drops"), x, bottom, plot_h, peak)
    parts += _orders(frames["orders"], x, bottom)
    later = int((frames["orders"]["time"] > end).sum())
    if later:  # platform orders paid after the show, inside the attribution window
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{bottom - 18}" text-anchor="end" fill="{ORDER_COLOR}">'
            f"+{later} {escape(label('after_show'))}</text>"
        )
    parts += _axes(start, end, tz, peak=peak, bottom=bottom, plot_w=plot_w)
    parts += legend
    parts += _uplink(frames["stream"], x, top=uplink_top, plot_w=plot_w)
    parts.append("</svg>")
    return "\n".join(parts)


def product_colors(skus: list[str]) -> dict[str, str]:
    """One colour per product, the same in the bands and the legend."""
    return {sku: PALETTE[i % len(PALETTE)] for i, sku in enumerate(skus)}


def text_width(text: str) -> float:
    """Rough width in pixels at 11 px: CJK characters are twice as wide as Latin ones."""
    return 6.2 * sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _legend(items: list[tuple[str, str, str]], *, top: float) -> tuple[list[str], float]:
    """The key, then every product on air beside its colour, wrapping onto as many rows as needed."""
    out: list[str] = []
    left, row = float(LEFT), 0
    for color, text, css in items:
        width = 14 + text_width(text) + 16
        if left + width > WIDTH - 8 and left > LEFT:
            left, row = float(LEFT), row + 1
        y = top + row * LEGEND_ROW
        out.append(
            f'<g class="{css}"><rect x="{left:.1f}" y="{y:.1f}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + 14:.1f}" y="{y + 9:.1f}">{escape(text)}</text></g>'
        )
        left += width
    return out, (row + 1) * LEGEND_ROW if items else 0.0


def _pins(pins: pd.DataFrame, x: XScale, colors: dict[str, str]) -> list[str]:
    """Coloured bands above the plot: which product was on air, and when (named in the legend)."""
    out: list[str] = []
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


def _uplink(stream: pd.DataFrame, x: XScale, *, top: float, plot_w: float) -> list[str]:
    """The phone's uplink bitrate in its own small chart, phone disconnects as red dashed lines."""
    plot_h = UPLINK_HEIGHT - 36
    bottom = top + 14 + plot_h
    out = [
        f'<text x="{LEFT}" y="{top + 10}" fill="{BITRATE_COLOR}">{escape(label("bitrate"))}</text>',
        f'<rect x="{LEFT}" y="{top + 14}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    stats = stream[stream["kind"] == "stats"].dropna(subset=["bitrate_kbps"])
    if len(stats):
        top_rate = max(float(stats["bitrate_kbps"].max()), 1.0)
        ys = bottom - stats["bitrate_kbps"].to_numpy(dtype=float) / top_rate * plot_h
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x(stats["time"]), ys, strict=True))
        out.append(f'<polyline points="{points}" fill="none" stroke="{BITRATE_COLOR}" stroke-width="1.2"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{top + 24}" text-anchor="end" fill="{BITRATE_COLOR}">{top_rate:,.0f}</text>'
            f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end" fill="{BITRATE_COLOR}">0</text>'
        )
    out.extend(
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top + 14}" y2="{bottom}" stroke="{DROP_COLOR}" '
        f'stroke-dasharray="4 3"><title>{escape(label("disconnect"))}</title></line>'
        for left in x(stream.loc[stream["kind"] == "disconnect", "time"])
    )
    return out


def _comments(
    comments: pd.DataFrame | None, x: XScale, bottom: float, plot_h: float, span: float
) -> list[str]:
    """Comments per minute as grey bars on the plot's floor, the wants among them in orange."""
    if comments is None or not len(comments) or not comments["comments"].any():
        return []
    most = max(int(comments["comments"].max()), 1)
    width = max(float(x(pd.Series([comments["time"].iloc[0] + pd.Timedelta(seconds=60)]))[0]) - LEFT, 1.0)
    width = min(width, (WIDTH - LEFT - RIGHT) * 60 / span) - 1
    out = []
    for left, said, wanted in zip(x(comments["time"]), comments["comments"], comments["wants"], strict=True):
        for count, color, name in ((said, COMMENT_COLOR, "comments"), (wanted, WANT_COLOR, "wants")):
            if count:
                h = count / most * plot_h * COMMENT_SHARE
                out.append(
                    f'<rect class="{name}" x="{left:.1f}" y="{bottom - h:.1f}" width="{max(width, 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}" fill-opacity="0.7"><title>{escape(label(name))}: {count}'
                    "</title></rect>"
                )
    return out


def _draws(draws: pd.DataFrame | None, x: XScale, bottom: float, plot_h: float) -> list[str]:
    """Each lucky draw as a shaded stretch, its prize and entrants named."""
    if draws is None or not len(draws):
        return []
    out = []
    spans = zip(x(draws["start"]), x(draws["end"]), draws["prize"], draws["entrants"], strict=True)
    for left, right, prize, entrants in spans:
        text = f"{label('draw')}: {prize} · {int(entrants)}"
        top = bottom - plot_h
        out.append(
            f'<rect class="draw" x="{left:.1f}" y="{top:.1f}" width="{max(right - left, 2):.1f}" '
            f'height="{plot_h:.1f}" fill="{DRAW_COLOR}" fill-opacity="0.12"><title>{escape(text)}</title></rect>'
            f'<text x="{left + 2:.1f}" y="{top + 12:.1f}" fill="{DRAW_COLOR}">{escape(label("draw"))}</text>'
        )
    return out


def _holds(holds: pd.DataFrame | None, x: XScale, bottom: float, plot_h: float) -> list[str]:
    """Each stretch of the automatic hold slate as a grey shaded span: "on hold · 保持画面" and how long."""
    if holds is None or not len(holds):
        return []
    name = label("on_hold", sep=" · ")
    out = []
    for left, right, held in zip(x(holds["start"]), x(holds["end"]), holds["held_s"], strict=True):
        top = bottom - plot_h
        width = max(right - left, 2)
        out.append(
            f'<rect class="hold" x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{plot_h:.1f}" '
            f'fill="{HOLD_COLOR}" fill-opacity="0.18"><title>{escape(name)}: {float(held):,.0f} s</title></rect>'
        )
        if width > 60:
            out.append(f'<text x="{left + 2:.1f}" y="{top + 26:.1f}" fill="{HOLD_COLOR}">{escape(name)}</text>')
    return out


def _drops(drops: pd.DataFrame | None, x: XScale, bottom: float, plot_h: float, peak: int) -> list[str]:
    """The steepest audience drops: an arrow down with how many left and what was on air."""
    if drops is None or not len(drops):
        return []
    out = []
    for left, lost, after, name in zip(x(drops["time"]), drops["lost"], drops["after"], drops["name"], strict=True):
        y = bottom - after / peak * plot_h
        on_air = str(name) if isinstance(name, str) else label("nothing_on_air")
        text = f"−{int(lost)} · {on_air}"
        anchor = "end" if left > WIDTH / 2 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(
            f'<g class="drop-off"><line x1="{left:.1f}" x2="{left:.1f}" y1="{y - 26:.1f}" y2="{y - 4:.1f}" '
            f'stroke="{FALL_COLOR}" stroke-width="1.5"/><text x="{left + dx:.1f}" y="{y - 16:.1f}" '
            f'text-anchor="{anchor}" fill="{FALL_COLOR}">{escape(text)}</text>'
            f"<title>{escape(label('drop_off'))}: {escape(text)}</title></g>"
        )
    return out


def retention_svg(retention: pd.DataFrame) -> str:
    """The retention curve (share still watching by minutes watched) as a small inline SVG."""
    width, height, left, top, bottom_pad = 640, 220, 48, 14, 36
    plot_w, plot_h = width - left - 16, height - top - bottom_pad
    bottom = top + plot_h
    longest = max(float(retention["minute"].max()) if len(retention) else 0.0, 1.0)
    xs = left + retention["minute"].to_numpy(dtype=float) / longest * plot_w
    ys = bottom - retention["share"].to_numpy(dtype=float) * plot_h
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label("section.retention"))}" font-family="sans-serif" font-size="11">'
        ),
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    if len(retention):
        parts.append(
            f'<polygon class="retention" points="{xs[0]:.1f},{bottom} {points} {xs[-1]:.1f},{bottom}" '
            f'fill="{VIEWERS_COLOR}" fill-opacity="0.25" stroke="{VIEWERS_COLOR}" stroke-width="1.5"/>'
        )
    for share in (0.0, 0.5, 1.0):
        y = bottom - share * plot_h
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{share:.0%}</text>')
    for i in range(5):
        minute = longest * i / 4
        parts.append(
            f'<text x="{left + plot_w * i / 4:.1f}" y="{bottom + 14}" text-anchor="middle">{minute:,.0f}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">{escape(label("minute"))}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


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
    out.append(f'<text x="{WIDTH - RIGHT}" y="{TOP - 28}" text-anchor="end">{escape(tz)}</text>')
    return out
