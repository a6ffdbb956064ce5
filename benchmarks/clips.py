"""After the show: End show -> replay ready, and per-product clips by stream copy vs re-encoding.

    .venv/bin/python benchmarks/clips.py [--hours 2] [--switches 20] [--compare-seconds 20]

Builds a synthetic 2-hour 720p30 show recording with 20 product switches,
written by the studio's own recorder (fragmented MP4, 1 s GOPs, Opus audio):
a few seconds of real composed pictures (moving test pattern + product card
+ QR code) per product are encoded once with the studio's x264 settings and
their GOPs repeated with advancing timestamps, so the file is a valid 2-hour
stream without spending an hour encoding it. Then it measures, in one run:

* End show -> replay ready: ``Studio.end_show()`` with the server's
  :class:`~studio.replay.ReplayMaker` running, until the faststart replay
  file is in place (the same path as ``POST /api/shows/{id}/end``);
* ``make_clips`` end to end (plan, stream-copy cuts, QR-checked covers,
  captions, clips.csv) with the defaults (20-90 s);
* the cutting alone against the baseline, re-encoding the same windows
  (decode + libx264 with the studio's settings), per clip, medians.

Everything runs in a temporary folder (about 4 GB for 2 hours), deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import catalog
from analytics import events
from analytics.frames import load_link_events, load_show
from analytics.replay import clip_plan
from catalog.products import Product, upsert_product
from catalog.shows import create_show, link_for
from catalog.timestamps import to_iso
from overlays import Compositor, OverlaySpec
from studio.clips import make_clips
from studio.config import StudioConfig
from studio.media.encoder import VIDEO_TIME_BASE, H264Encoder, H264Settings, OpusEncoder, silence
from studio.media.frames import bgr_to_i420
from studio.media.recorder import Recording
from studio.media.replay import Part, cut, finalise_show
from studio.media.synthetic import MovingPattern
from studio.replay import ReplayMaker, replays_dir
from studio.state import Studio

FPS = 30
TICKS = VIDEO_TIME_BASE.denominator // FPS
PRODUCTS = [
    Product("ORANGE-5KG", "Gannan navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=500),
    Product("TEA-250G", "Anxi Tieguanyin tea", 128.0, name_zh="安溪铁观音", unit="250 g tin", stock=200),
    Product("SUGAR-1KG", "Brown sugar", 36.0, name_zh="古法红糖", unit="1 kg", stock=300),
    Product("SHIITAKE", "Dried shiitake", 68.0, name_zh="香菇", unit="500 g", stock=150),
    Product("APRICOT", "Luntai apricots", 79.0, name_zh="轮台小白杏", unit="3 kg", stock=80),
]
GOPS_PER_PRODUCT = 2


def encode_gops(link_urls: dict[str, str]) -> dict[str, list[list[av.Packet]]]:
    """A few real GOPs per product: test pattern + that product's card and QR, studio x264 settings."""
    encoder = H264Encoder(H264Settings(fps=FPS))
    pattern = MovingPattern(1280, 720)
    compositor = Compositor()
    gops: dict[str, list[list[av.Packet]]] = {}
    index = 0
    for product in PRODUCTS:
        compositor.set_spec(OverlaySpec(product=product, link_url=link_urls[product.sku], layout="auto"))
        packets: list[av.Packet] = []
        for frame in range(GOPS_PER_PRODUCT * FPS):
            buf = bgr_to_i420(pattern.picture(index))
            compositor.compose_i420(buf)
            packets.extend(encoder.encode(buf, index * TICKS, keyframe=frame == 0))
            index += 1
        gops[product.sku] = [packets[g * FPS : (g + 1) * FPS] for g in range(GOPS_PER_PRODUCT)]
        assert all(gop[0].is_keyframe for gop in gops[product.sku])
    return gops


def write_recording(
    path: Path, started: datetime, seconds: int, schedule: list[str], gops: dict[str, list[list[av.Packet]]]
) -> None:
    """``seconds`` of show through the studio's Recording writer; ``schedule[s]`` is the SKU on air."""
    opus = OpusEncoder()
    audio = [p for _ in range(50) for p in opus.encode(silence())]
    first = gops[schedule[0]][0][0]
    first.pts = 0
    recording = Recording(path, first, show_id=1, started_at=to_iso(started))
    samples_per_packet = 960
    for second in range(seconds):
        gop = gops[schedule[second]][second % GOPS_PER_PRODUCT]
        for i, packet in enumerate(gop):
            if second == 0 and i == 0:
                continue
            packet.pts = packet.dts = (second * FPS + i) * TICKS
            recording.write_video(packet)
        for i, packet in enumerate(audio):
            packet.pts = packet.dts = (second * 50 + i) * samples_per_packet
            recording.write_audio(packet)
    recording.close()


