"""Benchmark: live-room comments to 1,000 WebSocket viewers while the show is on.

Starts a real studio (``farmlive up --no-ui``, one live show, a product on
air, so the pipeline encodes and records), connects ``--clients`` WebSocket
pages to ``/room/ws`` on 127.0.0.1 and posts ``--rate`` comments a second in
total, each from a random page, for ``--seconds``. Every page timestamps what
it receives; reported: delivery latency (post sent -> every page has it,
p50/p95), the studio's CPU and memory, and the show's output frame rate
before and during the load (the video fan-out must not lose frames).

Baseline, same run, same clients: a bare aiohttp WebSocket fan-out (no
checks, no SQLite, one ``send_str`` per page) in its own process.

    .venv/bin/python benchmarks/comments.py [--clients 1000] [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import LOOPBACK, TEST_KEY, free_port, start_studio_process, stop_studio_process  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def api(url: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# -- the baseline server: a bare fan-out ------------------------------------------------------
def bare_server(port: int) -> None:
    sockets: set[web.WebSocketResponse] = set()

    async def room(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sockets.add(socket)
        try:
            async for message in socket:
                text = json.dumps({"type": "comment", "comment": json.loads(message.data)})
                for other in list(sockets):
                    await other.send_str(text)
        finally:
            sockets.discard(socket)
        return socket

    app = web.Application()
    app.router.add_get("/room/ws", room)
    app.router.add_get("/healthz", lambda _: web.json_response({"ok": True}))
    web.run_app(app, host=LOOPBACK, port=port, print=None)


# -- the clients ------------------------------------------------------------------------------------
async def run_load(ws_url: str, clients: int, rate: float, seconds: float, farmlive: bool) -> dict[str, Any]:
    latencies: list[float] = []
    sent: dict[str, float] = {}
    received: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets = []
        for index in range(clients):
            cookie = f"fl_viewer=bench-viewer-{index:05d}"
            sockets.append(await http.ws_connect(ws_url, headers={"Cookie": cookie}))

        async def reader(socket: aiohttp.ClientWebSocketResponse) -> None:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                now = time.perf_counter()
                # A cheap look for the tag, not a full JSON parse: 20,000 messages a second arrive
                # in this one client process, and its own lag must not pass for the studio's.
                # A batch carries several comments: every tag in the message counts.
                start = message.data.find('"bench ')
                while start >= 0:
                    end = message.data.index('"', start + 1)
                    tag = message.data[start + 1 : end]
                    if tag in sent:
                        latencies.append(now - sent[tag])
                        received[tag] = received.get(tag, 0) + 1
                    start = message.data.find('"bench ', end + 1)

        readers = [asyncio.ensure_future(reader(s)) for s in sockets]
        await asyncio.sleep(1.0)  # every page has had its hello
        interval = 1.0 / rate
        start = time.perf_counter()
        count = 0
        while (elapsed := time.perf_counter() - start) < seconds:
            tag = f"bench {count}"
            sent[tag] = time.perf_counter()
            socket = random.choice(sockets)
            payload = {"nickname": "bench", "text": tag}
            if farmlive:
                payload["type"] = "comment"
            await socket.send_str(json.dumps(payload))
            count += 1
            await asyncio.sleep(max(0.0, (count * interval) - (time.perf_counter() - start)))
        await asyncio.sleep(2.0)  # the last ones arrive
        for socket in sockets:
            await socket.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    complete = sum(1 for tag in sent if received.get(tag, 0) >= clients)
    return {"posted": count, "complete": complete, "latencies": latencies, "elapsed": elapsed}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


def report(name: str, result: dict[str, Any], clients: int) -> tuple[float, float]:
    lat = result["latencies"]
    p50, p95 = percentile(lat, 0.5), percentile(lat, 0.95)
    print(
        f"  {name:<22} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms   {result['posted']} posted, "
        f"{result['complete']} reached all {clients} pages, {len(lat)} deliveries"
    )
    return p50, p95


def output_fps(url: str) -> float:
    return float(api(url, "GET", "/api/state")["stream_health"]["output_fps"])


def measure_studio(args: argparse.Namespace) -> dict[str, Any]:
    """The load against a real studio with a live show; its CPU, memory and frame rate meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        server = start_studio_process(Path(tmp))
        try:
            api(server.url, "POST", "/api/shows", {"title": "Comment benchmark 评论压测"})
            api(server.url, "PUT", "/api/overlay", {"sku": "ORANGE-GANNAN-5KG"})
            time.sleep(3.0)
            fps_before = statistics.median(output_fps(server.url) for _ in range(3))
            pid = server.process.pid
            fps_during: list[float] = []
            done = threading.Event()

            def sample_fps() -> None:  # the pipeline's own 2 s window, once a second during the load
                while not done.wait(1.0):
                    fps_during.append(output_fps(server.url))

            sampler = threading.Thread(target=sample_fps, daemon=True)
            cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
            sampler.start()
            ws_url = server.url.replace("http", "ws") + "/room/ws"
            result = asyncio.run(run_load(ws_url, args.clients, args.rate, args.seconds, True))
            done.set()
            sampler.join()
            result["cpu"] = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
            result["memory"] = rss_mb(pid)
            result["fps_before"], result["fps_during"] = fps_before, fps_during
            return result
        finally:
            stop_studio_process(server)


def measure_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        bare_url = f"ws://{LOOPBACK}:{port}/room/ws"
        return asyncio.run(run_load(bare_url, args.clients, args.rate, args.seconds, False))
    finally:
        bare.terminate()
        bare.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    print(
        f"farmlive live-room comments: {args.clients} WebSocket pages on {LOOPBACK}, {args.rate:g} comments/s, "
        f"{args.seconds:g} s, {os.cpu_count()} cores (shared)"
    )
    result = measure_studio(args)
    baseline = measure_baseline(args)
    print("delivery latency, post sent -> received by a page:")
    p50, p95 = report("farmlive room", result, args.clients)
    b50, _ = report("baseline bare fan-out", baseline, args.clients)
    print(f"  farmlive / bare p50: {p50 / b50:.2f}x   (target p95 <= 250 ms: {'met' if p95 <= 250 else 'NOT met'})")
    print(f"studio during the load: {result['cpu'] * 100:.0f}% of one core, {result['memory']:.0f} MB resident")
    fps = result["fps_during"]
    print(
        f"show output frame rate: {result['fps_before']:.1f} fps before; during the load "
        f"median {statistics.median(fps):.1f}, lowest {min(fps):.1f} fps ({len(fps)} samples)"
    )


if __name__ == "__main__":
    main()
