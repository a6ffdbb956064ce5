"""Serving the studio to the open internet: per-IP connection cap, file limit, quiet logs.

``farmlive up`` listens through :func:`serve` rather than ``web.run_app`` so it
can count connections per client address before aiohttp sees a byte: a
client that opens hundreds of idle or slowly trickling connections gets the
extra ones closed at once, and everybody else keeps theirs. The logging
filters keep secrets (``key=``) out of the access log and collapse a flood of
identical errors into one line with a count, so an attack cannot fill the
disk through the log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import resource
import signal
import ssl
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

#: Connections one client address may hold open at once. A viewer needs two or
#: three (page, state polling, WHEP); a household or a carrier NAT shares an
#: address among dozens of viewers, so the cap is generous but finite.
MAX_CONNECTIONS_PER_IP = 100
#: The most open files the studio asks for (each connection and peer connection holds some).
WANTED_OPEN_FILES = 65536

_SECRET = re.compile(r"(?i)\b(key|token|credential)=[^&\s\"#]+")


def raise_open_file_limit(wanted: int = WANTED_OPEN_FILES) -> tuple[int, int]:
    """Lift the soft ``RLIMIT_NOFILE`` towards the hard limit; returns ``(before, after)``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, max(soft, target)


def redact(text: str) -> str:
    """``/publish?key=abc`` -> ``/publish?key=[redacted]`` (also ``token=``, ``credential=``)."""
    return _SECRET.sub(lambda m: f"{m.group(1)}=[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrite a record's message with :func:`redact` before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class RepeatFilter(logging.Filter):
    """The first of a run of identical messages passes; the rest are counted, not written.

    A message is "identical" by logger, level and format string (not its
    arguments, which vary per client). Once ``window`` seconds have passed the
    next one passes again, carrying how many were held back meanwhile.
    """

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._first: dict[tuple[str, int, str], float] = {}
        self._held: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        started = self._first.get(key)
        if started is not None and now - started < self.window:
            self._held[key] += 1
            return False
        self._first[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg, record.args = (
                f"{record.getMessage()} (and {held} more like it in the last {self.window:g} s)",
                (),
            )
        if len(self._first) > 10_000:  # bounded: forget the oldest runs
            for old in sorted(self._first, key=self._first.__getitem__)[:5_000]:
                self._first.pop(old, None)
                self._held.pop(old, None)
        return True


def quiet_logging(handler: logging.Handler) -> None:
    """Install the repeat filter on the handler that writes the studio's log."""
    handler.addFilter(RepeatFilter())


def redact_access_log() -> None:
    """Keep ``key=`` out of aiohttp's access log (request line and Referer); idempotent."""
    access = logging.getLogger("aiohttp.access")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())


class _Guarded(asyncio.Protocol):
    """One accepted connection: counted against its address, handed to aiohttp only if under the cap."""

    def __init__(self, guard: ConnectionGuard, make: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make = make
        self._inner: asyncio.Protocol | None = None
        self._address: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._guard.admit(address):
            transport.abort()  # type: ignore[attr-defined]
            return
        self._address = address
        self._inner = self._make()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            self._guard.release(self._address)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


class ConnectionGuard:
    """Counts open connections per client address; loopback is exempt unless ``limit_loopback``.

    Loopback is exempt by default because the control room, and a tunnel or
    reverse proxy on the same machine, connect from 127.0.0.1 on behalf of
    everyone: such a proxy must do its own per-client limiting.
    """

    def __init__(self, per_ip: int = MAX_CONNECTIONS_PER_IP, *, limit_loopback: bool = False) -> None:
        self.per_ip = per_ip
        self.limit_loopback = limit_loopback
        self.open: Counter[str] = Counter()
        self.refused = 0

    def admit(self, address: str) -> bool:
        if self.per_ip > 0 and self.open[address] >= self.per_ip and self._limited(address):
            self.refused += 1
            log.warning("refused a connection from %s: it already holds %d", address, self.per_ip)
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap an asyncio protocol factory (aiohttp's ``runner.server``)."""
        return lambda: _Guarded(self, make)

    def _limited(self, address: str) -> bool:
        if self.limit_loopback:
            return True
        try:
            return not ipaddress.ip_address(address).is_loopback
        except ValueError:
            return True


async def start_guarded_site(
    runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    """Listen on ``host:port`` with every connection passing through ``guard``."""
    server = runner.server
    assert server is not None, "runner.setup() first"
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        guard.factory(server), host, port, ssl=ssl_context, reuse_address=True, backlog=1024
    )


async def serve(
    app: web.Application,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    per_ip: int = MAX_CONNECTIONS_PER_IP,
) -> None:
    """Run until SIGINT/SIGTERM, then close connections and the app (its cleanup hooks run)."""
    redact_access_log()
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    listener = await start_guarded_site(runner, host, port, ConnectionGuard(per_ip), ssl_context)
    try:
        await stop.wait()
    finally:
        listener.close()
        await runner.cleanup()
