"""Built-in orders: check the form, take the stock and record the order in one transaction.

During a live show hundreds of viewers may press "buy" within a second. The
stock decrement is one conditional ``UPDATE`` inside ``BEGIN IMMEDIATE``, and
the order row is inserted in the same transaction, so the shop never oversells
and a server killed mid-order leaves either the whole order or nothing.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

import sqlite_utils

from catalog.pricing import CouponNotValid, Offer, Price, cents_to_amount, price_for, to_cents
from catalog.products import UnknownProduct, get_product
from catalog.schema import inserted_id, transaction
from catalog.shows import resolve_link
from catalog.timestamps import now_iso, parse_iso

MAX_QUANTITY = 999
# Longest quantity text read as a number: "0000000005" is fine, 4,000 digits never reach int().
MAX_QUANTITY_DIGITS = 10
MAX_NAME = 100
MAX_ADDRESS = 300
MIN_ADDRESS = 4
# Digits with an optional leading +, 6 to 15 of them (E.164) once spaces, dashes, dots and brackets are gone.
PHONE_PATTERN = re.compile(r"^\+?\d{6,15}$")
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
# A mainland mobile number, with or without the country code: 13800138000, +8613800138000, 008613800138000.
CN_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1\d{10})$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FORM_EXPIRED = "The form has expired: reload the page / 页面已过期，请刷新后重试"

OrderSource = Literal["builtin", "import"]
#: How the buyer came to the order (attribution only, never trusted for anything else):
#: the QR scan, the watch page's Buy, the shelf 小黄车, a draw winner's prompt, the replay page.
Channel = Literal["scan", "click", "shelf", "draw", "replay"]
CHANNELS: tuple[str, ...] = get_args(Channel)
#: What the built-in form takes: pay on delivery, or waiting for a payment step. Never "paid".
BuiltinStatus = Literal["cod", "pending"]
CANCELLED = "cancelled"
# The SELECT list an Order is built from (`Order(*row)`), in field order.
ORDER_SELECT_LIST = (
    "id, show_id, sku, quantity, unit_price, total, at, source, link_code, "
    "status, buyer_id, customer_name, phone, address, number, list_price, coupon, channel"
)
# Public order numbers: FL-XXXX-XXXX from an alphabet without 0/O, 1/I/L (read aloud on the phone).
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Order:
    id: int
    show_id: int | None
    sku: str
    quantity: int
    unit_price: float
    total: float
    at: str
    source: str = "builtin"
    link_code: str | None = None
    status: str = "cod"
    viewer_id: str | None = None
    customer_name: str | None = None
    phone: str | None = None
    address: str | None = None
    public_number: str | None = None
    list_price: float | None = None
    coupon: str | None = None
    channel: str | None = None
    # True when a resubmitted form got this earlier order back (not stored).
    replay: bool = field(default=False, compare=False)

    @property
    def number(self) -> str:
        """The order number a buyer quotes on the phone, e.g. ``FL-7KQ2-M9XD``: random, so it reveals nothing.

        Orders stored before random numbers existed keep ``FL-000042``.
        """
        return self.public_number or f"FL-{self.id:06d}"

    @property
    def discount(self) -> float:
        """Saved on the whole order against the list price (0 without a promo)."""
        if self.list_price is None:
            return 0.0
        return round(max(to_cents(self.list_price) - to_cents(self.unit_price), 0) * self.quantity / 100, 2)

    def to_json(self) -> dict[str, Any]:
        """What the buyer is told: no row id (it would count the shop's orders)."""
        return {
            "number": self.number,
            "show_id": self.show_id,
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "list_price": self.list_price if self.list_price is not None else self.unit_price,
            "discount": self.discount,
            "coupon": self.coupon,
            "channel": self.channel,
            "total": self.total,
            "at": self.at,
            "link_code": self.link_code,
            "status": self.status,
        }


@dataclass(frozen=True)
class Customer:
    """The cleaned buyer details a valid order form yields."""

    quantity: int
    name: str
    phone: str
    address: str


class OrderError(Exception):
    """Base class: every refusal carries a message a buyer can act on."""


class InvalidOrder(OrderError, ValueError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class OutOfStock(OrderError):
    def __init__(self, sku: str, requested: int, available: int) -> None:
        self.sku, self.requested, self.available = sku, requested, available
        super().__init__(f"only {available} of {sku!r} left, {requested} requested")


class NotCancellable(OrderError):
    def __init__(self, order: Order) -> None:
        self.order = order
        super().__init__(f"order {order.number} came from {order.source}: cancel it on that platform")


class CouponRefused(OrderError):
    """The coupon code is not the one on air for this product and show right now."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"coupon {code!r} is not valid for this product now")


class PriceChanged(OrderError):
    """The total the buyer was shown is not what the order would cost now (a flash sale ended, a coupon went)."""

    def __init__(self, expected: float, price: Price, quantity: int) -> None:
        self.expected, self.price, self.quantity = expected, price, quantity
        self.total = price.total(quantity)
        super().__init__(f"the total is now {self.total:.2f}, not {expected:.2f}")


class OverBuyerLimit(OrderError):
    """A flash sale's per-buyer limit (per phone, product and show) would be passed."""

    def __init__(self, limit: int, bought: int, requested: int) -> None:
        self.limit, self.bought, self.requested = limit, bought, requested
        super().__init__(f"at most {limit} per buyer in this sale: {bought} bought already, {requested} requested")


class NotOnSale(OrderError):
    def __init__(self, sku: str) -> None:
        self.sku = sku
        super().__init__(f"{sku!r} is no longer on sale")


def validate_order_form(
    *, quantity: Any, customer_name: Any, phone: Any, address: Any
) -> tuple[Customer | None, dict[str, str]]:
    """Check what a buyer typed; messages are bilingual because buyers read them directly."""
    errors: dict[str, str] = {}
    count = _quantity(quantity)
    if count is None:
        errors["quantity"] = (
            f"Quantity must be a whole number from 1 to {MAX_QUANTITY} / 数量须为 1 到 {MAX_QUANTITY} 的整数"
        )
    name = _clean(customer_name)
    if not name:
        errors["name"] = "Please enter your name / 请填写收货人姓名"
    elif len(name) > MAX_NAME:
        errors["name"] = f"Name is longer than {MAX_NAME} characters / 姓名过长"
    number = normalise_phone(phone)
    if not number:
        errors["phone"] = "Please enter your phone number / 请填写手机号码"
    elif not PHONE_PATTERN.match(number):
        errors["phone"] = "This does not look like a phone number / 手机号码格式不正确"
    place = _clean(address)
    if not place:
        errors["address"] = "Please enter a delivery address / 请填写收货地址"
    elif len(place) < MIN_ADDRESS:
        errors["address"] = "Address is too short to deliver to / 收货地址太短，请写完整"
    elif len(place) > MAX_ADDRESS:
        errors["address"] = f"Address is longer than {MAX_ADDRESS} characters / 收货地址过长"
    if errors:
        return None, errors
    assert count is not None
    return Customer(count, name, number, place), {}


def normalise_phone(phone: Any) -> str:
    """The phone number as stored (separators gone), e.g. to count orders per phone."""
    return PHONE_SEPARATORS.sub("", _clean(phone))


def phone_spellings(phone: str) -> list[str]:
    """Every stored spelling of one (normalised) phone number: a per-buyer limit counts them all."""
    mobile = CN_MOBILE.match(phone)
    if mobile is None:
        return [phone]
    number = mobile.group(1)
    return [number, f"+86{number}", f"86{number}", f"0086{number}"]


def place_order(
    db: sqlite_utils.Database,
    *,
    sku: str,
    quantity: Any,
    customer_name: Any,
    phone: Any,
    address: Any,
    show_id: int | None = None,
    link_code: str | None = None,
    viewer_id: str | None = None,
    source: OrderSource = "builtin",
    at: str | None = None,
    request_id: str | None = None,
    status: BuiltinStatus = "cod",
    offer: Offer | None = None,
    coupon: str | None = None,
    expected_total: float | None = None,
    expected_unit_price: float | None = None,
    channel: Channel | None = None,
) -> Order:
    """Sell ``quantity`` of ``sku`` or raise; the stock and the order change together or not at all.

    Raises :class:`InvalidOrder` (also for more than the product's per-order
    limit), ``UnknownProduct``, :class:`NotOnSale` or :class:`OutOfStock`
    (with the stock left). A ``link_code`` without a ``show_id`` attributes
    the order to that link's show. The same ``request_id`` twice (a
    resubmitted form) returns the first order, marked ``replay``, and takes
    no more stock; a ``request_id`` another viewer used is refused, so a
    replay never shows someone else's order.

    The unit price is :func:`catalog.pricing.price_for` of the product's price
    *inside the transaction* under ``offer`` (the promo on air for this product
    and show, passed by the caller) and ``coupon``: :class:`CouponRefused` for a
    code the offer does not carry, :class:`PriceChanged` when ``expected_total``
    (what the buyer was shown) differs from the total now, or ``expected_unit_price``
    (the price of one unit before any coupon, as the plain order form showed it,
    whatever quantity the buyer typed) differs from that price now, and
    :class:`OverBuyerLimit` when a running flash sale's per-buyer limit would
    be passed by this phone's units of this product in this show (cancelled
    orders excluded). The order keeps ``list_price``, the charged
    ``unit_price``, the ``coupon`` and the ``channel``.
    """
    customer, errors = validate_order_form(
        quantity=quantity, customer_name=customer_name, phone=phone, address=address
    )
    if request_id is not None and not REQUEST_ID.match(request_id):
        errors["request_id"] = FORM_EXPIRED
    if channel is not None and channel not in CHANNELS:
        errors["channel"] = f"channel must be one of {', '.join(CHANNELS)}"
    if customer is None or errors:
        raise InvalidOrder(errors)
    at = at or now_iso()
    moment = parse_iso(at)
    with transaction(db):
        if request_id is not None:
            row = db.execute(f"SELECT {ORDER_SELECT_LIST} FROM orders WHERE request_id = ?", [request_id]).fetchone()
            if row is not None:
                earlier = replace(Order(*row), replay=True)
                if earlier.viewer_id != viewer_id or earlier.sku != sku:
                    raise InvalidOrder({"request_id": FORM_EXPIRED})
                return earlier
        if link_code is not None and show_id is None:
            show_id = resolve_link(db, link_code).show_id
        product = get_product(db, sku)
        if not product.active:
            raise NotOnSale(sku)
        if customer.quantity > product.order_limit:
            limit = product.order_limit
            raise InvalidOrder({"quantity": f"At most {limit} per order / 每单最多 {limit} 件"})
        price = _price(product.price, offer, moment, coupon)
        total = price.total(customer.quantity)
        without_coupon = functools.partial(price_for, product.price, offer, moment)
        _check_shown(price, customer.quantity, expected_total, expected_unit_price, without_coupon)
        if price.limit_per_buyer is not None:
            _check_buyer_limit(db, price.limit_per_buyer, show_id, sku, customer)
        taken = db.execute(
            "UPDATE products SET stock = stock - ? WHERE sku = ? AND active = 1 AND stock >= ?",
            [customer.quantity, sku, customer.quantity],
        ).rowcount
        if taken != 1:
            raise OutOfStock(sku, customer.quantity, product.stock)
        number = _new_number(db)
        cursor = db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, "
            "status, buyer_id, customer_name, phone, address, request_id, number, list_price, coupon, channel) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                show_id, sku, customer.quantity, price.unit_price, total, at, source, link_code,
                status, viewer_id, customer.name, customer.phone, customer.address, request_id, number,
                price.list_price, price.coupon, channel,
            ],
        )
    return Order(
        id=inserted_id(cursor),
        show_id=show_id,
        sku=sku,
        quantity=customer.quantity,
        unit_price=price.unit_price,
        total=total,
        at=at,
        source=source,
        link_code=link_code,
        status=status,
        viewer_id=viewer_id,
        customer_name=customer.name,
        phone=customer.phone,
        address=customer.address,
        public_number=number,
        list_price=price.list_price,
        coupon=price.coupon,
        channel=channel,
    )


