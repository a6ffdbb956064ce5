"""Glass-to-glass latency and overlay switch-to-visible, on loopback.

    .venv/bin/python benchmarks/latency.py [--seconds 15] [--switches 8] [--size 1280x720]

A real ``farmlive up`` studio runs as its own process on 127.0.0.1. In this
process an aiortc publisher (the "phone") sends WHIP frames that carry their
own frame number as two rows of big black/white blocks (the number and its
complement, so a misread is rejected); an aiortc WHEP viewer decodes every
frame it receives and reads the number back:

* glass-to-glass = time the viewer has the decoded frame - time the publisher
  produced it (same clock: same process). Baseline in the same run: one
  direct aiortc H264 hop, publisher -> viewer, with no studio in between (what the
  studio's decode + compose + encode-once + second hop adds is the gap).
* switch-to-visible = time from sending ``PUT /api/overlay`` to the first
  viewer frame whose QR decodes to the new product's link.

Targets (DESIGN.md): glass-to-glass median <= 200 ms, switch <= 150 ms.
The machine is shared; figures are medians (and p90) of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.media.fanout import h264_preferences  # noqa: E402
from studio.media.ice import use_loopback_candidates  # noqa: E402

KEY = "latency-bench-key"
BITS = 16
SKUS = ("ORANGE-GANNAN-5KG", "TEA-ANXI-250G")
# Code blocks: two rows of BITS squares in the top-left, clear of the product card.
BLOCK_FRACTION = 1 / 40  # block side as a fraction of the frame width
MARGIN_FRACTION = 1 / 64
RECORD_SECONDS = 2.5  # frames kept after each switch; the QR must show up within them


def block_boxes(width: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of each block: row 0 = the number, row 1 = its complement."""
    side = max(8, int(width * BLOCK_FRACTION))
    margin = int(width * MARGIN_FRACTION)
    return [(margin + i * side, margin + row * side, side) for row in range(2) for i in range(BITS)]


def draw_number(luma: np.ndarray, number: int) -> None:
    width = luma.shape[1]
    bits = [(number >> i) & 1 for i in range(BITS)]
    bits += [1 - b for b in bits]
    for (x, y, side), bit in zip(block_boxes(width), bits, strict=True):
        luma[y : y + side, x : x + side] = 235 if bit else 16


