"""An own-QR destination's picture: its own QR on the show's frame, its own encode, never a wait for the show."""

from __future__ import annotations

import time

import av
import cv2
import numpy as np

from catalog.products import Product
from overlays import OverlaySpec
from studio.media.encoder import H264Settings
from studio.media.frames import bgr_to_i420
from studio.media.own_picture import OwnPicture
from studio.media.taps import TapQueue

ORANGES = Product("ORANGE-5KG", "Navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=40)
OWN_LINK = "http://127.0.0.1:8080/b/dy7kq2"
SIZE = (640, 360)


def camera() -> np.ndarray:
    """A grey 640x360 picture in I420, as the media thread hands it over (before the show's overlay)."""
    return bgr_to_i420(np.full((SIZE[1], SIZE[0], 3), 128, dtype=np.uint8))


def play(picture: OwnPicture, *, frames: int, encoded: int = 0) -> np.ndarray:
    """Run ``picture`` with its own link on ``frames`` camera frames at 30 fps (until ``encoded`` are encoded)."""
    picture.set_spec(OverlaySpec(ORANGES, OWN_LINK))
    picture.start()
    frame = camera()
    try:
        for pts in range(frames):
            picture.offer_frame(frame, SIZE, pts * 3000)
            time.sleep(1 / 30)
        deadline = time.monotonic() + 10
        while picture.frames_encoded < encoded and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        picture.stop()
    return frame


def test_the_show_never_waits_for_a_picture_that_falls_behind() -> None:
    """Its thread not running at all (the worst case): each offer returns at once, only the newest is kept."""
    picture = OwnPicture("抖音", TapQueue(), H264Settings(fps=30))
    frame = camera()
    started = time.perf_counter()
    for pts in range(300):
        picture.offer_frame(frame, SIZE, pts * 3000)
    assert time.perf_counter() - started < 0.1  # 300 frames: well under a millisecond each
    assert (picture.frames_offered, picture.frames_dropped, picture.frames_encoded) == (300, 299, 0)


def test_its_packets_start_on_a_keyframe_and_show_its_own_qr() -> None:
    queue = TapQueue()
    picture = OwnPicture("抖音", queue, H264Settings(fps=30))
    frame = play(picture, frames=20, encoded=5)
    assert picture.frames_encoded >= 5 and picture.thread_id is not None
    items = list(iter(lambda: queue.get(0), None))
    assert items and items[0].packet.is_keyframe and items[0].size == SIZE
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for item in items for f in decoder.decode(item.packet)]
    assert decoded, "no picture decoded"
    seen, _, _ = cv2.QRCodeDetector().detectAndDecode(decoded[-1].to_ndarray(format="bgr24"))
    assert seen == OWN_LINK
    assert np.array_equal(frame, camera())  # the show's frame was composed on a copy, never in place


def test_a_picture_nobody_can_take_encodes_nothing() -> None:
    """A refused push waits for the host: its picture takes the frames but spends no encode on them."""
    picture = OwnPicture("抖音", TapQueue(), H264Settings(fps=30), wanted=lambda: False)
    play(picture, frames=10)
    assert picture.frames_offered == 10 and picture.frames_encoded == 0
