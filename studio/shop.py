"""Buy links and the built-in order page: the end of the QR code on the video.

``GET /b/{code}`` is what every on-air QR encodes: it records the scan (or the
watch page's buy-button click) before answering, so attribution survives even
when the buyer then leaves for another shop. Products without their own shop
link are sold on ``/order/{code}``, a phone-first bilingual form whose orders
go through :func:`catalog.orders.place_order` on the studio's database thread.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from string import Template
from typing import Any

import sqlite_utils
from aiohttp import web
from yarl import URL

from analytics import events
from catalog.orders import (
    CHANNELS,
    FORM_EXPIRED,
    MAX_QUANTITY,
    CouponRefused,
    InvalidOrder,
    NotOnSale,
    Order,
    OutOfStock,
    OverBuyerLimit,
    PriceChanged,
    normalise_phone,
    place_order,
)
from catalog.pricing import CouponNotValid, Offer, price_for
from catalog.products import Product, UnknownProduct, get_product
from catalog.shows import Link, UnknownLink, resolve_link
from catalog.timestamps import utc_now
from catalog.validation import has_control_characters
from studio.bodies import json_body
from studio.errors import Problem, dumps
from studio.health import DatabaseLost, Health
from studio.order_guard import ORDER_GUARD, OrderGuard, cross_site, same_origin
from studio.promos import live_offer, quote_json
from studio.state import STUDIO, Studio, studio_of
from studio.viewers import remember_viewer, viewer_id_of

IMAGE_NAME = re.compile(r"^[\w][\w.-]{0,127}\.(png|jpe?g|webp|gif)$", re.IGNORECASE)
IMAGES_PREFIX = "images/"
TEMPLATES = Path(__file__).parent / "pages" / "shop"
FORM_FIELDS = ("quantity", "name", "phone", "address", "coupon")
# Read with the form but not shown as fields: how the buyer came (attribution only), the total the
# buy sheet showed and the unit price (before a coupon) the plain form showed: an order that would cost
# something else now is refused with the new price. The form sends the unit price, not a total, because
# without JavaScript the buyer changes the quantity after the page was made.
HIDDEN_FIELDS = ("channel", "expected_total", "expected_unit_price")
EXPECTED_AMOUNT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
COUPON_NOT_VALID = ("coupon not valid", "优惠码无效")
# The hidden server-issued order token (studio.order_guard): a second tap or a reload after a lost
# answer returns the same order, and a form from another browser or another site is refused.
REQUEST_FIELD = "request_id"
FORM_TYPES = ("application/x-www-form-urlencoded", "application/json")
#: ``/b/<code>?via=...``: the link event it records and the order channel it carries.
VIA: dict[str, tuple[events.LinkEventKind, str]] = {
    "click": ("click", "click"),
    "shelf": ("shelf", "shelf"),
    "draw": ("click", "draw"),
    "replay": ("click", "replay"),
}


@dataclass(frozen=True)
class Listing:
    """What a buy link sells: the link and the product as it is now.

    ``closed``: the host closed this product's sale in the link's live show (the sold-out promo):
    the form shows 已售罄 and orders are refused with 409, whatever stock is left.
    """

    link: Link
    product: Product
    closed: bool = False

    @property
    def sold_out(self) -> bool:
        return self.closed or self.product.stock <= 0


# -- database work (runs on the studio's DB thread) ------------------------

def listing(db: sqlite_utils.Database, code: str) -> Listing:
    link = resolve_link(db, code)
    return Listing(link, get_product(db, link.sku))


def record_visit(db: sqlite_utils.Database, code: str, kind: events.LinkEventKind, viewer_id: str) -> Listing:
    """Resolve a buy link and record the scan/click; committed before the caller redirects."""
    found = listing(db, code)
    events.record_link_event(db, found.link.show_id, found.link.code, found.link.sku, kind, viewer_id)
    return found


# -- routes ----------------------------------------------------------------

async def buy_link(request: web.Request) -> web.StreamResponse:
    """Record the scan or click, then send the buyer to the shop that sells the product."""
    studio = studio_of(request)
    # A tap on the watch page's or the replay page's Buy is a click, on the shelf 小黄车 a shelf tap;
    # a bare link is a QR scan. (After the show every visit counts as the replay's, see docs/replay.md.)
    kind, channel = VIA.get(request.query.get("via", ""), ("scan", "scan"))
    viewer_id, is_new = viewer_id_of(request)
    # HEAD is what link checkers and chat-app previews send: answer it, but it is nobody's scan.
    visit = listing if request.method == "HEAD" else functools.partial(record_visit, kind=kind, viewer_id=viewer_id)
    try:
        found = await studio.db(visit, request.match_info["code"])
    except UnknownLink:
        return unknown_link_page()
    location = redirect_target(found, channel)
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    return remember_viewer(response, viewer_id, is_new)


def redirect_target(found: Listing, channel: str = "scan") -> str:
    """The product's own shop link (as it is now), ASCII-encoded; else the built-in order page.

    A stored link with control characters (saved before the catalog refused
    them) cannot go into a header: the buyer gets the built-in page instead.
    """
    url = found.product.buy_url
    if url and not has_control_characters(url):
        try:
            return str(URL(url))
        except ValueError:
            pass
    return f"/order/{found.link.code}" + ("" if channel == "scan" else f"?via={channel}")


def channel_of(value: str | None) -> str:
    """The order page's channel from ``?via=`` (the buy link passes it on); a QR scan by default."""
    return value if value in CHANNELS else "scan"


