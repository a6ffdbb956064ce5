"""HLS behind caching edges: origin egress and cache hit ratio for N simulated HLS viewers.

    .venv/bin/python benchmarks/hls_edge.py [--viewers 2000] [--seconds 30]

A real ``farmlive up`` process (the origin) runs a live show; two NGINX edges on
127.0.0.1 run docs/nginx/hls-edge.conf in front of it. N simulated viewers
(asyncio tasks in bounded loops that stop by themselves after ``--seconds``)
each poll the playlist about once a second through one of the edges and
download every new segment, as an HLS player does. From the edges' access
logs: bytes the edges sent to viewers, bytes they fetched from the origin,
and the share of requests served from cache. Origin egress is also given in
"streams' worth": the bytes of one copy of every playlist and segment the
show produced meanwhile. Baseline, same run: the same viewers straight at
the origin (no edge) for a third of the time.
Loopback only; the machine is shared, so expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import LOOPBACK, start_studio_process, stop_studio_process
from tests.test_hls import segments_in
from tests.test_hls_edge import edge_for


def api(url: str, key: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


async def viewer(http: aiohttp.ClientSession, base: str, show_id: int, until: float, received: list[int]) -> None:
    """An HLS player: poll the playlist ~1/s, fetch each new segment once; stops at ``until``."""
    seen: set[str] = set()
    await asyncio.sleep(random.uniform(0, 1))  # players do not start in lockstep
    while time.monotonic() < until:
        try:
            async with http.get(f"{base}/hls/{show_id}/index.m3u8") as response:
                playlist = await response.text()
                received[0] += len(playlist)
            for _, uri in segments_in(playlist)[-2:]:  # a player starts near the live edge
                if uri not in seen and time.monotonic() < until:
                    seen.add(uri)
                    async with http.get(f"{base}/hls/{show_id}/{uri}") as response:
                        received[0] += len(await response.read())
        except (TimeoutError, aiohttp.ClientError):
            received[1] += 1
        await asyncio.sleep(random.uniform(0.8, 1.2))


async def crowd(bases: list[str], show_id: int, viewers: int, seconds: float) -> tuple[int, int]:
    """``viewers`` players spread over ``bases``; returns (bytes received, failed requests)."""
    received = [0, 0]
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=400)
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(viewer(http, bases[i % len(bases)], show_id, until, received) for i in range(viewers)))
    return received[0], received[1]


def edge_figures(log: Path) -> tuple[int, int, int, int, dict[str, int]]:
    """(requests, cache hits, bytes to viewers, bytes from origin, size of each URI fetched from origin)."""
    requests = hits = sent = fetched = 0
    sizes: dict[str, int] = {}
    for line in log.read_text().splitlines():
        status, body, upstream, uri = line.split(" ", 3)
        requests += 1
        hits += status in ("HIT", "UPDATING", "STALE")
        sent += int(body)
        if upstream != "-":
            size = sum(int(part) for part in upstream.replace(",", " ").replace(":", " ").split() if part.isdigit())
            fetched += size
            sizes[uri] = max(sizes.get(uri, 0), size)
    return requests, hits, sent, fetched, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        origin = start_studio_process(data_dir)
        port = int(origin.url.rsplit(":", 1)[1])
        edges = [edge_for(port, Path(tmp) / f"edge{i}") for i in range(2)]
        try:
            for edge in edges:
                edge.start()
            show_id = int(api(origin.url, origin.key, "/api/shows", {"title": "HLS edge benchmark"})["id"])
            time.sleep(8)  # a few segments in the playlist

            started = time.monotonic()
            _, failed = asyncio.run(
                crowd([f"http://{LOOPBACK}:{e.port}" for e in edges], show_id, args.viewers, args.seconds)
            )
            elapsed = time.monotonic() - started
            requests = hits = sent = fetched = 0
            produced: dict[str, int] = {}
            for edge in edges:
                r, h, s, f, sizes = edge_figures(edge.directory / "access.log")
                requests, hits, sent, fetched = requests + r, hits + h, sent + s, fetched + f
                for uri, size in sizes.items():
                    produced[uri] = max(produced.get(uri, 0), size)
            one_stream = sum(size for uri, size in produced.items() if uri.endswith(".ts"))
            print(f"{args.viewers} HLS viewers for {elapsed:.0f} s through 2 NGINX edges ({failed} failed requests)")
            print(f"  edge egress to viewers: {sent / 1e6:,.1f} MB ({sent / elapsed * 8 / 1e6:,.1f} Mbit/s)")
            streams = fetched / max(one_stream, 1)
            print(f"  origin egress to edges: {fetched / 1e6:,.2f} MB = {streams:.2f} streams' worth "
                  f"(one stream = {one_stream / 1e6:.2f} MB of segments in that time; target <= 3)")
            print(f"  cache hit ratio: {hits / max(requests, 1):.2%} of {requests:,} requests (target >= 99%)")

            base_seconds = args.seconds / 3
            started = time.monotonic()
            direct, failed = asyncio.run(crowd([origin.url], show_id, args.viewers, base_seconds))
            elapsed = time.monotonic() - started
            print(f"baseline, no edge: {args.viewers} viewers straight at the origin for {elapsed:.0f} s: "
                  f"origin egress {direct / 1e6:,.1f} MB ({direct / elapsed * 8 / 1e6:,.1f} Mbit/s, "
                  f"{failed} failed requests)")
        finally:
            for edge in edges:
                edge.stop()
            stop_studio_process(origin)


if __name__ == "__main__":
    main()
