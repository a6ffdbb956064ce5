"""What stands between the public order form and the stock: tokens, origin checks, rate limits.

* **Order tokens.** ``GET /order/{code}`` hands out a token bound (HMAC) to the
  viewer's ``fl_viewer`` cookie, the buy link and the time. ``POST`` needs it;
  it is the order's ``request_id``, so one token makes at most one order, and a
  resubmission by the same viewer gets that order back (without the buyer's
  details), while the token in another browser is refused. A script cannot
  order without first fetching the form with a cookie, and another site cannot
  read a token out of our page.
* **Origin/Referer.** A browser ``POST`` from another site is refused (CSRF).
* **Rate limits** per client address, per viewer cookie and per phone number.

Limits and the token lifetime are in :class:`OrderLimits`; the studio config
carries one (benchmarks raise them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from studio.errors import Problem
from studio.limits import Rate, RateLimiter, too_many


@dataclass(frozen=True)
class OrderLimits:
    """How much one client may order. Why these numbers:

    * per address 20 at once, then one every 3 s: a household, an office or a
      carrier NAT shares an address, so it must allow a crowd at a flash sale;
    * per viewer cookie 3 at once, then one every 20 s: one buyer rarely
      orders more than a few times in a show;
    * per phone 3 at once, then one every 5 min: fake orders need fresh
      phone numbers, which is what costs an attacker;
    * tokens live 6 h: a form left open through a long show still works.
    """

    per_ip: Rate = field(default_factory=lambda: Rate(20, 3.0))
    per_viewer: Rate = field(default_factory=lambda: Rate(3, 20.0))
    per_phone: Rate = field(default_factory=lambda: Rate(3, 300.0))
    token_ttl: float = 6 * 3600.0
    #: Orders in the last minute at which the control room warns the host of a burst.
    burst_per_minute: int = 20


def token_secret(studio_key: str) -> bytes:
    """A secret of its own for order tokens, derived from the studio key (tokens survive a restart)."""
    return hashlib.sha256(b"farmlive order token\0" + studio_key.encode()).digest()


@dataclass
class OrderTokens:
    secret: bytes
    ttl: float
    clock: Callable[[], float] = time.time

    def issue(self, viewer_id: str, code: str) -> str:
        """``<time>_<nonce>_<mac>``: also a valid order ``request_id`` (58 of [0-9a-f_])."""
        stamp = f"{int(self.clock()):x}"
        nonce = secrets.token_hex(8)
        return f"{stamp}_{nonce}_{self._mac(viewer_id, code, stamp, nonce)}"

    def valid(self, token: str, viewer_id: str, code: str) -> bool:
        """Issued by us, for this viewer and this buy link, and not expired."""
        parts = token.split("_")
        if len(parts) != 3 or len(token) > 64:
            return False
        stamp, nonce, mac = parts
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        if not 0 <= self.clock() - issued <= self.ttl:
            return False
        return hmac.compare_digest(mac, self._mac(viewer_id, code, stamp, nonce))

    def _mac(self, viewer_id: str, code: str, stamp: str, nonce: str) -> str:
        message = f"{viewer_id}|{code}|{stamp}|{nonce}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]


def same_origin(request: web.Request, public_url: str) -> bool:
    """A browser POST names where its page came from; it must be this studio.

    ``Origin`` first, else ``Referer``; neither (a script, not a browser) passes:
    CSRF needs a victim's browser, and browsers send ``Origin`` on every POST.
    """
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return True
    try:
        parts = urlsplit(source)
    except ValueError:
        return False
    if not parts.netloc:
        return False  # "null": a sandboxed frame, a data: URL, a page that hides where it is
    host = parts.netloc.lower()
    return host == request.host.lower() or host == urlsplit(public_url).netloc.lower()


def cross_site() -> Problem:
    return Problem(
        403,
        "cross_site_order",
        "orders are only taken from this studio's own order page",
        "只接受本直播间订单页面提交的订单",
    )


@dataclass
class OrderGuard:
    """The per-studio token issuer and rate limiters of the order form."""

    key: str
    limits: OrderLimits = field(default_factory=OrderLimits)

    def __post_init__(self) -> None:
        self.tokens = OrderTokens(token_secret(self.key), self.limits.token_ttl)
        self._by_ip = RateLimiter(self.limits.per_ip)
        self._by_viewer = RateLimiter(self.limits.per_viewer)
        self._by_phone = RateLimiter(self.limits.per_phone)

    def admit(self, address: str) -> None:
        """Every order attempt, before anything is read: ``429`` for an address over its limit."""
        wait = self._by_ip.take(address)
        if wait:
            raise too_many(wait, "orders from your network", "您所在网络的下单")

    def reserve(self, viewer_id: str, phone: str) -> Callable[[], None]:
        """Count an order about to be placed against the viewer and the phone (``429`` when over).

        Returns the undo for an order that was then refused (a typo, sold
        out): only orders that take stock use up a buyer's allowance.
        """
        wait = self._by_viewer.take(viewer_id)
        if wait:
            raise too_many(wait, "orders", "下单")
        wait = self._by_phone.take(phone) if phone else 0.0
        if wait:
            self._by_viewer.give_back(viewer_id)
            raise too_many(wait, "orders for this phone number", "该手机号下单")

        def undo() -> None:
            self._by_viewer.give_back(viewer_id)
            if phone:
                self._by_phone.give_back(phone)

        return undo


ORDER_GUARD = web.AppKey("order_guard", OrderGuard)
