"""The phone's ``/publish`` page and the viewers' ``/watch`` page.

Plain HTML + JS served by the studio itself (no build step, no CDN: a farm
with a weak uplink should not fetch anything from elsewhere). ``/watch/state``
is the small public JSON the watch page polls: what is on air, how many are
watching, whether the show is live. It carries no secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from catalog.timestamps import now_iso, utc_now
from studio.errors import Problem
from studio.pages import shelf
from studio.promos import shelf_price
from studio.shop import image_url
from studio.state import OnAir, studio_of
from studio.turn import browser_ice_servers
from studio.viewers import remember_viewer, viewer_id_of

PAGES_DIR = Path(__file__).parent
ASSETS_PREFIX = "/live/"


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(PAGES_DIR / name, headers={"Cache-Control": "no-cache"})


ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def asset(request: web.Request) -> web.FileResponse:
    """The pages' scripts and styles; nothing else in this folder is served."""
    name = request.match_info["name"]
    path = PAGES_DIR / name
    if "/" in name or "\x00" in name or path.suffix not in ASSET_TYPES or not path.is_file():
        raise Problem(404, "unknown_asset", f"no such asset: {name[:130]}", f"没有这个文件：{name[:130]}")
    return web.FileResponse(path, headers={"Content-Type": ASSET_TYPES[path.suffix], "Cache-Control": "no-cache"})


async def publish_page(request: web.Request) -> web.FileResponse:
    return _page("publish.html")


async def watch_page(request: web.Request) -> web.StreamResponse:
    # The cookie is set before the first buy click so /b/<code> can attribute it to this viewer.
    return remember_viewer(_page("watch.html"), *viewer_id_of(request))


async def media_config(request: web.Request) -> web.Response:
    """ICE servers for the pages' RTCPeerConnection (TURN for phones behind CGNAT).

    TURN comes with credentials made for this request that expire in hours
    (``--turn-secret``); a static TURN password is never handed to a browser.
    """
    config = studio_of(request).config
    # Loopback and machine scopes keep WebRTC on this computer: no STUN or TURN to hand out.
    servers = browser_ice_servers(config.ice_servers, config.turn_secret) if config.ice_scope == "any" else []
    return web.json_response({"ice_servers": servers}, headers={"Cache-Control": "no-store"})


def on_air_card(on_air: OnAir) -> dict[str, Any] | None:
    """The product card the watch page shows beside the video; None when nothing is on air."""
    product = on_air.product
    if product is None:
        return None
    promo = on_air.promo
    price = shelf_price(product, promo.offer() if promo else None, utc_now())
    return {
        "sku": product.sku,
        "name": product.name,
        "name_zh": product.name_zh,
        "description": product.description,
        "price": product.price,
        # A running flash sale's price (null otherwise); the sale's end is the promo's ends_at.
        "flash_price": price.unit_price if price.flash else None,
        "external": bool(product.buy_url),
        "image": image_url(product),
        "currency": product.currency,
        "unit": product.unit,
        "stock": product.stock,
        "origin": product.origin,
        "link_url": on_air.link_url,
        "buy_href": f"/b/{on_air.link_code}?via=click" if on_air.link_code else None,
        "promo": on_air.promo.to_dict() if on_air.promo else None,
    }


async def watch_state(request: web.Request) -> web.Response:
    """``GET /watch/state``: built from the studio's memory, no database read per poll."""
    studio = studio_of(request)
    show = studio.show
    figures = studio.figures
    body = {
        "live": show is not None,
        "show": {"id": show.id, "title": show.title, "started_at": show.started_at} if show else None,
        "publishing": figures.publishing,
        "viewers_now": figures.viewers_now,
        "on_air": on_air_card(studio.on_air),
        # The studio's clock: the page's countdown runs on it, not on the phone's.
        "now": now_iso(),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/publish", publish_page)
    app.router.add_get("/watch", watch_page)
    app.router.add_get("/watch/state", watch_state)
    app.router.add_get("/media/config", media_config)
    app.router.add_get(ASSETS_PREFIX + "{name}", asset)
    shelf.setup_routes(app)