def _price(list_price: float, offer: Offer | None, now: datetime, coupon: str | None) -> Price:
    try:
        return price_for(list_price, offer, now, coupon)
    except CouponNotValid as error:
        raise CouponRefused(error.code) from None


def _check_shown(
    price: Price,
    quantity: int,
    expected_total: float | None,
    expected_unit_price: float | None,
    shelf: Callable[[], Price],
) -> None:
    """:class:`PriceChanged` unless the order costs what the buyer was shown: the buy sheet's total, or the
    plain form's unit price before a coupon (``shelf``: the price now without the buyer's coupon)."""
    if expected_total is not None and to_cents(expected_total) != to_cents(price.total(quantity)):
        raise PriceChanged(expected_total, price, quantity)
    if expected_unit_price is not None:
        unit = (price if price.coupon is None else shelf()).unit_price
        if to_cents(expected_unit_price) != to_cents(unit):
            raise PriceChanged(cents_to_amount(to_cents(expected_unit_price) * quantity), price, quantity)


def _check_buyer_limit(
    db: sqlite_utils.Database, limit: int, show_id: int | None, sku: str, customer: Customer
) -> None:
    """Inside the order's transaction: this phone's units of ``sku`` in this show, cancelled orders excluded."""
    spellings = phone_spellings(customer.phone)
    bought = db.execute(
        "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE show_id IS ? AND sku = ? AND status != ? "
        f"AND phone IN ({', '.join('?' * len(spellings))})",
        [show_id, sku, CANCELLED, *spellings],
    ).fetchone()[0]
    if bought + customer.quantity > limit:
        raise OverBuyerLimit(limit, int(bought), customer.quantity)


