"""Viewers sustained at 30 fps: encode once and fan out, against aiortc's per-viewer encoding.

    .venv/bin/python benchmarks/fanout.py [--max-once 96] [--max-per-viewer 8] [--windows 3]

Both modes serve the same composed 720p30 show (a moving camera picture with
the product card and QR blended on) to real aiortc viewers over WebRTC on
127.0.0.1, negotiated H.264:

- **encode once**: the studio's :class:`ShowPipeline` encodes each frame
  once; every viewer's sender only packetizes the shared ``av.Packet``.
- **per viewer**: the composed frames go to every viewer as a normal
  ``VideoStreamTrack`` (through ``MediaRelay``), and aiortc encodes them
  separately for each sender, which is what aiortc does by default.

The viewers run in a separate process and do not decode (they count the
complete frames aiortc's jitter buffer hands to the decoder; one sampled
viewer decodes for real), so the server's figures are the server's. For each
viewer count it measures ``--windows`` windows of 2 s and reports medians of:
the slowest viewer's fps, the median viewer's fps, and the server's CPU as
process time / wall time (100% = one core). A count is *sustained* when the
slowest viewer gets >= 95% of 30 fps. The ladder stops at the first count
that is not sustained. The machine is shared: expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiortc.rtcrtpreceiver as receiver
import av
import numpy as np
from aiohttp import ClientSession, web
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

import catalog
from catalog.products import Product, upsert_product
from overlays import Compositor, OverlaySpec
from studio.config import StudioConfig
from studio.media.fanout import h264_preferences, media_kinds, send_feed
from studio.media.frames import fit_into_i420
from studio.media.pipeline import ShowPipeline
from studio.media.synthetic import MovingPattern, loopback_pc
from studio.state import Studio

WIDTH, HEIGHT, FPS = 1280, 720, 30
ASK_TIMEOUT_S = 120  # a viewers' process answers every command within this
SUSTAINED_FPS = 0.95 * FPS
GIVE_UP_FPS = 0.5 * FPS
WINDOW_SECONDS = 2.0
WARMUP_SECONDS = 2.0
ONCE_LADDER = [1, 8, 16, 24, 32, 40, 48, 64, 80, 96, 128]
PER_VIEWER_LADDER = [1, 2, 3, 4, 6, 8, 12]
PRODUCT = Product("ORANGE-5KG", "Gannan navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=120)


class LoopingCamera(VideoStreamTrack):
    """A 720p camera whose frames are made in advance, so the camera costs nothing here."""

    def __init__(self, frames: int = 60) -> None:
        super().__init__()
        pattern = MovingPattern(WIDTH, HEIGHT)
        self._frames = [
            av.VideoFrame.from_ndarray(pattern.picture(i), format="bgr24").reformat(format="yuv420p")
            for i in range(frames)
        ]
        self._count = 0

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        pts, time_base = await self.next_timestamp()
        frame = self._frames[self._count % len(self._frames)]
        self._count += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


class ComposedShow(VideoStreamTrack):
    """The per-viewer baseline's source: the same composed picture, as raw frames."""

    def __init__(self, camera: LoopingCamera, spec: OverlaySpec) -> None:
        super().__init__()
        self._camera = camera
        self._compositor = Compositor(spec)
        self.frames = 0

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        camera = await self._camera.recv()
        self.frames += 1
        buf = fit_into_i420(camera, WIDTH, HEIGHT)
        self._compositor.compose_i420(buf)
        frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
        frame.pts, frame.time_base = camera.pts, camera.time_base
        return frame


@dataclass
class Server:
    """The studio side: answers viewer offers in either mode."""

    pipeline: ShowPipeline
    composed: ComposedShow
    relay: MediaRelay = field(default_factory=MediaRelay)
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    feeds: list[Any] = field(default_factory=list)

    async def offer(self, request: web.Request) -> web.Response:
        offer = RTCSessionDescription(await request.text(), "offer")
        pc = loopback_pc()
        self.pcs.append(pc)
        if request.match_info["mode"] == "once":
            feed = self.pipeline.add_viewer()
            self.feeds.append(feed)
            send_feed(pc, feed, media_kinds(offer.sdp))
        else:
            transceiver = pc.addTransceiver(self.relay.subscribe(self.composed, buffered=False), direction="sendonly")
            transceiver.setCodecPreferences(h264_preferences())
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(text=pc.localDescription.sdp, content_type="application/sdp")

    async def close_all(self) -> web.Response:
        for feed in self.feeds:
            self.pipeline.remove_viewer(feed)
        await asyncio.gather(*(pc.close() for pc in self.pcs))
        self.pcs.clear()
        self.feeds.clear()
        return web.Response(text="ok")


