"""A show's report as a self-contained HTML page, CSV files or an XLSX workbook.

The figures come from the pure metrics; this module only formats and
writes. Headings are bilingual (English / 简体中文) and times are shown in
the studio's time zone (Asia/Shanghai by default), because the people who
read a report are the farmer and the sales staff, not a database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from analytics.attribution import DEFAULT_WINDOW
from analytics.chart import retention_svg, timeline_svg
from analytics.frames import ShowData, load_show
from analytics.labels import bilingual_columns, label
from analytics.metrics import (
    channel_funnel,
    coupon_use,
    funnel,
    orders_by_channel,
    platform_sales,
    platform_spans,
    product_table,
    retention_curve,
    show_summary,
    timeline_figure_data,
)
from analytics.replay import channel_split, replayed_chapters
from catalog.csvio import safe_cell
from catalog.money import format_money
from catalog.timestamps import DEFAULT_DISPLAY_TIMEZONE, display_timezone, to_display

FORMATS = (".html", ".csv", ".xlsx")
DEFAULT_TIMEZONE = DEFAULT_DISPLAY_TIMEZONE
# The orders sheet of a report, in the order a salesperson reads it.
REPORT_ORDER_COLUMNS = [
    "id", "at", "sku", "quantity", "unit_price", "total", "source", "status",
    "buyer_id", "link_code", "external_id", "attributed_by", "channel", "via", "coupon", "list_price",
]
SUMMARY_KEYS = [
    "title", "started_at", "ended_at", "duration_s", "unique_viewers", "viewers_webrtc", "viewers_hls",
    "sessions", "peak_concurrent",
    "peak_at", "avg_watch_s", "median_watch_s", "engaged_viewers", "scans", "clicks", "orders", "units",
    "gmv", "buyers", "revenue_per_viewer", "gpm", "conversion", "reconnects", "held_s",
    "coupon_orders", "discount_given", "comments", "wants", "draws", "simulated",
]
TILES = [
    "unique_viewers", "peak_concurrent", "avg_watch_s", "median_watch_s", "orders",
    "units", "gmv", "buyers", "gpm", "conversion",
]
HTML_ORDER_LIMIT = 500
MONEY = (
    "gmv", "gpm", "revenue", "revenue_per_viewer", "revenue_per_on_air_min", "total", "unit_price",
    "list_price", "discount", "discount_given",
)
# The product table as a person reads it: revenue first, then what sold it; sorted by revenue.
PRODUCT_COLUMNS = [
    "sku", "name", "name_zh", "revenue", "orders", "units", "buyers", "conversion", "on_air_s",
    "viewers_present", "scans", "clicks", "comments", "wants", "revenue_per_on_air_min",
]
# The HTML page's narrower cut of it, to fit a laptop screen (the files keep every column).
HTML_PRODUCT_COLUMNS = [
    "product", "revenue", "orders", "units", "conversion", "on_air_min", "viewers_present",
    "scans", "clicks", "comments", "wants",
]


@dataclass(frozen=True)
class Report:
    """Every table of a report, computed once and written in any format."""

    data: ShowData
    summary: dict[str, Any]
    products: pd.DataFrame
    funnel: pd.DataFrame
    retention: pd.DataFrame
    timeline: dict[str, pd.DataFrame]
    channels: pd.DataFrame  # live and replay: viewers, scans, clicks, orders, GMV
    replayed: pd.DataFrame  # chapters, most-replayed first
    platforms: pd.DataFrame
    by_channel: pd.DataFrame  # orders by how buyers came: scan, click, shelf, draw, replay
    channel_funnel: pd.DataFrame
    coupons: pd.DataFrame
    platform_sales: pd.DataFrame  # scans, orders, units, GMV per own-QR destination and the own page

    @classmethod
    def of(cls, data: ShowData) -> Report:
        return cls(
            data=data,
            summary=show_summary(data),
            products=products_by_revenue(product_table(data)),
            funnel=funnel(data),
            retention=retention_curve(data, step_s=60),
            timeline=timeline_figure_data(data),
            channels=channel_split(data),
            replayed=replayed_chapters(data),
            platforms=platform_spans(data),
            by_channel=orders_by_channel(data),
            channel_funnel=channel_funnel(data),
            coupons=coupon_use(data),
            platform_sales=platform_sales(data),
        )

    def by_channel_frame(self) -> pd.DataFrame:
        return self.by_channel.assign(channel=[label(f"via.{c}") for c in self.by_channel["channel"]])

    def channel_funnel_frame(self) -> pd.DataFrame:
        return self.channel_funnel.assign(channel=[label(f"via.{c}") for c in self.channel_funnel["channel"]])

    def drops(self, tz: str) -> pd.DataFrame:
        return _local(self.timeline["drops"], tz)

    def draws(self, tz: str) -> pd.DataFrame:
        return _local(self.timeline["draws"], tz)

    def holds(self, tz: str) -> pd.DataFrame:
        """The automatic hold slate's stretches (start, end, held_s), times local to ``tz``."""
        return _local(self.timeline["holds"], tz)

    def channels_frame(self) -> pd.DataFrame:
        """The live/replay split with the channel named in both languages."""
        return self.channels.assign(channel=[label(f"channel.{c}") for c in self.channels["channel"]])

    def summary_frame(self, tz: str) -> pd.DataFrame:
        """metric, label, value: one row per headline figure, times local to ``tz``."""
        values = [_plain(self.summary[key], tz) for key in SUMMARY_KEYS]
        values = [round(v, 4) if isinstance(v, float) else v for v in values]
        return pd.DataFrame({"metric": SUMMARY_KEYS, "label": [label(k) for k in SUMMARY_KEYS], "value": values})

    def orders(self, tz: str) -> pd.DataFrame:
        return _local(self.data.orders[REPORT_ORDER_COLUMNS].sort_values("at", kind="stable"), tz)