def _new_number(db: sqlite_utils.Database) -> str:
    """``FL-XXXX-XXXX``: 31^8 (8.5e11) numbers, so a guessed one is almost surely nobody's."""
    while True:
        code = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
        number = f"FL-{code[:4]}-{code[4:]}"
        if db.execute("SELECT 1 FROM orders WHERE number = ?", [number]).fetchone() is None:
            return number


def get_order(db: sqlite_utils.Database, order_id: int) -> Order:
    row = db.execute(f"SELECT {ORDER_SELECT_LIST} FROM orders WHERE id = ?", [order_id]).fetchone()
    if row is None:
        raise LookupError(f"unknown order {order_id}")
    return Order(*row)


def cancel_order(db: sqlite_utils.Database, order_id: int) -> Order:
    """Cancel a built-in order and put its units back in stock, in one transaction.

    Idempotent: cancelling a cancelled order changes nothing. Orders imported
    from another platform are refused (:class:`NotCancellable`): that
    platform owns them. Raises ``LookupError`` for an unknown order.
    """
    with transaction(db):
        order = get_order(db, order_id)
        if order.status == CANCELLED:
            return order
        if order.source != "builtin":
            raise NotCancellable(order)
        db.execute("UPDATE orders SET status = ? WHERE id = ?", [CANCELLED, order_id])
        db.execute("UPDATE products SET stock = stock + ? WHERE sku = ?", [order.quantity, order.sku])
    return get_order(db, order_id)


def _quantity(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = _clean(value)
        if not text.isdecimal() or len(text) > MAX_QUANTITY_DIGITS:
            return None
        number = int(text)
    return number if 1 <= number <= MAX_QUANTITY else None


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


__all__ = [
    "CHANNELS",
    "Channel",
    "CouponRefused",
    "InvalidOrder",
    "NotCancellable",
    "NotOnSale",
    "Order",
    "OrderError",
    "OutOfStock",
    "OverBuyerLimit",
    "PriceChanged",
    "UnknownProduct",
    "cancel_order",
    "get_order",
    "place_order",
    "validate_order_form",
]