# -- the viewers' process ---------------------------------------------------
class CountingDecoder:
    """Stands in for aiortc's video decoder: counts whole frames, decodes only if sampled."""

    instances: ClassVar[list[CountingDecoder]] = []

    def __init__(self, real: Any | None) -> None:
        self.real = real
        self.frames = 0
        CountingDecoder.instances.append(self)

    def decode(self, encoded_frame: Any) -> list[av.VideoFrame]:
        self.frames += 1
        return self.real.decode(encoded_frame) if self.real is not None else []


def install_counting_decoders() -> None:
    real_get_decoder = receiver.get_decoder

    def get_decoder(codec: Any) -> Any:
        if codec.mimeType.lower() != "video/h264":
            return real_get_decoder(codec)
        sampled = not CountingDecoder.instances  # the first viewer decodes for real
        return CountingDecoder(real_get_decoder(codec) if sampled else None)

    receiver.get_decoder = get_decoder


async def run_viewers(url: str) -> None:
    """Viewer process: obeys ``connect MODE N``, ``counts``, ``close`` lines on stdin."""
    install_counting_decoders()
    loop = asyncio.get_running_loop()
    pcs: list[RTCPeerConnection] = []
    decoded = 0

    async def drain(track: Any) -> None:
        nonlocal decoded
        try:
            while True:
                await track.recv()
                decoded += 1
        except MediaStreamError:
            return  # closed

    async def connect(session: ClientSession, mode: str) -> None:
        pc = loopback_pc()
        pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        if len(pcs) == 1:
            pc.on("track", lambda track: asyncio.ensure_future(drain(track)))
        await pc.setLocalDescription(await pc.createOffer())
        async with session.post(f"{url}/offer/{mode}", data=pc.localDescription.sdp) as response:
            answer = await response.text()
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async with ClientSession() as session:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = line.split()
            if command[0] == "connect":
                mode, total = command[1], int(command[2])
                await asyncio.gather(*(connect(session, mode) for _ in range(max(0, total - len(pcs)))))
                reply: Any = "ok"
            elif command[0] == "counts":
                reply = {
                    "frames": [d.frames for d in CountingDecoder.instances],
                    "decoded": decoded,
                    "cpu": time.process_time(),
                    "connected": sum(pc.connectionState == "connected" for pc in pcs),
                }
            else:  # close
                await asyncio.gather(*(pc.close() for pc in pcs))
                pcs.clear()
                CountingDecoder.instances.clear()
                decoded = 0
                reply = "ok"
            print(json.dumps(reply), flush=True)


