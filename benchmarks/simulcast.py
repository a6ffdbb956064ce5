"""Simulcast cost: CPU per RTMP destination (remux of the one encode) against re-encoding per destination.

    .venv/bin/python benchmarks/simulcast.py [--destinations 3] [--seconds 15] [--rounds 3]

A real studio pipeline on a moving 720p30 camera pushes to a real nginx-rtmp
on 127.0.0.1 (docs/nginx/rtmp.conf, started and stopped here). For each
round it measures the CPU (studio process plus its FLV writer processes,
from /proc) with 0 destinations and with N, and gives the extra per
destination as a share of one core. The baseline, in the same run, is what
each destination would cost if it were encoded on its own: one more x264
encode of the same 720p30 frames with the show's settings. It also times an
overlay switch until it is visible in the RTMP readback (PyAV playing the
stream back from nginx): the studio's share of glass-to-platform delay.

Then, in the same round, one own-QR destination (its own picture with its
own buy link's QR, composed and encoded on its own thread, see
studio/media/own_picture.py): its direct cost (picture thread + pusher
thread + writer process, from /proc) against a remux destination's, the
share the picture reports itself (``encode_cpu_percent`` in the API and
panel) and the frames it dropped. Medians over the rounds; the machine is
shared, so expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import catalog
from catalog.products import Product, upsert_product
from catalog.shows import link_for
from studio.config import StudioConfig
from studio.media.encoder import H264Encoder, H264Settings
from studio.media.own_picture import OwnPicture
from studio.media.pipeline import ShowPipeline
from studio.media.push import RtmpPusher
from studio.media.synthetic import MovingPattern, connect_publisher
from studio.state import Studio
from tests.conftest import free_port
from tests.nginx import Nginx, render

TICKS = os.sysconf("SC_CLK_TCK")
ORANGES = Product("ORANGE-5KG", "Navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=40)


def cpu_seconds(pid: int | str = "self") -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pushers_cpu(
    pushers: list[RtmpPusher], *, threads: bool = False, pictures: tuple[OwnPicture, ...] = ()
) -> float:
    """CPU seconds of the pushers' writer processes (and, with ``threads``, of their and the pictures' threads)."""
    total = sum(cpu_seconds(f"self/task/{picture.thread_id}") for picture in pictures if threads)
    for pusher in pushers:
        sources: list[int | str] = [pusher.writer.pid] if pusher.writer is not None else []
        if threads and pusher.thread_id is not None:
            sources.append(f"self/task/{pusher.thread_id}")
        for source in sources:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a writer that just ended
                total += cpu_seconds(source)
    return total


async def measure(
    seconds: float, pushers: list[RtmpPusher], pictures: tuple[OwnPicture, ...] = ()
) -> tuple[float, float]:
    """Shares of one core over ``seconds``: this process plus the writers, and the pushes' own part.

    The first is the whole studio (noisy on a shared machine: the encode
    varies more than a push costs); the second counts only the pushers'
    threads and writer processes, the direct cost of the destinations.
    """
    start_self, start_children, started = cpu_seconds(), pushers_cpu(pushers), time.monotonic()
    start_own = pushers_cpu(pushers, threads=True, pictures=pictures)
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    used = cpu_seconds() - start_self + pushers_cpu(pushers) - start_children
    return used / elapsed, (pushers_cpu(pushers, threads=True, pictures=pictures) - start_own) / elapsed


def make_pusher(port: int, key: str, pipeline: ShowPipeline) -> RtmpPusher:
    return RtmpPusher(
        key, f"rtmp://127.0.0.1:{port}/live", key,
        aac_config=lambda: pipeline.aac.extradata if pipeline.aac else None, on_change=lambda _status: None,
    )


async def wait_live(pushers: list[RtmpPusher]) -> None:
    while not all(p.status.state == "live" for p in pushers):  # noqa: ASYNC110 -- state set by pusher threads
        await asyncio.sleep(0.1)


async def own_qr_round(
    studio: Studio, pipeline: ShowPipeline, port: int, key: str, seconds: float
) -> tuple[float, float, float, float]:
    """One own-QR destination: (show + it, its direct cost, what it reports itself, share of frames dropped)."""
    await studio.put_on_air(ORANGES.sku)
    assert studio.show is not None
    link = await studio.db(link_for, studio.show.id, ORANGES.sku, destination=key)
    pusher = make_pusher(port, key, pipeline)
    picture = OwnPicture(key, pusher.queue, pipeline.settings)
    picture.set_spec(replace(studio.on_air.overlay_spec(), link_url=studio.link_url(link.code)))
    picture.start()
    pipeline.add_picture(picture)
    pusher.start()
    try:
        await wait_live([pusher])
        await asyncio.sleep(2)
        offered, dropped = picture.frames_offered, picture.frames_dropped
        busy, own = await measure(seconds, [pusher], (picture,))
        reported = picture.cpu_percent / 100
        drop_share = (picture.frames_dropped - dropped) / max(picture.frames_offered - offered, 1)
    finally:
        pipeline.remove_picture(picture)
        await asyncio.to_thread(picture.stop)
        await asyncio.to_thread(pusher.stop)
        await studio.put_on_air(None)
    return busy, own, reported, drop_share


def reencode_share(frames: int = 150) -> float:
    """Share of one core one more 720p30 x264 encode of the show would take."""
    encoder = H264Encoder(H264Settings())
    camera = np.random.default_rng(0).integers(0, 256, (720 * 3 // 2, 1280), dtype=np.uint8)
    started = time.process_time()
    for index in range(frames):
        camera[:, index % 1280] ^= 0xFF  # moving content, as on a camera
        encoder.encode(camera, index * 3000)
    return (time.process_time() - started) / (frames / 30)


def readback_switch_delay(
    url: str, switched: threading.Event, switched_at: list[float], timeout: float = 20.0
) -> float | None:
    """Play ``url``; seconds from the switch (``switched_at[0]``) to the first frame that shows it."""
    detector = cv2.QRCodeDetector()
    # Small probe: a player that probes for seconds would also lag the stream by those seconds.
    options = {"fflags": "nobuffer", "probesize": "500000", "analyzeduration": "500000"}
    with av.open(url, timeout=10, options=options) as player:
        if not player.streams.video:
            return None  # the probe saw no picture yet: this round has no figure
        deadline = time.monotonic() + timeout
        for frame in player.decode(video=0):
            if not switched.is_set():
                continue  # nothing on air yet: no QR in the picture
            found, _ = detector.detect(frame.to_ndarray(format="gray"))
            if found:
                return time.monotonic() - switched_at[0]
            if time.monotonic() > deadline:
                return None
    return None


async def run(destinations: int, seconds: float, rounds: int) -> None:  # noqa: PLR0915 -- the benchmark, top to bottom
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        nginx = Nginx(Path(tmp) / "nginx", render("rtmp.conf", RTMP_LISTEN=f"127.0.0.1:{port}",
                                                   PUBLISH_CHECK="http://127.0.0.1:9/none"), port)
        nginx.start()
        data_dir = Path(tmp) / "data"
        db = catalog.open_db(data_dir)
        upsert_product(db, ORANGES)
        db.conn.close()
        studio = Studio(StudioConfig(data_dir=data_dir, key="bench", host="127.0.0.1", port=free_port()))
        await studio.open()
        await studio.start_show("Simulcast benchmark")
        pipeline = ShowPipeline(studio, record=False)
        await pipeline.start()
        publisher = await connect_publisher(MovingPattern())
        await asyncio.sleep(0.5)
        pipeline.attach_publisher(publisher.tracks["video"])
        try:
            baseline = reencode_share()
            print(f"baseline: one more x264 encode of 720p30 = {baseline:.1%} of a core per destination")
            idle_shares, per_destination, direct, delays = [], [], [], []
            own_qr: list[tuple[float, float, float, float]] = []
            for round_number in range(rounds):
                await asyncio.sleep(2)
                idle, _ = await measure(seconds, [])
                pushers = [make_pusher(port, f"bench-{round_number}-{i}", pipeline) for i in range(destinations)]
                for pusher in pushers:
                    pipeline.add_sink(pusher)
                    pusher.start()
                await wait_live(pushers)
                await asyncio.sleep(2)
                busy, own = await measure(seconds, pushers)
                extra = (busy - idle) / destinations
                idle_shares.append(idle)
                per_destination.append(extra)
                direct.append(own / destinations)

                switched, switched_at = threading.Event(), [0.0]
                url = f"rtmp://127.0.0.1:{port}/live/bench-{round_number}-0"
                watcher = asyncio.ensure_future(asyncio.to_thread(readback_switch_delay, url, switched, switched_at))
                await asyncio.sleep(3)
                switched_at[0] = time.monotonic()
                switched.set()
                await studio.put_on_air(ORANGES.sku)
                delay = await watcher
                await studio.put_on_air(None)
                if delay is not None:
                    delays.append(delay)
                for pusher in pushers:
                    pipeline.remove_sink(pusher)
                    await asyncio.to_thread(pusher.stop)
                own_busy, own_direct, own_reported, own_dropped = await own_qr_round(
                    studio, pipeline, port, f"own-{round_number}", seconds
                )
                own_qr.append((own_busy - idle, own_direct, own_reported, own_dropped))
                print(
                    f"round {round_number + 1}: one own-QR destination: whole-process difference "
                    f"{own_busy - idle:.1%}, its picture + pusher + writer {own_direct:.1%} of a core "
                    f"(the picture reports {own_reported:.1%}); {own_dropped:.1%} of its frames dropped"
                )
                print(
                    f"round {round_number + 1}: show alone {idle:.1%}, with {destinations} destinations "
                    f"{busy:.1%} -> {extra:.2%} of a core per destination (its thread + writer process alone: "
                    f"{own / destinations:.2%}); switch visible in RTMP readback "
                    + (f"{delay * 1000:.0f} ms" if delay is not None else "not seen")
                )
            print()
            print(f"show alone (encode once, 720p30 camera):  {statistics.median(idle_shares):.1%} of a core")
            print(f"per remux destination, pusher thread + writer process, median: "
                  f"{statistics.median(direct):.2%} of a core (target <= 2%)")
            whole = statistics.median(per_destination)
            print(f"per remux destination, whole-process difference, median: {whole:.2%} of a core "
                  f"(target <= 2%)")
            print(f"per destination re-encoded (baseline):   {baseline:.1%} of a core "
                  f"({baseline / max(statistics.median(per_destination), 1e-4):.0f}x)")
            if delays:
                print(f"overlay switch -> visible in RTMP readback, median: {statistics.median(delays) * 1000:.0f} ms")
            whole_own, direct_own, reported_own, dropped_own = (statistics.median(f) for f in zip(*own_qr, strict=True))
            remux = statistics.median(direct)
            print(f"per own-QR destination (own picture + encode), direct, median: {direct_own:.1%} of a core "
                  f"vs {remux:.2%} remuxed ({direct_own / max(remux, 1e-4):.0f}x); "
                  f"whole-process difference {whole_own:.1%}; reported in the panel {reported_own:.1%}; "
                  f"frames dropped {dropped_own:.1%}")
        finally:
            await publisher.close()
            await pipeline.stop()
            await studio.close()
            nginx.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--destinations", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.destinations, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