async def end_show_until_replay(config: StudioConfig) -> float:
    """Seconds from ``Studio.end_show()`` until the replay file of the show is in place."""
    studio = Studio(config)
    await studio.open()  # resumes the live show
    maker = ReplayMaker(studio)
    maker.start()
    try:
        started = time.monotonic()
        await studio.end_show()
        folder = replays_dir(studio)
        # The replay maker renames the file into place when whole: a poll of the folder, no event to await.
        while not (folder.is_dir() and any(folder.glob("show-1-*.mp4"))):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return time.monotonic() - started
    finally:
        await maker.stop()
        await studio.close()


def reencode(source: Part, dest: Path, start_s: float, end_s: float) -> None:
    """The baseline: decode the window and encode it again with the studio's x264 settings."""
    settings = H264Settings(fps=FPS)
    with (
        av.open(str(source.path)) as inp,
        av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        stream = inp.streams.video[0]
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = stream.codec_context.width, stream.codec_context.height, "yuv420p"
        video.bit_rate = settings.bitrate
        video.options = settings.options()
        inp.seek(int(start_s / stream.time_base), stream=stream)
        for frame in inp.decode(stream):
            if frame.time is None or frame.time < start_s:
                continue
            if frame.time >= end_s:
                break
            frame.pts = None
            out.mux(video.encode(frame))
        out.mux(video.encode(None))


def main() -> None:  # noqa: PLR0915  (a benchmark script: setup, runs and report read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--compare-seconds", type=float, default=20.0, help="clip length for the re-encode comparison")
    args = parser.parse_args()
    seconds = int(args.hours * 3600)
    root = Path(tempfile.mkdtemp(prefix="farmlive-clips-bench-"))
    try:
        data_dir = root / "data"
        config = StudioConfig(data_dir=data_dir, key="bench", host="127.0.0.1", port=9)
        db = catalog.open_db(data_dir)
        for product in PRODUCTS:
            upsert_product(db, product)
        started = datetime.now(UTC) - timedelta(seconds=seconds + 5)
        show = create_show(db, "Benchmark show", started_at=to_iso(started))
        links = {p.sku: f"{config.public_url}/b/{link_for(db, show.id, p.sku).code}" for p in PRODUCTS}
        interval = seconds // args.switches
        schedule = [PRODUCTS[min(s // interval, args.switches - 1) % len(PRODUCTS)].sku for s in range(seconds)]
        for k in range(args.switches):
            events.record_overlay(
                db, show.id, PRODUCTS[k % len(PRODUCTS)].sku, at=to_iso(started + timedelta(seconds=k * interval))
            )
        db.conn.close()

        t = time.perf_counter()
        gops = encode_gops(links)
        recording = data_dir / "recordings" / f"show-{show.id}-{started.strftime('%Y%m%dT%H%M%SZ')}.mp4"
        write_recording(recording, started, seconds, schedule, gops)
        size_gb = recording.stat().st_size / 1e9
        print(f"synthetic recording: {args.hours:g} h 720p{FPS}, {args.switches} switches, "
              f"{size_gb:.2f} GB, written in {time.perf_counter() - t:.1f} s (setup, not measured)")

        ready_s = asyncio.run(end_show_until_replay(config))
        print(
            f"End show -> replay ready (remux to faststart MP4, {size_gb:.2f} GB): {ready_s:.1f} s   (target <= 60 s)"
        )

        db = catalog.open_db(data_dir)
        t = time.perf_counter()
        result = make_clips(db, data_dir, show.id, root / "clips")
        made_s = time.perf_counter() - t
        print(
            f"farmlive clips (defaults 20-90 s): {len(result.clips)} clips with covers and captions in {made_s:.1f} s"
        )

        [part] = finalise_show(data_dir / "recordings", data_dir / "replays", show.id).parts
        plan = clip_plan(load_show(db, show.id), load_link_events(db, show.id), min_s=5, max_s=args.compare_seconds)
        offset = (part.started_at - started).total_seconds()
        copy_s, encode_s = [], []
        scratch = root / "compare"
        scratch.mkdir()
        for row in plan.itertuples(index=False):
            start, end = row.start_s - offset, row.end_s - offset
            t = time.perf_counter()
            cut(part.path, scratch / f"copy-{row.rank}.mp4", start, end)
            copy_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            reencode(part, scratch / f"encode-{row.rank}.mp4", start, end)
            encode_s.append(time.perf_counter() - t)
        db.conn.close()
        copy_ms, encode_ms = statistics.median(copy_s) * 1000, statistics.median(encode_s) * 1000
        print(f"{len(plan)} clips of {args.compare_seconds:g} s, per clip (median): stream copy {copy_ms:.0f} ms, "
              f"re-encode baseline {encode_ms:.0f} ms ({encode_ms / copy_ms:.0f}x); "
              f"totals {sum(copy_s):.1f} s vs {sum(encode_s):.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
