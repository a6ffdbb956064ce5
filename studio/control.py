"""The control API under ``/api/``: what the control room (or any script) drives.

Every route needs ``Authorization: Bearer <studio key>``; the key is compared
in constant time. Refusals are ``application/problem+json`` with English and
Chinese text (:mod:`studio.errors`), so the control room can show the host the
reason in either language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import sqlite_utils
from aiohttp import web

import analytics
from catalog.csvio import save_products
from catalog.orders import CANCELLED, NotCancellable, Order, cancel_order
from catalog.products import Product, UnknownProduct
from catalog.schema import transaction
from catalog.shows import Show, UnknownShow, end_show, get_show
from catalog.timestamps import to_iso, utc_now
from catalog.validation import COLUMNS, RowError, canonical_column, has_control_characters, validate_product_rows
from overlays import LAYOUTS, Promo
from studio.auth import require_key
from studio.bodies import json_object, row_id
from studio.errors import Problem
from studio.showstate import show_state
from studio.state import OnAir, Studio, studio_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def authorized(handler: Handler) -> Handler:
    """Wrap a route: the studio key first, before anything is read."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        require_key(request, studio_of(request).config.key)
        return await handler(request)

    return wrapper


def bad_request(detail: str, detail_zh: str, **extra: Any) -> Problem:
    return Problem(400, "bad_request", detail, detail_zh, **extra)


async def enabled_flag(request: web.Request) -> bool:
    """The ``{"enabled": bool}`` body of a switch (auto hold, a destination's push)."""
    enabled = (await json_object(request)).get("enabled")
    if not isinstance(enabled, bool):
        raise bad_request("enabled must be true or false", "enabled 只能是 true 或 false")
    return enabled


def _show_id(request: web.Request) -> int:
    show_id = row_id(request.match_info["show_id"])
    if show_id is None:
        raise _unknown_show(request.match_info["show_id"][:40])
    return show_id


def _unknown_show(show_id: object) -> Problem:
    return Problem(404, "unknown_show", f"unknown show {show_id}", f"找不到第 {show_id} 场直播")


def show_json(show: Show | None) -> dict[str, Any] | None:
    if show is None:
        return None
    return {**asdict(show), "live": show.live}


def on_air_json(on_air: OnAir) -> dict[str, Any]:
    return {
        "sku": on_air.sku,
        "layout": on_air.layout,
        "promo": on_air.promo.to_dict() if on_air.promo else None,
        "link_code": on_air.link_code,
        "link_url": on_air.link_url,
        "changed_at": on_air.changed_at,
        "sold_out": on_air.sold_out,
    }


def parse_promo(raw: Any) -> Promo | None:
    """The promo, checked once here at the edge, or a 400 saying why not."""
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise bad_request("promo must be an object or null", "促销信息必须是对象或 null")
    try:
        return Promo.from_dict(raw)
    except (ValueError, TypeError, KeyError) as error:
        raise bad_request(f"bad promo: {error}", f"促销信息有误：{error}") from None


# -- routes -----------------------------------------------------------------
@authorized
async def get_state(request: web.Request) -> web.Response:
    studio = studio_of(request)
    stats = await _live_stats(studio)
    public = studio.config.public_url
    figures = studio.figures
    burst = None
    if studio.show is not None:
        burst = await studio.db(order_burst, studio.show.id, studio.config.order_limits.burst_per_minute)
    return web.json_response(
        {
            "show": show_json(studio.show),
            # The same show state /watch, /publish and the room socket carry (pending | live | ended, the card).
            "show_state": show_state(studio),
            "on_air": on_air_json(studio.on_air),
            "viewers_now": figures.viewers_now,
            "stream_health": figures.to_json(),
            "orders": stats.get("orders", 0),
            "units": stats.get("units", 0),
            "revenue": stats.get("revenue", 0.0),
            "recent_orders": stats.get("recent_orders", []),
            "order_burst": burst,
            "alert": figures.alert.to_json(),
            "auto_hold": studio.auto_hold,
            "publish_url": f"{public}/publish",
            "watch_url": f"{public}/watch",
        },
        dumps=_dumps,
    )


async def _live_stats(studio: Studio) -> dict[str, Any]:
    if studio.show is None:
        return {}
    return await studio.db(analytics.live_stats, studio.show.id)


