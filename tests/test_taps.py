"""Packet taps: sinks get the viewers' very packets, AAC is encoded once and only while wanted,
and a sink that never drains costs only its own frames."""

from __future__ import annotations

import asyncio
import fractions

import av

from studio.media.pipeline import ShowPipeline
from studio.media.taps import TapQueue
from studio.state import Studio


def packet(keyframe: bool, pts: int = 0) -> av.Packet:
    p = av.Packet(b"\x00\x00\x00\x01" + b"x" * 10)
    p.pts = pts
    p.time_base = fractions.Fraction(1, 90000)
    p.is_keyframe = keyframe
    return p


def test_queue_starts_on_a_keyframe_and_drops_to_the_next_one_when_full() -> None:
    queue = TapQueue(maxsize=4)
    queue.put_audio([packet(False)])  # sound before the first picture is useless to a muxer
    queue.put_video([packet(False), packet(True, 1), packet(False, 2)], (1280, 720))
    assert [(t.kind, t.packet.pts) for t in iter(lambda: queue.get(0), None)] == [("video", 1), ("video", 2)]
    assert queue.dropped == 1

    queue.put_video([packet(True, 3)] + [packet(False, 4 + i) for i in range(5)], (1280, 720))
    # Full at 4: the backlog went, and the rest waits for a keyframe.
    assert len(queue) == 0 and queue.resyncs == 1
    queue.put_audio([packet(False, 9)])
    queue.put_video([packet(False, 10), packet(True, 11)], (720, 1280))
    item = queue.get(0)
    assert item is not None and item.packet.pts == 11 and item.size == (720, 1280)
    queue.close()
    assert queue.get(0) is None


class RecordingSink:
    """A sink that keeps what it is offered (or nothing, to play a dead network)."""

    def __init__(self, *, wants_audio: bool = True) -> None:
        self.wants_audio = wants_audio
        self.video: list[av.Packet] = []
        self.audio: list[av.Packet] = []
        self.sizes: set[tuple[int, int]] = set()

    def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        self.video.extend(packets)
        self.sizes.add(size)

    def offer_audio(self, packets: list[av.Packet]) -> None:
        self.audio.extend(packets)


async def test_sinks_get_the_viewers_packets_and_aac_once(studio: Studio, pipeline: ShowPipeline) -> None:
    assert pipeline.aac is None  # nobody wants AAC: none is encoded
    silent = RecordingSink(wants_audio=False)
    pipeline.add_sink(silent)
    assert pipeline.aac is None
    first, second = RecordingSink(), RecordingSink()
    pipeline.add_sink(first)
    pipeline.add_sink(second)
    aac = pipeline.aac
    assert aac is not None and aac.extradata
    viewer = pipeline.add_viewer()
    await asyncio.sleep(1.5)
    pipeline.remove_viewer(viewer)

    assert first.video[0].is_keyframe  # a keyframe was forced for the new sink
    assert [id(p) for p in first.video] == [id(p) for p in second.video] == [id(p) for p in silent.video]
    assert first.sizes == {(1280, 720)}
    # One encode for everybody: each frame out was encoded once.
    assert pipeline.figures.frames_encoded == pipeline.figures.frames_out
    # AAC: ~47 packets a second, the same objects for both, none for the sink that wants no sound.
    assert len(first.audio) > 40 and [id(p) for p in first.audio] == [id(p) for p in second.audio]
    assert silent.audio == []
    assert aac.packets_encoded == len(first.audio)
    assert all(p.time_base == fractions.Fraction(1, 48000) for p in first.audio)

    pipeline.remove_sink(first)
    pipeline.remove_sink(second)
    assert pipeline.aac is None  # the last sink that wanted sound left: the AAC encode stops
    pipeline.remove_sink(silent)


async def test_a_sink_that_never_drains_costs_only_itself(studio: Studio, pipeline: ShowPipeline) -> None:
    class DeadNetwork:
        wants_audio = True

        def __init__(self) -> None:
            self.queue = TapQueue(maxsize=20)

        def offer_video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
            self.queue.put_video(packets, size)

        def offer_audio(self, packets: list[av.Packet]) -> None:
            self.queue.put_audio(packets)

    dead, alive = DeadNetwork(), RecordingSink()
    pipeline.add_sink(dead)
    pipeline.add_sink(alive)
    before = pipeline.frames_out
    await asyncio.sleep(2)
    assert pipeline.frames_out - before > 30  # the show went on
    assert len(dead.queue) <= 20 and dead.queue.dropped > 0  # bounded: it lost frames, nobody else did
    assert len(alive.video) >= pipeline.frames_out - before - 1
