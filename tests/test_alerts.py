"""Loud alerts and the automatic hold slate: the pure rules (Hypothesis) and the real pipeline."""

from __future__ import annotations

import asyncio
import itertools
import time

import av
from hypothesis import given
from hypothesis import strategies as st

from studio.alerts import (
    RECOVER_FOR,
    UNUSABLE_FOR,
    WEAK_FOR,
    UplinkSample,
    assess,
    hold_slate,
    unusable,
    usable,
    weak,
)
from studio.media.pipeline import ShowPipeline
from studio.media.synthetic import CAMERA_TIME_BASE, MovingPattern, connect_publisher, connect_viewer
from studio.state import Studio
from tests.test_pipeline import decode_qr, has_orange_bar, wait_for_frame
from tests.test_whip_whep import eventually


def steady(seconds: int, kbps: float | None, fps: float, start: float = 0.0) -> list[UplinkSample]:
    return [UplinkSample(start + t, True, kbps, fps) for t in range(seconds + 1)]


# -- the rules, by example ----------------------------------------------------------------------
def test_amber_only_after_five_weak_seconds() -> None:
    assert assess(steady(4, 250, 30), 4, True, None).level == "ok"
    alert = assess(steady(5, 250, 30), 5, True, None)
    assert (alert.level, alert.code) == ("amber", "weak_uplink")
    assert "250 kbps" in alert.reason and "250 kbps" in alert.reason_zh
    assert assess(steady(6, 1200, 12), 6, True, None).level == "amber"  # 12 fps: weak too
    assert assess(steady(6, None, 30), 6, True, None).level == "ok"  # not measured yet is not weak
    # One good second resets the clock.
    samples = [*steady(6, 250, 30)[:-1], UplinkSample(6, True, 900, 30)]
    assert assess(samples, 6, True, None).level == "ok"


def test_red_after_a_drop_says_how_long_ago() -> None:
    alert = assess([], 107.4, False, 100.0)
    assert (alert.level, alert.code, alert.dropped_for) == ("red", "phone_dropped", 7.4)
    assert "7 s" in alert.reason and "7 秒" in alert.reason_zh
    never = assess([], 50, False, None)
    assert (never.level, never.code) == ("ok", "no_phone")


def test_hold_needs_three_unusable_seconds_and_three_good_ones_to_end() -> None:
    frozen = steady(2, 800, 3)
    assert not hold_slate(frozen, 2, True, False)
    frozen = steady(3, 800, 3)
    assert hold_slate(frozen, 3, True, False)
    # A low bitrate alone is a still scene, not a broken one: no hold.
    assert not hold_slate(steady(10, 40, 30), 10, True, False)
    assert hold_slate(steady(10, 40, 10), 10, True, False)  # starved and stuttering
    recovering = frozen + steady(2, 900, 30, start=4)
    assert hold_slate(recovering, 6, True, True)  # two good seconds: still holding
    assert not hold_slate(frozen + steady(3, 900, 30, start=4), 7, True, True)
    assert not hold_slate(frozen, 3, False, True)  # no phone: the slate shows anyway, no hold to keep


# -- the rules, over any history ----------------------------------------------------------------
samples_strategy = st.lists(
    st.tuples(
        st.booleans(),
        st.none() | st.floats(min_value=0, max_value=5000, allow_nan=False),
        st.floats(min_value=0, max_value=60, allow_nan=False),
    ),
    max_size=40,
).map(lambda rows: [UplinkSample(float(t), *row) for t, row in enumerate(rows)])


def run_of(samples: list[UplinkSample], rule) -> float:  # type: ignore[no-untyped-def]
    """Seconds the newest unbroken run of samples meeting ``rule`` has lasted."""
    start = None
    for sample in reversed(samples):
        if not rule(sample):
            break
        start = sample.at
    return samples[-1].at - start if start is not None and samples else -1.0


@given(samples=samples_strategy, dropped=st.none() | st.floats(min_value=-100, max_value=0))
def test_the_alert_level_follows_its_definition(samples: list[UplinkSample], dropped: float | None) -> None:
    now = samples[-1].at if samples else 0.0
    publishing = bool(samples) and samples[-1].publishing
    alert = assess(samples, now, publishing, dropped)
    if not publishing:
        assert alert.level == ("red" if dropped is not None else "ok")
        if dropped is not None:
            assert alert.dropped_for is not None and alert.dropped_for >= 0
    else:
        assert alert.level == ("amber" if run_of(samples, weak) >= WEAK_FOR else "ok")
    assert alert.reason and alert.reason_zh


