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
from analytics.labels import label
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
        "(SELECT MAX(id) FROM destination_events), "
        "(SELECT MAX(id) FROM comments), (SELECT COUNT(hidden_at) FROM comments WHERE show_id = :s), "
        "(SELECT MAX(COALESCE(drawn_at, started_at)) FROM draws WHERE show_id = :s)",
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
        "summary", "products", "funnel", "retention", "timeline", "channels", "replayed", "platforms",
        "by_channel", "channel_funnel", "coupons", "platform_sales",
    )
    return {name: getattr(report, name) for name in names}


def show_label(show: Show) -> str:
    started = ui.local_time(show.started_at, "%Y-%m-%d %H:%M")
    live = f" · {ui.t('live_badge')}" if show.live else ""
    simulated = f" · {ui.t('simulated_badge')}" if show.simulated else ""
    return f"#{show.id} {show.title} ({started}){live}{simulated}"


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


def timeline_chart(timeline: dict[str, pd.DataFrame], names: dict[str, str]) -> alt.VConcatChart:
    """Products on air as bands (every one in the legend), viewers, orders, comments and wants per
    minute, lucky draws and labelled drop-offs; the phone uplink in its own small chart underneath.

    Times are naive display-zone times (:func:`ui.chart_times`), so the axis reads the studio's clock.
    """
    frames = {key: ui.chart_times(frame) for key, frame in timeline.items()}
    time_axis = alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M"))
    shared = alt.Scale(domain=_time_domain(frames))
    audience = alt.layer(
        *_bands(frames["pins"], names),
        *_draw_spans(frames.get("draws")),
        *_hold_spans(frames.get("holds")),
        *_comment_bars(frames.get("comments")),
        _viewers_line(frames["concurrency"], time_axis, shared),
        *_order_dots(frames["orders"], frames["concurrency"], names),
        *_drop_marks(frames.get("drops"), frames["concurrency"], names),
    ).resolve_scale(y="independent", color="independent").properties(height=300)
    return alt.vconcat(audience, _uplink_chart(frames["stream"], shared)).resolve_scale(color="independent")


def _time_domain(frames: dict[str, pd.DataFrame]) -> list[str]:
    times = frames["concurrency"]["time"]
    if not len(times):
        return []
    return [times.min().isoformat(), (times.max() + pd.Timedelta(seconds=10)).isoformat()]


def _bands(pins: pd.DataFrame, names: dict[str, str]) -> list[alt.Chart]:
    """One band per product on air; the legend lists every product (columns, never cut off)."""
    pins = pins.assign(product=pins["sku"].map(names).fillna(pins["sku"]))
    count = max(int(pins["product"].nunique()), 1)
    legend = alt.Legend(orient="bottom", columns=min(count, 3), symbolLimit=0, labelLimit=0, title=None)
    return [
        alt.Chart(pins.rename(columns={"start": "time"}))
        .mark_rect(opacity=0.22)
        .encode(
            x="time:T",
            x2="end:T",
            color=alt.Color("product:N", title=ui.t("col_product"), legend=legend),
            tooltip=[alt.Tooltip("product:N", title=ui.t("col_product"))],
        )
    ]


def _viewers_line(concurrency: pd.DataFrame, time_axis: alt.X, scale: alt.Scale) -> alt.Chart:
    return alt.Chart(concurrency).mark_line(color="#1f4e79", strokeWidth=2).encode(
        x=time_axis.scale(scale) if scale.domain else time_axis, y=alt.Y("viewers:Q", title=ui.t("timeline_viewers"))
    )


