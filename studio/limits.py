"""Request-level limits: how fast a body must arrive, how often a client may act, what pages may be framed.

* :func:`body_deadline_middleware` reads every request body up front within
  :data:`BODY_DEADLINE` seconds. A client trickling its body a byte at a time
  (slowloris) gets ``408`` and its connection closed instead of holding a file
  descriptor for ever; handlers then read the cached body.
* :class:`RateLimiter` is a token bucket per key (client address, viewer
  cookie, phone number), bounded in memory.
* :func:`cors_middleware` lets the control room's page (another port, so
  another origin) call a few control routes straight from the browser, and
  no other page.
* :func:`security_headers_middleware` stops other sites framing the pages
  (clickjacking the buy button) and sniffing content types.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from studio.errors import Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Seconds a whole request body may take to arrive. Bodies are small (an order
#: form, an SDP offer, a catalog edit of at most 1 MiB from the control room);
#: even a weak rural uplink sends 1 MiB in this time.
BODY_DEADLINE = 10.0
NOBODY = "'none'"


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the body within :data:`BODY_DEADLINE` or answer ``408`` and close the connection."""
    if request.body_exists:
        try:
            async with asyncio.timeout(BODY_DEADLINE):
                await request.read()  # cached: request.json()/post()/text() reuse it
        except TimeoutError:
            response = Problem(
                408,
                "body_too_slow",
                f"the request body did not arrive within {BODY_DEADLINE:g} s",
                f"请求内容未能在 {BODY_DEADLINE:g} 秒内传完",
                headers={"Connection": "close"},
            ).response()
            response.force_close()
            # Answer now and hang up: aiohttp would otherwise linger to read the rest of the body.
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
            return response
        except ConnectionResetError:  # the client hung up mid-body: nobody to answer, nothing to log as a failure
            response = Problem(400, "body_incomplete", "the request body was cut off", "请求内容不完整").response()
            response.force_close()
            return response
    return await handler(request)


@dataclass(frozen=True)
class Rate:
    """``burst`` actions at once, then one more every ``every`` seconds."""

    burst: int
    every: float


class RateLimiter:
    """Token buckets per key; the least recently used keys are forgotten past ``max_keys``."""

    def __init__(self, rate: Rate, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until the next one."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) / self.rate.every)
        if tokens >= 1.0:
            self._remember(key, tokens - 1.0, now)
            return 0.0
        self._remember(key, tokens, now)
        return (1.0 - tokens) * self.rate.every

    def give_back(self, key: str) -> None:
        """Return a token spent on an attempt that took nothing (a refused order)."""
        if key in self._buckets:
            tokens, at = self._buckets[key]
            self._buckets[key] = (min(float(self.rate.burst), tokens + 1.0), at)

    def _remember(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)


def too_many(retry_after: float, what: str, what_zh: str) -> Problem:
    """``429`` with ``Retry-After`` in whole seconds."""
    seconds = max(1, round(retry_after + 0.5))
    return Problem(
        429,
        "too_many_requests",
        f"too many {what} from you: try again in {seconds} s",
        f"{what_zh}过于频繁，请 {seconds} 秒后再试",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


#: How long a browser may keep a preflight's answer (seconds).
PREFLIGHT_MAX_AGE = 600


def cors_middleware(
    origins: Iterable[str], routes: Mapping[str, Sequence[str]]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """CORS for exactly ``origins`` on exactly ``routes`` (path -> methods), preflight included.

    The control room runs on its own port, so its direct taps (``fetch`` with the
    studio key from the page) are cross-origin. Only its origins get
    ``Access-Control-Allow-Origin``, echoed one at a time (never ``*``), and on no
    other route; the key is still checked on every call. Outermost, so refusals
    (a ``400`` problem) carry the header too and the page can show them.
    """
    allowed = frozenset(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        methods = routes.get(request.path)
        if methods is None:
            return await handler(request)
        origin = request.headers.get("Origin")
        granted = origin is not None and origin in allowed
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            wanted = request.headers["Access-Control-Request-Method"]
            if not granted or wanted not in methods:
                return Problem(  # outside the problem middleware: answer it here
                    403,
                    "cross_origin_refused",
                    f"{origin or 'this page'} may not call {request.path} from a browser",
                    f"{origin or '该网页'} 不能从浏览器调用 {request.path}",
                    headers={"Vary": "Origin"},
                ).response()
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin or "",
                    "Access-Control-Allow-Methods": ", ".join(methods),
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if not response.prepared:
            response.headers.add("Vary", "Origin")
            if granted:
                response.headers["Access-Control-Allow-Origin"] = origin or ""
        return response

    return middleware


def security_headers_middleware(frame_ancestors: Iterable[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """HTML pages may only be framed by ``frame_ancestors`` (the control room's preview of /watch)."""
    ancestors = " ".join(["'self'", *frame_ancestors])

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:  # redirects pass through the problem middleware as exceptions
            response = error
            _harden(response, request, ancestors)
            raise
        _harden(response, request, ancestors)
        return response

    return middleware


def _harden(response: web.StreamResponse, request: web.Request, ancestors: str) -> None:
    if response.prepared:
        return
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.content_type == "text/html" or request.path in ("/publish", "/watch"):
        framable = request.path == "/watch"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"frame-ancestors {ancestors if framable else NOBODY}; base-uri 'none'; object-src 'none'; "
            "form-action 'self'",
        )
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN" if framable else "DENY")
        # Pages that may carry the studio key in their address leak nothing onwards.
        policy = "no-referrer" if request.path in ("/publish", "/watch") else "same-origin"
        response.headers.setdefault("Referrer-Policy", policy)
