"""The Go live page's simulcast panel: the platforms the show is pushed to, live.

Each destination shows its push state (idle / connecting / live / retrying /
failed, with the reason), kbps, uptime and reconnects, refreshed every couple
of seconds; an own-QR destination also shows what its extra encode costs (CPU
share of one core, frames dropped); a toggle starts or stops it, and the add form says, per platform,
where the farmer finds the push URL and stream key. The key goes to the
server once and is only ever shown masked.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from catalog.destinations import PRESETS
from studio.control_room import ui
from studio.control_room.client import ControlClient, ControlError

REFRESH_S = 5.0  # push states change slowly; a switch or an added platform reruns the panel at once
BADGES = {"live": "fl-air", "connecting": "fl-muted", "retrying": "fl-off", "failed": "fl-off", "idle": "fl-muted"}


def preset_label(preset: str) -> str:
    known = PRESETS.get(preset)
    if known is None:
        return preset
    return known.label_zh if ui.lang() == "zh" else known.label


def uptime_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def encode_line(dest: dict[str, Any]) -> str | None:
    """An own-QR destination's extra encode, while it runs: its CPU share and dropped frames."""
    if not dest.get("own_qr") or dest.get("encode_cpu_percent") is None:
        return None
    return ui.t(
        "dest_encode", cpu=float(dest["encode_cpu_percent"]), dropped=int(dest.get("encode_dropped") or 0)
    )


def push_line(push: dict[str, Any]) -> str:
    """One destination's state badge and figures, as HTML (the reason is already redacted)."""
    state = str(push.get("state", "idle"))
    badge = f'<span class="fl-badge {BADGES.get(state, "fl-muted")}">{ui.t("dest_state_" + state)}</span>'
    parts = [badge]
    if state == "live" or push.get("reconnects"):
        figures = ui.t(
            "dest_figures",
            kbps=float(push.get("kbps", 0.0)),
            uptime=uptime_text(float(push.get("uptime_s", 0.0))),
            reconnects=int(push.get("reconnects", 0)),
        )
        parts.append(f'<span class="fl-muted">{html.escape(figures)}</span>')
    if push.get("reason"):
        parts.append(f'<span class="fl-muted">{html.escape(str(push["reason"]))}</span>')
    return " ".join(parts)


@st.fragment(run_every=REFRESH_S)
def destination_list(api: ControlClient) -> None:
    try:
        destinations = api.destinations()
    except ControlError as error:
        ui.show_error(error)
        return
    if not destinations:
        st.caption(ui.t("destinations_none"))
    for dest in destinations:
        name = str(dest["name"])
        with st.container(border=True):
            title, toggle = st.columns([4, 1], vertical_alignment="center")
            title.markdown(
                f"**{html.escape(name)}** · {html.escape(preset_label(str(dest['preset'])))} "
                f'<span class="fl-muted">{html.escape(str(dest["url"]))} · {html.escape(str(dest["key"]))}</span>',
                unsafe_allow_html=True,
            )
            wanted = toggle.toggle(ui.t("dest_enabled"), value=bool(dest["enabled"]), key=f"dest_on_{name}")
            if wanted != bool(dest["enabled"]):
                ui.act(api.set_destination_enabled, name, wanted)
            st.markdown(push_line(dest.get("push") or {}), unsafe_allow_html=True)
            encode = encode_line(dest)
            if encode is not None:
                st.caption(encode)
            elif dest.get("own_qr"):
                st.caption(ui.t("dest_own_qr"))
            if st.button(ui.t("dest_remove"), key=f"dest_rm_{name}"):
                ui.act(api.remove_destination, name)
                st.rerun()


def add_form(api: ControlClient) -> None:
    with st.expander(ui.t("dest_add")):
        preset = st.selectbox(ui.t("dest_platform"), list(PRESETS), format_func=preset_label, key="dest_preset")
        where = PRESETS[preset]
        st.info(f"**{ui.t('dest_where')}:** {where.where_zh if ui.lang() == 'zh' else where.where}")
        with st.form("dest_form", clear_on_submit=True):
            name = st.text_input(ui.t("dest_name"), value=preset_label(preset))
            url = st.text_input(ui.t("dest_url"), placeholder="rtmp://…")
            key = st.text_input(ui.t("dest_key"), type="password", help=ui.t("dest_key_help"))
            own_qr = st.checkbox(ui.t("dest_own_qr"), help=ui.t("dest_own_qr_help"))
            if st.form_submit_button(ui.t("dest_save")):
                body = {"name": name, "url": url, "key": key, "preset": preset, "own_qr": own_qr}
                ui.act(api.add_destination, body, done=ui.t("dest_added", name=name))
                st.rerun()


def destinations_panel(api: ControlClient) -> None:
    st.subheader(ui.t("destinations"))
    destination_list(api)
    add_form(api)
