"""Live media: WHIP in, the composed show out over WHEP.

``setup_routes(app)`` registers the routes and ties the :class:`ShowPipeline`
to the app's life: it starts with the server (so the hold slate is on air
before any phone connects) and stops on shutdown, after every peer
connection is closed and every viewer's leave is written; ``on_shutdown`` runs
before the Studio closes its database in ``on_cleanup``.
"""

from __future__ import annotations

from aiohttp import web

from studio.media.dtls import accept_rsa_peers
from studio.media.ice import apply_ice_scope
from studio.media.pipeline import ShowPipeline
from studio.media.whep import WhepEndpoint
from studio.media.whip import WhipEndpoint
from studio.state import STUDIO

PIPELINE = web.AppKey("pipeline", ShowPipeline)
WHIP = web.AppKey("whip", WhipEndpoint)
WHEP = web.AppKey("whep", WhepEndpoint)


def setup_routes(app: web.Application) -> None:
    studio = app[STUDIO]
    apply_ice_scope(studio.config.ice_scope)
    accept_rsa_peers()
    pipeline = ShowPipeline(studio)
    app[PIPELINE] = pipeline
    whip, whep = WhipEndpoint(studio, pipeline), WhepEndpoint(studio, pipeline)
    app[WHIP], app[WHEP] = whip, whep
    whip.add_routes(app)
    whep.add_routes(app)

    async def _start(app: web.Application) -> None:
        await pipeline.start()

    async def _stop(app: web.Application) -> None:
        await whip.shutdown()
        await whep.shutdown()
        await pipeline.stop()

    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)
