"""The live room beside the show: newest comments, want counts, hide/mute/pin.

A fragment of the Go live page that refreshes on its own; every action goes
through the control API (the studio's room is the one writer), and the page
around it never reruns for a comment.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from catalog.products import Product
from studio.control_room import ui
from studio.control_room.client import ControlClient, ControlError

ROOM_REFRESH_S = 2.0
SHOWN = 30  # newest comments listed for the host


def _call(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except ControlError as error:
        st.session_state["room_error"] = error.message(ui.lang())


@st.fragment(run_every=ROOM_REFRESH_S)
def room_panel(api: ControlClient, products: dict[str, Product]) -> None:
    st.subheader(ui.t("comments"))
    if "room_error" in st.session_state:
        st.error(st.session_state.pop("room_error"))
    try:
        room = api.comments(limit=SHOWN)
    except ControlError as error:
        ui.show_error(error)
        return
    for sku, count in sorted(room["wants"].items(), key=lambda item: -item[1]):
        product = products.get(sku)
        name = ui.short_name(product.name, product.name_zh) if product else sku
        st.markdown(f":material/local_fire_department: **{ui.t('wants_line', n=count, name=name)}**")
    pin_form(api, room.get("pinned"))
    comments = list(reversed(room["comments"]))  # newest first for the host
    if not comments:
        st.caption(ui.t("no_comments_yet"))
    muted = set(room.get("muted") or [])
    with st.container(height=360):
        for comment in comments:
            comment_row(api, comment, comment["viewer_id"] in muted)
    st.caption(ui.t("room_connected", n=room.get("connected", 0)))
    draw_form(api)


def draw_form(api: ControlClient) -> None:
    """Start a lucky draw; the studio draws the winner by itself (seed and entrants kept for anyone to check)."""
    with st.expander(ui.t("draw"), expanded=False), st.form("draw_form", border=False):
        prize = st.text_input(ui.t("draw_prize"), max_chars=40)
        rule = st.radio(
            ui.t("draw_rule"), ("comment", "order"), horizontal=True,
            format_func=lambda r: ui.t(f"draw_rule_{r}"),
        )
        keyword = st.text_input(ui.t("draw_keyword"), value="扣1", max_chars=20)
        seconds = st.number_input(ui.t("draw_seconds"), min_value=10, max_value=1800, value=120, step=10)
        if st.form_submit_button(ui.t("draw_start")):
            try:
                api.start_draw(prize.strip(), rule, keyword.strip() if rule == "comment" else None, int(seconds))
            except ControlError as error:
                st.error(error.message(ui.lang()))
            else:
                st.toast(ui.t("draw_started", prize=prize.strip()))
    try:
        past = api.draws()["draws"]
    except ControlError:
        return
    if past:
        st.markdown(f"**{ui.t('past_draws')}**")
        st.dataframe(
            {
                ui.t("col_prize"): [d["prize"] for d in past],
                ui.t("col_status"): [d["status"] for d in past],
                ui.t("col_entrants"): [d["entrants"] for d in past],
                ui.t("col_winner"): [d["winner"] or "—" for d in past],
            },
            hide_index=True,
        )


def comment_row(api: ControlClient, comment: dict[str, Any], muted: bool) -> None:
    # Icon buttons with the word as a tooltip: the room column is narrow on a laptop.
    text, hide, mute = st.columns([5, 1, 1], vertical_alignment="center")
    marks = [ui.t("hidden_mark")] * comment["hidden"] + [ui.t("muted_mark")] * muted
    # st.text never renders markup: a viewer's comment stays plain text here too.
    text.text(f"{ui.local_time(comment['at'], '%H:%M:%S')} {comment['nickname']}: {comment['text']}")
    if marks:
        text.caption(" · ".join(marks))
    hide.button(
        ":material/visibility_off:", key=f"hide_{comment['id']}", help=ui.t("hide"), disabled=comment["hidden"],
        on_click=_call, args=(api.hide_comment, comment["id"]),
    )
    mute.button(
        ":material/voice_over_off:", key=f"mute_{comment['id']}", help=ui.t("mute"), disabled=muted,
        on_click=_call, args=(api.mute, comment["viewer_id"]),
    )


def pin_form(api: ControlClient, pinned: dict[str, Any] | None) -> None:
    if pinned:
        text, button = st.columns([5, 1], vertical_alignment="center")
        text.info(ui.t("pinned_now", text=pinned["text"]))
        button.button(":material/keep_off:", key="unpin", help=ui.t("unpin"), on_click=_call, args=(api.unpin,))
        return
    with st.form("pin_form", clear_on_submit=True, border=False):
        text, button = st.columns([6, 2], vertical_alignment="bottom")
        message = text.text_input(ui.t("pin_text"), max_chars=200)
        if button.form_submit_button(ui.t("pin")) and message.strip():
            _call(api.pin, message.strip())
