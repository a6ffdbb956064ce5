"""The recap the host sees after 下播 (End show): duration, peak viewers, orders, GMV, top product.

Computed from SQLite with the same analytics functions as the Analytics page
(``show_summary``, ``product_table``: pure pandas), so the recap and the full
report never disagree. Shown between shows for the latest show when it ended
recently (here, from another tab or by a script), until the host closes it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlite_utils
import streamlit as st

import analytics
from catalog.shows import list_shows
from catalog.timestamps import parse_iso, utc_now
from studio.control_room import ui

DISMISSED_KEY = "recap_dismissed"
RECENT = timedelta(hours=6)


def recap_figures(db: sqlite_utils.Database, show_id: int) -> dict[str, Any]:
    """The recap's numbers: pure analytics over the show's rows."""
    data = analytics.load_show(db, show_id)
    summary = analytics.show_summary(data)
    products = analytics.product_table(data)
    top = None
    if len(products) and products["revenue"].max() > 0:
        best = products.sort_values(["revenue", "units"], ascending=False).iloc[0]
        top = {"sku": best["sku"], "name": best["name"], "name_zh": best["name_zh"],
               "revenue": float(best["revenue"]), "units": int(best["units"])}
    return {
        "show_id": show_id,
        "title": summary["title"],
        "duration_s": float(summary["duration_s"]),
        "peak_viewers": int(summary["peak_concurrent"]),
        "orders": int(summary["orders"]),
        "gmv": float(summary["gmv"]),
        "top": top,
    }


def show_to_recap(db: sqlite_utils.Database) -> int | None:
    """The latest show if it ended within :data:`RECENT` (just now, here or from another tab) and the
    host has not closed its recap."""
    shows = list_shows(db)
    latest = max(shows, key=lambda s: s.id) if shows else None
    if latest is None or not latest.ended_at or utc_now() - parse_iso(latest.ended_at) >= RECENT:
        return None
    return None if st.session_state.get(DISMISSED_KEY) == latest.id else latest.id


def dismiss(show_id: int) -> None:
    st.session_state[DISMISSED_KEY] = show_id


def recap_panel() -> None:
    """Between shows: the last show's recap, with a link to the full Analytics page."""
    db = ui.database()
    show_id = show_to_recap(db)
    if show_id is None:
        return
    recap = recap_figures(db, show_id)
    with st.container(border=True, key="recap"):
        st.subheader(ui.t("recap_title", title=recap["title"]))
        columns = st.columns(5)
        columns[0].metric(ui.t("recap_duration"), ui.duration(recap["duration_s"]))
        columns[1].metric(ui.t("recap_peak"), recap["peak_viewers"])
        columns[2].metric(ui.t("recap_orders"), recap["orders"])
        columns[3].metric(ui.t("recap_gmv"), ui.money(recap["gmv"]))
        top = recap["top"]
        columns[4].metric(
            ui.t("recap_top"),
            ui.short_name(top["name"], top["name_zh"]) if top else ui.t("recap_no_sales"),
            ui.money(top["revenue"]) if top else None,
            delta_color="off",
        )
        link, close = st.columns([3, 1], vertical_alignment="center")
        link.markdown(f"[{ui.t('recap_analytics')} →](analytics?lang={ui.lang()})")
        close.button(ui.t("recap_close"), key="recap_close", width="stretch", on_click=dismiss, args=(show_id,))
