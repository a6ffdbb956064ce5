"""The show recording: a playable MP4 of the composed show, even after ``kill -9``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import cv2

from studio.config import StudioConfig
from studio.media.pipeline import ShowPipeline
from studio.media.synthetic import MovingPattern
from studio.state import Studio
from tests.conftest import open_studio

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Recording:
    frames: list[av.VideoFrame]
    audio_packets: int
    qr: str | None
    bad_packets: int  # packets the decoder rejected (only a killed writer's torn tail)


def read_recording(path: Path) -> Recording:
    """Decode the file the way a player does: packet by packet, skipping a torn one."""
    frames: list[av.VideoFrame] = []
    audio = bad = 0
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        for packet in container.demux():
            if packet.stream.type == "audio":
                audio += packet.size > 0
                continue
            try:
                frames.extend(packet.decode())
            except av.error.InvalidDataError:
                bad += 1
    qr = None
    for frame in frames[-1 : -len(frames) - 1 : -max(1, len(frames) // 10)]:  # ~10 spread over the file
        if qr:
            break
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(frame.to_ndarray(format="bgr24"))
        qr = qr or text or None
    return Recording(frames, audio, qr, bad)


async def wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_show_is_recorded_from_the_shared_packets(studio: Studio, pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    await wait_until(lambda: pipeline.stats()["recording"] is not None)
    path = Path(pipeline.stats()["recording"])
    assert path.parent == studio.config.recordings_dir
    assert path.name.startswith(f"show-{studio.show.id}-") and path.suffix == ".mp4"
    await asyncio.sleep(2.0)
    link = studio.on_air.link_url
    await studio.end_show()
    await wait_until(lambda: pipeline.stats()["recording"] is None)

    recording = read_recording(path)
    # ~2 s at 30 fps; a busy shared machine may make fewer, never more.
    assert 30 <= len(recording.frames) <= 120 and recording.bad_packets == 0
    assert (recording.frames[0].width, recording.frames[0].height) == (1280, 720)
    assert recording.audio_packets >= 50  # 20 ms Opus packets alongside
    assert recording.qr == link
    # No second encoder: the file holds exactly the packets the viewers got.
    stats = pipeline.stats()
    assert stats["frames_out"] <= stats["frames_encoded"] <= stats["frames_out"] + 1


async def test_each_show_gets_its_own_file(studio: Studio, pipeline: ShowPipeline) -> None:
    await wait_until(lambda: pipeline.stats()["recording"] is not None)
    first = Path(pipeline.stats()["recording"])
    first_link = studio.on_air.link_url
    await asyncio.sleep(1.5)
    second_show = await studio.start_show("Evening show")  # ends the first one
    second_link = studio.on_air.link_url
    assert second_link != first_link  # a buy code per show x product
    await wait_until(lambda: pipeline.stats()["recording"] not in (None, str(first)))
    second = Path(pipeline.stats()["recording"])
    assert second.name.startswith(f"show-{second_show.id}-")
    await asyncio.sleep(1.5)
    await studio.end_show()
    await wait_until(lambda: pipeline.stats()["recording"] is None)
    for path, link in ((first, first_link), (second, second_link)):
        recording = read_recording(path)
        assert len(recording.frames) >= 15 and recording.bad_packets == 0
        assert recording.qr == link


async def test_turning_the_phone_starts_a_new_part(studio: Studio, pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern(640, 480))
    await wait_until(lambda: pipeline.stats()["recording"] is not None)
    await asyncio.sleep(1.0)
    pipeline.attach_publisher(MovingPattern(480, 640))  # held upright now
    await wait_until(lambda: pipeline.stats()["output_size"] == "720x1280")
    await asyncio.sleep(1.0)
    await studio.end_show()
    await wait_until(lambda: pipeline.stats()["recording"] is None)
    files = sorted(studio.config.recordings_dir.glob("*.mp4"))
    assert len(files) == 2
    firsts = [read_recording(f).frames[0] for f in files]
    sizes = {(frame.width, frame.height) for frame in firsts}
    assert sizes == {(1280, 720), (720, 1280)}


async def test_no_show_no_recording(studio: Studio, pipeline: ShowPipeline) -> None:
    await studio.end_show()
    await asyncio.sleep(0.8)
    assert pipeline.stats()["recording"] is None
    files = list(studio.config.recordings_dir.glob("*.mp4")) if studio.config.recordings_dir.exists() else []
    for path in files:  # at most the moment before end_show, and it is complete
        assert read_recording(path).frames


async def test_an_unwritable_recordings_folder_does_not_stop_the_show(studio_config: StudioConfig) -> None:
    studio_config.data_dir.mkdir(exist_ok=True)
    studio_config.recordings_dir.write_text("a file where the folder should be")
    studio = await open_studio(studio_config)
    pipeline = ShowPipeline(studio)
    await pipeline.start()
    try:
        feed = pipeline.add_viewer()
        packets = [await asyncio.wait_for(feed.video.recv(), 2) for _ in range(20)]
        assert packets[0].is_keyframe
        stats = pipeline.stats()
        assert stats["recording"] is None and stats["output_fps"] > 0
        assert pipeline._recorder is not None and pipeline._recorder.errors == 1
    finally:
        await pipeline.stop()
        await studio.close()


async def record_until_killed(data_dir: str) -> None:
    """Child process of the kill -9 test: record a show and report the file."""
    config = StudioConfig(data_dir=Path(data_dir), key="k", host="127.0.0.1", port=9)
    studio = await open_studio(config)
    pipeline = ShowPipeline(studio)
    await pipeline.start()
    pipeline.attach_publisher(MovingPattern())
    while pipeline.stats()["recording"] is None:
        await asyncio.sleep(0.05)
    print(pipeline.stats()["recording"], studio.on_air.link_url, flush=True)
    await asyncio.sleep(60)  # the test kills us long before


def record_then_kill(data_dir: Path, seconds: float) -> tuple[Path, str]:
    """Record a show in a child process, ``kill -9`` it after ``seconds``; (file, link on air)."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         (
             "import asyncio, sys; from tests.test_recorder import record_until_killed; "
             "asyncio.run(record_until_killed(sys.argv[1]))"
         ),
         str(data_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = child.stdout.readline().split()  # type: ignore[union-attr]
        assert len(line) == 2, "the child did not start recording"
        time.sleep(seconds)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return Path(line[0]), line[1]


def test_a_killed_studio_leaves_a_playable_recording(data_dir: Path) -> None:
    path, link = record_then_kill(data_dir, 3.5)  # three 1 s fragments and a bit
    recording = read_recording(path)
    assert len(recording.frames) >= 60  # everything up to the last complete fragment
    assert recording.bad_packets <= 1  # at most the packet being written when killed
    assert recording.qr == link
