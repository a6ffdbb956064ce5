"""Go live: start the show, one-tap products on air, stage the next one, watch the figures.

Writes go through the control API (the server owns what is on air); the
product list is read straight from SQLite. A tap reruns only the fragments it
changes (On air / Clear / Take: the on-air bar and the cards; Stage and the
staging controls: the staging panel), drawn at once from the API's answer;
the live preview sits outside every fragment and is never re-mounted.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st
from PIL import Image

import catalog
from catalog.products import Product
from overlays import LAYOUTS, Promo
from studio.control_room import ui
from studio.control_room.client import ControlClient, ControlError
from studio.control_room.echo import AIR_KEY, TAKE_KEY, Direct, answer_of, take_tap, tap_echo
from studio.control_room.later import first_screen_settled, settled
from studio.control_room.preview import preview_image
from studio.control_room.views.alerts import alert_controls, alert_strip
from studio.control_room.views.destinations_panel import destinations_panel
from studio.control_room.views.pairing import pairing_panel
from studio.control_room.views.recap import recap_panel
from studio.control_room.views.room_panel import room_panel

LIVE_REFRESH_S = 2.0
GRID_REFRESH_S = 5.0
PREVIEW_CLOCK = datetime(2026, 1, 1, tzinfo=UTC)
CARD_WIDTH_PX = 228  # product cards wrap: three side by side on a laptop, two on a tablet, one on a phone
PROMO_CHOICES = ("none", "countdown", "coupon", "sold_out")
# Fragment keys: a tap reruns only the fragments it changes (st.rerun([...]) from its callback),
# never the whole page, so the live preview and the figures are left alone.
ON_AIR, PRODUCTS, STAGING, FIGURES, LOWER, PREVIEW = "on_air", "products", "staging", "figures", "lower", "preview"
TAPPED = "_tapped_on_air"  # the API's answer to the last tap, for the fragments that have not drawn it yet
NEWS = "_tap_news"  # what the last tap did, toasted by the first fragment it reruns
LAST_STATE = "_last_state"  # the studio's state as a panel last read it: its alert outlives a tap's rerun
PAGE_STATE = "_page_state"  # /api/state as read by this whole-page run, for the fragments it runs inline


# -- actions (button callbacks: they run before the fragments they name redraw) ------------
def tap(
    call: Callable[..., Any],
    *args: Any,
    where: str,
    rerun: Sequence[str],
    error_in: str | None = None,
    done: str | None = None,
) -> None:
    """Call the API from a button and rerun only the fragments ``rerun``. A refusal is kept for the
    field ``where`` and shown right under it by fragment ``error_in`` (default: the first of ``rerun``)."""
    try:
        answer = call(*args)
    except ControlError as error:
        st.session_state[f"error:{where}"] = error.message(ui.lang())
        st.rerun([error_in or rerun[0]])
    if isinstance(answer, dict) and "sku" in answer and "layout" in answer:
        # The answer to PUT /api/overlay *is* the new on-air state: the fragments draw it at
        # once (optimistic: no second request), and their next periodic refresh confirms it.
        st.session_state[TAPPED] = {"on_air": answer, "unread": set(rerun)}
    if done:
        st.session_state[NEWS] = done  # toasted by the first fragment to run (a callback draws nothing)
    st.rerun(list(rerun))


def field_error(where: str) -> None:
    """The refusal a tap left for this field, right under it (not at the top of the page),
    or the news that it worked, as a toast."""
    message = st.session_state.pop(f"error:{where}", None)
    if message:
        st.error(message, icon=":material/error:")
    news = st.session_state.pop(NEWS, None)
    if news:
        st.toast(news)


def on_air_of(api: ControlClient, fragment: str) -> dict[str, Any] | None:
    """What is on air: the answer to this tap if ``fragment`` has not drawn it yet, else the studio's
    state (the periodic refresh, which also confirms an optimistic answer). None if unreachable."""
    tapped = st.session_state.get(TAPPED)
    if tapped and fragment in tapped["unread"]:
        tapped["unread"].discard(fragment)
        return dict(tapped["on_air"])
    state = studio_state(api)
    if state is None:
        return None
    st.session_state[LAST_STATE] = state
    return dict(state["on_air"])


def studio_state(api: ControlClient) -> dict[str, Any] | None:
    """``GET /api/state``: the whole-page run's own read while it runs (one request per page load, not
    one per panel), else a fresh one (a fragment's own rerun). None, with the reason shown, if unreachable."""
    state = st.session_state.get(PAGE_STATE)
    if state is not None:
        return dict(state)
    try:
        return api.state()
    except ControlError as error:
        ui.show_error(error)
        return None


def put_on_air(api: ControlClient, product: Product, layout: str) -> None:
    name = ui.product_name(product.name, product.name_zh)
    tap(
        api.put_overlay, product.sku, layout, None,
        where=ON_AIR, rerun=(ON_AIR, PRODUCTS), done=ui.t("put_on_air_done", name=name),
    )


def stage(sku: str) -> None:
    st.session_state["stage_sku"] = sku
    # A new select box (a new key) starts on the staged product: the browser keeps a select box's own
    # choice when only its fragment reruns, whatever the session state says.
    st.session_state["_stage_pick"] = st.session_state.get("_stage_pick", 0) + 1
    st.rerun([STAGING])


def take(api: ControlClient, products: dict[str, Product]) -> None:
    sku = st.session_state.get("stage_sku")
    if sku not in products:
        st.rerun([STAGING])
    try:
        promo = staged_promo()
    except ValueError as error:
        st.session_state["error:stage_coupon"] = str(error)
        st.rerun([STAGING])
    name = ui.product_name(products[sku].name, products[sku].name_zh)
    tap(
        api.put_overlay, sku, st.session_state.get("stage_layout") or "auto", promo,
        where="take", rerun=(ON_AIR, PRODUCTS), error_in=STAGING, done=ui.t("put_on_air_done", name=name),
    )


def direct_answer(mount: str, products: dict[str, Product]) -> None:
    """A direct tap's answer (the browser called the API itself): drawn at once, like :func:`tap`'s."""
    value = answer_of(mount, "answer")
    if value is None or not isinstance(value.get("on_air"), dict):
        return
    on_air = value["on_air"]
    st.session_state[TAPPED] = {"on_air": on_air, "unread": {ON_AIR, PRODUCTS}}
    product = products.get(on_air.get("sku") or "")
    if on_air.get("sku") is None:
        st.session_state[NEWS] = ui.t("cleared")
    else:
        name = ui.product_name(product.name, product.name_zh) if product else str(on_air["sku"])
        st.session_state[NEWS] = ui.t("put_on_air_done", name=name)
    st.rerun([ON_AIR, PRODUCTS])


def direct_refused(mount: str) -> None:
    """A direct tap the studio refused: its problem under the button, as the Python path shows it."""
    value = answer_of(mount, "refused")
    if value is None:
        return
    detail = str(value.get("detail") or "")
    message = str(value.get("detail_zh") or detail) if ui.lang() == "zh" else detail
    where = "take" if value.get("where") == "take" else ON_AIR
    st.session_state[f"error:{where}"] = message
    st.rerun([STAGING if where == "take" else ON_AIR])


def staged_tap(products: dict[str, Product]) -> dict[str, Any] | None:
    """What Take sends, for the browser to send it directly; a countdown's end is set when Take is
    pressed, so it goes as ``minutes``. None when the controls are incomplete (Python says why)."""
    sku = st.session_state.get("stage_sku")
    if sku not in products:
        return None
    try:
        promo = staged_promo(PREVIEW_CLOCK)
    except ValueError:
        return None
    if promo is not None and promo["kind"] == "countdown":
        promo = {k: v for k, v in promo.items() if k != "ends_at"}
        promo["minutes"] = float(st.session_state.get("stage_minutes", 10))
    return {"sku": sku, "layout": st.session_state.get("stage_layout") or "auto", "promo": promo}


def staged_promo(now: datetime | None = None) -> dict[str, Any] | None:
    """The promo the staging controls describe; a countdown starts when Take is pressed."""
    kind = st.session_state.get("stage_promo", "none")
    if kind == "countdown":
        minutes = float(st.session_state.get("stage_minutes", 10))
        ends = (now or catalog.utc_now()) + timedelta(minutes=minutes)
        sale: dict[str, Any] = {"kind": "countdown", "ends_at": catalog.to_iso(ends)}
        # A flash sale: its price and per-buyer limit hold at checkout until the countdown ends.
        flash_price = round(float(st.session_state.get("stage_flash_price") or 0), 2)
        limit = int(st.session_state.get("stage_limit") or 0)
        return {**sale, **({"flash_price": flash_price} if flash_price > 0 else {}),
                **({"limit_per_buyer": limit} if limit > 0 else {})}
    if kind == "coupon":
        code = str(st.session_state.get("stage_coupon", "")).strip()
        if not code:
            raise ValueError(ui.t("coupon_missing"))
        percent = int(st.session_state.get("stage_discount") or 0)
        return {"kind": "coupon", "code": code, **({"discount_percent": percent} if percent > 0 else {})}
    if kind == "sold_out":
        return {"kind": "sold_out"}
    return None


# -- sections -------------------------------------------------------------------------
def phase_note(show_state: dict[str, Any] | None) -> None:
    """What viewers and the phone see while no show is live: the same state they follow."""
    if show_state is None or show_state.get("phase") == "live":
        return
    if show_state.get("phase") == "ended" and show_state.get("show"):
        text = html.escape(ui.t("viewers_see_ended", id=show_state["show"]["id"]))
        replay = show_state.get("replay_url")
        if replay:
            text += f' · <a href="{html.escape(replay)}" target="_blank">{ui.t("replay_open")}</a>'
    else:
        text = html.escape(ui.t("viewers_see_starting"))
    st.html(f'<span class="fl-muted" data-phase="{html.escape(show_state["phase"])}">{text}</span>')


def show_bar(api: ControlClient, show: dict[str, Any] | None, show_state: dict[str, Any] | None = None) -> None:
    """Start or end the show (a whole-page run: every panel changes with it)."""
    if show is None:
        left, right = st.columns([5, 1], vertical_alignment="bottom")
        left.text_input(ui.t("show_title"), value=ui.t("show_title_default"), key="show_title", max_chars=200)
        right.button(
            ui.t("start_show"),
            type="primary",
            key="start_show",
            width="stretch",
            on_click=lambda: ui.act(
                api.start_show,
                st.session_state.get("show_title", ""),
                done=ui.t("show_started", title=st.session_state.get("show_title", "")),
            ),
        )
        flash_messages()
        st.html(f'<span class="fl-badge fl-off">{ui.t("not_live")}</span>')
        phase_note(show_state)
        return
    started = ui.local_time(show["started_at"])
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.html(
        f'<span class="fl-badge fl-live">● {ui.t("live_badge")}</span> '
        f'<b style="font-size:1.25rem">{html.escape(show["title"])}</b> '
        f'<span class="fl-muted">#{show["id"]} · {ui.t("live_since", time=started)}</span>'
    )
    with right.popover(ui.t("end_show"), width="stretch"):
        st.write(ui.t("end_confirm"))
        st.button(
            ui.t("end_yes"),
            type="primary",
            key="end_show",
            on_click=lambda: ui.act(api.end_show, show["id"], done=ui.t("show_ended")),
        )
    flash_messages()


def flash_messages() -> None:
    """Start / end show answers (whole-page taps): the refusal under the show bar, the news as a toast."""
    if "flash_error" in st.session_state:
        st.error(st.session_state.pop("flash_error"), icon=":material/error:")
    if "flash_ok" in st.session_state:
        st.toast(st.session_state.pop("flash_ok"))


@st.fragment(run_every=LIVE_REFRESH_S, key=ON_AIR)
def on_air_panel(api: ControlClient, products: dict[str, Product], direct: Direct) -> None:
    """Kept current on its own (a countdown ticks, a change from another tab shows up), and redrawn
    at once, alone with the product cards, by an On air, Take or Clear tap."""
    on_air = on_air_of(api, ON_AIR)
    with st.container(key="alert_strip"):  # always there, so the bar under it keeps its place
        alert_strip(st.session_state.get(LAST_STATE) or {})  # loud, above everything a host taps
    if on_air is not None:
        on_air_bar(api, on_air, products, direct)
    field_error(ON_AIR)


def on_air_bar(api: ControlClient, on_air: dict[str, Any], products: dict[str, Product], direct: Direct) -> None:
    with st.container(border=True, key="on_air_bar"):
        left, right = st.columns([4, 1], vertical_alignment="center")
        with left:
            # The tap's echo, in the browser alone, until this fragment's next run draws the answer.
            st.session_state["_on_air_runs"] = st.session_state.get("_on_air_runs", 0) + 1
            tap_echo(
                {f"air:{p.sku}": ui.product_name(p.name, p.name_zh) for p in products.values()},
                direct=direct,
                layout=on_air.get("layout") or "auto",
                words={
                    "sending": ui.t("sending"), "answered": ui.t("tap_confirmed"), "nothing": ui.t("nothing_on_air"),
                },
                run=st.session_state["_on_air_runs"],
                on_answer=lambda: direct_answer(AIR_KEY, products),
                on_refused=lambda: direct_refused(AIR_KEY),
            )
        sku = on_air.get("sku")
        if sku is None:
            left.html(f"<b>{html.escape(ui.t('on_air_now'))}:</b> {html.escape(ui.t('nothing_on_air'))}")
        else:
            product = products.get(sku)
            name = ui.product_name(product.name, product.name_zh) if product else sku
            promo = on_air.get("promo")
            extra = f" · {Promo.from_dict(promo).banner_text(catalog.utc_now())}" if promo else ""
            link_url = on_air.get("link_url")
            link = f'<br><span class="fl-muted">{html.escape(link_url)}</span>' if link_url else ""
            closed = f' <span class="fl-badge fl-off">{ui.t("sale_closed")}</span>' if on_air.get("sold_out") else ""
            left.html(
                f'<span class="fl-badge fl-air">{ui.t("on_air_badge")}</span> '
                f'<b class="fl-on-air" data-sku="{html.escape(sku)}">{html.escape(name)}</b>'
                f"{html.escape(extra)}{closed}{link}"
            )
        right.button(
            ui.t("clear"),
            key="clear",
            icon=":material/hide_image:",
            disabled=sku is None,
            width="stretch",
            on_click=tap,
            args=(api.put_overlay, None, on_air.get("layout", "auto"), None),
            kwargs={"where": ON_AIR, "rerun": (ON_AIR, PRODUCTS), "done": ui.t("cleared")},
        )


@st.fragment(run_every=GRID_REFRESH_S, key=PRODUCTS)
def product_grid(api: ControlClient) -> None:
    """Refreshed on its own, so stock counts follow the orders coming in."""
    st.subheader(ui.t("products"))
    products = catalog.list_products(ui.database(), active_only=True)
    if not products:
        st.info(ui.t("no_products"))
        return
    on_air = on_air_of(api, PRODUCTS)
    if on_air is None:
        return
    layout = on_air.get("layout", "auto")
    # A wrapping row of fixed-width cards: as many side by side as the screen holds.
    with st.container(horizontal=True, gap="small", key="product_cards"):
        for product in products:
            with st.container(border=True, width=CARD_WIDTH_PX):
                product_card(api, product, product.sku == on_air.get("sku"), layout)


def product_card(api: ControlClient, product: Product, live: bool, layout: str) -> None:
    first, second = (product.name_zh, product.name) if ui.lang() == "zh" else (product.name, product.name_zh)
    badge = f' <span class="fl-badge fl-air">{ui.t("on_air_badge")}</span>' if live else ""
    stock = ui.t("stock", stock=product.stock) if product.stock > 0 else ui.t("sold_out")
    unit = f" · {html.escape(product.unit)}" if product.unit else ""
    st.html(
        f'<div class="fl-card"><div class="fl-name">{html.escape(first or second)}{badge}</div>'
        f'<div class="fl-muted">{html.escape(second if first else "")}{unit}</div></div>'
        f'<span class="fl-price">{ui.money(product.price, product.currency)}</span> '
        f'<span class="fl-muted">· {html.escape(stock)}</span>'
    )
    # One flex row, not st.columns(2): three blocks fewer per card for the browser to draw on first load.
    with st.container(horizontal=True, gap="small"):
        st.button(
            ui.t("on_air_button"),
            key=f"air:{product.sku}",
            type="primary",
            disabled=live,
            width="stretch",
            on_click=put_on_air,
            args=(api, product, layout),
        )
        st.button(
            ui.t("stage_button"), key=f"stage:{product.sku}", width="stretch", on_click=stage, args=(product.sku,)
        )


@st.fragment(key=STAGING)
def staging_panel(api: ControlClient, products: dict[str, Product], public_url: str) -> None:
    """Its controls rerun only this panel; Take redraws the on-air bar and the cards, not this."""
    st.subheader(ui.t("next_up"))
    skus = list(products)
    if not skus:
        return
    if st.session_state.get("stage_sku") not in products:
        st.session_state["stage_sku"] = skus[0]
    with st.container(border=True, key="staging_panel"), st.container(key="fl-wrap-stage"):
        controls, picture = st.columns([1, 1])
        with controls, st.container(key="stage_pick"):
            st.session_state["stage_sku"] = st.selectbox(
                ui.t("next_product"),
                skus,
                index=skus.index(st.session_state["stage_sku"]),
                key=f"stage_pick_{st.session_state.get('_stage_pick', 0)}",
                format_func=lambda s: ui.product_name(products[s].name, products[s].name_zh),
            )
        with controls:
            st.segmented_control(
                ui.t("layout"), LAYOUTS, key="stage_layout", default="auto", required=True,
                format_func=lambda value: ui.t(f"layout_{value}"),
            )
            st.radio(
                ui.t("promo"), PROMO_CHOICES, key="stage_promo", horizontal=True,
                format_func=lambda kind: ui.t(f"promo_{kind}"),
            )
            kind = st.session_state.get("stage_promo", "none")
            if kind == "countdown":
                st.number_input(ui.t("countdown_minutes"), 1, 180, 10, step=1, key="stage_minutes")
                st.number_input(ui.t("flash_price"), 0.0, 10_000_000.0, 0.0, step=1.0, format="%.2f",
                                key="stage_flash_price")
                st.number_input(ui.t("flash_limit"), 0, 999, 0, step=1, key="stage_limit")
            elif kind == "coupon":
                st.text_input(ui.t("coupon_code"), key="stage_coupon", max_chars=32)
                field_error("stage_coupon")
                st.number_input(ui.t("coupon_discount"), 0, 90, 0, step=5, key="stage_discount")
        with picture:
            staged_picture(products, public_url)
        st.button(
            ui.t("take"), type="primary", key="take", width="stretch", icon=":material/cast:",
            on_click=take, args=(api, products),
        )
        # The browser sends Take itself when it can (the button's callback above is the fallback).
        st.session_state["_staging_runs"] = st.session_state.get("_staging_runs", 0) + 1
        take_tap(
            staged_tap(products), run=st.session_state["_staging_runs"],
            on_answer=lambda: direct_answer(TAKE_KEY, products), on_refused=lambda: direct_refused(TAKE_KEY),
        )
        field_error("take")


def staged_picture(products: dict[str, Product], public_url: str) -> None:
    try:
        # A fixed clock: the countdown shows its full length, and the picture is cacheable.
        promo = staged_promo(PREVIEW_CLOCK)
    except ValueError:
        promo = None
    try:
        image = cached_preview(
            products[st.session_state["stage_sku"]],
            st.session_state.get("stage_layout") or "auto",
            promo,
            # The real code is made on Take; the preview only needs the shape of the QR.
            f"{public_url}/b/preview",
            ui.settings().data_dir,
        )
    except Exception as error:  # noqa: BLE001 -- a preview problem (font, image, promo) must never block going live
        st.warning(ui.t("preview_unavailable", error=error))
    else:
        st.image(image, caption=ui.t("preview_caption"), width="stretch")


@st.cache_data(max_entries=64, show_spinner=False)
def cached_preview(
    product: Product, layout: str, promo: dict[str, Any] | None, link_url: str, image_root: Path
) -> Image.Image:
    return preview_image(
        product, layout=layout, promo=promo, link_url=link_url, image_root=image_root, now=PREVIEW_CLOCK
    )


@st.fragment(run_every=LIVE_REFRESH_S, key=FIGURES)
def live_figures(api: ControlClient) -> None:
    """Refreshed on its own every couple of seconds; the rest of the page stays put."""
    state = studio_state(api)  # one request: the live figures come with the state
    if state is None:
        return
    health = state.get("stream_health") or {}
    st.subheader(ui.t("live_now"))
    alert_controls(api, state)
    # A wrapping row: on a narrow screen the revenue goes under the counts, never cut to "¥35…".
    with st.container(horizontal=True, gap="small", key="live_metrics"):
        st.metric(ui.t("viewers_now"), state.get("viewers_now", 0), border=True, width=150)
        st.metric(ui.t("orders"), state.get("orders", 0), border=True, width=150)
        st.metric(ui.t("revenue"), ui.money(state.get("revenue", 0.0)), border=True, width="stretch")
    st.caption(
        ui.t("by_transport", webrtc=health.get("webrtc_viewers_now", 0), hls=health.get("hls_viewers_now", 0))
    )
    st.html(stream_line(health))
    burst = state.get("order_burst") or {}
    if burst.get("burst"):
        st.warning(ui.t("order_burst", n=burst["orders_last_minute"], phones=burst["phones_last_minute"]), icon="⚠️")
    recent = state.get("recent_orders") or []
    st.markdown(f"**{ui.t('recent_orders')}**")
    if not recent:
        st.caption(ui.t("no_orders_yet"))
        return
    feed = pd.DataFrame(
        {
            ui.t("col_time"): [ui.local_time(o["at"], "%H:%M:%S") for o in recent],
            ui.t("col_product"): [ui.short_name(o["name"], o["name_zh"]) for o in recent],
            ui.t("col_quantity"): [o["quantity"] for o in recent],
            ui.t("col_total"): [ui.money(o["total"]) for o in recent],
        }
    )
    st.dataframe(feed, hide_index=True, height=min(36 * (len(feed) + 1) + 2, 290))
    cancel_panel(api, recent)


def cancel_panel(api: ControlClient, recent: list[dict[str, Any]]) -> None:
    """Cancel a fake or mistaken built-in order; its units go back in stock."""
    builtin = {o["id"]: o for o in recent if o.get("source") == "builtin"}
    if not builtin:
        return
    pick, press = st.columns([3, 1], vertical_alignment="bottom")
    order_id = pick.selectbox(
        ui.t("cancel_pick"),
        list(builtin),
        format_func=lambda i: f"{builtin[i].get('number') or i} · "
        f"{ui.short_name(builtin[i]['name'], builtin[i]['name_zh'])}"
        f" × {builtin[i]['quantity']}",
        key="cancel_order_id",
    )
    press.button(
        ui.t("cancel_button"),
        key="cancel_order",
        width="stretch",
        on_click=tap,
        args=(api.cancel_order, order_id),
        kwargs={"where": "cancel_order", "rerun": (FIGURES,), "done": ui.t("cancel_done")},
    )
    field_error("cancel_order")


def stream_line(health: dict[str, Any]) -> str:
    """One line on the phone's uplink: live or not, bitrate, frame rate, reconnects and drops this show."""
    reconnects = ui.t("reconnects_n", n=health.get("reconnects", 0)) + " · " + ui.t("drops_n", n=health.get("drops", 0))
    if not health.get("publishing"):
        return f'<span class="fl-badge fl-off">{ui.t("uplink_off")}</span> <span class="fl-muted">{reconnects}</span>'
    kbps, fps = health.get("uplink_kbps"), health.get("ingest_fps")
    figures = [f"{kbps:,.0f} kbps" if kbps is not None else "", f"{fps:.0f} fps" if fps else "", reconnects]
    return (
        f'<span class="fl-badge fl-air">● {ui.t("publishing")}</span> '
        f'<span class="fl-muted">{" · ".join(f for f in figures if f)}</span>'
    )


@st.fragment(key=PREVIEW)
def live_preview(state: dict[str, Any], studio_key: str) -> None:
    """The real /watch page in a frame, in a fragment of its own that no tap reruns and always at the
    same place in the page, so no tap re-mounts it: its WebRTC connection lives on (a re-mount meant
    "连接中" exactly when the host looked). A session's first run leaves it for the browser's first idle
    moment, with the lower half (:mod:`studio.control_room.later`)."""
    if not settled():
        return
    title, switch = st.columns([3, 2], vertical_alignment="center")
    title.markdown(f"**{ui.t('live_preview')}** · [{ui.t('open_watch')}]({state['watch_url']})")
    on = switch.toggle(ui.t("preview_on"), value=True, key="preview_on", help=ui.t("preview_counts"))
    with st.container(key="live_preview"):
        if on:
            # With the studio key (in the fragment: never sent in a URL) the watch
            # page is served as a studio monitor, left out of the viewer figures.
            st.iframe(deferred_frame(f"{state['watch_url']}#key={quote(studio_key, safe='')}"), height=420)


def deferred_frame(url: str) -> str:
    """A frame that opens ``url`` itself once the page around it has been drawn (the browser is idle,
    at most 4 s): the watch page's player and its WebRTC connection then do not compete with the control
    room's first load on a two-core laptop. The frame navigates once, in place, so it is still never
    re-mounted (the same element, one connection)."""
    target = json.dumps(url).replace("<", "\\u003c")
    return (
        '<!doctype html><meta charset="utf-8"><body style="margin:0;font:14px sans-serif;color:#6c757d">'
        f'<p style="padding:1rem">{html.escape(ui.t("preview_opening"))}</p><script>'
        "const go = () => location.replace(" + target + ");"
        "(window.requestIdleCallback || ((f) => setTimeout(f, 800)))(go, { timeout: 4000 });"
        "</script></body>"
    )


def main() -> None:
    ui.page("nav_go_live")
    api = ui.client()
    state = ui.state_or_stop(api)
    st.session_state.pop(TAPPED, None)  # this run draws the studio's state everywhere
    st.session_state[PAGE_STATE] = state
    try:
        sections(api, state)
    finally:
        st.session_state.pop(PAGE_STATE, None)  # the fragments' own reruns read the studio afresh


def sections(api: ControlClient, state: dict[str, Any]) -> None:
    products = catalog.list_products(ui.database(), active_only=True)
    by_sku = {p.sku: p for p in products}
    # Every section sits in its own container, so the sections after it keep their place in the
    # page whatever it shows (a moved element would be re-mounted: the live preview would reconnect).
    with st.container(key="show_bar"):
        show_bar(api, state["show"], state.get("show_state"))
        if state["show"] is None:
            recap_panel()  # after 下播: how the show went
    # Laptop: products and on-air bar on the left, staging beside them with the live preview under
    # it; a tablet in portrait or a phone stacks the two (the .st-key-fl-wrap CSS in ui.py).
    with st.container(key="fl-wrap-desk"):
        desk, side = st.columns([3, 2], gap="medium")
    # Direct taps go from the browser to the studio as the browser reaches it (its public URL).
    direct = Direct(state["watch_url"].removesuffix("/watch"), api.key)
    with desk:
        on_air_panel(api, by_sku, direct)
        product_grid(api)
    with side:
        staging_panel(api, by_sku, state["watch_url"].removesuffix("/watch"))
        live_preview(state, api.key)
    lower_half(api, state["show"] is not None, by_sku)


@st.fragment(key=LOWER)
def lower_half(api: ControlClient, live: bool, by_sku: dict[str, Product]) -> None:
    """Figures, comments, pairing and simulcast: under the fold on a laptop, so a session's first run
    leaves them until the browser has drawn the controls above (:mod:`studio.control_room.later`)."""
    if not first_screen_settled(ui.t("later_loading"), ui.t("later_now"), rerun=(LOWER, PREVIEW)):
        return
    with st.container(key="fl-wrap-room"):
        figures, room = st.columns([3, 2], gap="medium")
    with figures:
        live_figures(api)
        with st.container(key="room"):
            if live:
                room_panel(api, by_sku)
    with room:
        with st.container(key="phone_pairing"):
            pairing_panel(api)  # the phone QR: pairs without the key
        destinations_panel(api)


main()
