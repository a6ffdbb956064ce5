"""The promo on air as checkout sees it: its price terms for one product of one show, right now.

The control API parses a promo once (``control.parse_promo``) and it lives on
:class:`~studio.state.OnAir`. A promo belongs to the product it went on air with
and to the live show: the order page, the buy sheet, the shelf and
``place_order`` all ask :func:`live_offer`, so a coupon never works for another
product, another show or after the host took it off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from catalog.pricing import Offer, Price, price_for
from catalog.products import Product
from catalog.timestamps import to_iso
from studio.state import Studio


def live_offer(studio: Studio, show_id: int | None, sku: str) -> Offer | None:
    """The price terms on air for ``sku`` in show ``show_id`` now; None without a promo for it."""
    on_air = studio.on_air
    show = studio.show
    if show is None or show.id != show_id or on_air.sku != sku or on_air.promo is None:
        return None
    return on_air.promo.offer()


def product_json(product: Product) -> dict[str, Any]:
    """The product as the buy sheet and the shelf name it."""
    return {
        "sku": product.sku,
        "name": product.name,
        "name_zh": product.name_zh,
        "unit": product.unit,
        "currency": product.currency,
        "stock": product.stock,
    }


def quote_json(product: Product, price: Price, offer: Offer | None, now: datetime) -> dict[str, Any]:
    """What a buyer is shown before ordering: list and unit price, the coupon, a running flash sale."""
    running = offer is not None and offer.flash_running(now)
    return {
        **product_json(product),
        "max_quantity": product.order_limit,
        "list_price": price.list_price,
        "unit_price": price.unit_price,
        "coupon": price.coupon,
        "discount_percent": price.discount_percent,
        # The code the promo on air offers (the sheet prefills it), whether or not it was given.
        "coupon_on_air": offer.coupon_code if offer is not None else None,
        "flash_price": offer.flash_price if running and offer is not None else None,
        "flash_ends_at": to_iso(offer.ends_at) if running and offer is not None and offer.ends_at else None,
        "limit_per_buyer": price.limit_per_buyer,
    }


def shelf_price(product: Product, offer: Offer | None, now: datetime) -> Price:
    """The price a product shows on the shelf and the pop-up: a running flash sale, else the list price."""
    return price_for(product.price, offer, now)
