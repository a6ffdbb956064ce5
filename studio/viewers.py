"""Who is watching: the anonymous ``fl_viewer`` cookie every public route shares.

The watch page, WHEP, buy links and the order form all name the same viewer
with it, so a scan or an order can be tied to the session that watched.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web

VIEWER_COOKIE = "fl_viewer"
_VIEWER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def viewer_id_of(request: web.Request) -> tuple[str, bool]:
    """The anonymous ``fl_viewer`` cookie, or a new id; ``(id, is_new)``."""
    cookie = request.cookies.get(VIEWER_COOKIE, "")
    if _VIEWER_ID.match(cookie):
        return cookie, False
    return secrets.token_urlsafe(12), True


def viewer_cookie(viewer_id: str) -> str:
    """The ``Set-Cookie`` value: a year, whole site, never sent cross-site on a POST."""
    return f"{VIEWER_COOKIE}={viewer_id}; Path=/; Max-Age=31536000; SameSite=Lax"


def remember_viewer(response: web.StreamResponse, viewer_id: str, is_new: bool) -> web.StreamResponse:
    """Set the cookie once, on the first answer that names a new viewer."""
    if is_new:
        response.headers["Set-Cookie"] = viewer_cookie(viewer_id)
    return response