def write_report(
    db: sqlite_utils.Database,
    show_id: int,
    out: str | Path,
    *,
    window: timedelta = DEFAULT_WINDOW,
    timezone_name: str | None = None,
) -> Path:
    """Write the report of ``show_id`` to ``out``; the suffix picks the format.

    ``.csv`` writes the product table to ``out``, the summary next to it
    as ``<name>.summary.csv`` and the live/replay split as ``<name>.replay.csv``.
    Times are shown in ``timezone_name`` (default: the studio's display zone,
    ``FARMLIVE_TIMEZONE`` or Asia/Shanghai). Raises ValueError for another
    suffix or an unknown zone and :class:`catalog.shows.UnknownShow` for an
    unknown show, before writing.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"report file must end in {', '.join(FORMATS)}; got {out.name!r}")
    timezone_name = display_timezone(timezone_name)  # unknown zone: fail before any work
    report = Report.of(load_show(db, show_id, window=window))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        out.write_text(render_html(report, timezone_name), encoding="utf-8")
    elif suffix == ".csv":
        write_csv(report, out, timezone_name)
    else:
        write_xlsx(report, out, timezone_name)
    return out


def summary_csv_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.summary.csv")


def replay_csv_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.replay.csv")


def products_by_revenue(products: pd.DataFrame) -> pd.DataFrame:
    """Revenue first and the best seller on top (then SKU, so ties keep one order)."""
    ordered = products.sort_values(["revenue", "sku"], ascending=[False, True], kind="stable")
    rest = [c for c in ordered.columns if c not in PRODUCT_COLUMNS]
    return ordered[[c for c in PRODUCT_COLUMNS if c in ordered.columns] + rest].reset_index(drop=True)


def html_products(products: pd.DataFrame) -> pd.DataFrame:
    """The laptop-width product table: one name cell (Chinese · English), minutes not seconds."""
    names = [f"{z} · {n}" if z else n for n, z in zip(products["name"], products["name_zh"], strict=True)]
    frame = products.assign(product=names, on_air_min=products["on_air_s"] / 60.0)
    return frame[HTML_PRODUCT_COLUMNS]


def platforms_csv_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.platforms.csv")


def write_csv(report: Report, out: Path, tz: str) -> None:
    """Products to ``out``; summary, live/replay and sales by platform beside it; UTF-8 with BOM for Excel."""
    products = _rounded(report.products).rename(columns=bilingual_columns(list(report.products.columns)))
    _spreadsheet_safe(products).to_csv(out, index=False, encoding="utf-8-sig")
    summary = report.summary_frame(tz).rename(columns=bilingual_columns(["metric", "label", "value"]))
    _spreadsheet_safe(summary).to_csv(summary_csv_path(out), index=False, encoding="utf-8-sig")
    channels = _rounded(report.channels_frame())
    _spreadsheet_safe(channels.rename(columns=bilingual_columns(list(channels.columns)))).to_csv(
        replay_csv_path(out), index=False, encoding="utf-8-sig"
    )
    sales = _rounded(report.platform_sales)
    _spreadsheet_safe(sales.rename(columns=bilingual_columns(list(sales.columns)))).to_csv(
        platforms_csv_path(out), index=False, encoding="utf-8-sig"
    )


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells (a product named ``=HYPERLINK(...)``) that Excel would run as formulas, neutralised."""
    return frame.map(safe_cell)


