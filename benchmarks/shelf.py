"""Benchmark: 1,000 viewers with the shelf · 小黄车 open during a show.

Runs the real studio app on 127.0.0.1 in a process of its own with the demo catalog
and a live show (its video pipeline running), then lets N viewers each poll ``GET /watch/shelf`` every 3 s (as
shelf.js does while the shelf is open) for D seconds, started spread over the
first poll interval. Reports the answer latency (p50/p95/max), the number of
database reads the shelf made, and, as a baseline in the same run, the same load
against a shelf read from SQLite on every request (the cache's TTL set to 0).

    .venv/bin/python benchmarks/shelf.py [--viewers 1000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from multiprocessing import Event, Process, Queue
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import catalog
from catalog.demo import seed_demo_catalog
from studio.app import create_app
from studio.config import StudioConfig
from studio.pages import shelf
from studio.state import STUDIO

POLL_S = 3.0
LOOPBACK = "127.0.0.1"


def serve(data_dir: Path, ttl: float, port_out: Queue, stop: Event, reads_out: Queue) -> None:
    """The studio in its own process (as in production: the viewers are elsewhere)."""
    shelf.SHELF_TTL = ttl

    async def main() -> None:
        app = create_app(StudioConfig(data_dir=data_dir, key="bench-key", host=LOOPBACK, port=0,
                                      ice_loopback_only=True))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        studio = app[STUDIO]
        await studio.start_show("Shelf benchmark")
        await studio.put_on_air("ORANGE-GANNAN-5KG")
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.to_thread(stop.wait)
        reads_out.put(app[shelf.SHELF].reads)
        await runner.cleanup()

    asyncio.run(main())


async def load(url: str, viewers: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def viewer() -> None:
            await asyncio.sleep(random.uniform(0, POLL_S))
            while time.monotonic() < end:
                started = time.monotonic()
                async with http.get(url) as response:
                    body = await response.json()
                    assert response.status == 200 and len(body["products"]) == 7
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(POLL_S)

        await asyncio.gather(*(viewer() for _ in range(viewers)))
    return latencies


def run(viewers: int, seconds: float, ttl: float) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        db = catalog.open_db(data_dir)
        seed_demo_catalog(db, data_dir)
        db.conn.close()
        port_out: Queue = Queue()
        reads_out: Queue = Queue()
        stop = Event()
        server = Process(target=serve, args=(data_dir, ttl, port_out, stop, reads_out))
        server.start()
        try:
            port = port_out.get(timeout=60)
            latencies = asyncio.run(load(f"http://{LOOPBACK}:{port}/watch/shelf", viewers, seconds))
            stop.set()
            reads = reads_out.get(timeout=30)
        finally:
            stop.set()
            server.join(30)
            if server.is_alive():
                server.kill()
    return latencies, reads


def report(name: str, latencies: list[float], reads: int) -> None:
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95)]
    print(
        f"{name}: {len(ordered)} answers, p50 {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms, database reads {reads}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    report("cached shelf (one read per 2 s)", *run(args.viewers, args.seconds, 2.0))
    report("baseline: a read per request", *run(args.viewers, args.seconds, 0.0))


if __name__ == "__main__":
    main()
