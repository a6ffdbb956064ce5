"""``GET /watch/shelf``: the shelf · 小黄车 of the viewer room, every product of the live show.

A thousand viewers may have the shelf open during a flash sale. The products and
their tracked links are read in one database job at most every
:data:`SHELF_TTL` seconds, shared by every request meanwhile (one read in flight
at a time); what is on air and the flash-sale price are added from memory per
request, so the marker follows a switch at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from aiohttp import web

from catalog.products import Product, list_products
from catalog.shows import link_for
from catalog.timestamps import utc_now
from studio.errors import dumps
from studio.promos import live_offer, product_json, shelf_price
from studio.shop import image_url
from studio.state import Studio, studio_of

#: How old the shelf's stock may be (the pop-up of the product on air is fresher: /watch/state).
SHELF_TTL = 2.0


@dataclass(frozen=True)
class ShelfRow:
    product: Product
    code: str


def read_shelf(db: sqlite_utils.Database, show_id: int) -> list[ShelfRow]:
    """The show's products on sale, each with its buy link for this show (made on first use)."""
    products = list_products(db, active_only=True)
    return [ShelfRow(product, link_for(db, show_id, product.sku).code) for product in products]


@dataclass
class ShelfCache:
    """The last read, for one show; refreshed by the first request after it is stale."""

    show_id: int | None = None
    read_at: float = float("-inf")
    rows: list[ShelfRow] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reads: int = 0
    # The JSON answer, made once per (read, on-air change, flash sale running or not): 1,000 viewers
    # polling every 3 s would otherwise rebuild the same bytes 333 times a second.
    _answer: tuple[tuple[Any, ...], bytes] | None = None

    def answer(self, studio: Studio, show_id: int) -> bytes:
        on_air = studio.on_air
        offer = live_offer(studio, show_id, on_air.sku) if on_air.sku is not None else None
        key = (self.read_at, show_id, on_air.version, offer is not None and offer.flash_running(utc_now()))
        if self._answer is None or self._answer[0] != key:
            items = [shelf_item(studio, row, show_id) for row in self.rows]
            items.sort(key=lambda item: not item["on_air"])  # the product on air first
            self._answer = (key, dumps({"live": True, "products": items}).encode())
        return self._answer[1]

    async def get(self, studio: Studio, show_id: int) -> list[ShelfRow]:
        if self._fresh(show_id):
            return self.rows
        async with self.lock:
            if not self._fresh(show_id):  # another request refreshed it while this one waited
                self.rows = await studio.db(read_shelf, show_id)
                self.show_id, self.read_at = show_id, time.monotonic()
                self.reads += 1
        return self.rows

    def _fresh(self, show_id: int) -> bool:
        return self.show_id == show_id and time.monotonic() - self.read_at < SHELF_TTL


SHELF = web.AppKey("shelf_cache", ShelfCache)


def shelf_item(studio: Studio, row: ShelfRow, show_id: int) -> dict[str, Any]:
    on_air = studio.on_air
    # The product on air is re-read after every order (its stock on the video): fresher than the cache.
    product = on_air.product if on_air.product is not None and on_air.sku == row.product.sku else row.product
    now = utc_now()
    offer = live_offer(studio, show_id, product.sku)
    price = shelf_price(product, offer, now)
    return {
        **product_json(product),
        "list_price": price.list_price,
        "price": price.unit_price,
        "flash": price.flash,
        "image": image_url(product),
        "on_air": on_air.sku == product.sku,
        # A tap is recorded as a shelf event; a product with its own shop goes there.
        "buy_href": f"/b/{row.code}?via=shelf",
        "external": bool(product.buy_url),
    }


async def watch_shelf(request: web.Request) -> web.Response:
    studio = studio_of(request)
    show = studio.show
    body = b'{"live": false, "products": []}'
    if show is not None:
        cache = request.app[SHELF]
        await cache.get(studio, show.id)
        body = cache.answer(studio, show.id)
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-store"})


def setup_routes(app: web.Application) -> None:
    app[SHELF] = ShelfCache()
    app.router.add_get("/watch/shelf", watch_shelf)