async def order_page(request: web.Request) -> web.StreamResponse:
    """The form, with a fresh order token for this viewer; ``Accept: application/json`` gets the token as JSON."""
    studio = studio_of(request)
    try:
        found = await current_listing(studio, request.match_info["code"])
    except UnknownLink:
        return unknown_link_page()
    if not found.product.active:
        return not_on_sale_page(found.product)
    viewer_id, is_new = viewer_id_of(request)
    token = request.app[ORDER_GUARD].tokens.issue(viewer_id, found.link.code)
    channel = channel_of(request.query.get("via"))
    offer = live_offer(studio, found.link.show_id, found.product.sku)
    now = utc_now()
    if "application/json" in request.headers.get("Accept", ""):
        # A quote: with ?coupon= the price with that code, or why it is not valid (the sheet says so).
        coupon_error = None
        try:
            price = price_for(found.product.price, offer, now, request.query.get("coupon"))
        except CouponNotValid:
            price = price_for(found.product.price, offer, now)
            coupon_error = {"detail": COUPON_NOT_VALID[0], "detail_zh": COUPON_NOT_VALID[1]}
        body = {
            "order_token": token,
            **quote_json(found.product, price, offer, now),
            "coupon_error": coupon_error,
            "channel": channel,
            "sold_out": found.sold_out,
        }
        response: web.StreamResponse = json_response(body)
    else:
        coupon = offer.coupon_code if offer is not None and offer.coupon_code else ""
        response = render_order_form(found, {REQUEST_FIELD: token, "channel": channel, "coupon": coupon}, offer=offer)
    return remember_viewer(response, viewer_id, is_new)


async def submit_order(request: web.Request) -> web.StreamResponse:
    """Checks in order of cost: origin, rate limits, database health, body, token, phone limit; then sell."""
    as_json = wants_json(request)
    try:
        return await _submit_order(request, studio_of(request), request.app[ORDER_GUARD], as_json)
    except Problem as problem:
        if as_json:
            raise
        page = message_page(problem.status, "Order not taken 未能下单", problem.detail, problem.detail_zh)
        page.headers.update(problem.headers)
        return page


