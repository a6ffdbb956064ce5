"""The farmer's phone: paired by one QR code, then allowed to publish and nothing else.

Nobody types the 24-character studio key on a phone. The control room asks for
a *pairing code* (``POST /api/pairing``, studio key) and shows it as a QR of
``<public url>/publish#pair=<code>``: the fragment never reaches a server log
or a ``Referer``. The phone's page exchanges it once
(``POST /api/pairing/exchange`` ``{"code": ...}``) for a *publish token*,
which it keeps in its own storage, so a reload stays paired.

- A pairing code is 128 random bits, valid for :data:`PAIRING_TTL`, single use.
- A publish token (``flpub_`` + 256 random bits) is valid for
  :data:`TOKEN_TTL` or until ``DELETE /api/pairing/tokens`` unpairs every
  phone. It may publish through WHIP (:func:`publish_token_valid`) and read
  ``GET /api/phone/status``; :func:`studio.auth.require_key` refuses it
  everywhere else with ``403``.
- Only SHA-256 digests of codes and tokens are stored (SQLite, so a restart
  breaks neither the code on screen nor the paired phone); a copy of the
  database pairs nobody.
- The exchange is rate-limited per client address (5 guesses, then one per
  12 s): with 2^128 possible codes, a code that lives 10 minutes and a few
  guesses a minute per address, guessing is hopeless even from a botnet. (No
  overall limit: wrong guesses from strangers must not lock out the farmer.)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlite_utils
from aiohttp import web

from analytics import comments as room_store
from analytics import live_stats
from catalog.schema import transaction
from catalog.timestamps import parse_iso, to_iso, utc_now
from studio.auth import CHALLENGE, PUBLISH_TOKEN_PREFIX, has_key, publish_token, require_key
from studio.bodies import json_object
from studio.errors import Problem, dumps
from studio.limits import Rate, RateLimiter, too_many
from studio.state import Studio, studio_of

PAIRING_TTL = timedelta(minutes=10)
TOKEN_TTL = timedelta(hours=24)
#: Guesses one client address may make: 5 at once, then one every 12 s.
EXCHANGE_PER_CLIENT = Rate(burst=5, every=12.0)
#: Newest comments the phone shows the farmer.
PHONE_COMMENTS = 5
MAX_CODE_LENGTH = 64

EXCHANGE_LIMIT = web.AppKey("pairing_exchange_limit", RateLimiter)


def pair_url(public_url: str, code: str) -> str:
    """The link a pairing QR carries: the code rides in the fragment, so no server or log ever sees it."""
    return f"{public_url}/publish#pair={code}"


def digest(secret: str) -> str:
    """What is stored of a code or token: its SHA-256 (a lookup by it is as good as a constant-time compare)."""
    return hashlib.sha256(secret.encode()).hexdigest()


# -- storage (runs on the studio's database thread) ------------------------------------------------------
def create_pairing_code(db: sqlite_utils.Database) -> tuple[str, str]:
    """A new pairing code and when it expires (ISO); old expired codes are swept out."""
    now = utc_now()
    code = secrets.token_urlsafe(16)
    expires = to_iso(now + PAIRING_TTL)
    with transaction(db):
        db.execute("DELETE FROM pairing_codes WHERE expires_at < ?", [to_iso(now - PAIRING_TTL)])
        db.execute(
            "INSERT INTO pairing_codes (hash, created_at, expires_at) VALUES (?, ?, ?)",
            [digest(code), to_iso(now), expires],
        )
    return code, expires


class PairingRefused(Exception):
    """The code is unknown, used or expired (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def exchange_pairing_code(db: sqlite_utils.Database, code: str, user_agent: str = "") -> tuple[str, str]:
    """Spend ``code`` (once) for a new publish token; returns ``(token, expires_at)`` or raises PairingRefused."""
    now = to_iso(utc_now())
    with transaction(db):
        row = db.execute("SELECT expires_at, used_at FROM pairing_codes WHERE hash = ?", [digest(code)]).fetchone()
        if row is None:
            raise PairingRefused("unknown")
        expires_at, used_at = row
        if used_at is not None:
            raise PairingRefused("used")
        if expires_at <= now:
            raise PairingRefused("expired")
        db.execute("UPDATE pairing_codes SET used_at = ? WHERE hash = ?", [now, digest(code)])
        token = PUBLISH_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_expires = to_iso(parse_iso(now) + TOKEN_TTL)
        db.execute(
            "INSERT INTO publish_tokens (hash, created_at, expires_at, user_agent) VALUES (?, ?, ?, ?)",
            [digest(token), now, token_expires, user_agent[:200]],
        )
    return token, token_expires


def token_is_valid(db: sqlite_utils.Database, token: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM publish_tokens WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?",
        [digest(token), to_iso(utc_now())],
    ).fetchone()
    return row is not None


def revoke_publish_tokens(db: sqlite_utils.Database) -> int:
    """Unpair every phone; returns how many tokens were still valid."""
    now = to_iso(utc_now())
    with transaction(db):
        cursor = db.execute(
            "UPDATE publish_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND expires_at > ?", [now, now]
        )
    return cursor.rowcount


def paired_phones(db: sqlite_utils.Database) -> int:
    now = to_iso(utc_now())
    row = db.execute(
        "SELECT COUNT(*) FROM publish_tokens WHERE revoked_at IS NULL AND expires_at > ?", [now]
    ).fetchone()
    return int(row[0])


# -- checks other modules use ---------------------------------------------------------------------------
async def publish_token_valid(studio: Studio, request: web.Request) -> bool:
    """Does the request carry a live publish token (not the studio key)?"""
    token = publish_token(request)
    if token is None or len(token) > 200:
        return False
    return await studio.db(token_is_valid, token)


async def require_publisher(studio: Studio, request: web.Request, headers: Mapping[str, str] | None = None) -> None:
    """The studio key or a live publish token; an expired or revoked token is told to pair again."""
    if has_key(request, studio.config.key) or await publish_token_valid(studio, request):
        return
    if publish_token(request) is not None:
        raise Problem(
            401,
            "publish_token_invalid",
            "this phone is no longer paired (expired or unpaired): scan the pairing QR in the control room again",
            "这部手机的配对已过期或已解除：请在控制台重新扫描配对二维码",
            headers={**CHALLENGE, **(headers or {})},
        )
    require_key(request, studio.config.key, headers)


# -- routes --------------------------------------------------------------------------------------------
async def new_pairing(request: web.Request) -> web.Response:
    """``POST /api/pairing`` (studio key): a code for the control room's QR."""
    studio = studio_of(request)
    require_key(request, studio.config.key)
    code, expires = await studio.db(create_pairing_code)
    return web.json_response(
        {
            "code": code,
            "pair_url": pair_url(studio.config.public_url, code),
            "expires_at": expires,
            "expires_in": int(PAIRING_TTL.total_seconds()),
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


REFUSALS = {
    "unknown": (
        404,
        "pairing_code_unknown",
        "unknown pairing code: scan the QR in the control room again",
        "配对码无效：请重新扫描控制台上的二维码",
    ),
    "used": (
        410,
        "pairing_code_used",
        "this pairing code was already used: show a new QR in the control room",
        "该配对码已被使用：请在控制台生成新的二维码",
    ),
    "expired": (
        410,
        "pairing_code_expired",
        "this pairing code expired (10 minutes): show a new QR in the control room",
        "配对码已过期（10 分钟有效）：请在控制台生成新的二维码",
    ),
}


async def exchange(request: web.Request) -> web.Response:
    """``POST /api/pairing/exchange`` ``{"code": ...}`` (no key): the phone's publish token, once."""
    body = await json_object(request)
    code = body.get("code")
    if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE_LENGTH:
        raise Problem(400, "bad_request", "code must be the pairing code from the QR", "code 必须是二维码中的配对码")
    # Every guess that reaches the codes spends from the budget; only a right one is given back.
    limiter, client = request.app[EXCHANGE_LIMIT], request.remote or "unknown"
    wait = limiter.take(client)
    if wait:
        raise too_many(wait, "pairing attempts", "配对尝试")
    studio = studio_of(request)
    try:
        token, expires = await studio.db(exchange_pairing_code, code, request.headers.get("User-Agent", ""))
    except PairingRefused as refused:
        raise Problem(*REFUSALS[refused.reason]) from None
    limiter.give_back(client)
    return web.json_response({"token": token, "expires_at": expires}, headers={"Cache-Control": "no-store"})


async def unpair(request: web.Request) -> web.Response:
    """``DELETE /api/pairing/tokens`` (studio key): every phone must scan a new QR."""
    studio = studio_of(request)
    require_key(request, studio.config.key)
    revoked = await studio.db(revoke_publish_tokens)
    return web.json_response({"revoked": revoked})


async def phone_status(request: web.Request) -> web.Response:
    """``GET /api/phone/status`` (studio key or publish token): what the farmer sees while live.

    The show, the product on air, the number watching, the show's orders and
    revenue, the newest comments and the uplink alert: read-only, and the one
    thing besides WHIP a publish token may see.
    """
    studio = studio_of(request)
    await require_publisher(studio, request)
    show, on_air, figures = studio.show, studio.on_air, studio.figures
    body: dict[str, Any] = {
        "show": {"id": show.id, "title": show.title, "started_at": show.started_at} if show else None,
        "on_air": None,
        "viewers_now": figures.viewers_now,
        "publishing": figures.publishing,
        "alert": figures.alert.to_json(),
        "orders": 0,
        "revenue": 0.0,
        "comments": [],
    }
    product = on_air.product
    if product is not None:
        body["on_air"] = {
            "sku": product.sku, "name": product.name, "name_zh": product.name_zh, "price": product.price,
            "currency": product.currency, "unit": product.unit, "stock": product.stock,
        }
    if show is not None:
        stats = await studio.db(live_stats, show.id)
        newest = await studio.db(room_store.recent_comments, show.id, limit=PHONE_COMMENTS)
        body.update(orders=stats["orders"], revenue=stats["revenue"], comments=[c.public() for c in reversed(newest)])
    return web.json_response(body, dumps=dumps, headers={"Cache-Control": "no-store"})


def setup_routes(app: web.Application) -> None:
    app[EXCHANGE_LIMIT] = RateLimiter(EXCHANGE_PER_CLIENT)
    app.router.add_post("/api/pairing", new_pairing)
    app.router.add_post("/api/pairing/exchange", exchange)
    app.router.add_delete("/api/pairing/tokens", unpair)
    app.router.add_get("/api/phone/status", phone_status)
