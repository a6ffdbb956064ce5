"""WHEP signalling under hostile offers: viewer frame gaps and answer times, quiet vs attacked.

    .venv/bin/python benchmarks/signalling.py [--seconds 10] [--attackers 8]

A real ``farmlive up --ice-loopback-only`` studio runs as its own process on
127.0.0.1. One aiortc WHEP viewer in this process timestamps the last RTP
packet of every video frame (what the studio's event loop sends, without this
process's decoder in between). Two phases of ``--seconds`` each, in the same
run:

* baseline: nothing else happens;
* attack: ``--attackers`` clients keep posting hostile offers (900 KB, 600
  m-lines, binary garbage, and valid offers that never connect) as fast as the
  studio answers.

In both phases a "monitor" (the studio key, so the pending limits do not
apply) posts a valid offer every 0.5 s and hangs it up: its answer time is
what a real joining viewer waits. Figures are medians, p99 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import KEY, start_studio, wait_healthy  # noqa: E402
from orders import free_port  # noqa: E402

from studio.media.ice import use_loopback_candidates  # noqa: E402

SDP = {"Content-Type": "application/sdp"}


async def offer_pc() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


def m_lines(count: int) -> bytes:
    section = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n"
    return ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + section * count).encode()


def summary(name: str, values: list[float], unit: str = "ms") -> str:
    if not values:
        return f"{name}: no samples"
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return (
        f"{name}: median {statistics.median(ordered):.0f} {unit}, p99 {p99:.0f}, max {ordered[-1]:.0f} "
        f"(n={len(ordered)})"
    )


async def watch(pc: RTCPeerConnection, frames: list[float]) -> None:
    """Timestamp each video frame's last RTP packet."""
    receiver = next(t for t in pc.getTransceivers() if t.kind == "video").receiver
    handle = receiver._handle_rtp_packet

    async def timed(packet, arrival_time_ms):  # type: ignore[no-untyped-def]
        if packet.marker:
            frames.append(time.monotonic())
        return await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = timed


async def join_times(http: aiohttp.ClientSession, url: str, until: float, times: list[float]) -> None:
    """A key-holding viewer joins every 0.5 s: how long the studio takes to answer it."""
    while time.monotonic() < until:
        pc = await offer_pc()
        started = time.monotonic()
        async with http.post(
            f"{url}/whep", data=pc.localDescription.sdp, headers={**SDP, "Authorization": f"Bearer {KEY}"}
        ) as response:
            await response.read()
            if response.status == 201:
                times.append((time.monotonic() - started) * 1000)
                async with http.delete(url + response.headers["Location"], headers={"Authorization": f"Bearer {KEY}"}):
                    pass
        await pc.close()
        await asyncio.sleep(0.5)


async def attack(http: aiohttp.ClientSession, url: str, until: float, statuses: collections.Counter[int]) -> None:
    hostile = [m_lines(1) + b"a=x:" + b"y" * 900_000, m_lines(600), b"\xff\xfe" * 5000]
    squatter = await offer_pc()
    while time.monotonic() < until:
        for body in [*hostile, squatter.localDescription.sdp.encode()]:
            async with http.post(f"{url}/whep", data=body, headers=SDP) as response:
                await response.read()
                statuses[response.status] += 1
    await squatter.close()


async def run(args: argparse.Namespace) -> None:
    use_loopback_candidates()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="farmlive-signalling-") as tmp:
        process = start_studio(Path(tmp), port)
        try:
            async with aiohttp.ClientSession() as http:
                await wait_healthy(http, url, process)
                viewer = await offer_pc()
                frames: list[float] = []
                await watch(viewer, frames)
                async with http.post(f"{url}/whep", data=viewer.localDescription.sdp, headers=SDP) as response:
                    answer = await response.text()
                await viewer.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
                # The frames arrive from aiortc's track reader: a poll, no asyncio.Event to await.
                while len(frames) < 30:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)

                phases: dict[str, tuple[list[float], list[float], collections.Counter[int]]] = {}
                for phase in ("baseline", "attack"):
                    start, until = time.monotonic(), time.monotonic() + args.seconds
                    joins: list[float] = []
                    statuses: collections.Counter[int] = collections.Counter()
                    tasks = [join_times(http, url, until, joins)]
                    if phase == "attack":
                        tasks += [attack(http, url, until, statuses) for _ in range(args.attackers)]
                    await asyncio.gather(*tasks)
                    window = [t for t in frames if start <= t <= until]
                    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(window)]
                    phases[phase] = (gaps, joins, statuses)
                await viewer.close()
        finally:
            process.terminate()
            process.wait(timeout=15)

    print(f"farmlive WHEP signalling, {args.seconds:g} s per phase, {args.attackers} attackers, 127.0.0.1")
    for phase, (gaps, joins, statuses) in phases.items():
        print(f"[{phase}]")
        print("  " + summary("viewer inter-frame gap", gaps))
        print("  " + summary("answer time for a joining viewer", joins))
        if statuses:
            print(f"  hostile offers answered: {sum(statuses.values())} ({dict(sorted(statuses.items()))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--attackers", type=int, default=8)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
