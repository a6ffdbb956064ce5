"""Panels drawn once the browser is idle after the control room's first screen.

Streamlit's browser side renders every element of a page run before the page
settles: on a two-core laptop the Go live page's lower half (figures, comments,
pairing, simulcast) cost as much as the controls a host taps first. A page run
that has not been told the browser is idle draws a one-line placeholder and
this small v2 component (no iframe, no CDN) in place of such a panel; the
component's trigger reruns the fragments the caller names, which then draw it.
Only a browser session's first run waits: later runs (a fragment's refresh,
Start / End show) draw everything at once. If the component cannot load, the
placeholder's button does the same by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

#: Session-state flag: this browser session's first screen has been drawn (tests set it to skip the wait).
SETTLED = "_first_screen_settled"

_when_idle = st.components.v2.component(
    "farmlive_when_idle",
    html="",
    js=(Path(__file__).parent / "when_idle.js").read_text(encoding="utf-8"),
)


def settled() -> bool:
    """Whether this browser session's first screen is up (the idle trigger or the button said so)."""
    return bool(st.session_state.get(SETTLED))


def settle(fragments: Sequence[str]) -> None:
    st.session_state[SETTLED] = True
    st.rerun(list(fragments))


def first_screen_settled(placeholder: str, button: str, *, rerun: Sequence[str]) -> bool:
    """True once this session's first screen is up; until then draw ``placeholder`` (a caption) with
    ``button`` (the by-hand way) and the idle trigger, and return False: the caller draws nothing
    more. When the browser is idle the fragments named in ``rerun`` (the caller's, and any other that
    waits on :func:`settled`) run again and draw what they left out."""
    if settled():
        return True
    fragments = tuple(rerun)
    with st.container(horizontal=True, vertical_alignment="center", key="fl-later"):
        st.caption(placeholder)
        st.button(button, key="fl-later-now", on_click=settle, args=(fragments,), type="tertiary")
    _when_idle(key="fl-when-idle", data=None, height="content", on_idle_change=functools.partial(settle, fragments))
    return False
