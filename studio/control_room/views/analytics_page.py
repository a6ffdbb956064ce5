"""Analytics: one show's viewers, products, funnel, retention and timeline.

All figures come from :mod:`analytics` (pure pandas over a :class:`ShowData`);
this page only picks the show, caches the result and draws it.
"""

from __future__ import annotations

import time
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import analytics
import catalog
from analytics.report import Report
from catalog.shows import Show, list_shows
from studio.clips import ClipsRefused, make_clips
from studio.control_room import ui
from studio.control_room.reports import REPORT_FORMATS, report_maker

LIVE_REFRESH_S = 15.0
STAGES = {
    "viewers": "stage_viewers",
    "engaged": "stage_engaged",
    "scanned_or_clicked": "stage_scanned",
    "ordered": "stage_ordered",
}


def fingerprint(db: Any, show_id: int) -> tuple[Any, ...]:
    """Changes whenever anything the figures read changes (cheap: indexed MAX/COUNT).

    A live show's figures also depend on the clock ("so far"): they age out
    every :data:`LIVE_REFRESH_S` seconds.
    """
    row = db.execute(
        "SELECT (SELECT ended_at FROM shows WHERE id = :s), "
        "(SELECT MAX(id) FROM viewer_sessions), "
        "(SELECT COUNT(*) FROM viewer_sessions WHERE show_id = :s AND left_at IS NULL), "
        "(SELECT MAX(id) FROM link_events), (SELECT MAX(id) FROM orders), "
        "(SELECT MAX(id) FROM overlay_events), (SELECT MAX(id) FROM stream_events), "
        "(SELECT MAX(id) FROM destination_events)",
        {"s": show_id},
    ).fetchone()
    live = row[0] is None
    return (*row, int(time.time() // LIVE_REFRESH_S) if live else None)


@st.cache_data(max_entries=8, show_spinner=False)
def figures(db_file: str, show_id: int, version: tuple[Any, ...]) -> dict[str, Any]:
    """Everything the page draws for one show, computed once per data version.

    The same tables as the downloadable report (``Report.of``); the raw
    ``ShowData`` is left out of the cache.
    """
    db = catalog.connect_readonly(db_file)
    try:
        report = Report.of(analytics.load_show(db, show_id))
    finally:
        db.conn.close()
    names = (
        "summary", "products", "funnel", "retention", "timeline", "channels", "replayed", "platforms", "platform_sales"
    )
    return {name: getattr(report, name) for name in names}


def show_label(show: Show) -> str:
    started = ui.local_time(show.started_at, "%Y-%m-%d %H:%M")
    live = f" · {ui.t('live_badge')}" if show.live else ""
    return f"#{show.id} {show.title} ({started}){live}"


def summary_tiles(summary: dict[str, Any]) -> None:
    tiles = [
        (
            "unique_viewers",
            f"{summary['unique_viewers']:,}",
            ui.t("by_transport", webrtc=summary.get("viewers_webrtc", 0), hls=summary.get("viewers_hls", 0)),
        ),
        (
            "peak_concurrent",
            f"{summary['peak_concurrent']:,}",
            ui.t("peak_at", time=ui.local_time(summary.get("peak_at"))),
        ),
        ("avg_watch", ui.duration(summary["avg_watch_s"]), None),
        ("median_watch", ui.duration(summary["median_watch_s"]), None),
        ("gmv", ui.money(summary["gmv"]), None),
        ("orders", f"{summary['orders']:,}", f"{summary['units']:,} {ui.t('units')}"),
        ("buyers", f"{summary['buyers']:,}", None),
        ("gpm", ui.money(summary["gpm"]), f"{ui.t('revenue_per_viewer')} {ui.money(summary['revenue_per_viewer'])}"),
    ]
    for start in (0, 4):
        for column, (key, value, note) in zip(st.columns(4), tiles[start : start + 4], strict=False):
            column.metric(ui.t(key), value, border=True)
            if note:
                column.caption(note)


def timeline_chart(timeline: dict[str, pd.DataFrame], names: dict[str, str]) -> alt.LayerChart:
    """One chart: products on air as bands, viewers as a line, orders as dots, uplink on the right axis."""
    viewers_title = ui.t("timeline_viewers")
    time_axis = alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M"))
    concurrency = timeline["concurrency"]
    pins = timeline["pins"].assign(product=lambda f: f["sku"].map(names).fillna(f["sku"]))
    bands = (
        alt.Chart(pins.rename(columns={"start": "time"}))
        .mark_rect(opacity=0.22)
        .encode(
            x="time:T",
            x2="end:T",
            color=alt.Color("product:N", title=ui.t("col_product"), legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("product:N", title=ui.t("col_product"))],
        )
    )
    line = alt.Chart(concurrency).mark_line(color="#1f4e79", strokeWidth=2).encode(
        x=time_axis, y=alt.Y("viewers:Q", title=viewers_title)
    )
    orders = timeline["orders"]
    if len(orders):
        orders = pd.merge_asof(
            orders.sort_values("time"), concurrency[["time", "viewers"]].sort_values("time"), on="time"
        ).fillna({"viewers": 0})
        orders["product"] = orders["sku"].map(names).fillna(orders["sku"])
    dots = alt.Chart(orders).mark_circle(color="#d9480f", opacity=0.85).encode(
        x="time:T",
        y="viewers:Q",
        size=alt.Size("total:Q", legend=None, scale=alt.Scale(range=[30, 300])),
        tooltip=[
            alt.Tooltip("time:T", format="%H:%M:%S", title=ui.t("col_time")),
            alt.Tooltip("product:N", title=ui.t("col_product")),
            alt.Tooltip("quantity:Q", title=ui.t("col_quantity")),
            alt.Tooltip("total:Q", format=",.2f", title=ui.t("col_total")),
        ],
    )
    stream = timeline["stream"]
    bitrate = alt.Chart(stream[stream["kind"] == "stats"]).mark_line(
        color="#2b9348", strokeDash=[4, 3], strokeWidth=1.5
    ).encode(x="time:T", y=alt.Y("bitrate_kbps:Q", title=ui.t("timeline_bitrate")))
    disconnects = stream[stream["kind"] == "disconnect"]
    drops = alt.Chart(disconnects).mark_rule(color="#e5383b", strokeWidth=2).encode(x="time:T")
    audience = alt.layer(bands, line, dots)
    uplink = alt.layer(bitrate, drops)
    return alt.layer(audience, uplink).resolve_scale(y="independent").properties(height=320)


#: How each figure column is headed and formatted, wherever a table shows it.
NUMBER_COLUMNS: dict[str, tuple[str, str]] = {
    "on_air_min": ("col_on_air", "%.1f min"),
    "viewers_present": ("col_viewers_present", "%d"),
    "viewers": ("col_viewers", "%d"),
    "scans": ("col_scans", "%d"),
    "clicks": ("col_clicks", "%d"),
    "orders": ("col_orders", "%d"),
    "units": ("col_units", "%d"),
    "revenue": ("col_revenue", "¥%.2f"),
    "gmv": ("col_gmv", "¥%.2f"),
    "conversion": ("col_conversion", "percent"),
    "revenue_per_on_air_min": ("col_revenue_per_min", "¥%.2f"),
    "replay_viewers": ("col_replay_viewers", "%d"),
    "replay_min": ("col_replay_time", "%.1f min"),
    "chapter": ("col_chapter", "%d"),
}


def number_columns(keys: list[str]) -> dict[str, Any]:
    return {
        key: st.column_config.NumberColumn(ui.t(NUMBER_COLUMNS[key][0]), format=NUMBER_COLUMNS[key][1]) for key in keys
    }


def product_section(products: pd.DataFrame) -> None:
    table = products.assign(
        product=[ui.product_name(n, z) for n, z in zip(products["name"], products["name_zh"], strict=True)],
        on_air_min=products["on_air_s"] / 60.0,
    )
    columns = [
        "product", "on_air_min", "viewers_present", "scans", "clicks",
        "orders", "units", "revenue", "conversion", "revenue_per_on_air_min",
    ]
    cc = st.column_config
    st.dataframe(
        table[columns].sort_values("revenue", ascending=False),
        hide_index=True,
        column_config={
            "product": cc.TextColumn(ui.t("col_product"), pinned=True),
            **number_columns(columns[1:]),
        },
    )


def channel_section(channels: pd.DataFrame) -> None:
    """Live against replay: who watched, what they bought."""
    table = channels.assign(channel=[ui.t(f"channel_{c}") for c in channels["channel"]])
    named_rows(table, "channel", "col_channel", ["viewers", "scans", "clicks", "orders", "units", "gmv"])


def named_rows(table: pd.DataFrame, name: str, name_label: str, numbers: list[str]) -> None:
    """A table of figures with each row's name pinned on the left."""
    st.dataframe(
        table[[name, *numbers]],
        hide_index=True,
        column_config={name: st.column_config.TextColumn(ui.t(name_label), pinned=True), **number_columns(numbers)},
    )


def platform_sales_section(sales: pd.DataFrame) -> None:
    """Scans and sales per own-QR platform; everything through the show's own link is "own page"."""
    named_rows(sales, "destination", "dest_platform", ["scans", "clicks", "orders", "units", "gmv"])
    st.caption(ui.t("platform_sales_caption"))


def replayed_section(replayed: pd.DataFrame) -> None:
    watched = replayed[replayed["replay_viewers"] > 0]
    if watched.empty:
        st.caption(ui.t("no_replays_yet"))
        return
    table = watched.assign(
        product=[ui.product_name(n, z) for n, z in zip(watched["name"], watched["name_zh"], strict=True)],
        starts=[ui.duration(s) for s in watched["start_s"]],
        replay_min=watched["replay_s"] / 60.0,
    )
    cc = st.column_config
    st.dataframe(
        table[["chapter", "starts", "product", "replay_viewers", "replay_min"]].head(10),
        hide_index=True,
        column_config={
            "starts": cc.TextColumn(ui.t("col_starts")),
            "product": cc.TextColumn(ui.t("col_product")),
            **number_columns(["chapter", "replay_viewers", "replay_min"]),
        },
    )


def replay_tools(show: Show) -> None:
    """The replay link to share and the clips button, once the show has ended."""
    if show.live:
        return
    st.caption(ui.t("replay_link", url=f"{ui.settings().url}/replay/{show.id}"))
    if st.button(ui.t("make_clips"), key=f"clips{show.id}"):
        db = ui.database()
        try:
            result = make_clips(db, ui.settings().data_dir, show.id)
        except ClipsRefused as refused:
            st.warning(ui.t("clips_refused", reason=refused.detail if ui.lang() == "en" else refused.detail_zh))
        else:
            st.success(ui.t("clips_made", count=len(result.clips), folder=str(result.folder)))


def funnel_chart(funnel: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    frame = funnel.assign(
        label=[ui.t(STAGES.get(s, s)) if s in STAGES else s for s in funnel["stage"]],
        text=[f"{v:,} · {share:.0%}" for v, share in zip(funnel["viewers"], funnel["share_of_viewers"], strict=True)],
    )
    order = list(frame["label"])
    bars = alt.Chart(frame).mark_bar(color="#f08c00", cornerRadiusEnd=4).encode(
        y=alt.Y("label:N", sort=order, title=None),
        x=alt.X("viewers:Q", title=None),
        tooltip=[
            alt.Tooltip("label:N", title=ui.t("col_stage")),
            alt.Tooltip("viewers:Q", format=","),
            alt.Tooltip("share_of_previous:Q", format=".1%", title=ui.t("col_share_prev")),
            alt.Tooltip("share_of_viewers:Q", format=".1%", title=ui.t("col_share_all")),
        ],
    )
    text = bars.mark_text(align="left", dx=4, color="#333").encode(text="text:N")
    return alt.layer(bars, text).properties(height=200)


def retention_chart(retention: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(retention)
        .mark_area(line={"color": "#1f4e79"}, color="#a5c8e4", opacity=0.7)
        .encode(
            x=alt.X("minute:Q", title=ui.t("retention_minute")),
            y=alt.Y(
                "share:Q", title=ui.t("retention_share"), axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])
            ),
            tooltip=[alt.Tooltip("minute:Q", format=".0f"), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=200)
    )


def downloads(db_file: str, show_id: int) -> None:
    st.markdown(f"**{ui.t('download_report')}**")
    zone = ui.timezone()
    for column, (suffix, mime) in zip(st.columns(len(REPORT_FORMATS)), REPORT_FORMATS.items(), strict=True):
        column.download_button(
            ui.t(f"report_{suffix.lstrip('.')}"),
            data=report_maker(db_file, show_id, suffix, zone),
            file_name=f"farmlive-show-{show_id}{suffix}",
            mime=mime,
            key=f"report{suffix}",
            on_click="ignore",
            width="stretch",
        )


def platform_table(spans: pd.DataFrame) -> pd.DataFrame:
    """Which simulcast platform was live when, in local time."""
    return pd.DataFrame(
        {
            ui.t("dest_platform"): spans["destination"],
            ui.t("col_from"): [ui.local_time(t, "%H:%M:%S") for t in spans["start"]],
            ui.t("col_until"): [ui.local_time(t, "%H:%M:%S") for t in spans["end"]],
            ui.t("col_live_min"): (spans["live_s"] / 60).round(1),
        }
    )


def show_figures(db_file: str, show_id: int) -> None:
    """The figures of one show; a live show's refresh on their own (see :func:`main`)."""
    version = fingerprint(ui.database(), show_id)
    result = figures(db_file, show_id, version)
    summary = result["summary"]
    if summary["live"]:
        st.caption(ui.t("show_live_so_far"))
    st.caption(f"{ui.t('duration')}: {ui.duration(summary['duration_s'])}")
    summary_tiles(summary)
    products = result["products"]
    names = {
        sku: ui.product_name(n, z)
        for sku, n, z in zip(products["sku"], products["name"], products["name_zh"], strict=True)
    }
    st.subheader(ui.t("timeline"))
    st.altair_chart(timeline_chart(result["timeline"], names), width="stretch")
    st.caption(ui.t("timeline_caption"))
    platforms = result["platforms"]
    if not platforms.empty:
        st.subheader(ui.t("platforms_live"))
        st.dataframe(platform_table(platforms), hide_index=True)
    st.subheader(ui.t("product_table"))
    product_section(products)
    st.subheader(ui.t("channels"))
    channel_section(result["channels"])
    st.subheader(ui.t("replayed_chapters"))
    replayed_section(result["replayed"])
    st.subheader(ui.t("platform_sales"))
    platform_sales_section(result["platform_sales"])
    left, right = st.columns(2)
    with left:
        st.subheader(ui.t("funnel"))
        st.altair_chart(funnel_chart(result["funnel"]), width="stretch")
    with right:
        st.subheader(ui.t("retention"))
        st.altair_chart(retention_chart(result["retention"]), width="stretch")


def main() -> None:
    ui.page("nav_analytics")
    shows = list(reversed(list_shows(ui.database())))
    if not shows:
        st.info(ui.t("no_shows"))
        return
    by_id = {s.id: s for s in shows}
    top, side = st.columns([3, 2], vertical_alignment="bottom")
    show_id = top.selectbox(ui.t("pick_show"), list(by_id), format_func=lambda i: show_label(by_id[i]), key="show_id")
    db_file = str(catalog.db_path(ui.settings().data_dir))
    with side:
        downloads(db_file, show_id)
    replay_tools(by_id[show_id])
    refresh = LIVE_REFRESH_S if by_id[show_id].live else None
    st.fragment(show_figures, run_every=refresh)(db_file, show_id)


main()
