"""The instant echo of a tap on the Go live page (a Streamlit v2 component, no iframe, no CDN).

Streamlit redraws the on-air bar only after the browser's message has reached
the server, the API has answered and the fragment has run (a few hundred ms on
a busy laptop). This component shows the tap the moment it happens, in the
browser alone ("上屏中 → 赣南脐橙"), and steps aside when the fragment's next
run brings the studio's answer. It never calls anything: the button itself
does the work, so nothing goes on air that the studio did not accept.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent
HTML = '<div class="echo" hidden><span class="label"></span><span class="name fl-echo"></span></div>'

_echo = st.components.v2.component(
    "farmlive_tap_echo",
    html=HTML,
    css=(HERE / "tap_echo.css").read_text(encoding="utf-8"),
    js=(HERE / "tap_echo.js").read_text(encoding="utf-8"),
)


def widget_class(key: str) -> str:
    """The class Streamlit gives a keyed widget's holder: ``st-key-`` and the key with every other
    character as "-" (per UTF-16 unit, as the browser's ``replaceAll`` counts them)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", lambda m: "-" * (2 if ord(m[0]) > 0xFFFF else 1), key.strip())


def tap_echo(names: dict[str, str], *, sending: str, nothing: str, run: int) -> None:
    """Mount the echo; ``names`` maps each On air button's key to the product name it puts on air,
    ``run`` changes with every run of the fragment around it (which hides a shown echo)."""
    _echo(
        key="tap_echo",
        data={
            "names": {widget_class(key): name for key, name in names.items()},
            "skus": {widget_class(key): key.split(":", 1)[1] for key in names},
            "sending": sending,
            "nothing": nothing,
            "run": run,
        },
        height="content",
    )