# -- the studio's process: ladders and figures --------------------------------
class Viewers:
    """The viewer processes (several, so the viewers' side is not the bottleneck)."""

    def __init__(self, url: str, processes: int) -> None:
        self.url = url
        self.count = processes
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        for _ in range(self.count):
            self.processes.append(await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--viewers-process", self.url,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            ))

    @staticmethod
    async def _ask(process: asyncio.subprocess.Process, command: str) -> Any:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{command}\n".encode())
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stdout.readline(), ASK_TIMEOUT_S)
        if not line:
            raise RuntimeError("a viewers' process died")
        return json.loads(line)

    async def connect(self, mode: str, total: int) -> None:
        """Have ``total`` viewers in all, spread evenly over the processes."""
        shares = [total // self.count + (i < total % self.count) for i in range(self.count)]
        await asyncio.gather(
            *(self._ask(p, f"connect {mode} {n}") for p, n in zip(self.processes, shares, strict=True))
        )

    async def counts(self) -> dict[str, Any]:
        replies = await asyncio.gather(*(self._ask(p, "counts") for p in self.processes))
        return {
            "frames": [n for reply in replies for n in reply["frames"]],
            "decoded": replies[0]["decoded"],
            "cpu": [reply["cpu"] for reply in replies],
            "connected": sum(reply["connected"] for reply in replies),
        }

    async def close(self) -> None:
        await asyncio.gather(*(self._ask(p, "close") for p in self.processes))

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.stdin.close()  # type: ignore[union-attr]
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@dataclass
class Step:
    viewers: int
    slowest_fps: float
    median_fps: float
    total_fps: float  # viewer-frames delivered per second, all viewers together
    show_fps: float  # frames the server made per second (composed, and encoded once if so)
    cpu_percent: float
    decoded_fps: float
    viewers_cpu: float  # the busiest viewer process, % of one core
    connected: int = 0  # viewers whose peer connection is still up at the end

    @property
    def sustained(self) -> bool:
        return self.slowest_fps >= SUSTAINED_FPS


async def measure(viewers: Viewers, count: int, windows: int, show_frames: Callable[[], int]) -> Step:
    await asyncio.sleep(WARMUP_SECONDS)
    slowest, medians, totals, shows, cpus, decoded, client_cpus = [], [], [], [], [], [], []
    for _ in range(windows):
        before, cpu_before, wall_before = await viewers.counts(), time.process_time(), time.monotonic()
        made_before = show_frames()
        await asyncio.sleep(WINDOW_SECONDS)
        after, cpu_after, wall_after = await viewers.counts(), time.process_time(), time.monotonic()
        wall = wall_after - wall_before
        fps = [(b - a) / wall for a, b in zip(before["frames"], after["frames"], strict=True)] or [0.0]
        slowest.append(min(fps))
        medians.append(statistics.median(fps))
        totals.append(sum(fps))
        shows.append((show_frames() - made_before) / wall)
        cpus.append(100 * (cpu_after - cpu_before) / wall)
        decoded.append((after["decoded"] - before["decoded"]) / wall)
        client_cpus.append(max(100 * (b - a) / wall for a, b in zip(before["cpu"], after["cpu"], strict=True)))
    return Step(
        count,
        *(statistics.median(values) for values in (slowest, medians, totals, shows, cpus, decoded, client_cpus)),
        connected=after["connected"],
    )


async def ladder(
    viewers: Viewers, mode: str, counts: list[int], windows: int, show_frames: Callable[[], int]
) -> list[Step]:
    steps = []
    for count in counts:
        await viewers.connect(mode, count)
        step = await measure(viewers, count, windows, show_frames)
        steps.append(step)
        print_step(mode, step)
        if step.median_fps < GIVE_UP_FPS:
            break  # far past the limit; more viewers would only take longer
    await viewers.close()
    return steps


def print_step(mode: str, step: Step) -> None:
    mark = "ok " if step.sustained else "LOW"
    if step.connected < step.viewers:
        mark += f" ({step.viewers - step.connected} viewers lost their connection)"
    if step.viewers_cpu >= 90:
        mark += " (a viewer process is saturated: the viewers' side may be the limit)"
    print(
        f"  {mode:>10} {step.viewers:4d} viewers  slowest {step.slowest_fps:5.1f} fps  "
        f"median {step.median_fps:5.1f} fps  show {step.show_fps:4.1f} fps  server CPU {step.cpu_percent:6.1f}%  "
        f"viewers' CPU {step.viewers_cpu:3.0f}%  (sampled viewer decoded {step.decoded_fps:4.1f} fps) {mark}",
        flush=True,
    )


@dataclass
class Summary:
    """The ladder in three figures, plus a cost model fitted over every step.

    On a shared machine other processes steal the CPU and lower the frame
    rates, so "viewers sustained" moves with the neighbours' load. The
    server's own CPU time per frame barely does, so it is fitted (least
    squares over the steps) as ``cpu_ms = show_ms * show_frames +
    viewer_ms * viewer_frames``: what making one frame of the show costs
    and what sending one frame to one viewer costs, both scaled to 30 fps.
    """

    sustained: int
    more_possible: bool  # the ladder's top count still held
    cpu_percent: float  # at the sustained count
    fixed_percent: float  # fitted: making the show at 30 fps (compose, and encode once if so)
    per_viewer_percent: float  # fitted: one more viewer at 30 fps, % of one core

    @classmethod
    def of(cls, steps: list[Step], top: int) -> Summary:
        held = [s for s in steps if s.sustained]
        best = held[-1] if held else None
        fixed = per_viewer = float("nan")
        if len(steps) >= 2:
            rates = np.array([[s.show_fps, s.total_fps] for s in steps])
            cpu_ms = np.array([s.cpu_percent * 10 for s in steps])
            (show_ms, viewer_ms), *_ = np.linalg.lstsq(rates, cpu_ms, rcond=None)
            fixed, per_viewer = show_ms * FPS / 10, viewer_ms * FPS / 10
        return cls(
            best.viewers if best else 0,
            bool(best and best.viewers == top),
            best.cpu_percent if best else float("nan"),
            fixed,
            per_viewer,
        )

    @property
    def label(self) -> str:
        return f"{self.sustained}{'+' if self.more_possible else ''}"

    @property
    def per_core(self) -> float:
        """Viewers one core would carry at 30 fps by the fitted model."""
        if self.per_viewer_percent <= 0:
            return float("nan")
        return (100 - max(self.fixed_percent, 0)) / self.per_viewer_percent


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="farmlive-fanout-"))
    db = catalog.open_db(data_dir)
    upsert_product(db, PRODUCT)
    db.conn.close()
    studio = Studio(StudioConfig(data_dir=data_dir, key="bench", host="127.0.0.1", port=0))
    await studio.open()
    await studio.start_show("fan-out benchmark")
    await studio.put_on_air(PRODUCT.sku)

    camera = LoopingCamera()
    pipeline = ShowPipeline(studio, width=WIDTH, height=HEIGHT, fps=FPS, record=False)
    spec = OverlaySpec(product=PRODUCT, link_url=studio.on_air.link_url, image_root=data_dir)
    # A camera of its own: a track paces itself from its first frame on.
    server = Server(pipeline, ComposedShow(LoopingCamera(), spec))

    app = web.Application()
    app.router.add_post("/offer/{mode}", server.offer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    viewers = Viewers(f"http://127.0.0.1:{port}", args.viewer_processes)
    await viewers.start()
    print(f"fan-out at {WIDTH}x{HEIGHT}@{FPS}, H.264, viewers in a separate process, "
          f"{os.cpu_count()} cores (shared); sustained = slowest viewer >= {SUSTAINED_FPS:.1f} fps", flush=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} (more than the core count: neighbours take CPU)", flush=True)
    try:
        await pipeline.start()
        pipeline.attach_publisher(camera)
        once = await ladder(
            viewers, "once", [n for n in ONCE_LADDER if n <= args.max_once], args.windows,
            lambda: pipeline.stats()["frames_encoded"],
        )
        stats = pipeline.stats()
        await server.close_all()
        await pipeline.stop()
        print(f"  encode once: encoder output {stats['output_fps']} fps, {stats['encode_ms']} ms/frame (median), "
              f"{stats['dropped_frames']} clock ticks missed, {stats['viewer_resyncs']} viewer resyncs", flush=True)

        per_viewer = await ladder(
            viewers, "per-viewer", [n for n in PER_VIEWER_LADDER if n <= args.max_per_viewer], args.windows,
            lambda: server.composed.frames,
        )
        await server.close_all()
    finally:
        await viewers.stop()
        await runner.cleanup()
        await studio.close()

    first = Summary.of(once, max(n for n in ONCE_LADDER if n <= args.max_once))
    second = Summary.of(per_viewer, max(n for n in PER_VIEWER_LADDER if n <= args.max_per_viewer))
    print()
    print(
        "| mode | viewers sustained at 30 fps | server CPU there | fitted: making the show "
        "| fitted: CPU per viewer | fitted: viewers per core |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, figures in (("encode once + fan-out", first), ("aiortc per-viewer encoding", second)):
        print(
            f"| {name} | {figures.label} | {figures.cpu_percent:.0f}% | {figures.fixed_percent:.0f}% "
            f"| {figures.per_viewer_percent:.2f}% | {figures.per_core:.0f} |"
        )
    print("(CPU: server process time / wall time, 100% = one core; '+': the ladder's top count still held)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if second.sustained:
        print(f"viewers sustained, encode once vs per viewer: {first.sustained / second.sustained:.0f}x"
              + (" (at least)" if first.more_possible else ""))
    print(f"CPU per viewer, per viewer vs encode once: {second.per_viewer_percent / first.per_viewer_percent:.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-once", type=int, default=96, help="highest viewer count tried with encode-once")
    parser.add_argument("--max-per-viewer", type=int, default=8, help="highest count tried with per-viewer encoding")
    parser.add_argument("--windows", type=int, default=3, help="2 s measuring windows per step (medians)")
    parser.add_argument("--viewer-processes", type=int, default=2, help="processes the viewers are spread over")
    parser.add_argument("--viewers-process", metavar="URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.viewers_process:
        asyncio.run(run_viewers(arguments.viewers_process))
    else:
        asyncio.run(main(arguments))