def read_number(luma: np.ndarray) -> int | None:
    width = luma.shape[1]
    values = []
    for x, y, side in block_boxes(width):
        inner = luma[y + side // 4 : y + 3 * side // 4, x + side // 4 : x + 3 * side // 4]
        values.append(1 if inner.mean() > 128 else 0)
    number, complement = values[:BITS], values[BITS:]
    if any(a == b for a, b in zip(number, complement, strict=True)):
        return None  # a misread (or not one of our frames, e.g. the hold slate)
    return sum(bit << i for i, bit in enumerate(number))


class NumberedCamera(VideoStreamTrack):
    """A 30 fps "camera" whose frames carry their number; remembers when each was made."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.width, self.height = width, height
        rng = np.random.default_rng(7)
        # Texture that moves, so the encoders do real work as with a camera.
        self.texture = rng.integers(60, 200, size=(height, width * 2), dtype=np.uint8)
        self.chroma = np.full((height // 2, width), 128, dtype=np.uint8)
        self.sent: dict[int, float] = {}
        self.number = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.number = (self.number + 1) % (1 << BITS)
        offset = (self.number * 8) % self.width
        luma = np.ascontiguousarray(self.texture[:, offset : offset + self.width])
        draw_number(luma, self.number)
        frame = VideoFrame.from_ndarray(np.vstack([luma, self.chroma]), format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.sent[self.number] = time.monotonic()
        return frame


class LatencyViewer:
    """Reads every received frame's number; can keep raw frames for the QR check."""

    def __init__(self, camera: NumberedCamera) -> None:
        self.camera = camera
        self.latencies_ms: list[float] = []
        self.recording: list[tuple[float, np.ndarray]] | None = None
        self.frames = 0
        self.task: asyncio.Task[None] | None = None

    def attach(self, pc: RTCPeerConnection) -> None:
        @pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            if track.kind == "video":
                self.task = asyncio.ensure_future(self._consume(track))

    async def _consume(self, track) -> None:  # type: ignore[no-untyped-def]
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the peer connection closed
            now = time.monotonic()
            self.frames += 1
            luma = frame.to_ndarray(format="yuv420p")[: frame.height]
            if self.recording is not None:
                self.recording.append((now, luma))
            number = read_number(luma)
            sent = self.camera.sent.get(number) if number is not None else None
            if sent is not None:
                self.latencies_ms.append((now - sent) * 1000)


def client_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def whip_publish(http: aiohttp.ClientSession, url: str, camera: NumberedCamera) -> RTCPeerConnection:
    pc = client_pc()
    pc.addTransceiver(camera, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {KEY}"}
    async with http.post(f"{url}/whip", data=pc.localDescription.sdp, headers=headers) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def whep_watch(http: aiohttp.ClientSession, url: str, viewer: LatencyViewer) -> RTCPeerConnection:
    pc = client_pc()
    viewer.attach(pc)
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = {"Content-Type": "application/sdp"}
    async with http.post(f"{url}/whep", data=pc.localDescription.sdp, headers=sdp) as response:
        assert response.status == 201, await response.text()
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def direct_hop(width: int, height: int, seconds: float) -> list[float]:
    """Baseline: the same camera straight into the same viewer, no studio."""
    camera = NumberedCamera(width, height)
    viewer = LatencyViewer(camera)
    sender, receiver = client_pc(), client_pc()
    # H264 like the publisher's leg into the studio (which prefers it), so both legs compare.
    sender.addTransceiver(camera, direction="sendonly").setCodecPreferences(h264_preferences())
    viewer.attach(receiver)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await asyncio.sleep(3)  # first keyframe, jitter buffer settles
    viewer.latencies_ms.clear()
    await asyncio.sleep(seconds)
    samples = list(viewer.latencies_ms)
    await sender.close()
    await receiver.close()
    return samples


def start_studio(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    # The child writes to its own copy of the log's descriptor; ours closes at once.
    with open(data_dir / "studio.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "up", "--no-ui", "--data-dir", str(data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--key", KEY, "--ice-loopback-only"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )


async def api(http: aiohttp.ClientSession, url: str, method: str, path: str, body: dict | None = None) -> dict:
    async with http.request(method, url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def wait_healthy(http: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the studio exited with {process.returncode}")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the studio did not start within 60 s")


def first_frame_with(recording: list[tuple[float, np.ndarray]], link: str) -> float | None:
    """Arrival time of the first frame whose QR is ``link``.

    A plain scan from the switch on: a frame now and then fails to decode
    (motion, quantisation), which would mislead a binary search.
    """
    detector = cv2.QRCodeDetector()
    for at, luma in recording:
        if detector.detectAndDecode(luma)[0] == link:
            return at
    return None


async def switch_to_visible(
    http: aiohttp.ClientSession, url: str, viewer: LatencyViewer, switches: int, answered: list[float]
) -> tuple[list[float], int]:
    """Alternate two products; time from the PUT to the first frame showing the new QR.

    ``answered`` collects how long the PUT itself took (HTTP + database), the
    part of the switch that is not rendering, encoding and delivery.
    """
    samples, missed = [], 0
    for index in range(switches):
        sku = SKUS[(index + 1) % 2]
        viewer.recording = []
        started = time.monotonic()
        on_air = await api(http, url, "PUT", "/api/overlay", {"sku": sku})
        answered.append((time.monotonic() - started) * 1000)
        await asyncio.sleep(RECORD_SECONDS)
        recording, viewer.recording = viewer.recording, None
        seen = await asyncio.get_running_loop().run_in_executor(
            None, first_frame_with, [(t, f) for t, f in recording if t >= started], on_air["link_url"]
        )
        if seen is None:
            missed += 1
        else:
            samples.append((seen - started) * 1000)
        await asyncio.sleep(0.3)
    return samples, missed


def describe(name: str, samples: list[float]) -> str:
    if not samples:
        return f"{name}: no samples"
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"{name}: median {statistics.median(ordered):.0f} ms, p90 {p90:.0f} ms, n={len(ordered)}"


async def run(args: argparse.Namespace) -> None:
    use_loopback_candidates()
    width, height = (int(v) for v in args.size.split("x"))
    port = args.port
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="farmlive-latency-") as tmp:
        data_dir = Path(tmp)
        process = start_studio(data_dir, port)
        try:
            async with aiohttp.ClientSession() as http:
                await wait_healthy(http, url, process)
                await api(http, url, "POST", "/api/shows", {"title": "latency benchmark"})
                await api(http, url, "PUT", "/api/overlay", {"sku": SKUS[0]})
                camera = NumberedCamera(width, height)
                viewer = LatencyViewer(camera)
                publisher = await whip_publish(http, url, camera)
                watcher = await whep_watch(http, url, viewer)
                await asyncio.sleep(3)
                viewer.latencies_ms.clear()
                frames_before = viewer.frames
                await asyncio.sleep(args.seconds)
                glass = list(viewer.latencies_ms)
                fps = (viewer.frames - frames_before) / args.seconds
                answered: list[float] = []
                switches, missed = await switch_to_visible(http, url, viewer, args.switches, answered)
                state = await api(http, url, "GET", "/api/state")
                await publisher.close()
                await watcher.close()
        finally:
            process.terminate()
            process.wait(timeout=20)
    baseline = await direct_hop(width, height, min(args.seconds, 8))

    print(f"farmlive latency on loopback, {width}x{height} publisher at 30 fps, {os.cpu_count()} cores (shared)")
    print(describe("glass-to-glass through the studio", glass) + f"  (viewer {fps:.1f} fps; target <= 200 ms)")
    print(describe("baseline: one direct aiortc H264 hop, no studio", baseline))
    if glass and baseline:
        ratio = statistics.median(glass) / statistics.median(baseline)
        extra = statistics.median(glass) - statistics.median(baseline)
        print(f"studio / direct-hop ratio: {ratio:.2f}x  (+{extra:.0f} ms)")
    print(describe("overlay switch-to-visible", switches) + f", missed {missed}  (target <= 150 ms)")
    print(describe("  of which PUT /api/overlay answered", answered))
    stream = state.get("stream_health", {})
    print(f"studio during the run: ingest {stream.get('ingest_fps')} fps, output {stream.get('output_fps')} fps, "
          f"encode {stream.get('encode_ms')} ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="how long to sample glass-to-glass")
    parser.add_argument("--switches", type=int, default=8, help="how many product switches to time")
    parser.add_argument("--size", default="1280x720", help="publisher frame size WxH")
    parser.add_argument("--port", type=int, default=18765)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
