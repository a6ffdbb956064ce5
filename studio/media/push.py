"""Push the composed show to one RTMP/RTMPS destination: remux only, never re-encode.

Each destination gets an :class:`RtmpPusher`, a packet tap of the pipeline
(:mod:`studio.media.taps`): the show's H.264 packets and the shared AAC are
remuxed into FLV through PyAV. PyAV holds the GIL while FFmpeg connects and
writes to the network, so the FLV writer runs in a small process of its own
(:mod:`studio.media.flv_push`); this side is a thread with the destination's
bounded queue that pipes packets to it. A slow, refused or dead destination
costs only its own frames: never the show, the viewers or the other pushes.

States: ``idle`` → ``connecting`` → ``live``; a lost or refused connection
goes ``retrying`` (with the reason) and tries again after 1, 2, 4 … 30 s.
A server that accepts the TCP connection but refuses the stream (a wrong or
expired stream key, an unknown app) goes ``failed``: trying again would
only be refused again, so it waits for the host to fix the destination.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import av

from catalog.destinations import redact
from studio.media import flv_push
from studio.media.taps import Rebase, Tapped, TapQueue

log = logging.getLogger(__name__)

PushState = Literal["idle", "connecting", "live", "retrying", "failed"]
#: Seconds to wait before each further attempt; the last one repeats.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: How long to wait for the TCP connection and for the server to accept the stream.
NETWORK_TIMEOUT = 5.0
DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}
#: The unreachable-server errors: worth retrying (anything else at connect is a refusal).
UNREACHABLE = {errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH}
WRITER = Path(flv_push.__file__)


@dataclass(frozen=True)
class PushStatus:
    """One destination's push as the Go live panel shows it; ``reason`` is already redacted."""

    name: str
    state: PushState = "idle"
    reason: str = ""
    kbps: float = 0.0
    uptime_s: float = 0.0
    reconnects: int = 0
    dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class StreamRefused(Exception):
    """The server took the connection, then refused the stream: retrying will not help."""


class PushLost(Exception):
    """The writer process reported (or died of) a failed connection or write."""


def push_target(url: str, key: str) -> str:
    """The URL FFmpeg publishes to: the server URL with the stream key as the last path part."""
    return f"{url.rstrip('/')}/{key}"


def _probe_server(url: str, timeout: float) -> None:
    """Connect to the server's port and hang up: tells "server down" apart from "stream refused".

    FFmpeg reports a refused publish and an unreachable server alike as an
    I/O error; only a server that answers can refuse.
    """
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 1935)
    with socket.create_connection((parts.hostname or "", port), timeout=timeout):
        pass