async def _submit_order(request: web.Request, studio: Studio, guard: OrderGuard, as_json: bool) -> web.StreamResponse:
    if not same_origin(request, studio.config.public_url):
        raise cross_site()
    viewer_id, is_new = viewer_id_of(request)
    guard.admit(request.remote or "")
    refuse_if_unhealthy(studio.health.recent())
    form = await read_order_form(request)
    code = request.match_info["code"]
    try:
        found = await current_listing(studio, code)
    except UnknownLink:
        if as_json:
            raise Problem(404, "unknown_link", "unknown buy link", "链接无效") from None
        return unknown_link_page()
    if found.closed:
        if as_json:
            raise sale_closed_problem()
        problem = sale_closed_problem()
        alert = f"{problem.detail} / {problem.detail_zh}"
        return remember_viewer(render_order_form(found, form, {}, status=409, alert=alert), viewer_id, is_new)
    token = form.get(REQUEST_FIELD) or request.headers.get("Idempotency-Key") or ""
    if not guard.tokens.valid(token, viewer_id, found.link.code):
        if as_json:
            raise Problem(
                403,
                "order_token",
                "missing, expired or foreign order token: GET this order page first, with the same cookie",
                "订单凭证缺失、过期或不属于您：请先打开订单页面",
            )
        renewed = {**form, REQUEST_FIELD: guard.tokens.issue(viewer_id, found.link.code)}
        offer = live_offer(studio, found.link.show_id, found.product.sku)
        page = render_order_form(found, renewed, {}, status=403, alert=FORM_EXPIRED, offer=offer)
        return remember_viewer(page, viewer_id, is_new)
    shown = Shown(expected_amount(form, "expected_total"), expected_amount(form, "expected_unit_price"))
    undo = guard.reserve(viewer_id, normalise_phone(form.get("phone")))
    placed = await _place_or_refuse(
        studio, guard, found=found, form=form, shown=shown, token=token, viewer_id=viewer_id, undo=undo,
        as_json=as_json,
    )
    if not isinstance(placed, Order):
        return placed  # the form again, or a page saying why not
    order = placed
    if order.replay:
        undo()  # the same order again: nothing more was taken
    elif studio.on_air.sku == order.sku:
        await studio.refresh_on_air()  # the card on the video shows the stock left
    if as_json:
        response: web.StreamResponse = json_response(order.to_json(), status=201)
    else:
        response = render_confirmation(order, found.product)
    return remember_viewer(response, viewer_id, is_new)


@dataclass(frozen=True)
class Shown:
    """What the buyer's page showed, parsed at the edge: the buy sheet's total, the plain form's unit price."""

    total: float | None
    unit_price: float | None


async def _place_or_refuse(
    studio: Studio,
    guard: OrderGuard,
    *,
    found: Listing,
    form: dict[str, str],
    shown: Shown,
    token: str,
    viewer_id: str,
    undo: Callable[[], None],
    as_json: bool,
) -> Order | web.StreamResponse:
    """Place the order; when it is refused, release the reservation (``undo``) and return the page saying why.

    A JSON client gets a :class:`Problem` raised instead of a page.
    """
    offer = live_offer(studio, found.link.show_id, found.product.sku)
    try:
        return await studio.db_acknowledged(
            place_order,
            sku=found.product.sku,
            quantity=form.get("quantity"),
            customer_name=form.get("name"),
            phone=form.get("phone"),
            address=form.get("address"),
            show_id=found.link.show_id,
            link_code=found.link.code,
            viewer_id=viewer_id,
            request_id=token,
            offer=offer,
            coupon=form.get("coupon") or None,
            expected_total=shown.total,
            expected_unit_price=shown.unit_price,
            channel=form.get("channel") or None,  # place_order checks it
        )
    except DatabaseLost as lost:
        undo()
        refuse_if_unhealthy(lost.health)
        raise
    except sqlite3.DatabaseError:
        undo()
        refuse_if_unhealthy(await studio.health.check())
        raise
    except InvalidOrder as error:
        undo()
        if as_json:
            raise Problem(
                400, "invalid_order", "please check the marked fields", "请检查标出的内容", errors=error.errors
            ) from None
        if REQUEST_FIELD in error.errors:
            form = {**form, REQUEST_FIELD: guard.tokens.issue(viewer_id, found.link.code)}
        return render_order_form(found, form, error.errors, status=400, offer=offer)
    except OutOfStock as error:
        undo()
        message, message_zh = stock_message(error)
        if as_json:
            raise Problem(
                409, "out_of_stock", message, message_zh, available=error.available, requested=error.requested
            ) from None
        fresh = Listing(found.link, await studio.db(get_product, found.product.sku))
        return render_order_form(fresh, form, {}, status=409, alert=f"{message} / {message_zh}", offer=offer)
    except (CouponRefused, PriceChanged, OverBuyerLimit) as error:
        undo()
        problem = promo_problem(error)
        if as_json:
            raise problem from None
        errors = {"coupon": f"{problem.detail_zh} · {problem.detail}"} if isinstance(error, CouponRefused) else {}
        fresh = Listing(found.link, await studio.db(get_product, found.product.sku))
        alert = f"{problem.detail_zh} / {problem.detail}"
        return render_order_form(fresh, form, errors, status=problem.status, alert=alert, offer=offer)
    except (NotOnSale, UnknownProduct):
        undo()
        if as_json:
            raise Problem(410, "not_on_sale", "this product is no longer on sale", "该商品已下架") from None
        return not_on_sale_page(found.product)


