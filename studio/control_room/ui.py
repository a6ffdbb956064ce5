"""What every control-room page shares: language, settings, API client, database.

Each page script calls :func:`page` first, so a page also runs on its own
(``streamlit run studio/control_room/views/go_live_page.py``, or ``AppTest``).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlite_utils
import streamlit as st
from PIL import Image, ImageDraw

import catalog
from studio.control_room.client import ControlClient, ControlError
from studio.control_room.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from studio.control_room.settings import RoomSettings

LANG_KEY = "lang"

CSS = """
<style>
  .block-container {padding-top: 2.2rem; padding-bottom: 1rem;}
  .fl-badge {display: inline-block; padding: 0.1rem 0.55rem; border-radius: 0.4rem;
             font-weight: 700; font-size: 0.8rem; letter-spacing: 0.04em; vertical-align: middle;}
  .fl-live {background: #e5383b; color: white;}
  .fl-off {background: #d9d9d9; color: #333;}
  .fl-air {background: #2b9348; color: white;}
  .fl-pending {background: #f4a261; color: #222;}
  .fl-price {font-size: 1.15rem; font-weight: 700; color: #d9480f;}
  .fl-muted {color: #6c757d; font-size: 0.85rem; overflow-wrap: anywhere;}
  .fl-name {font-weight: 700; font-size: 1.05rem; line-height: 1.25;}
  .fl-card {min-height: 6.4rem;}
  /* Every screen size: a label or a figure wraps onto a second line, it is never cut
     to "上" or "¥35…" (tests/test_control_room_browser.py measures it). */
  .stButton button, .stPopover button, .stFormSubmitButton button {min-height: 2.5rem; height: auto;}
  .stButton button p, .stPopover button p, .stFormSubmitButton button p {
    white-space: normal; word-break: keep-all; overflow-wrap: anywhere; text-overflow: clip;}
  div[data-testid="stMetricValue"] {font-size: 1.7rem;}
  div[data-testid="stMetricValue"] > div, div[data-testid="stMetricLabel"] p {
    white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: anywhere;}
  /* Side-by-side sections wrap below each other when a side would get narrower than its
     minimum (tablet portrait, phone), instead of squeezing its contents. */
  div[class*="st-key-fl-wrap-"] > div > div[data-testid="stHorizontalBlock"] {flex-wrap: wrap;}
  div[class*="st-key-fl-wrap-"] > div > div[data-testid="stHorizontalBlock"] > div[data-testid="stColumn"] {
    min-width: min(100%, 22rem);}
  .st-key-fl-wrap-stage > div > div[data-testid="stHorizontalBlock"] > div[data-testid="stColumn"] {
    min-width: min(100%, 15rem);}
  @media (max-width: 640px) {
    .block-container {padding-left: 0.8rem; padding-right: 0.8rem; padding-top: 1.2rem;}
    h1 {font-size: 1.8rem;}
  }
</style>
"""


@functools.cache
def tab_icon() -> Image.Image:
    """The browser tab's icon, an orange, drawn here: Streamlit fetches a ``:material/…:`` page icon
    from fonts.gstatic.com, and a studio in a village may have no internet at all."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 10, 60, 62), fill=(242, 140, 40, 255))
    draw.ellipse((30, 2, 52, 16), fill=(46, 139, 87, 255))  # its leaf
    return image


def lang() -> str:
    return st.session_state.get(LANG_KEY) or remembered_language()


def remembered_language() -> str:
    """``?lang=en`` in the address: a reload or a bookmark keeps the host's language."""
    wanted = st.query_params.get(LANG_KEY)
    return wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values: object) -> str:
    return translate(key, lang(), **values)


def page(title_key: str) -> None:
    """House style, the page title with the language switch beside it (no sidebar: it would
    take a third of a tablet's width), and the studio key on a LAN-served room."""
    st.session_state.setdefault(LANG_KEY, remembered_language())
    # st.html, not st.markdown: a style-only body goes to the event container (no element, no
    # markdown parse in the browser, which the first load paid for on every page).
    st.html(CSS)
    title, switch = st.columns([4, 1], vertical_alignment="center")
    switch.radio(
        f"{translate('language', 'en')} / {translate('language', 'zh')}",
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=LANG_KEY,
        horizontal=True,
        label_visibility="collapsed",
        width="content",
    )
    st.query_params[LANG_KEY] = lang()
    title.title(t(title_key))
    require_key()


UNLOCKED_KEY = "_unlocked"


def require_key() -> None:
    """On a LAN-served control room, stop here until this browser session gives the studio key."""
    room = settings()
    if not room.locked or st.session_state.get(UNLOCKED_KEY):
        return
    entered = st.text_input(t("studio_key"), type="password", key="_studio_key", help=t("studio_key_help"))
    if entered:
        if room.key and hmac.compare_digest(entered.strip().encode(), room.key.encode()):
            st.session_state[UNLOCKED_KEY] = True
            del st.session_state["_studio_key"]
            st.rerun()
        st.error(t("wrong_key"))
    st.stop()


def settings() -> RoomSettings:
    return RoomSettings.from_env()


def client() -> ControlClient:
    room = settings()
    return ControlClient(room.url, room.key)


def database() -> sqlite_utils.Database:
    """One read-only connection per browser session (SQLite WAL: reads never block the server)."""
    path = str(catalog.db_path(settings().data_dir))
    key = f"_db:{path}"
    if key not in st.session_state:
        st.session_state[key] = catalog.connect_readonly(path)
    return st.session_state[key]


def act(fn: Callable[..., object], *args: Any, done: str | None = None) -> None:
    """Call the API from a button; leave the error or ``done`` for the next run to show."""
    try:
        fn(*args)
    except ControlError as error:
        st.session_state["flash_error"] = error.message(lang())
        return
    if done:
        st.session_state["flash_ok"] = done


def show_error(error: ControlError) -> None:
    if error.status == 0:
        st.error(f"**{t('studio_unreachable')}**  \n{error.message(lang())}  \n{t('studio_hint')}")
    else:
        st.error(error.message(lang()))


def state_or_stop(api: ControlClient) -> dict[str, Any]:
    """``GET /api/state``, or an explanation and the end of this run."""
    try:
        return api.state()
    except ControlError as error:
        show_error(error)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers honest


def money(amount: float, currency: str = "CNY") -> str:
    symbol = {"CNY": "¥", "USD": "$", "EUR": "€"}.get(currency, f"{currency} ")
    return f"{symbol}{amount:,.2f}"


def product_name(name: str, name_zh: str) -> str:
    """The name in the chosen language first, the other one after it."""
    if not name_zh:
        return name
    return f"{name_zh} · {name}" if lang() == "zh" else f"{name} · {name_zh}"


def local_time(moment: Any, fmt: str = "%H:%M") -> str:
    """A stored UTC time on the studio's display clock (:func:`timezone`), as every screen shows it."""
    if moment is None or pd.isna(moment):
        return "–"
    return catalog.to_display(pd.Timestamp(moment).to_pydatetime(), timezone(), fmt)


def timezone() -> str:
    """The studio's display time zone (``FARMLIVE_TIMEZONE``, default Asia/Shanghai), not the browser's:
    the host, the farmer and the reports read the same clock."""
    return settings().timezone


def chart_times(frame: pd.DataFrame) -> pd.DataFrame:
    """UTC datetime columns as naive display-zone times: Vega-Lite draws naive times as they are,
    so a chart's axis shows the studio's clock whatever the browser's zone."""
    zone = timezone()
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(zone).dt.tz_localize(None)
    return frame


def short_name(name: str, name_zh: str) -> str:
    """The name in the chosen language only, for narrow tables."""
    return (name_zh or name) if lang() == "zh" else (name or name_zh)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
