"""ICE policy: which addresses the studio's peer connections may use.

Three scopes, chosen by :attr:`studio.config.StudioConfig.ice_scope`:

``machine`` (a studio bound to loopback: the default ``farmlive up``)
    Every client on this computer works with default settings: browsers offer
    their interface addresses or mDNS ``*.local`` names (never 127.0.0.1),
    and libnice (GStreamer) binds to the interfaces and cannot reach
    127.0.0.1 at all. So the studio gathers host candidates on 127.0.0.1
    *and* on the machine's interfaces, resolves mDNS names with a TTL-0
    query (delivered on this machine only, never sent on the network), and
    accepts remote candidates and connectivity checks only from this
    machine's own addresses. Packets between a machine's own addresses stay
    inside its kernel, so nothing leaves the machine.
``loopback`` (``farmlive up --ice-loopback-only``: tests and benchmarks)
    127.0.0.1 only: gathers 127.0.0.1 alone, drops every other remote
    candidate and every datagram from a non-loopback source.
``any`` (``--lan`` or any non-loopback ``--host``)
    aioice's defaults: every interface, every candidate, plus the configured
    STUN/TURN servers.

In no scope does aiortc fall back to its default public STUN server.
aioice's host discovery and STUN receive path are process-wide, so a process
runs one scope at a time (:func:`apply_ice_scope`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import aioice.ice
import aioice.mdns
import ifaddr
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import RTCIceGatherer

from studio.config import IceScope

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MDNS_TIMEOUT = 1.0  # seconds to resolve one *.local candidate
OWN_ADDRESSES_TTL = 5.0  # seconds between re-reading the interface list

_original_host_addresses = aioice.ice.get_host_addresses
_original_default_servers = RTCIceGatherer.getDefaultIceServers
_original_datagram_received = aioice.ice.StunProtocol.datagram_received


def _is_loopback_text(host: str) -> bool:
    return host.startswith("127.") or host == "::1"


class _OwnAddresses:
    """This machine's addresses, re-read at most every few seconds (checked per datagram)."""

    def __init__(self) -> None:
        self._addresses: frozenset[str] = frozenset()
        self._read_at = -OWN_ADDRESSES_TTL

    def get(self) -> frozenset[str]:
        now = time.monotonic()
        if now - self._read_at >= OWN_ADDRESSES_TTL:
            found = {LOOPBACK, "::1"}
            for adapter in ifaddr.get_adapters():
                for ip in adapter.ips:
                    found.add(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
            self._addresses, self._read_at = frozenset(found), now
        return self._addresses


_own = _OwnAddresses()


def own_addresses() -> frozenset[str]:
    """Every address of this machine (loopback included), as text."""
    return _own.get()


def is_own_address(host: str) -> bool:
    """True for loopback and for an address of one of this machine's interfaces."""
    return _is_loopback_text(host) or host in _own.get()


# -- process-wide aioice / aiortc settings ------------------------------------
def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [LOOPBACK] if use_ipv4 else []


def _machine_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    # aioice leaves 127.0.0.1 out; a client that only offers loopback (aiortc
    # tests, a browser started with --allow-loopback-in-peer-connection) needs it.
    return ([LOOPBACK] if use_ipv4 else []) + _original_host_addresses(use_ipv4, use_ipv6)


def _no_default_ice_servers(cls: type) -> list[RTCIceServer]:
    return []


def _loopback_datagram_received(self: aioice.ice.StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
    # A browser pairs its LAN-address candidates with our 127.0.0.1 one too; the
    # kernel delivers those over lo with a LAN source. Ignoring them leaves the
    # 127.0.0.1 <-> 127.0.0.1 pair as the only one that can succeed.
    if _is_loopback_text(addr[0]):
        _original_datagram_received(self, data, addr)


def _machine_datagram_received(self: aioice.ice.StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
    # Checks and media from another computer are dropped unread: with no remote
    # candidate of theirs accepted, we never answer or send to them either.
    if is_own_address(addr[0]):
        _original_datagram_received(self, data, addr)


_HOOKS: dict[IceScope, tuple[Callable[[bool, bool], list[str]], Callable[..., None]]] = {
    "loopback": (_loopback_host_addresses, _loopback_datagram_received),
    "machine": (_machine_host_addresses, _machine_datagram_received),
    "any": (_original_host_addresses, _original_datagram_received),
}


def apply_ice_scope(scope: IceScope) -> None:
    """Set how every aiortc peer connection in this process gathers and listens (idempotent).

    Every scope also removes aiortc's default ``stun.l.google.com`` server, so
    a peer connection created without a configuration never contacts it.
    """
    host_addresses, datagram_received = _HOOKS[scope]
    aioice.ice.get_host_addresses = host_addresses  # type: ignore[assignment]
    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_ice_servers)  # type: ignore[method-assign,assignment]


def use_loopback_candidates() -> None:
    """Make every aiortc peer connection in this process use 127.0.0.1 only (tests, benchmarks)."""
    apply_ice_scope("loopback")


def restore_host_candidates() -> None:
    """aioice's own defaults again (a LAN studio, or a test client on interface addresses)."""
    aioice.ice.get_host_addresses = _original_host_addresses
    aioice.ice.StunProtocol.datagram_received = _original_datagram_received  # type: ignore[method-assign]
    RTCIceGatherer.getDefaultIceServers = _original_default_servers  # type: ignore[method-assign]


# -- remote offers --------------------------------------------------------------
def candidate_host(line: str) -> str | None:
    """The connection address of an ``a=candidate:`` line (an IP or an mDNS name)."""
    parts = line.split()
    return parts[4] if len(parts) >= 8 else None


def is_loopback_candidate(line: str) -> bool:
    """``a=candidate:...`` with a literal loopback address (mDNS names are not)."""
    host = candidate_host(line)
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_only_sdp(sdp: str) -> str:
    """Drop every remote candidate that is not on loopback.

    Keeps connectivity checks (and mDNS lookups of ``*.local`` names) off the
    real network when the studio itself is loopback-only.
    """
    return _keep_candidates(sdp, lambda line: line if is_loopback_candidate(line) else None)


def _keep_candidates(sdp: str, keep: Callable[[str], str | None]) -> str:
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            kept = keep(line)
            if kept is not None:
                lines.append(kept)
        else:
            lines.append(line)
    return "\r\n".join(lines) + "\r\n"


async def resolve_mdns_names(names: set[str]) -> dict[str, str]:
    """Resolve ``*.local`` candidate names with queries that never leave this machine.

    The query is sent with multicast TTL 0: the kernel delivers it to this
    machine's own listeners (the browser's mDNS responder) and transmits it
    on no network (RFC 1112 section 6.1). Names nobody here answers for are
    left out.
    """
    if not names:
        return {}
    try:
        protocol = await aioice.mdns.create_mdns_protocol()
    except OSError as error:  # port 5353 held exclusively by another responder, no multicast...
        log.warning("cannot resolve mDNS candidates %s: %s", sorted(names), error)
        return {}
    try:
        sock = protocol.transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        ordered = sorted(names)
        found = await asyncio.gather(
            *(protocol.resolve(name, timeout=MDNS_TIMEOUT) for name in ordered), return_exceptions=True
        )
    finally:
        await protocol.close()
    return {name: address for name, address in zip(ordered, found, strict=True) if isinstance(address, str)}


async def machine_only_sdp(sdp: str) -> str:
    """Keep only remote candidates on this machine; ``*.local`` names resolved to their address.

    A resolved name is replaced by its address in the offer, so aioice never
    sends an mDNS query of its own (it would go out on the network).
    """
    names = {
        host
        for line in sdp.splitlines()
        if line.startswith("a=candidate:") and (host := candidate_host(line)) and aioice.mdns.is_mdns_hostname(host)
    }
    resolved = await resolve_mdns_names(names)
    if names:
        log.info("mDNS candidates %s resolved to %s", sorted(names), resolved)

    def keep(line: str) -> str | None:
        parts = line.split()
        if len(parts) < 8:
            return None
        parts[4] = resolved.get(parts[4], parts[4])
        return " ".join(parts) if is_own_address(parts[4]) else None

    return _keep_candidates(sdp, keep)


async def admit_remote_candidates(sdp: str, scope: IceScope) -> str:
    """The offer with only the candidates the studio's ICE scope may contact."""
    if scope == "loopback":
        return loopback_only_sdp(sdp)
    if scope == "machine":
        return await machine_only_sdp(sdp)
    return sdp


def rtc_configuration(ice_servers: list[dict[str, Any]], *, scope: IceScope) -> RTCConfiguration:
    """Always an explicit server list: ``None`` would make aiortc use Google's STUN.

    STUN/TURN servers are used only in the ``any`` scope: elsewhere they would
    send packets off the machine.
    """
    if scope != "any":
        if ice_servers:
            log.info("studio ICE is %s-only: ignoring %d configured ICE servers", scope, len(ice_servers))
        return RTCConfiguration(iceServers=[])
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in ice_servers
        ]
    )


def selected_pair(pc: RTCPeerConnection) -> tuple[str, str] | None:
    """(local address, remote address) of the nominated ICE pair, for logs and tests."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        connection = transport.transport._connection
        pair = getattr(connection, "_nominated", {}).get(1)
        if pair is not None:
            return pair.local_candidate.host, pair.remote_candidate.host
    return None
