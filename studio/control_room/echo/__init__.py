"""Direct taps on the Go live page (a Streamlit v2 component, no iframe, no CDN).

Through Streamlit a tap waits for the browser's message to reach the script
thread (queued behind the panels' periodic runs), then for the callback's API
call: most of a second on a busy laptop before the video changes. This
component takes the On air / Clear / Take clicks in the browser: it shows the
tap at once ("上屏中 → 赣南脐橙"), sends ``PUT /api/overlay`` straight to the
studio with the studio key (the page already holds it: the live preview's
``#key=`` fragment), shows the answer, and hands it to Streamlit (trigger
``answer``, or ``refused`` with the problem) so the fragments redraw from it.
When the studio cannot be reached from the browser, or the component never
loads, the buttons' own callbacks do the work (the Python path).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

HERE = Path(__file__).parent
#: How long the page waits, after showing the studio's answer, before asking Streamlit to redraw the
#: on-air bar and the cards from it: on a 2-core laptop that redraw (a script run, a React render)
#: competed with the studio drawing and encoding the change's first frames. Measured 2026-11-30
#: (benchmarks/control_room.py): tap -> video median 431 ms at 0, 240 and 321 ms at 600 (two runs).
REDRAW_AFTER_MS = 600
AIR_KEY, TAKE_KEY = "tap_echo", "take_tap"  # the two mounts: the on-air bar's, the staging panel's
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


@dataclass(frozen=True)
class Direct:
    """Where the browser sends a direct tap: the studio as the *browser* reaches it (its public
    URL, not the control room's loopback one) and the studio key; ``key=""`` turns direct taps off."""

    api: str
    key: str


Callback = Callable[[], None]


def tap_echo(
    names: dict[str, str],
    *,
    direct: Direct,
    layout: str,
    words: dict[str, str],
    run: int,
    on_answer: Callback,
    on_refused: Callback,
) -> None:
    """Mount the echo and the direct On air / Clear taps; ``names`` maps each On air button's key to
    the product name it puts on air, ``layout`` is the one on air (kept by On air and Clear),
    ``words`` the echo's ``sending`` / ``answered`` / ``nothing`` texts, and ``run`` changes with every
    run of the fragment around it (which hides a shown echo)."""
    _echo(
        key=AIR_KEY,
        data={
            "role": "air",
            "names": {widget_class(key): name for key, name in names.items()},
            "skus": {widget_class(key): key.split(":", 1)[1] for key in names},
            **words,
            "run": run,
            "api": direct.api,
            "key": direct.key,
            "layout": layout,
            "redraw_after_ms": REDRAW_AFTER_MS,
        },
        height="content",
        on_answer_change=on_answer,
        on_refused_change=on_refused,
    )


def take_tap(staged: dict[str, Any] | None, *, run: int, on_answer: Callback, on_refused: Callback) -> None:
    """Mount the direct Take: ``staged`` is the tap the staging controls describe (``sku``, ``layout``,
    ``promo`` with ``minutes`` in place of a countdown's end, set when Take is pressed), or None when
    only Python can build it (a coupon without a code: the button's callback shows why)."""
    _echo(
        key=TAKE_KEY,
        data={"role": "take", "take": staged, "run": run, "now_ms": round(time.time() * 1000)},
        height="content",
        on_answer_change=on_answer,
        on_refused_change=on_refused,
    )


def answer_of(key: str, name: str) -> dict[str, Any] | None:
    """The trigger value ``name`` ("answer" or "refused") the mount ``key`` just sent, in its callback."""
    result = st.session_state.get(key)
    value = result.get(name) if result is not None else None
    return value if isinstance(value, dict) else None
