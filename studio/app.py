"""The one aiohttp application: pages, WHIP/WHEP, buy links, control API.

Each concern registers its own routes (``setup_routes(app)``) and finds the
shared :class:`~studio.state.Studio` through the app (``studio_of(request)``):
route modules never import this one, so the wiring below is the only place
that knows them all.
"""

from __future__ import annotations

from aiohttp import web

from studio import control, media, pages, reach, shop
from studio.config import StudioConfig
from studio.errors import problem_middleware
from studio.state import STUDIO, Studio

#: Largest request body any route reads (a catalog edit of a few thousand rows).
MAX_BODY = 1024**2


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(config: StudioConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[problem_middleware])
    studio = Studio(config)
    app[STUDIO] = studio
    app.router.add_get("/healthz", healthz)
    shop.setup_routes(app)
    control.setup_routes(app)
    media.setup_routes(app)
    reach.setup_routes(app)  # after media: the pushes tap its pipeline
    pages.setup_routes(app)

    async def _open(app: web.Application) -> None:
        await studio.open()

    async def _close(app: web.Application) -> None:
        await studio.close()

    app.on_startup.append(_open)
    app.on_cleanup.append(_close)
    return app
