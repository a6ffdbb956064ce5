"""The one aiohttp application: pages, WHIP/WHEP, buy links, control API.

Each concern registers its own routes (``setup_routes(app)``); this module only
wires them to the shared :class:`~studio.state.Studio`.
"""

from __future__ import annotations

from aiohttp import web

from studio.config import StudioConfig
from studio.state import Studio

STUDIO = web.AppKey("studio", Studio)


def studio_of(request: web.Request) -> Studio:
    return request.app[STUDIO]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(config: StudioConfig) -> web.Application:
    from studio import control, media, shop

    app = web.Application(client_max_size=1024**2)
    studio = Studio(config)
    app[STUDIO] = studio
    app.router.add_get("/healthz", healthz)
    shop.setup_routes(app)
    control.setup_routes(app)
    media.setup_routes(app)

    async def _open(app: web.Application) -> None:
        await studio.open()

    async def _close(app: web.Application) -> None:
        await studio.close()

    app.on_startup.append(_open)
    app.on_cleanup.append(_close)
    return app