class FlvWriter:
    """The parent's end of one :mod:`~studio.media.flv_push` process (one connection)."""

    def __init__(self, target: str, first: Tapped, aac_config: bytes | None, timeout: float) -> None:
        self._times = Rebase(first)
        self.size = first.size
        self.bytes_written = 0
        self._process = subprocess.Popen(
            # Niced: starting Python and PyAV takes a CPU burst the show's own threads need more.
            ["nice", "-n", "10", sys.executable, str(WRITER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # FFmpeg's own messages may quote the URL with the key
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        self.pid = self._process.pid
        config = {"target": target, "aac": aac_config.hex() if aac_config else None, "timeout": timeout}
        try:
            self._stdin.write(json.dumps(config).encode() + b"\n")
            self._send(first)
        except OSError:
            pass  # the process died: its answer below says why
        answer = self._answer(timeout + 10.0)
        if not answer.get("live"):
            self.close()
            if answer.get("phase") == "connect" and answer.get("errno") not in UNREACHABLE:
                raise StreamRefused(answer.get("error", "refused"))
            raise PushLost(answer.get("error", "the writer stopped"))

    def write(self, item: Tapped) -> None:
        """Pipe one packet to the writer (blocks only this thread if it falls behind)."""
        try:
            self._send(item)
        except OSError:
            raise PushLost(self._answer(1.0).get("error", "the writer stopped")) from None

    def _send(self, item: Tapped) -> None:
        packet = item.packet
        ms = self._times.ms(item)
        if ms is None:
            return  # before our start, or not after the last one: FLV wants rising times
        payload = bytes(packet)
        kind = b"V" if item.kind == "video" else b"A"
        self._stdin.write(flv_push.FRAME.pack(kind, packet.is_keyframe, ms, len(payload)) + payload)
        self._stdin.flush()
        self.bytes_written += len(payload)

    def _answer(self, timeout: float) -> dict[str, Any]:
        """The writer's next line: ``{"live": true}`` or its error."""
        ready, _, _ = select.select([self._stdout], [], [], timeout)
        line = self._stdout.readline() if ready else b""
        try:
            answer = json.loads(line) if line else {}
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}

    def check(self) -> None:
        """Raise :class:`PushLost` if the writer reported a failure since the last write."""
        ready, _, _ = select.select([self._stdout], [], [], 0)
        if ready or self._process.poll() is not None:
            raise PushLost(self._answer(0.5).get("error", "the writer stopped"))

    def close(self, timeout: float = 5.0) -> None:
        """EOF ends the stream cleanly; a writer stuck on the network is killed."""
        with contextlib.suppress(OSError):  # the writer already ended
            self._stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stdout.close()


class RtmpPusher:
    """One destination's push; see the module docstring. A :class:`~studio.media.taps.PacketSink`."""

    wants_audio = True

    def __init__(
        self,
        name: str,
        url: str,
        key: str,
        *,
        aac_config: Callable[[], bytes | None],
        on_change: Callable[[PushStatus], None],
        backoff: tuple[float, ...] = BACKOFF,
        timeout: float = NETWORK_TIMEOUT,
    ) -> None:
        self.name = name
        self.url = url
        self._key = key
        self._aac_config = aac_config
        self._on_change = on_change
        self._backoff = backoff
        self._timeout = timeout
        self.queue = TapQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"farmlive-push-{name}", daemon=True)
        self._status = PushStatus(name)
        #: The writer process of the current connection (the benchmark reads its CPU).
        self.writer: FlvWriter | None = None
        self._live_since: float | None = None
        self._kbps_mark = (time.monotonic(), 0)

    # -- the sink interface (called on the event loop: never blocks) ----------
    def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        self.queue.put_video(packets, size)

    def offer_audio(self, packets: list[av.Packet]) -> None:
        self.queue.put_audio(packets)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = NETWORK_TIMEOUT + 1) -> None:
        """Stop pushing (blocks up to ``timeout`` while a network write finishes: call it off the loop)."""
        self._stop.set()
        self.queue.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def thread_id(self) -> int | None:
        """The pusher thread's OS id (the benchmark reads its CPU time)."""
        return self._thread.native_id

    def same_target(self, url: str, key: str) -> bool:
        return url == self.url and key == self._key

    @property
    def status(self) -> PushStatus:
        uptime = time.monotonic() - self._live_since if self._live_since is not None else 0.0
        return replace(self._status, uptime_s=round(uptime, 1), dropped=self.queue.dropped)

    # -- the pusher's own thread --------------------------------------------
    def _set(self, state: PushState, reason: str = "") -> None:
        self._status = replace(self._status, state=state, reason=reason, kbps=0.0)
        self._live_since = time.monotonic() if state == "live" else None
        log.info("destination %s: %s %s", self.name, state, reason)
        self._on_change(self.status)

    def _redact(self, error: BaseException) -> str:
        return redact(str(error) or type(error).__name__, self._key, push_target(self.url, self._key))

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            first = self.queue.next_keyframe(self._stop)
            if first is None:
                break
            self._set("connecting")
            try:
                writer = self.writer = self._connect(first)
            except StreamRefused as error:
                self._set("failed", str(error))
                break
            except Exception as error:  # noqa: BLE001 -- any failure to connect is retried, with its reason shown
                self._retry(self._redact(error), attempt)
                attempt += 1
                continue
            self._set("live")
            attempt = 0
            try:
                self._stream(writer)
            except Exception as error:  # noqa: BLE001 -- a lost push reconnects whatever broke it
                self._close(writer)
                self._status = replace(self._status, reconnects=self._status.reconnects + 1)
                self._retry(f"connection lost: {self._redact(error)}", 0)
                attempt = 1
            else:
                self._close(writer)
        if self._status.state != "failed":
            self._set("idle")

    def _connect(self, first: Tapped) -> FlvWriter:
        _probe_server(self.url, self._timeout)  # OSError: the server is down or unreachable
        try:
            return FlvWriter(push_target(self.url, self._key), first, self._aac_config(), self._timeout)
        except StreamRefused as error:
            raise StreamRefused(
                "the server refused the stream: check the URL and the stream key "
                f"(they may have changed) [{self._redact(error)}]"
            ) from None

    def _stream(self, writer: FlvWriter) -> None:
        """Write until stopped; returns early when the picture size changes (a new stream header)."""
        while not self._stop.is_set():
            item = self.queue.get(0.5)
            self._measure(writer)
            writer.check()
            if item is None:
                continue
            if item.kind == "video" and item.packet.is_keyframe and item.size != writer.size:
                self.queue.resync()  # reconnect with the new size's header
                return
            writer.write(item)

    def _measure(self, writer: FlvWriter) -> None:
        now = time.monotonic()
        since, before = self._kbps_mark
        if now - since >= 1.0:
            kbps = round((writer.bytes_written - before) * 8 / 1000 / (now - since), 1)
            self._kbps_mark = (now, writer.bytes_written)
            self._status = replace(self._status, kbps=kbps)

    def _retry(self, reason: str, attempt: int) -> None:
        self._set("retrying", reason)
        self._stop.wait(self._backoff[min(attempt, len(self._backoff) - 1)])
        self.queue.resync()  # start again on a fresh keyframe, not on a stale backlog

    def _close(self, writer: FlvWriter) -> None:
        self._kbps_mark = (time.monotonic(), 0)
        writer.close()
