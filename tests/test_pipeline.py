"""The show pipeline over real aiortc peer connections on 127.0.0.1.

A synthetic phone publishes over WebRTC, viewers receive the encoded-once
H.264 over WebRTC and decode it; the QR in the decoded picture must be the
buy link of the product on air.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import av
import cv2
import numpy as np

from studio.media.fanout import VIDEO_QUEUE_PACKETS
from studio.media.ice import selected_pair
from studio.media.pipeline import ShowPipeline
from studio.media.synthetic import MovingPattern, Tone, connect_publisher, connect_viewer
from studio.state import Studio
from tests.conftest import TEA


def decode_qr(frame: av.VideoFrame) -> str:
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(frame.to_ndarray(format="bgr24"))
    return text


async def wait_for_frame(recv, check, timeout: float = 10.0) -> av.VideoFrame:  # type: ignore[no-untyped-def]
    """Take frames from ``recv()`` until ``check(frame)`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    checked = 0.0
    while (left := deadline - time.monotonic()) > 0:
        frame = await asyncio.wait_for(recv(), timeout=max(0.1, left))
        # Check ~10 frames a second and drain the rest, so checking never lags behind.
        if time.monotonic() - checked >= 0.1:
            checked = time.monotonic()
            if check(frame):
                return frame
    raise AssertionError(f"no frame passed {check.__name__} within {timeout} s")


async def wait_for_qr(track, expected: str, *, camera: bool = False, timeout: float = 10.0) -> av.VideoFrame:  # type: ignore[no-untyped-def]
    """The first frame whose QR reads ``expected`` (and shows the camera, if asked)."""

    def qr_reads_expected(frame: av.VideoFrame) -> bool:
        return (not camera or has_orange_bar(frame)) and decode_qr(frame) == expected

    return await wait_for_frame(track.recv, qr_reads_expected, timeout)


async def frames_within(track, seconds: float) -> list[av.VideoFrame]:  # type: ignore[no-untyped-def]
    frames = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(await asyncio.wait_for(track.recv(), timeout=left))
        except TimeoutError:
            break
    return frames


async def test_viewer_sees_the_product_qr_and_a_switch(studio: Studio, pipeline: ShowPipeline) -> None:
    camera = MovingPattern()
    publisher = await connect_publisher(camera)
    viewer = await connect_viewer(pipeline.add_viewer())
    try:
        await asyncio.sleep(0.5)
        assert "video" in publisher.tracks and "video" in viewer.tracks
        pipeline.attach_publisher(publisher.tracks["video"])

        oranges_link = studio.on_air.link_url
        # The camera picture (the orange bar), not the slate, with the product's QR.
        frame = await wait_for_qr(viewer.video, oranges_link, camera=True)
        assert (frame.width, frame.height) == (1280, 720)

        tea = await studio.put_on_air(TEA.sku)
        assert tea.link_url != oranges_link and tea.link_url.endswith(tea.link_code)
        await wait_for_qr(viewer.video, tea.link_url, camera=True)

        stats = pipeline.stats()
        assert stats["publishing"] is True
        assert stats["viewers"] == 1 == studio.figures.viewers_now
        assert stats["ingest_fps"] > 3  # measured (the shared CI box may be slow)
        # Loopback only, on both legs.
        assert selected_pair(viewer.studio_pc) == ("127.0.0.1", "127.0.0.1")
        assert selected_pair(publisher.studio_pc) == ("127.0.0.1", "127.0.0.1")
    finally:
        await viewer.close()
        await publisher.close()


def has_orange_bar(frame: av.VideoFrame) -> bool:
    """The test camera's full-height orange bar (the card's orange thumbnail is not full height)."""
    top = frame.to_ndarray(format="bgr24")[: frame.height // 2].astype(int)
    orange = (top[:, :, 2] > 200) & (top[:, :, 1] > 120) & (top[:, :, 1] < 210) & (top[:, :, 0] < 60)
    return bool((orange.mean(axis=0) > 0.9).sum() >= 10)


async def test_publisher_drop_shows_the_slate_then_the_phone_again(studio: Studio, pipeline: ShowPipeline) -> None:
    viewer = await connect_viewer(pipeline.add_viewer())
    try:
        camera = MovingPattern()
        pipeline.attach_publisher(camera)
        await wait_for_qr(viewer.video, studio.on_air.link_url, camera=True)

        pipeline.detach_publisher(camera)
        camera.stop()
        frames = await frames_within(viewer.video, 1.5)
        # Never dark: frames keep coming without a phone (45 on an idle machine)...
        assert len(frames) >= 15
        # ...and the last ones are the hold slate with the same QR.
        assert not has_orange_bar(frames[-1])
        assert decode_qr(frames[-1]) == studio.on_air.link_url
        assert pipeline.stats()["publishing"] is False
        assert studio.figures.publishing is False

        # The phone reconnects (a new track): its picture comes back.
        again = MovingPattern()
        pipeline.attach_publisher(again)
        await wait_for_frame(viewer.video.recv, has_orange_bar, timeout=5)
        assert pipeline.stats()["reconnects"] == 1
        assert studio.figures.reconnects == 1
    finally:
        await viewer.close()

    await asyncio.sleep(0.1)  # let the connect/disconnect events land
    rows = await studio.db(lambda db: db.execute("SELECT kind, show_id FROM stream_events ORDER BY id").fetchall())
    assert [kind for kind, _ in rows if kind != "stats"][:3] == ["connect", "disconnect", "connect"]
    assert {show_id for _, show_id in rows} == {studio.show.id}


class StallingCamera(MovingPattern):
    """A phone on a weak uplink: connected, but its frames stop until ``resume``."""

    def __init__(self) -> None:
        super().__init__()
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        await self.flowing.wait()
        return await super().recv()


async def test_a_stalled_uplink_holds_on_the_slate_and_comes_back(studio: Studio, pipeline: ShowPipeline) -> None:
    feed = pipeline.add_viewer()
    camera = StallingCamera()
    pipeline.attach_publisher(camera)
    decoder = av.CodecContext.create("h264", "r")

    async def next_picture() -> av.VideoFrame:
        while True:
            frames = decoder.decode(await asyncio.wait_for(feed.video.recv(), 2))
            if frames:
                return frames[-1]

    await wait_for_frame(next_picture, has_orange_bar)
    camera.flowing.clear()  # the uplink stalls; the connection stays up
    stalled_at = time.monotonic()

    def slate(frame: av.VideoFrame) -> bool:
        return not has_orange_bar(frame) and decode_qr(frame) == studio.on_air.link_url

    await wait_for_frame(next_picture, slate)
    assert 1.2 < time.monotonic() - stalled_at < 4  # held the last picture ~1.5 s first
    assert pipeline.stats()["publishing"] is True  # still connected, just silent
    camera.flowing.set()
    await wait_for_frame(next_picture, has_orange_bar)


async def test_a_stale_replaced_publisher_cannot_detach_the_new_one(pipeline: ShowPipeline) -> None:
    old, new = MovingPattern(), MovingPattern()
    pipeline.attach_publisher(old)
    pipeline.attach_publisher(new)  # the phone reconnected before the old one timed out
    pipeline.detach_publisher(old)  # the old connection's late "ended"
    assert pipeline.publishing is True


async def test_encoded_once_and_the_same_packets_for_every_viewer(pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    first, second = pipeline.add_viewer(), pipeline.add_viewer()
    ids_first, ids_second = [], []
    for _ in range(45):
        a = await asyncio.wait_for(first.video.recv(), 2)
        b = await asyncio.wait_for(second.video.recv(), 2)
        assert a is b  # the very same av.Packet object, not a copy
        ids_first.append(id(a))
        ids_second.append(id(b))
    assert ids_first[0] == ids_second[0]
    stats = pipeline.stats()
    # One encode per output frame, whatever the number of viewers.
    # (stats() may run while one frame is between the encoder and the hand-out)
    assert stats["frames_out"] <= stats["frames_encoded"] <= stats["frames_out"] + 1
    assert stats["video_packets"] == stats["frames_out"]
    # Both joined within one rate-limit window: one forced keyframe served both.
    assert stats["keyframes_forced"] == 1


async def test_two_webrtc_viewers_receive_the_show_encoded_once(studio: Studio, pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    viewers = [await connect_viewer(pipeline.add_viewer()) for _ in range(2)]
    try:
        for viewer in viewers:
            await wait_for_qr(viewer.video, studio.on_air.link_url)
        before = pipeline.stats()
        sent_before = [viewer.feed.video.sent for viewer in viewers]
        await asyncio.sleep(1.0)
        after = pipeline.stats()
        encoded = after["frames_encoded"] - before["frames_encoded"]
        # One encode per output frame (at most 30 a second)...
        assert 5 <= encoded <= 32
        # (a snapshot can fall between the encode and the hand-out: +-1)
        assert abs(encoded - (after["frames_out"] - before["frames_out"])) <= 1
        # ...feeding both viewers.
        assert after["viewers"] == 2
        assert all(viewer.feed.video.sent > sent for viewer, sent in zip(viewers, sent_before, strict=True))
    finally:
        for viewer in viewers:
            await viewer.close()


async def test_new_viewer_starts_on_a_keyframe_quickly(pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    await asyncio.sleep(1.2)  # mid-GOP
    feed = pipeline.add_viewer()
    started = time.monotonic()
    packet = await asyncio.wait_for(feed.video.recv(), 2)
    assert packet.is_keyframe
    assert time.monotonic() - started < 0.6  # forced: the next GOP boundary is ~0.8 s away


async def test_keyframe_requests_are_rate_limited(pipeline: ShowPipeline) -> None:
    await asyncio.sleep(0.6)
    before = pipeline.stats()["keyframes_forced"]
    for _ in range(20):
        pipeline.request_keyframe()
        await asyncio.sleep(0.05)  # 1 s of a viewer hammering PLI
    forced = pipeline.stats()["keyframes_forced"] - before
    assert 1 <= forced <= 3


async def test_viewer_pli_over_rtcp_forces_a_keyframe(pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    viewer = await connect_viewer(pipeline.add_viewer(), audio=False)
    try:
        await asyncio.wait_for(viewer.video.recv(), 10)
        await asyncio.sleep(0.6)
        before = pipeline.stats()["keyframes_forced"]
        receiver = viewer.client_pc.getTransceivers()[0].receiver
        media_ssrc = viewer.studio_pc.getTransceivers()[0].sender._ssrc
        await receiver._send_rtcp_pli(media_ssrc)  # what a decoder sends when it lost the picture
        deadline = time.monotonic() + 2
        while pipeline.stats()["keyframes_forced"] == before:
            assert time.monotonic() < deadline, "PLI did not reach the show encoder"
            await asyncio.sleep(0.02)
    finally:
        await viewer.close()


async def test_a_stalled_viewer_stays_bounded_and_resumes_on_a_keyframe(pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern())
    healthy, stalled = pipeline.add_viewer(), pipeline.add_viewer()
    received = 0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:  # the healthy viewer reads; the stalled one never does
        await asyncio.wait_for(healthy.video.recv(), 2)
        received += 1
        assert stalled.video.backlog() <= VIDEO_QUEUE_PACKETS
    assert received >= 30  # ~75 on an idle machine
    assert stalled.video.dropped > 0 and stalled.video.resyncs >= 1
    assert healthy.video.dropped == 0

    # It reads again: the first packet it gets is a keyframe, and the rest decode.
    decoder = av.CodecContext.create("h264", "r")
    first = await asyncio.wait_for(stalled.video.recv(), 3)
    assert first.is_keyframe
    decoded = list(decoder.decode(first))
    for _ in range(15):
        decoded += decoder.decode(await asyncio.wait_for(stalled.video.recv(), 2))
    assert len(decoded) >= 15


async def test_viewer_leaves_and_counts(studio: Studio, pipeline: ShowPipeline) -> None:
    feeds = [pipeline.add_viewer() for _ in range(3)]
    assert studio.figures.viewers_now == 3
    pipeline.remove_viewer(feeds[0])
    pipeline.remove_viewer(feeds[0])  # a second leave (DELETE then ICE failure) is harmless
    assert studio.figures.viewers_now == 2
    assert feeds[0].video.readyState == "ended"


async def test_portrait_phone_gives_a_portrait_show(studio: Studio, pipeline: ShowPipeline) -> None:
    feed = pipeline.add_viewer()
    pipeline.attach_publisher(MovingPattern(480, 640))
    decoder = av.CodecContext.create("h264", "r")
    deadline = time.monotonic() + 5
    while True:
        frames = decoder.decode(await asyncio.wait_for(feed.video.recv(), 2))
        if frames and frames[-1].height > frames[-1].width:
            break
        assert time.monotonic() < deadline, "the show did not turn portrait"
    assert (frames[-1].width, frames[-1].height) == (720, 1280)
    assert decode_qr(frames[-1]) == studio.on_air.link_url
    assert pipeline.stats()["output_size"] == "720x1280"


def loudness(packets: list[av.Packet]) -> float:
    decoder = av.CodecContext.create("opus", "r")
    samples = np.concatenate([f.to_ndarray().ravel() for p in packets for f in decoder.decode(p)])
    return float(np.abs(samples).max())


async def test_audio_is_encoded_once_silent_without_a_phone_and_relays_the_mic(pipeline: ShowPipeline) -> None:
    first, second = pipeline.add_viewer(), pipeline.add_viewer()
    assert first.audio is not None and second.audio is not None
    packets = [await asyncio.wait_for(first.audio.recv(), 1) for _ in range(10)]
    for packet in packets:
        assert packet is await asyncio.wait_for(second.audio.recv(), 1)  # shared, encoded once
    assert loudness(packets) < 1e-3  # silence while no phone publishes

    camera, mic = MovingPattern(), Tone()
    pipeline.attach_publisher(camera, mic)
    await asyncio.sleep(0.3)
    for _ in range(first.audio.backlog()):
        await first.audio.recv()
    heard = [await asyncio.wait_for(first.audio.recv(), 1) for _ in range(25)]
    assert loudness(heard) > 0.1  # the tone, through Opus
    timestamps = [p.pts for p in heard]
    assert all(b - a == 960 for a, b in itertools.pairwise(timestamps))  # 20 ms apart, 48 kHz clock

    pipeline.detach_publisher(camera)
    await asyncio.sleep(0.5)
    for _ in range(first.audio.backlog()):
        await first.audio.recv()
    after = [await asyncio.wait_for(first.audio.recv(), 1) for _ in range(10)]
    assert loudness(after) < 1e-3  # silence again
    assert after[0].pts > heard[-1].pts  # the timeline only moves forward


async def test_an_idle_studio_encodes_nothing_until_someone_watches(studio: Studio, pipeline: ShowPipeline) -> None:
    await studio.end_show()  # no show: nothing to record
    # Let a frame still in flight on a busy machine land, then the count must stand still.
    idle_from = pipeline.stats()["frames_encoded"]
    for _ in range(20):
        await asyncio.sleep(0.25)
        now = pipeline.stats()["frames_encoded"]
        if now == idle_from:
            break
        idle_from = now
    await asyncio.sleep(0.5)
    assert pipeline.stats()["frames_encoded"] == idle_from
    assert pipeline.stats()["idle"] is True

    feed = pipeline.add_viewer()
    first = await asyncio.wait_for(feed.video.recv(), 1)
    assert first.is_keyframe
    await asyncio.sleep(0.5)
    assert pipeline.stats()["frames_encoded"] - idle_from >= 5
    assert pipeline.stats()["idle"] is False


async def test_the_camera_paces_the_show_each_frame_once(pipeline: ShowPipeline) -> None:
    pipeline.attach_publisher(MovingPattern(fps=24))  # a phone that only manages 24 fps
    await asyncio.sleep(0.5)
    before = pipeline.stats()
    await asyncio.sleep(2.0)
    after = pipeline.stats()
    shown = after["frames_out"] - before["frames_out"]
    repeated = after["repeated_frames"] - before["repeated_frames"]
    # A fixed 30 fps clock would send ~60 frames, a fifth of them repeats.
    assert 30 <= shown <= 54
    assert repeated <= 0.12 * shown
