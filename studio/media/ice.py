"""ICE policy: which addresses the studio's peer connections may use.

A studio bound to loopback (tests, benchmarks, the default ``farmlive up``)
must never put a packet on a real interface. aioice gathers every interface
address *except* 127.0.0.1, so in that mode we swap its host discovery for
loopback only, drop non-loopback candidates from remote offers, and never let
aiortc fall back to its default public STUN server.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import RTCIceGatherer

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

_original_host_addresses = aioice.ice.get_host_addresses
_original_default_servers = RTCIceGatherer.getDefaultIceServers
_original_datagram_received = aioice.ice.StunProtocol.datagram_received


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [LOOPBACK] if use_ipv4 else []


def _no_default_ice_servers(cls: type) -> list[RTCIceServer]:
    return []


def _loopback_datagram_received(self: aioice.ice.StunProtocol, data: bytes, addr: tuple[Any, ...]) -> None:
    # A browser pairs its LAN-address candidates with our 127.0.0.1 one too; the
    # kernel delivers those over lo with a LAN source. Ignoring them leaves the
    # 127.0.0.1 <-> 127.0.0.1 pair as the only one that can succeed.
    if addr[0].startswith("127.") or addr[0] == "::1":
        _original_datagram_received(self, data, addr)


def use_loopback_candidates() -> None:
    """Make every aiortc peer connection in this process use 127.0.0.1 only.

    Idempotent. Gathers 127.0.0.1 as the only host candidate, ignores STUN
    checks and media from any non-loopback source address, and removes
    aiortc's default ``stun.l.google.com`` server, so a peer connection
    created without a configuration stays on loopback too.
    """
    aioice.ice.get_host_addresses = _loopback_host_addresses
    aioice.ice.StunProtocol.datagram_received = _loopback_datagram_received  # type: ignore[method-assign,assignment]
    RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_ice_servers)  # type: ignore[method-assign,assignment]


def restore_host_candidates() -> None:
    """Undo :func:`use_loopback_candidates` (a LAN studio in the same process)."""
    aioice.ice.get_host_addresses = _original_host_addresses
    aioice.ice.StunProtocol.datagram_received = _original_datagram_received  # type: ignore[method-assign]
    RTCIceGatherer.getDefaultIceServers = _original_default_servers  # type: ignore[method-assign]


def is_loopback_candidate(line: str) -> bool:
    """``a=candidate:...`` with a literal loopback address (mDNS names are not)."""
    parts = line.split()
    if len(parts) < 6:
        return False
    try:
        return ipaddress.ip_address(parts[4]).is_loopback
    except ValueError:
        return False


def loopback_only_sdp(sdp: str) -> str:
    """Drop every remote candidate that is not on loopback.

    Keeps connectivity checks (and mDNS lookups of ``*.local`` names) off the
    real network when the studio itself is loopback-only.
    """
    kept = [
        line
        for line in sdp.splitlines()
        if not line.startswith("a=candidate:") or is_loopback_candidate(line)
    ]
    return "\r\n".join(kept) + "\r\n"


def rtc_configuration(ice_servers: list[dict[str, Any]], *, loopback_only: bool) -> RTCConfiguration:
    """Always an explicit server list: ``None`` would make aiortc use Google's STUN."""
    if loopback_only:
        if ice_servers:
            log.info("studio is loopback-only: ignoring %d configured ICE servers", len(ice_servers))
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