async def current_listing(studio: Studio, code: str) -> Listing:
    """The link, the product as it is now, and whether the host closed its sale in the live show."""
    found = await studio.db(listing, code)
    return replace(found, closed=studio.sale_closed(found.link.show_id, found.product.sku))


def sale_closed_problem() -> Problem:
    """409 for an order of a product the host marked sold out in the live show."""
    return Problem(
        409,
        "sold_out",
        "Sold out: the sale of this product is closed for this show.",
        "已售罄：本场直播该商品已停止销售。",
    )


def promo_problem(error: CouponRefused | PriceChanged | OverBuyerLimit) -> Problem:
    """A checkout refusal of the promo rules (409: the show's state decides, the buyer can act on it)."""
    if isinstance(error, CouponRefused):
        detail, detail_zh = COUPON_NOT_VALID
        return Problem(409, "coupon_not_valid", detail, detail_zh, errors={"coupon": f"{detail_zh} · {detail}"})
    if isinstance(error, PriceChanged):
        price = error.price
        return Problem(
            409,
            "price_changed",
            f"the price has changed: now {price.unit_price:.2f} each, {error.quantity} cost {error.total:.2f}",
            f"价格已变化：现价每件 {price.unit_price:.2f}，{error.quantity} 件合计 {error.total:.2f}",
            unit_price=price.unit_price,
            list_price=price.list_price,
            total=error.total,
            quantity=error.quantity,
            coupon=price.coupon,
        )
    left = max(error.limit - error.bought, 0)
    return Problem(
        409,
        "buyer_limit",
        f"this flash sale allows {error.limit} per buyer; this phone number can order {left} more",
        f"限时秒杀每人限购 {error.limit} 件，该手机号还可购买 {left} 件",
        limit=error.limit,
        bought=error.bought,
        errors={"quantity": f"每人限购 {error.limit} 件 · at most {error.limit} per buyer"},
    )


def expected_amount(form: dict[str, str], field: str) -> float | None:
    """An amount the buyer was shown (``"119.80"``), or None; a 400 for anything that is not an amount."""
    text = form.get(field, "")
    if not text:
        return None
    if not EXPECTED_AMOUNT.match(text.strip()):
        raise Problem(400, f"bad_{field}", f"{field} must be an amount like 119.80", "预期金额格式不正确")
    return float(text)


async def product_image(request: web.Request) -> web.StreamResponse:
    """Product pictures from ``DATA_DIR/images``; only plain file names, never a path."""
    name = request.match_info["name"]
    unknown = Problem(404, "unknown_image", f"no such picture: {name[:130]}", f"没有这张图片：{name[:130]}")
    if not IMAGE_NAME.match(name) or "\x00" in name:  # checked before the name touches the file system
        raise unknown
    folder = (studio_of(request).config.data_dir / "images").resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise unknown
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=300"})


def refuse_if_unhealthy(health: Health | None) -> None:
    """``503`` rather than acknowledging an order into a database that is lost or broken."""
    if health is not None and not health.ok:
        raise Problem(
            503,
            "database_unavailable",
            f"orders are paused: {health.detail}",
            f"暂停接单：{health.detail_zh}",
            headers={"Retry-After": "30"},
        )


def setup_routes(app: web.Application) -> None:
    app[ORDER_GUARD] = OrderGuard(app[STUDIO].config.key, app[STUDIO].config.order_limits)
    app.router.add_get("/b/{code}", buy_link)
    app.router.add_get("/order/{code}", order_page)
    app.router.add_post("/order/{code}", submit_order)
    app.router.add_get("/images/{name}", product_image)


