"""Go live: start the show, one-tap products on air, stage the next one, watch the figures.

Writes go through the control API (the server owns what is on air); the
product list is read straight from SQLite.
"""

from __future__ import annotations

import html
from collections.abc import Callable
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
from studio.control_room.preview import preview_image
from studio.control_room.views.alerts import alert_banner
from studio.control_room.views.destinations_panel import destinations_panel
from studio.control_room.views.pairing import pairing_panel
from studio.control_room.views.recap import recap_panel
from studio.control_room.views.room_panel import room_panel

LIVE_REFRESH_S = 2.0
GRID_REFRESH_S = 5.0
PREVIEW_CLOCK = datetime(2026, 1, 1, tzinfo=UTC)
CARDS_PER_ROW = 3
PROMO_CHOICES = ("none", "countdown", "coupon", "sold_out")


# -- actions (button callbacks: they run before the page redraws) -----------------
def _act(fn: Callable[..., object], *args: Any, done: str | None = None) -> None:
    """Call the API; leave a message for the next full run (see :func:`follow_taps`)."""
    st.session_state["rerun_page"] = True
    ui.act(fn, *args, done=done)


def put_on_air(api: ControlClient, product: Product, layout: str) -> None:
    name = ui.product_name(product.name, product.name_zh)
    _act(api.put_overlay, product.sku, layout, None, done=ui.t("put_on_air_done", name=name))


def stage(sku: str) -> None:
    st.session_state["stage_sku"] = sku
    st.session_state["rerun_page"] = True  # see follow_taps()


def take(api: ControlClient, products: dict[str, Product]) -> None:
    sku = st.session_state.get("stage_sku")
    if sku not in products:
        return
    try:
        promo = staged_promo()
    except ValueError as error:
        st.session_state["flash_error"] = str(error)
        return
    layout = st.session_state.get("stage_layout") or "auto"
    name = ui.product_name(products[sku].name, products[sku].name_zh)
    _act(api.put_overlay, sku, layout, promo, done=ui.t("put_on_air_done", name=name))


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
    st.markdown(f'<span class="fl-muted" data-phase="{html.escape(show_state["phase"])}">{text}</span>',
                unsafe_allow_html=True)


def show_bar(api: ControlClient, show: dict[str, Any] | None, show_state: dict[str, Any] | None = None) -> None:
    if show is None:
        left, right = st.columns([5, 1], vertical_alignment="bottom")
        left.text_input(ui.t("show_title"), value=ui.t("show_title_default"), key="show_title", max_chars=200)
        right.button(
            ui.t("start_show"),
            type="primary",
            key="start_show",
            width="stretch",
            on_click=lambda: _act(
                api.start_show,
                st.session_state.get("show_title", ""),
                done=ui.t("show_started", title=st.session_state.get("show_title", "")),
            ),
        )
        st.markdown(f'<span class="fl-badge fl-off">{ui.t("not_live")}</span>', unsafe_allow_html=True)
        phase_note(show_state)
        return
    started = ui.local_time(show["started_at"])
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(
        f'<span class="fl-badge fl-live">● {ui.t("live_badge")}</span> '
        f'<b style="font-size:1.25rem">{html.escape(show["title"])}</b> '
        f'<span class="fl-muted">#{show["id"]} · {ui.t("live_since", time=started)}</span>',
        unsafe_allow_html=True,
    )
    with right.popover(ui.t("end_show"), width="stretch"):
        st.write(ui.t("end_confirm"))
        st.button(
            ui.t("end_yes"),
            type="primary",
            key="end_show",
            on_click=lambda: _act(api.end_show, show["id"], done=ui.t("show_ended")),
        )


def on_air_bar(api: ControlClient, on_air: dict[str, Any], products: dict[str, Product]) -> None:
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        sku = on_air.get("sku")
        if sku is None:
            left.markdown(f"**{ui.t('on_air_now')}:** {ui.t('nothing_on_air')}")
        else:
            product = products.get(sku)
            name = ui.product_name(product.name, product.name_zh) if product else sku
            promo = on_air.get("promo")
            extra = f" · {Promo.from_dict(promo).banner_text(catalog.utc_now())}" if promo else ""
            link_url = on_air.get("link_url")
            link = f' · <span class="fl-muted">{html.escape(link_url)}</span>' if link_url else ""
            closed = f' <span class="fl-badge fl-off">{ui.t("sale_closed")}</span>' if on_air.get("sold_out") else ""
            left.markdown(
                f'<span class="fl-badge fl-air">{ui.t("on_air_badge")}</span> '
                f"<b>{html.escape(name)}</b>{html.escape(extra)}{closed}{link}",
                unsafe_allow_html=True,
            )
        right.button(
            ui.t("clear"),
            key="clear",
            disabled=sku is None,
            width="stretch",
            on_click=lambda: _act(api.put_overlay, None, on_air.get("layout", "auto"), None, done=ui.t("cleared")),
        )


def follow_taps() -> None:
    """A tap inside a self-refreshing fragment reruns only that fragment: rerun the whole page."""
    if st.session_state.pop("rerun_page", False):
        st.rerun()  # the on-air bar, product cards, staging panel and messages follow at once


@st.fragment(run_every=LIVE_REFRESH_S)
def on_air_panel(api: ControlClient, products: dict[str, Product]) -> None:
    """Kept current on its own: a countdown ticks, and a change from another tab shows up."""
    follow_taps()
    try:
        on_air = api.state()["on_air"]
    except ControlError as error:
        ui.show_error(error)
        return
    on_air_bar(api, on_air, products)


