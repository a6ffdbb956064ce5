"""The phone QR on the Go live page: it pairs the farmer's phone, and carries no key.

The QR opens ``/publish#pair=<code>``: a single-use code, valid 10 minutes,
which the phone exchanges once for a publish-only token (``studio.phone``).
The code is renewed by itself a minute before it expires, and on demand.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import streamlit as st

from catalog.timestamps import parse_iso, utc_now
from studio.control_room import ui
from studio.control_room.client import ControlClient, ControlError
from studio.control_room.preview import publish_qr_png

PAIRING_KEY = "pairing"
RENEW_BEFORE = timedelta(minutes=1)
PAIRING_REFRESH_S = 20.0


def current_pairing(api: ControlClient, *, renew: bool = False) -> dict[str, Any]:
    """The pairing on screen, or a new one when there is none or it is about to expire."""
    pairing = st.session_state.get(PAIRING_KEY)
    if renew or pairing is None or parse_iso(pairing["expires_at"]) - utc_now() < RENEW_BEFORE:
        pairing = api.new_pairing()
        st.session_state[PAIRING_KEY] = pairing
    return dict(pairing)


def renew() -> None:
    st.session_state.pop(PAIRING_KEY, None)


def unpair(api: ControlClient) -> None:
    try:
        revoked = api.unpair_phones()["revoked"]
    except ControlError as error:
        st.session_state["flash_error"] = error.message(ui.lang())
        return
    renew()  # a code on screen is as good as a phone: replace it too
    st.session_state["flash_ok"] = ui.t("pair_unpaired", n=revoked)


@st.fragment(run_every=PAIRING_REFRESH_S)
def pairing_panel(api: ControlClient) -> None:
    """The pairing QR with its expiry, a New QR button and Unpair all phones."""
    try:
        pairing = current_pairing(api)
    except ControlError as error:
        ui.show_error(error)
        return
    with st.container(border=True, key="phone-pairing"):
        code, text = st.columns([1, 2], vertical_alignment="center")
        code.image(publish_qr_png(pairing["pair_url"]), width="stretch")
        text.markdown(f"**{ui.t('phone_camera')}**")
        text.caption(ui.t("phone_scan"))
        until = ui.local_time(pairing["expires_at"], "%H:%M")
        public = pairing["pair_url"].split("#", 1)[0]
        text.markdown(
            f'<span class="fl-muted">{html.escape(ui.t("pair_until", time=until))} · {html.escape(public)}</span>',
            unsafe_allow_html=True,
        )
        again, off = text.columns(2)
        again.button(ui.t("pair_new"), key="pair_new", width="stretch", on_click=renew)
        off.button(ui.t("pair_unpair"), key="pair_unpair", width="stretch", on_click=unpair, args=(api,))