# -- request helpers -------------------------------------------------------

def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.content_type == "application/json"


async def read_order_form(request: web.Request) -> dict[str, str]:
    """The order fields from a form post or a JSON body; a 400 problem for an unreadable body."""
    if request.content_type not in FORM_TYPES:
        raise Problem(
            415,
            "unsupported_media_type",
            "send the order as a form (application/x-www-form-urlencoded) or as JSON",
            "请以表单或 JSON 格式提交订单",
        )
    if request.content_type == "application/json":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise Problem(
                400,
                "bad_json",
                "body must be a JSON object with quantity, name, phone and address",
                "请求内容必须是包含 quantity、name、phone、address 的 JSON 对象",
            )
    else:
        try:
            body = dict(await request.post())
        except ValueError:  # not UTF-8, or not form encoding at all
            raise Problem(400, "bad_form", "the form is not readable text", "表单内容无法读取") from None
    values = {field: _form_value(body.get(field)) for field in (*FORM_FIELDS, *HIDDEN_FIELDS, REQUEST_FIELD)}
    if any(has_control_characters(value, allowed="\n\r\t") for value in values.values()):
        raise Problem(400, "bad_text", "the form holds control characters or broken text", "表单含有无效字符")
    return values


def _form_value(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)) or hasattr(value, "file"):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value) if abs(value) < 10**12 else ""  # "quantity": 1e400 or a 5,000-digit integer
    return str(value)


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def stock_message(error: OutOfStock) -> tuple[str, str]:
    """English and Chinese: what is left, and what to do."""
    if error.available == 0:
        return "Sold out, sorry!", "抱歉，已售罄"
    return (
        f"Only {error.available} left, you asked for {error.requested}: lower the quantity and try again.",
        f"库存仅剩 {error.available} 件，请减少数量后重试",
    )


def mask_phone(phone: str) -> str:
    """``13800138000`` -> ``138****8000``."""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


# -- pages -----------------------------------------------------------------

@functools.cache
def template(name: str) -> Template:
    """Read once: the order page is the busiest route during a flash sale."""
    return Template((TEMPLATES / f"{name}.html").read_text(encoding="utf-8"))


def html_page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = template("base").substitute(title=escape(title), body=body)
    return web.Response(text=text, status=status, content_type="text/html", headers={"Cache-Control": "no-store"})


def message_page(status: int, heading: str, text: str, text_zh: str) -> web.Response:
    body = template("message").substitute(heading=escape(heading), text=escape(text), text_zh=escape(text_zh))
    return html_page(heading, body, status=status)


def unknown_link_page() -> web.Response:
    return message_page(
        404,
        "Link not found 链接无效",
        "This buy link does not exist. Scan the QR code on the live video again.",
        "该购买链接不存在，请重新扫描直播画面上的二维码。",
    )


def not_on_sale_page(product: Product) -> web.Response:
    return message_page(
        410,
        "No longer on sale 商品已下架",
        f"{product.name} is no longer on sale. Watch the live show for what the farm sells today.",
        f"{product.name_zh or product.name} 已下架，请回到直播间看看今天的其他农产品。",
    )


def money(amount: float, currency: str) -> str:
    symbol = "¥" if currency == "CNY" else f"{currency} "
    return f"{symbol}{amount:,.2f}"


def discount_line(order: Order, currency: str) -> str:
    """What the buyer saved, and with which coupon (nothing without a promo)."""
    if order.discount <= 0:
        return ""
    why = f"优惠码 coupon {escape(order.coupon)}" if order.coupon else "限时秒杀 flash sale"
    return (
        f'<p class="total"><span>Discount 优惠 ({why})</span>'
        f'<span id="order-discount">-{escape(money(order.discount, currency))}</span></p>'
    )


def image_url(product: Product) -> str | None:
    """``/images/<file>`` for a product picture in the data folder; None for none or a bad name."""
    file_name = product.image[len(IMAGES_PREFIX) :] if product.image else ""
    if product.image and product.image.startswith(IMAGES_PREFIX) and IMAGE_NAME.match(file_name):
        return f"/{product.image}"
    return None


