"""Placeholder until this area lands: registers no routes yet."""

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    return None