@authorized
async def start_show(request: web.Request) -> web.Response:
    body = await json_object(request)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise bad_request("title is required", "请填写直播标题")
    if len(title) > 200:
        raise bad_request("title is longer than 200 characters", "直播标题不能超过 200 个字符")
    if has_control_characters(title):
        raise bad_request("title holds control characters", "直播标题含有无效字符")
    show = await studio_of(request).start_show(title.strip())
    return web.json_response(show_json(show), status=201)


@authorized
async def finish_show(request: web.Request) -> web.Response:
    """End a show. Idempotent: ending an ended show returns it with its first end time."""
    studio = studio_of(request)
    show_id = _show_id(request)
    if studio.show is not None and studio.show.id == show_id:
        ended = await studio.end_show()
    else:
        try:
            ended = await studio.db(end_show, show_id)
        except UnknownShow:
            raise _unknown_show(show_id) from None
    return web.json_response(show_json(ended))


@authorized
async def put_overlay(request: web.Request) -> web.Response:
    body = await json_object(request)
    if "sku" not in body:
        raise bad_request('sku is required (a SKU, or null to clear)', "请提供 sku（商品编号，或 null 表示下屏）")
    sku = body["sku"]
    if sku is not None and (not isinstance(sku, str) or not sku.strip()):
        raise bad_request("sku must be a non-empty string or null", "sku 必须是非空文字或 null")
    layout = body.get("layout") or "auto"
    if layout not in LAYOUTS:
        raise bad_request(f"layout must be one of {', '.join(LAYOUTS)}", f"版式只能是 {'、'.join(LAYOUTS)} 之一")
    promo = parse_promo(body.get("promo"))
    try:
        on_air = await studio_of(request).put_on_air(sku, layout, promo)
    except UnknownProduct:
        raise Problem(404, "unknown_sku", f"unknown SKU {sku!r}", f"找不到商品 {sku}") from None
    return web.json_response(on_air_json(on_air))


@authorized
async def show_stats(request: web.Request) -> web.Response:
    """Cheap live figures; ``?summary=1`` adds the full show summary (reads every event)."""
    studio = studio_of(request)
    show_id = _show_id(request)
    try:
        show = await studio.db(get_show, show_id)
    except UnknownShow:
        raise _unknown_show(show_id) from None
    stats = await studio.db(analytics.live_stats, show_id)
    body: dict[str, Any] = {"show": show_json(show), **stats}
    if request.query.get("summary") in ("1", "true", "yes"):
        body["summary"] = await studio.db(_summary, show_id)
    return web.json_response(body, dumps=_dumps)


@authorized
async def cancel(request: web.Request) -> web.Response:
    """Cancel a built-in order (a fake, a mistake): its units go back in stock. Idempotent."""
    studio = studio_of(request)
    order_id = row_id(request.match_info["order_id"])
    if order_id is None:
        raise _unknown_order(request.match_info["order_id"][:40])
    try:
        order = await studio.db(cancel_order, order_id)
    except LookupError:
        raise _unknown_order(order_id) from None
    except NotCancellable as error:
        raise Problem(
            409, "not_cancellable", str(error), f"订单 {error.order.number} 来自其他平台，请在该平台取消"
        ) from None
    if studio.on_air.sku == order.sku:
        await studio.refresh_on_air()  # the stock on the card goes back up
    return web.json_response(order_json(order), dumps=_dumps)


def order_json(order: Order) -> dict[str, Any]:
    """What the host sees of an order: everything, with the row id the cancel route takes."""
    return {**order.to_json(), "id": order.id, "source": order.source, "buyer_id": order.viewer_id,
            "customer_name": order.customer_name, "phone": order.phone, "address": order.address}


def _unknown_order(order_id: object) -> Problem:
    return Problem(404, "unknown_order", f"unknown order {order_id}", f"找不到订单 {order_id}")


def order_burst(db: sqlite_utils.Database, show_id: int, threshold: int) -> dict[str, Any]:
    """Built-in orders of the show in the last minute, and whether that is a burst to look at."""
    since = to_iso(utc_now() - timedelta(minutes=1))
    count, phones = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT phone) FROM orders "
        "WHERE show_id = ? AND source = 'builtin' AND status != ? AND at >= ?",
        [show_id, CANCELLED, since],
    ).fetchone()
    return {
        "orders_last_minute": count, "phones_last_minute": phones, "threshold": threshold, "burst": count >= threshold
    }