def product_section(product: Product) -> str:
    url = image_url(product)
    image = f'<img src="{escape(url)}" alt="{escape(product.name)}">' if url else ""
    return template("product").substitute(
        image=image,
        name=escape(product.name),
        name_zh=escape(product.name_zh),
        price=escape(money(product.price, product.currency)),
        unit=escape(product.unit or "-"),
        origin=escape(product.origin or "-"),
        stock=product.stock,
        description=escape(product.description),
    )


def render_order_form(
    found: Listing,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    *,
    status: int = 200,
    alert: str = "",
    offer: Offer | None = None,
) -> web.Response:
    """The order form; after a refusal it comes back with the buyer's entries and what to fix.

    It shows the price now (a running flash sale's) and the coupon of the promo on air, prefilled.
    """
    values = values or {}
    errors = errors or {}
    product = found.product
    sold_out = found.sold_out
    if sold_out and not alert:
        alert = "Sold out, sorry! / 抱歉，已售罄"
    if REQUEST_FIELD in errors:  # a spent or mangled token: explain (the caller hands out a fresh one)
        alert = errors[REQUEST_FIELD]
    if errors and not alert:
        alert = "Please check the fields marked below. / 请检查下方标红的内容。"
    fields: dict[str, str] = {}
    for field in FORM_FIELDS:
        fields[field] = escape(values.get(field) or ("1" if field == "quantity" else ""))
        fields[f"{field}_class"] = "invalid" if field in errors else ""
        error = f'<p class="error" id="{field}-error">{escape(errors[field])}</p>' if field in errors else ""
        fields[f"{field}_error"] = error
    body = template("order").substitute(
        alert=f'<div class="alert{" bad" if errors else ""}" role="alert">{escape(alert)}</div>' if alert else "",
        product=product_section(product),
        action=f"/order/{escape(found.link.code)}",
        request_id=escape(values.get(REQUEST_FIELD, "")),
        channel=escape(channel_of(values.get("channel"))),
        # What one unit costs now, before a coupon (a refused form comes back with the new price here).
        expected_unit_price=f"{price_for(product.price, offer, utc_now()).unit_price:.2f}",
        price_now=price_note(product, offer),
        max_quantity=min(MAX_QUANTITY, product.order_limit, max(product.stock, 1)),
        disabled="disabled" if sold_out else "",
        button="Sold out 已售罄" if sold_out else "Buy now 立即下单",
        **fields,
    )
    return html_page(f"{product.name} {product.name_zh} · order 下单", body, status=status)


def price_note(product: Product, offer: Offer | None) -> str:
    """A running flash sale's price over the list price, and the coupon on air: the form's price line."""
    if offer is None:
        return ""
    now = utc_now()
    price = price_for(product.price, offer, now)
    lines = []
    if price.flash:
        now_price, list_price = money(price.unit_price, product.currency), money(price.list_price, product.currency)
        lines.append(
            f'<p class="flash" id="price-now">限时秒杀 Flash sale <b>{escape(now_price)}</b>'
            f" <s>{escape(list_price)}</s></p>"
        )
    if offer.coupon_code and offer.discount_percent:
        lines.append(
            f'<p class="coupon-note">优惠码 Coupon <b>{escape(offer.coupon_code)}</b>: '
            f"-{offer.discount_percent}%</p>"
        )
    return "".join(lines)


def render_confirmation(order: Order, product: Product) -> web.Response:
    """The buyer's receipt. A resubmitted form gets its order back with the phone masked and no address:
    whoever holds an old form must not learn a buyer's details from it."""
    body = template("done").substitute(
        number=escape(order.number),
        quantity=order.quantity,
        name=escape(product.name),
        name_zh=escape(product.name_zh),
        total=escape(money(order.total, product.currency)),
        discount=discount_line(order, product.currency),
        phone=escape(mask_phone(order.phone or "") if order.replay else order.phone or ""),
        address=escape("(hidden · 已隐藏)" if order.replay else order.address or ""),
    )
    return html_page(f"Order {order.number} 下单成功", body, status=201)