def write_xlsx(report: Report, out: Path, tz: str) -> None:
    """Sheets: summary, products, funnel, retention, orders, concurrency, replay, chapters, platforms,
    by_channel, channel_funnel, coupons, comments (per minute), drop_offs, draws, platform sales, holds."""
    funnel_frame = report.funnel.assign(stage=[label(f"stage.{s}") for s in report.funnel["stage"]])
    sheets = {
        "summary": report.summary_frame(tz),
        "products": report.products,
        "funnel": funnel_frame,
        "retention": report.retention,
        "orders": report.orders(tz),
        "concurrency": _local(report.timeline["concurrency"], tz),
        "replay": report.channels_frame(),
        "chapters": report.replayed,
        "platforms": _local(report.platforms, tz),
        "by_channel": report.by_channel_frame(),
        "channel_funnel": report.channel_funnel_frame(),
        "coupons": report.coupons,
        "comments": _local(report.timeline["comments"], tz),
        "drop_offs": report.drops(tz),
        "draws": report.draws(tz),
        "platform sales": report.platform_sales,
        "holds": report.holds(tz),
    }
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for name, raw in sheets.items():
            frame = _rounded(raw).rename(columns=bilingual_columns(list(raw.columns)))
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f":  # openpyxl stores text starting with "=" as a live formula
                        cell.data_type = "s"
            for cells in sheet.columns:
                longest = max(len(str(cell.value)) if cell.value is not None else 0 for cell in cells)
                sheet.column_dimensions[cells[0].column_letter].width = min(max(10, longest + 2), 48)


def render_html(report: Report, tz: str) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, no external files."""
    summary, data = report.summary, report.data
    title = escape(str(summary["title"]))
    when = f"{_plain(summary['started_at'], tz)} → {_plain(summary['ended_at'], tz) or label('live')}"
    tiles = "".join(
        f'<div class="tile"><div class="value">{escape(_display(key, summary[key]))}</div>'
        f'<div class="label">{escape(label(key))}</div></div>'
        for key in TILES
    )
    peak_at = _plain(summary["peak_at"], tz)
    funnel_frame = report.funnel.assign(stage=[label(f"stage.{s}") for s in report.funnel["stage"]])
    orders = report.orders(tz)
    shown = orders.tail(HTML_ORDER_LIMIT)
    orders_note = (
        f"<p>{len(orders) - len(shown)} earlier orders are in the XLSX report / "
        f"更早的 {len(orders) - len(shown)} 个订单见 XLSX 报告</p>"
        if len(shown) < len(orders) else ""
    )
    svg = timeline_svg(report.timeline, data.start, data.end, tz)
    simulated = (
        f'<p class="simulated">{escape(label("simulated", sep=" · "))}: {escape(label("simulated_note"))}</p>'
        if data.simulated else ""
    )
    badge = f" ({escape(label('simulated', sep=' · '))})" if data.simulated else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(label("report"))}: {title}{badge}</title>
<style>{CSS}</style></head>
<body>
<h1>{escape(label("report"))}: {title}{badge}</h1>
{simulated}<p class="when">{escape(when)} · {escape(label("times_in"))}: {escape(tz)}
{f" · {escape(label('peak_at'))}: {escape(peak_at)}" if peak_at else ""}</p>
<section class="tiles">{tiles}</section>
<h2>{escape(label("section.timeline"))}</h2>
<div class="chart">{svg}</div>
<h2>{escape(label("section.products"))}</h2>
<div class="fit">{_table(html_products(report.products))}</div>
<h2>{escape(label("section.by_channel"))}</h2>
{_table(report.by_channel_frame())}
<h2>{escape(label("section.channel_funnel"))}</h2>
{_table(report.channel_funnel_frame())}
<h2>{escape(label("section.coupons"))}</h2>
{_table(report.coupons)}
<h2>{escape(label("section.drops"))}</h2>
{_table(report.drops(tz))}
<h2>{escape(label("section.draws"))}</h2>
{_table(report.draws(tz))}
<h2>{escape(label("section.holds"))}</h2>
<p class="held">{escape(label("held_s"))}: {escape(_display("held_s", summary["held_s"]))}</p>
{_table(report.holds(tz))}
<h2>{escape(label("section.channels"))}</h2>
{_table(report.channels_frame())}
<h2>{escape(label("section.platforms"))}</h2>
{_table(_local(report.platforms, tz))}
<h2>{escape(label("section.platform_sales"))}</h2>
{_table(report.platform_sales)}
<h2>{escape(label("section.funnel"))}</h2>
{_table(funnel_frame)}
<h2>{escape(label("section.retention"))}</h2>
<div class="chart retention">{retention_svg(report.retention)}</div>
<h2>{escape(label("section.replayed"))}</h2>
{_table(report.replayed.head(20))}
<h2>{escape(label("section.orders"))} ({len(orders)})</h2>
{orders_note}{_table(shown)}
<footer>farmlive · {escape(label("section.summary"))}: {len(data.sessions):,} {escape(label("sessions"))}</footer>
</body></html>
"""