def _order_dots(orders: pd.DataFrame, concurrency: pd.DataFrame, names: dict[str, str]) -> list[alt.Chart]:
    if not len(orders):
        return []
    orders = pd.merge_asof(
        orders.sort_values("time"), concurrency[["time", "viewers"]].sort_values("time"), on="time"
    ).fillna({"viewers": 0})
    orders["product"] = orders["sku"].map(names).fillna(orders["sku"])
    return [
        alt.Chart(orders).mark_circle(color="#d9480f", opacity=0.85).encode(
            x="time:T",
            y=alt.Y("viewers:Q", axis=None),
            size=alt.Size("total:Q", legend=None, scale=alt.Scale(range=[30, 300])),
            tooltip=[
                alt.Tooltip("time:T", format="%H:%M:%S", title=ui.t("col_time")),
                alt.Tooltip("product:N", title=ui.t("col_product")),
                alt.Tooltip("quantity:Q", title=ui.t("col_quantity")),
                alt.Tooltip("total:Q", format=",.2f", title=ui.t("col_total")),
            ],
        )
    ]


def _comment_bars(comments: pd.DataFrame | None) -> list[alt.Chart]:
    """Comments and wants per minute as bars on the chart's floor, on their own (hidden) scale."""
    if comments is None or not len(comments) or not comments["comments"].any():
        return []
    long = comments.melt(id_vars="time", value_vars=["comments", "wants"], var_name="kind", value_name="count")
    long["label"] = long["kind"].map({"comments": ui.t("timeline_comments"), "wants": ui.t("timeline_wants")})
    most = max(int(comments["comments"].max()), 1)
    return [
        alt.Chart(long[long["count"] > 0]).mark_bar(opacity=0.55, width=alt.RelativeBandSize(0.9)).encode(
            x="time:T",
            y=alt.Y("count:Q", axis=None, scale=alt.Scale(domain=[0, most * 4]), stack=None),
            color=alt.Color(
                "label:N",
                scale=alt.Scale(range=["#9aa5b1", "#e8590c"]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[
                alt.Tooltip("time:T", format="%H:%M", title=ui.t("col_time")),
                alt.Tooltip("label:N", title=" "),
                alt.Tooltip("count:Q", title=" "),
            ],
        )
    ]


def _draw_spans(draws: pd.DataFrame | None) -> list[alt.Chart]:
    if draws is None or not len(draws):
        return []
    frame = draws.rename(columns={"start": "time"}).assign(label=ui.t("timeline_draw"))
    span = alt.Chart(frame).mark_rect(color="#ae3ec9", opacity=0.15).encode(
        x="time:T", x2="end:T", tooltip=["label:N", "prize:N", "entrants:Q"]
    )
    text = alt.Chart(frame).mark_text(color="#ae3ec9", align="left", baseline="top", dx=3, dy=3, y=0).encode(
        x="time:T", text="label:N"
    )
    return [span, text]


def _hold_spans(holds: pd.DataFrame | None) -> list[alt.Chart]:
    """The automatic hold slate (the phone's uplink was unusable) as grey shaded spans."""
    if holds is None or not len(holds):
        return []
    frame = holds.rename(columns={"start": "time"}).assign(label=label("on_hold", sep=" · "))
    span = alt.Chart(frame).mark_rect(color="#495057", opacity=0.18).encode(
        x="time:T",
        x2="end:T",
        tooltip=[
            alt.Tooltip("label:N", title=" "),
            alt.Tooltip("time:T", format="%H:%M:%S", title=ui.t("col_time")),
            alt.Tooltip("held_s:Q", format=",.0f", title=label("held_s")),
        ],
    )
    text = alt.Chart(frame).mark_text(color="#495057", align="left", baseline="top", dx=3, dy=18, y=0).encode(
        x="time:T", text="label:N"
    )
    return [span, text]


def _drop_marks(drops: pd.DataFrame | None, concurrency: pd.DataFrame, names: dict[str, str]) -> list[alt.Chart]:
    """Each marked drop-off: a rule and "−N · product on air" beside it."""
    if drops is None or not len(drops):
        return []
    frame = drops.assign(
        label=[
            f"−{int(lost)} · {names.get(sku, sku) if isinstance(sku, str) else ui.t('timeline_no_product')}"
            for lost, sku in zip(drops["lost"], drops["sku"], strict=True)
        ],
        viewers=drops["after"],
    )
    y = alt.Y("viewers:Q", axis=None, scale=alt.Scale(domain=[0, max(int(concurrency["viewers"].max()), 1)]))
    rule = alt.Chart(frame).mark_tick(color="#5c2d91", thickness=2, size=24, orient="vertical").encode(
        x="time:T", y=y, tooltip=[alt.Tooltip("label:N", title=ui.t("timeline_drop"))]
    )
    text = alt.Chart(frame).mark_text(color="#5c2d91", align="left", dx=5, dy=-14)
    text = text.encode(x="time:T", y=y, text="label:N")
    return [rule, text]


def _uplink_chart(stream: pd.DataFrame, scale: alt.Scale) -> alt.LayerChart | alt.FacetChart:
    """The phone's uplink in its own small chart under the timeline, so it never crowds the viewers."""
    axis = alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M"))
    x = axis.scale(scale) if scale.domain else axis
    bitrate = alt.Chart(stream[stream["kind"] == "stats"]).mark_line(color="#e0a100", strokeWidth=1.5).encode(
        x=x, y=alt.Y("bitrate_kbps:Q", title=ui.t("timeline_bitrate"))
    )
    drops = alt.Chart(stream[stream["kind"] == "disconnect"]).mark_rule(color="#e5383b", strokeWidth=2).encode(
        x="time:T"
    )
    return alt.layer(bitrate, drops).properties(height=90)


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
    "comments": ("col_comments", "%d"),
    "wants": ("col_wants", "%d"),
    "people": ("col_people", "%d"),
    "buyers": ("col_buyers", "%d"),
    "share_of_revenue": ("col_share_revenue", "percent"),
    "discount": ("col_discount", "¥%.2f"),
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
        "product", "revenue", "orders", "units", "conversion", "on_air_min", "viewers_present",
        "scans", "clicks", "comments", "wants", "revenue_per_on_air_min",
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


def room_sections(result: dict[str, Any]) -> None:
    """The live room's sales: orders by channel, the funnel per channel, coupons and discounts."""
    st.subheader(ui.t("orders_by_channel"))
    by_channel = result["by_channel"]
    _channel_table(by_channel, ["channel", "orders", "units", "revenue", "buyers", "share_of_revenue"])
    st.subheader(ui.t("channel_funnel"))
    _channel_table(result["channel_funnel"], ["channel", "people", "buyers", "orders", "revenue", "conversion"])
    st.subheader(ui.t("coupons"))
    coupons = result["coupons"]
    summary = result["summary"]
    if coupons.empty:
        st.caption(ui.t("no_coupons"))
        return
    st.caption(ui.t("coupon_summary", orders=summary["coupon_orders"], discount=ui.money(summary["discount_given"])))
    table = coupons.assign(coupon=[ui.t("no_coupon") if c == "(none)" else c for c in coupons["coupon"]])
    st.dataframe(
        table[["coupon", "orders", "units", "revenue", "discount"]],
        hide_index=True,
        column_config={
            "coupon": st.column_config.TextColumn(ui.t("col_coupon"), pinned=True),
            **number_columns(["orders", "units", "revenue", "discount"]),
        },
    )


def _channel_table(frame: pd.DataFrame, columns: list[str]) -> None:
    table = frame.assign(channel=[ui.t(f"via_{c}") for c in frame["channel"]])
    st.dataframe(
        table[columns],
        hide_index=True,
        column_config={
            "channel": st.column_config.TextColumn(ui.t("col_channel"), pinned=True),
            **number_columns(columns[1:]),
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
    if summary.get("simulated"):
        st.warning(ui.t("simulated_note"))
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
    st.caption(ui.t("timeline_caption", zone=ui.timezone()))
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
    room_sections(result)
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