@st.fragment(run_every=GRID_REFRESH_S)
def product_grid(api: ControlClient) -> None:
    """Refreshed on its own, so stock counts follow the orders coming in."""
    follow_taps()
    st.subheader(ui.t("products"))
    products = catalog.list_products(ui.database(), active_only=True)
    if not products:
        st.info(ui.t("no_products"))
        return
    try:
        on_air = api.state()["on_air"]
    except ControlError as error:
        ui.show_error(error)
        return
    layout = on_air.get("layout", "auto")
    for start in range(0, len(products), CARDS_PER_ROW):
        columns = st.columns(CARDS_PER_ROW)
        for column, product in zip(columns, products[start : start + CARDS_PER_ROW], strict=False):
            with column.container(border=True):
                product_card(api, product, product.sku == on_air.get("sku"), layout)


def product_card(api: ControlClient, product: Product, live: bool, layout: str) -> None:
    first, second = (product.name_zh, product.name) if ui.lang() == "zh" else (product.name, product.name_zh)
    badge = f' <span class="fl-badge fl-air">{ui.t("on_air_badge")}</span>' if live else ""
    stock = ui.t("stock", stock=product.stock) if product.stock > 0 else ui.t("sold_out")
    unit = f" · {html.escape(product.unit)}" if product.unit else ""
    st.markdown(
        f'<div class="fl-card"><div class="fl-name">{html.escape(first or second)}{badge}</div>'
        f'<div class="fl-muted">{html.escape(second if first else "")}{unit}</div></div>'
        f'<span class="fl-price">{ui.money(product.price, product.currency)}</span> '
        f'<span class="fl-muted">· {html.escape(stock)}</span>',
        unsafe_allow_html=True,
    )
    left, right = st.columns(2)
    left.button(
        ui.t("on_air_button"),
        key=f"air:{product.sku}",
        type="primary",
        disabled=live,
        width="stretch",
        on_click=put_on_air,
        args=(api, product, layout),
    )
    right.button(ui.t("stage_button"), key=f"stage:{product.sku}", width="stretch", on_click=stage, args=(product.sku,))


def staging_panel(api: ControlClient, products: dict[str, Product], public_url: str) -> None:
    st.subheader(ui.t("next_up"))
    skus = list(products)
    if not skus:
        return
    if st.session_state.get("stage_sku") not in products:
        st.session_state["stage_sku"] = skus[0]
    with st.container(border=True):
        controls, picture = st.columns([2, 3])
        with controls:
            st.selectbox(
                ui.t("next_product"),
                skus,
                key="stage_sku",
                format_func=lambda s: ui.product_name(products[s].name, products[s].name_zh),
            )
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
                st.number_input(ui.t("coupon_discount"), 0, 90, 0, step=5, key="stage_discount")
            st.button(
                ui.t("take"), type="primary", key="take", width="stretch",
                on_click=take, args=(api, products),
            )
        with picture:
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


@st.fragment(run_every=LIVE_REFRESH_S)
def live_figures(api: ControlClient) -> None:
    """Refreshed on its own every couple of seconds; the rest of the page stays put."""
    try:
        state = api.state()  # one request: the live figures come with the state
    except ControlError as error:
        ui.show_error(error)
        return
    health = state.get("stream_health") or {}
    st.subheader(ui.t("live_now"))
    alert_banner(api, state)
    first = st.columns([2, 2, 3])
    first[0].metric(ui.t("viewers_now"), state.get("viewers_now", 0), border=True)
    first[0].caption(
        ui.t("by_transport", webrtc=health.get("webrtc_viewers_now", 0), hls=health.get("hls_viewers_now", 0))
    )
    first[1].metric(ui.t("orders"), state.get("orders", 0), border=True)
    first[2].metric(ui.t("revenue"), ui.money(state.get("revenue", 0.0)), border=True)
    st.markdown(stream_line(health), unsafe_allow_html=True)
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
        on_click=lambda: _act(api.cancel_order, order_id, done=ui.t("cancel_done")),
    )


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


def phone_and_preview(state: dict[str, Any], studio_key: str) -> None:
    title, switch = st.columns([3, 2], vertical_alignment="center")
    title.markdown(f"**{ui.t('live_preview')}** · [{ui.t('open_watch')}]({state['watch_url']})")
    if switch.toggle(ui.t("preview_on"), value=True, key="preview_on", help=ui.t("preview_counts")):
        # With the studio key (in the fragment: never sent in a URL) the watch
        # page is served as a studio monitor, left out of the viewer figures.
        st.iframe(f"{state['watch_url']}#key={quote(studio_key, safe='')}", height=420)


def main() -> None:
    ui.page("nav_go_live")
    api = ui.client()
    state = ui.state_or_stop(api)
    st.session_state.pop("rerun_page", None)  # this run is the whole page already
    for key, show in (("flash_error", st.error), ("flash_ok", st.toast)):
        if key in st.session_state:
            show(st.session_state.pop(key))
    products = catalog.list_products(ui.database(), active_only=True)
    by_sku = {p.sku: p for p in products}
    show_bar(api, state["show"], state.get("show_state"))
    if state["show"] is None:
        recap_panel()  # after 下播: how the show went
    on_air_panel(api, by_sku)
    left, right = st.columns([3, 2], gap="large")
    with left:
        product_grid(api)
        staging_panel(api, by_sku, state["watch_url"].removesuffix("/watch"))
    with right:
        live_figures(api)
        if state["show"]:
            room_panel(api, by_sku)
        phone_and_preview(state, api.key)
        pairing_panel(api)  # the phone QR: pairs without the key
        destinations_panel(api)


main()