CSS = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif;
       margin: 1.5rem; color: #222; max-width: 1100px; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.when { color: #666; margin-top: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .6rem; }
.tile { background: #f4f7f2; border-radius: 8px; padding: .7rem; }
.tile .value { font-size: 1.4rem; font-weight: 600; } .tile .label { font-size: .8rem; color: #555; }
.chart svg { width: 100%; height: auto; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; overflow-x: auto; display: block; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .3rem .5rem; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
.chart.retention svg { max-width: 640px; }
.simulated { background: #fff3bf; border-left: 4px solid #f59f00; padding: .4rem .7rem; }
/* The product table fits a laptop: headings and names wrap, figures stay on one line. */
.fit table { display: table; table-layout: auto; font-size: .8rem; }
.fit th { white-space: normal; vertical-align: bottom; min-width: 3.5rem; }
.fit td:first-child { white-space: normal; min-width: 9rem; }
.fit th, .fit td { padding: .25rem .35rem; }
footer { margin-top: 2rem; color: #888; font-size: .8rem; }
"""


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>—</p>"
    shown = frame.copy()
    for column in shown.columns:
        shown[column] = [_display(column, value) for value in shown[column]]
    return shown.rename(columns=bilingual_columns(list(shown.columns))).to_html(index=False, border=0, escape=True)


def _display(key: str, value: Any) -> str:
    """A figure as a person reads it: money with 2 decimals, shares as percent."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, pd.Timestamp):  # already local (see _local)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return label("simulated") if key == "simulated" and value else ("—" if key == "simulated" else str(value))
    if key in ("conversion", "share", "share_of_previous", "share_of_viewers", "share_of_revenue"):
        return f"{float(value):.1%}"
    if key in MONEY:
        return format_money(float(value))
    return _number(key, value)


def _number(key: str, value: Any) -> str:
    """Seconds and minutes with one decimal, other floats with two, counts with thousands separators."""
    if isinstance(value, float):
        return f"{value:,.1f}" if key.endswith(("_s", "_min")) or key in ("seconds", "minute") else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _plain(value: Any, tz: str) -> Any:
    """Timestamps -> local text for tables; other values unchanged."""
    if isinstance(value, pd.Timestamp):
        return to_display(value.to_pydatetime(), tz)
    return "" if value is None else value


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Money to cents, other fractions to 4 places: files without float noise."""
    return frame.round({c: 2 if c in MONEY else 4 for c in frame.columns if frame[c].dtype == "float64"})


def _local(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """tz-aware columns -> naive local times (Excel has no time zones)."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(tz).dt.tz_localize(None)
    return frame.reset_index(drop=True)
