"""The one aiohttp application: pages, WHIP/WHEP, buy links, control API.

Each concern registers its own routes (``setup_routes(app)``) and finds the
shared :class:`~studio.state.Studio` through the app (``studio_of(request)``):
route modules never import this one, so the wiring below is the only place
that knows them all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from studio import control, media, pages, phone, reach, replay, room, shop
from studio.config import StudioConfig
from studio.errors import Problem, problem_middleware
from studio.limits import body_deadline_middleware, cors_middleware, security_headers_middleware
from studio.serve import redact_access_log
from studio.state import STUDIO, Studio, studio_of

#: Largest request body any route reads (a catalog edit of a few thousand rows).
MAX_BODY = 1024**2
#: Routes the control room's page calls straight from the browser (its direct taps), with their methods.
CORS_ROUTES = {"/api/overlay": ("PUT",)}


async def healthz(request: web.Request) -> web.Response:
    """200 while the database is the file at the data path and passes a quick integrity check; else 503."""
    health = await studio_of(request).health.check()
    if not health.ok:
        raise Problem(503, "unhealthy", health.detail, health.detail_zh, headers={"Retry-After": "5"})
    return web.json_response({"ok": True})


def control_room_origins(config: StudioConfig) -> list[str]:
    """Where the control room runs: the only other pages allowed to frame ``/watch`` (its preview)."""
    hosts = {"127.0.0.1", "localhost", urlsplit(config.public_url).hostname or "127.0.0.1"}
    found = {f"{scheme}://{host}:{config.ui_port}" for host in hosts for scheme in ("http", "https")}
    return sorted(found | set(config.ui_origins))


def control_room_tap_origins(config: StudioConfig) -> list[str]:
    """The control room's own origins, as served (HTTPS with ``--lan``, else HTTP), plus ``--ui-origin``:
    the only pages whose scripts may call ``PUT /api/overlay`` (the direct taps); nothing wider."""
    scheme = "https" if config.lan else "http"
    hosts = {"127.0.0.1", "localhost", urlsplit(config.public_url).hostname or "127.0.0.1"}
    return sorted({f"{scheme}://{host}:{config.ui_port}" for host in hosts} | set(config.ui_origins))


def create_app(config: StudioConfig) -> web.Application:
    redact_access_log()
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[
            cors_middleware(control_room_tap_origins(config), CORS_ROUTES),
            security_headers_middleware(control_room_origins(config)),
            problem_middleware,
            body_deadline_middleware,
        ],
    )
    studio = Studio(config)
    app[STUDIO] = studio
    app.router.add_get("/healthz", healthz)
    shop.setup_routes(app)
    control.setup_routes(app)
    phone.setup_routes(app)
    media.setup_routes(app)
    reach.setup_routes(app)  # after media: the pushes tap its pipeline
    pages.setup_routes(app)
    room.setup_routes(app)
    replay.setup_routes(app)

    async def _open(app: web.Application) -> None:
        await studio.open()

    async def _close(app: web.Application) -> None:
        await studio.close()

    app.on_startup.append(_open)
    app.on_cleanup.append(_close)
    return app
