"""The phone's ``/publish`` page and the viewers' ``/watch`` page.

Plain HTML + JS served by the studio itself (no build step, no CDN: a farm
with a weak uplink should not fetch anything from elsewhere). ``/watch/state``
is the small public JSON the watch page polls: what is on air, how many are
watching, whether the show is live. It carries no secrets.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from studio.errors import Problem
from studio.pages import shelf
from studio.showstate import show_state
from studio.state import studio_of
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


async def watch_state(request: web.Request) -> web.Response:
    """``GET /watch/state``: the show state (:func:`studio.showstate.show_state`), the poll fallback of the push."""
    body = show_state(studio_of(request))
    return web.json_response(body, headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/publish", publish_page)
    app.router.add_get("/watch", watch_page)
    app.router.add_get("/watch/state", watch_state)
    app.router.add_get("/media/config", media_config)
    app.router.add_get(ASSETS_PREFIX + "{name}", asset)
    shelf.setup_routes(app)
