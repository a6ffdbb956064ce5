"""The studio key: one check for every route that needs it (control API, WHIP, monitors).

The farmer's phone holds a *publish token* instead (``studio.phone``): it may
publish through WHIP and read the phone's status, nothing else. Every other
route refuses it with ``403`` rather than a bare ``401``, so a script or a
curious farmer learns why instead of retrying with the same token.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from aiohttp import web

from studio.errors import Problem

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="farmlive"'}
#: Every publish token starts with this, so routes can refuse one without a database read.
PUBLISH_TOKEN_PREFIX = "flpub_"


def bearer_token(request: web.Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None when the header is absent or another scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def publish_token(request: web.Request) -> str | None:
    """The bearer token when it is a phone's publish token (``flpub_…``), else None."""
    token = bearer_token(request)
    return token if token is not None and token.startswith(PUBLISH_TOKEN_PREFIX) else None


def has_key(request: web.Request, key: str) -> bool:
    """Constant-time: a wrong key takes as long to refuse as a nearly right one."""
    token = bearer_token(request)
    return token is not None and hmac.compare_digest(token.encode(), key.encode())


def require_key(request: web.Request, key: str, headers: Mapping[str, str] | None = None) -> None:
    """``Authorization: Bearer <studio key>``, else 403 for a phone's publish token, else 401 with a challenge."""
    if has_key(request, key):
        return
    if publish_token(request) is not None:
        raise Problem(
            403,
            "publish_token_not_allowed",
            "a phone's publish token may only publish the camera (WHIP); this needs the studio key",
            "手机推流凭证只能用于推流（WHIP）；此操作需要直播间密钥",
            headers=dict(headers or {}),
        )
    raise Problem(
        401,
        "studio_key_required",
        "missing or wrong studio key: send Authorization: Bearer <studio key>",
        "缺少或错误的直播间密钥：请发送 Authorization: Bearer <直播间密钥>",
        headers={**CHALLENGE, **(headers or {})},
    )
