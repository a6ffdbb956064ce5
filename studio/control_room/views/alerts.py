"""Loud alerts on the Go live page: a big coloured banner when the phone's uplink is weak or gone.

The level and reason come from the studio (``alert`` in ``/api/state``,
computed by :mod:`studio.alerts`): amber on a weak uplink, red when the phone
dropped, with the seconds since. An optional alarm sound plays in the host's
browser while it is red; the host may also stop the studio holding the slate
by itself.
"""

from __future__ import annotations

import html
import io
import wave
from typing import Any

import numpy as np
import streamlit as st

from studio.control_room import ui
from studio.control_room.client import ControlClient

SOUND_KEY = "alert_sound"
STYLE = """
<style>
  .fl-alert {padding: 0.9rem 1.1rem; border-radius: 0.6rem; font-size: 1.25rem; font-weight: 800;
             margin: 0.2rem 0 0.6rem; line-height: 1.35;}
  .fl-alert small {display: block; font-size: 0.9rem; font-weight: 600; opacity: 0.9;}
  .fl-alert-red {background: #dc2626; color: #fff; animation: fl-pulse 1s ease-in-out infinite alternate;}
  .fl-alert-amber {background: #f59e0b; color: #111827;}
  @keyframes fl-pulse {from {box-shadow: 0 0 0 0 rgba(220, 38, 38, 0.7);}
                       to {box-shadow: 0 0 0 10px rgba(220, 38, 38, 0);}}
</style>
"""


@st.cache_data(show_spinner=False)
def alarm_wav(seconds: float = 0.6, rate: int = 16000) -> bytes:
    """Two short beeps (880 Hz) as a WAV file, made once."""
    t = np.arange(int(seconds * rate)) / rate
    tone = np.sin(2 * np.pi * 880 * t) * ((t % 0.3) < 0.2)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((tone * 20000).astype("<i2").tobytes())
    return buffer.getvalue()


def alert_html(alert: dict[str, Any], holding: bool) -> str:
    """The banner for ``alert`` in the host's language ('' when all is well)."""
    level = alert.get("level", "ok")
    if level not in ("amber", "red"):
        return ""
    reason = alert.get("reason_zh") if ui.lang() == "zh" else alert.get("reason")
    extra = f"<small>{html.escape(ui.t('holding_now'))}</small>" if holding else ""
    icon = "⛔" if level == "red" else "⚠️"
    return f'<div class="fl-alert fl-alert-{level}" role="alert">{icon} {html.escape(reason or "")}{extra}</div>'


def set_auto_hold(api: ControlClient) -> None:
    ui.act(api.set_auto_hold, bool(st.session_state.get("auto_hold_toggle")))


def alert_strip(state: dict[str, Any]) -> None:
    """The banner, at the top of the page over the on-air bar, where the host is looking.

    It is drawn with the first screen, before the figures (:mod:`studio.control_room.later`), and
    kept current by the on-air bar's own refresh (every 2 s, no extra request).
    """
    alert = state.get("alert") or {}
    health = state.get("stream_health") or {}
    banner = alert_html(alert, bool(health.get("holding")))
    if banner:
        st.html(STYLE + banner)


def alert_controls(api: ControlClient, state: dict[str, Any]) -> None:
    """With the live figures: the alarm sound while it is red, and the two switches."""
    alert = state.get("alert") or {}
    if alert.get("level") == "red" and st.session_state.get(SOUND_KEY):
        st.audio(alarm_wav(), format="audio/wav", autoplay=True)
    sound, hold = st.columns(2)
    sound.toggle(ui.t("alert_sound"), key=SOUND_KEY, help=ui.t("alert_sound_help"))
    # The server's setting is the truth: show it, and write it only when the host flips the switch.
    st.session_state["auto_hold_toggle"] = bool(state.get("auto_hold", True))
    hold.toggle(
        ui.t("auto_hold"), key="auto_hold_toggle", help=ui.t("auto_hold_help"), on_change=set_auto_hold, args=(api,)
    )