# Where put_products reports an error about a column name rather than one product.
COLUMN_NAMES_ROW = 0


@authorized
async def put_products(request: web.Request) -> web.Response:
    """Save catalog edits: all rows valid, or nothing written and every row error listed.

    Body: ``{"products": [{"row": 3, "values": {...}, "fields": ["price"]}]}``.
    ``values`` is a full product row (checked by the same rules as CSV import);
    ``fields`` limits what changes on an existing product, so an edit of the
    price does not put back a stock figure that orders have lowered since.
    ``row`` is the number the editor shows, used in error messages.
    """
    body = await json_object(request)
    items = body.get("products")
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("values"), dict) for i in items):
        raise bad_request('products must be a list of {"values": {...}}', "products 必须是商品列表")
    rows = [item.get("row", index + 1) for index, item in enumerate(items)]
    # Spreadsheet numbering (column names = row 1, items from row 2) keeps an
    # error about a column name off every item; then rows are named as the editor shows them.
    products, errors = validate_product_rows([item["values"] for item in items])
    if errors:
        located = [
            RowError(rows[e.row - 2] if e.row >= 2 else COLUMN_NAMES_ROW, e.field, e.message, e.hint_zh)
            for e in errors
        ]
        raise bad_request(
            f"nothing saved: {len(errors)} problem(s) to fix",
            f"未保存：有 {len(errors)} 处需要修改",
            errors=[asdict(e) | {"text": str(e)} for e in located],
        )
    fields = {_sku_of(item["values"]): _fields(item) for item in items}
    studio = studio_of(request)
    created, updated = await studio.db(_save, products, fields)
    if studio.on_air.sku in fields:
        await studio.refresh_on_air()  # the card on air shows price and stock
    return web.json_response({"created": created, "updated": updated})


def _sku_of(values: dict[str, Any]) -> str:
    """The row's sku under any header the validator accepts (``sku``, ``商品编号``, ...)."""
    return next((str(v).strip() for k, v in values.items() if canonical_column(str(k)) == "sku"), "")


def _fields(item: dict[str, Any]) -> list[str]:
    fields = item.get("fields")
    if fields is None:
        return list(COLUMNS)
    if not isinstance(fields, list) or not set(fields) <= set(COLUMNS):
        raise bad_request(f"fields must list product columns: {', '.join(COLUMNS)}", "fields 只能包含商品字段名")
    return fields


def _save(db: sqlite_utils.Database, products: list[Product], fields: dict[str, list[str]]) -> tuple[int, int]:
    """One ``save_products`` per set of edited columns (a CSV import is one set: one call)."""
    groups: dict[tuple[str, ...], list[Product]] = {}
    for product in products:
        groups.setdefault(tuple(fields[product.sku]), []).append(product)
    created = updated = 0
    with transaction(db):
        for columns, group in groups.items():
            new, changed = save_products(db, group, columns)
            created, updated = created + new, updated + changed
    return created, updated


def _summary(db: sqlite_utils.Database, show_id: int) -> dict[str, Any]:
    return analytics.show_summary(analytics.load_show(db, show_id))


def _dumps(value: Any) -> str:
    """Strict JSON from pandas/numpy figures: timestamps as ISO text, NaN as null."""
    return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return None if text == "NaT" else text  # pandas' missing time
    return str(value)


@authorized
async def put_auto_hold(request: web.Request) -> web.Response:
    """``PUT /api/auto-hold`` ``{"enabled": bool}``: may the studio hold the slate by itself on an unusable uplink?"""
    enabled = await enabled_flag(request)
    studio = studio_of(request)
    studio.set_auto_hold(enabled)
    return web.json_response({"auto_hold": studio.auto_hold})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/state", get_state)
    app.router.add_post("/api/shows", start_show)
    app.router.add_post("/api/shows/{show_id}/end", finish_show)
    app.router.add_get("/api/shows/{show_id}/stats", show_stats)
    app.router.add_put("/api/overlay", put_overlay)
    app.router.add_put("/api/products", put_products)
    app.router.add_post("/api/orders/{order_id}/cancel", cancel)
    app.router.add_put("/api/auto-hold", put_auto_hold)
