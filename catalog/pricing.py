"""What a unit costs right now: the list price, a flash-sale price while its countdown runs, or a coupon.

One pure function, :func:`price_for`, decides the price for the order page, the
viewer room's buy sheet and :func:`catalog.orders.place_order` alike, so what a
buyer is shown and what the shop charges come from the same rules:

* a flash sale (``flash_price``) applies until ``ends_at``; from then on the list price;
* a coupon applies only when the code the buyer gives matches the promo's code
  (case and surrounding spaces ignored); any other code is refused
  (:class:`CouponNotValid`), never silently ignored;
* prices are whole cents (half a cent rounds up); never negative, never above the list price.

The promo itself belongs to ``overlays``; this module only sees its terms as an
:class:`Offer` (``catalog`` imports nothing of the other packages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

MIN_PERCENT = 1
MAX_PERCENT = 90
MAX_LIMIT_PER_BUYER = 999


class CouponNotValid(ValueError):
    """The code does not match the promo on air for this product (or none is on air)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"coupon {code!r} is not valid for this product now")


@dataclass(frozen=True)
class Offer:
    """The price terms of the promo on air for one product in one show."""

    coupon_code: str | None = None
    discount_percent: int | None = None
    flash_price: float | None = None
    ends_at: datetime | None = None
    limit_per_buyer: int | None = None

    def flash_running(self, now: datetime) -> bool:
        """A countdown's terms hold until its end (exclusive)."""
        return self.ends_at is not None and _aware(now) < _aware(self.ends_at)


@dataclass(frozen=True)
class Price:
    """One unit's price at one moment, and why."""

    list_price: float
    unit_price: float
    coupon: str | None = None
    discount_percent: int | None = None
    flash: bool = False
    limit_per_buyer: int | None = None

    @property
    def discount(self) -> float:
        """Off one unit (list minus charged)."""
        return cents_to_amount(to_cents(self.list_price) - to_cents(self.unit_price))

    def total(self, quantity: int) -> float:
        """What ``quantity`` units cost, in whole cents (no float drift on 3 × 19.9)."""
        return cents_to_amount(to_cents(self.unit_price) * quantity)


def price_for(list_price: float, offer: Offer | None, now: datetime, coupon: str | None = None) -> Price:
    """The price of one unit at ``now`` under ``offer``, with the buyer's ``coupon`` (or none).

    Raises :class:`CouponNotValid` for a non-empty code that the offer does not
    carry. A flash sale that has ended, or a coupon promo without a discount,
    leaves the list price.
    """
    list_cents = to_cents(list_price)
    given = (coupon or "").strip()
    if given:
        if offer is None or not offer.coupon_code or offer.coupon_code.strip().casefold() != given.casefold():
            raise CouponNotValid(given)
        percent = offer.discount_percent or 0
        percent = min(max(percent, 0), 100)
        cents = (list_cents * (100 - percent) + 50) // 100  # half a cent up
        return Price(
            list_price=cents_to_amount(list_cents),
            unit_price=cents_to_amount(min(cents, list_cents)),
            coupon=offer.coupon_code.strip(),
            discount_percent=offer.discount_percent,
        )
    if offer is not None and offer.flash_running(now):
        flash = list_cents if offer.flash_price is None else min(to_cents(offer.flash_price), list_cents)
        return Price(
            list_price=cents_to_amount(list_cents),
            unit_price=cents_to_amount(max(flash, 0)),
            flash=offer.flash_price is not None,
            limit_per_buyer=offer.limit_per_buyer,
        )
    return Price(list_price=cents_to_amount(list_cents), unit_price=cents_to_amount(list_cents))


def to_cents(amount: float) -> int:
    """Whole cents, never negative (prices are stored as REAL with at most two decimals)."""
    return max(round(float(amount) * 100), 0)


def cents_to_amount(cents: int) -> float:
    return round(cents / 100, 2)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
