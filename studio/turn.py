"""TURN credentials for browsers: short-lived, from a shared secret, never a static password.

This is the "TURN REST API" scheme coturn implements with ``use-auth-secret``
and ``static-auth-secret=SECRET``: the username is ``<expiry unix time>:<name>``
and the password is ``base64(HMAC-SHA1(SECRET, username))``. The TURN server
checks both without asking the studio, and refuses them after the expiry, so a
credential copied out of a viewer's browser is worthless a few hours later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

#: How long a browser's TURN credential works: a long show, not a week.
BROWSER_TTL = 4 * 3600
#: The studio's own credential (its aiortc peer connections), renewed at every start.
SERVER_TTL = 30 * 24 * 3600


def is_turn(server: dict[str, str]) -> bool:
    return str(server.get("urls", "")).startswith(("turn:", "turns:"))


def rest_credential(secret: str, *, ttl: float, now: float | None = None, name: str = "farmlive") -> dict[str, str]:
    """``{"username", "credential"}`` valid for ``ttl`` seconds from ``now``."""
    username = f"{int((now if now is not None else time.time()) + ttl)}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode()}


def with_rest_credentials(
    servers: list[dict[str, str]], secret: str, *, ttl: float, now: float | None = None
) -> list[dict[str, str]]:
    """Every TURN server with fresh REST credentials; STUN servers as they are."""
    return [
        {"urls": s["urls"], **rest_credential(secret, ttl=ttl, now=now)} if is_turn(s) else dict(s) for s in servers
    ]


def browser_ice_servers(
    servers: list[dict[str, str]], secret: str, *, now: float | None = None
) -> list[dict[str, str]]:
    """What a page may know: STUN servers, and TURN servers only with short-lived credentials.

    Without a secret, TURN servers (whose static password would be handed to
    every viewer) are left out.
    """
    if secret:
        return with_rest_credentials(servers, secret, ttl=BROWSER_TTL, now=now)
    return [dict(s) for s in servers if not is_turn(s)]
