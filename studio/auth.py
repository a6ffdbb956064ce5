"""The studio key: one check for every route that needs it (control API, WHIP, monitors)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from aiohttp import web

from studio.errors import Problem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="farmlive"'}


def bearer_token(request: web.Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None when the header is absent or another scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def has_key(request: web.Request, key: str) -> bool:
    """Constant-time: a wrong key takes as long to refuse as a nearly right one."""
    token = bearer_token(request)
    return token is not None and hmac.compare_digest(token.encode(), key.encode())


def require_key(request: web.Request, key: str, headers: Mapping[str, str] | None = None) -> None:
    """``Authorization: Bearer <studio key>`` or a 401 problem with a challenge."""
    if not has_key(request, key):
        raise Problem(
            401,
            "studio_key_required",
            "missing or wrong studio key: send Authorization: Bearer <studio key>",
            "缺少或错误的工作室密钥：请发送 Authorization: Bearer <工作室密钥>",
            headers={**CHALLENGE, **(headers or {})},
        )