@given(samples=samples_strategy)
def test_the_hold_slate_never_flaps(samples: list[UplinkSample]) -> None:
    """Replayed second by second, the hold starts only after 3 s unusable and ends only after 3 s usable."""
    holding, history, switches = False, [], []
    for sample in samples:
        history.append(sample)
        # The pipeline starts a new history whenever a phone (re)connects or drops.
        if not sample.publishing:
            history = []
        decided = hold_slate(history, sample.at, sample.publishing, holding)
        if decided != holding and sample.publishing:  # (a drop ends a hold at once: the slate stays anyway)
            switches.append((sample.at, decided))
            if decided:
                assert run_of(history, unusable) >= UNUSABLE_FOR
            else:
                assert run_of(history, usable) >= RECOVER_FOR
        holding = decided
    assert not holding or samples[-1].publishing
    for (at, _), (later, _) in itertools.pairwise(switches):
        assert later - at >= min(UNUSABLE_FOR, RECOVER_FOR)  # no flapping


# -- the real pipeline ---------------------------------------------------------------------------
class ThrottledCamera(MovingPattern):
    """The test camera at a frame rate the test turns down (a failing uplink) and up again."""

    def __init__(self) -> None:
        super().__init__()
        self.rate = 30.0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(1 / self.rate)
        frame = av.VideoFrame.from_ndarray(self.picture(self.count), format="bgr24").reformat(format="yuv420p")
        frame.pts, frame.time_base = round(self.count * CAMERA_TIME_BASE.denominator / 30), CAMERA_TIME_BASE
        self.count += 1
        return frame


async def stream_kinds(studio: Studio) -> list[str]:
    """The stream events written so far (the pipeline writes them in the background: wait a moment)."""
    await asyncio.sleep(0.2)
    return await studio.db(lambda db: [r[0] for r in db.execute("SELECT kind FROM stream_events ORDER BY id")])


async def test_the_pipeline_holds_the_slate_on_an_unusable_uplink_and_alerts(
    studio: Studio, pipeline: ShowPipeline
) -> None:
    camera = ThrottledCamera()
    publisher = await connect_publisher(camera)
    viewer = await connect_viewer(pipeline.add_viewer())
    try:
        await eventually(lambda: "video" in publisher.tracks)
        pipeline.attach_publisher(publisher.tracks["video"])
        await wait_for_frame(viewer.video.recv, has_orange_bar)
        assert not studio.figures.holding and studio.figures.alert.level == "ok"

        camera.rate = 2.0  # the uplink collapses: two frames a second reach the studio
        started = time.monotonic()
        await eventually(lambda: studio.figures.holding, timeout=10)
        assert time.monotonic() - started >= UNUSABLE_FOR - 1.0
        # Viewers get the hold slate, with the product's QR still working, not a stuttering camera.
        slate = await wait_for_frame(viewer.video.recv, lambda f: not has_orange_bar(f), timeout=5)
        assert decode_qr(slate) == studio.on_air.link_url
        await eventually(lambda: studio.figures.alert.level == "amber", timeout=8)
        assert studio.figures.alert.code == "weak_uplink"

        camera.rate = 30.0  # the uplink recovers: after 3 good seconds the camera is back
        await eventually(lambda: not studio.figures.holding, timeout=10)
        await wait_for_frame(viewer.video.recv, has_orange_bar, timeout=5)
        await eventually(lambda: studio.figures.alert.level == "ok", timeout=5)

        await publisher.close()  # the phone drops: red, counting the seconds
        await eventually(lambda: studio.figures.alert.level == "red", timeout=10)
        assert studio.figures.drops == 1
        await eventually(lambda: (studio.figures.alert.dropped_for or 0) >= 1.5, timeout=5)  # counting up
        kinds = await stream_kinds(studio)
        assert kinds.index("hold") < kinds.index("resume") < kinds.index("disconnect")

        # A new show starts every counter from zero (and forgets the last show's drop).
        await studio.start_show("Evening harvest")
        await eventually(lambda: studio.figures.drops == 0 and studio.figures.alert.level == "ok", timeout=5)
        assert studio.figures.reconnects == 0 and studio.figures.peak_viewers <= 1
    finally:
        await viewer.close()
        await publisher.close()
