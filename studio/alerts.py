"""Loud alerts about the phone's uplink, and when the studio should hold the slate by itself.

Pure functions over the pipeline's once-a-second :class:`UplinkSample`
history, so every threshold is tested without a network:

- **amber** when the uplink is weak: under :data:`WEAK_KBPS` or under
  :data:`WEAK_FPS`, sustained for :data:`WEAK_FOR` seconds;
- **red** when the phone dropped during this show, with the seconds since;
- **hold**: while the uplink is unusable (under :data:`UNUSABLE_FPS`, or
  under :data:`UNUSABLE_KBPS` while also under :data:`WEAK_FPS`) for
  :data:`UNUSABLE_FOR` seconds the studio shows the hold slate instead of a
  frozen or stuttering camera, and goes back once the uplink has been usable
  for :data:`RECOVER_FOR` seconds (hysteresis: no flapping). A low bitrate
  alone never holds: a still scene legitimately sends little while moving
  smoothly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

WEAK_KBPS = 300.0
WEAK_FPS = 15.0
WEAK_FOR = 5.0
UNUSABLE_KBPS = 100.0
UNUSABLE_FPS = 5.0
UNUSABLE_FOR = 3.0
RECOVER_FOR = 3.0

Level = Literal["ok", "amber", "red"]


@dataclass(frozen=True)
class UplinkSample:
    """The phone's uplink at one moment (monotonic seconds); ``kbps`` None until WHIP has measured it."""

    at: float
    publishing: bool
    kbps: float | None
    fps: float


@dataclass(frozen=True)
class Alert:
    level: Level = "ok"
    code: str = "ok"  # ok | no_phone | weak_uplink | phone_dropped
    reason: str = ""
    reason_zh: str = ""
    dropped_for: float | None = None  # seconds since the phone dropped (red)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def weak(sample: UplinkSample) -> bool:
    return sample.publishing and (sample.fps < WEAK_FPS or (sample.kbps is not None and sample.kbps < WEAK_KBPS))


def unusable(sample: UplinkSample) -> bool:
    if not sample.publishing:
        return False
    starved = sample.kbps is not None and sample.kbps < UNUSABLE_KBPS and sample.fps < WEAK_FPS
    return sample.fps < UNUSABLE_FPS or starved


def usable(sample: UplinkSample) -> bool:
    return sample.publishing and not unusable(sample)


def sustained(
    samples: Sequence[UplinkSample], now: float, seconds: float, holds: Callable[[UplinkSample], bool]
) -> bool:
    """Has ``holds`` been true of every sample from at least ``seconds`` ago until the newest?"""
    start = None
    for sample in reversed(samples):
        if not holds(sample):
            break
        start = sample.at
    return start is not None and now - start >= seconds


def assess(samples: Sequence[UplinkSample], now: float, publishing: bool, dropped_at: float | None) -> Alert:
    """The alert as of ``now``: red after a drop in this show, amber on a sustained weak uplink.

    ``samples`` are those since the phone (re)connected; ``dropped_at`` is when
    it last dropped during the live show, None if it has not.
    """
    if not publishing:
        if dropped_at is None:
            return Alert(
                "ok", "no_phone", "The phone camera is not connected yet", "手机摄像头尚未连接"
            )
        gone = max(0.0, now - dropped_at)
        return Alert(
            "red",
            "phone_dropped",
            f"The phone dropped {gone:.0f} s ago: viewers see the hold slate",
            f"手机已断线 {gone:.0f} 秒：观众看到的是“马上回来”画面",
            round(gone, 1),
        )
    if samples and sustained(samples, now, WEAK_FOR, weak):
        last = samples[-1]
        kbps = f"{last.kbps:.0f} kbps · " if last.kbps is not None else ""
        return Alert(
            "amber",
            "weak_uplink",
            f"Weak phone uplink: {kbps}{last.fps:.0f} fps (under {WEAK_KBPS:.0f} kbps or {WEAK_FPS:.0f} fps)",
            f"手机上行网络弱：{kbps}{last.fps:.0f} fps（低于 {WEAK_KBPS:.0f} kbps 或 {WEAK_FPS:.0f} fps）",
        )
    return Alert("ok", "ok", "Phone uplink good", "手机网络良好")


def hold_slate(samples: Sequence[UplinkSample], now: float, publishing: bool, holding: bool) -> bool:
    """Should the studio hold the slate over a publishing phone's picture? (hysteresis both ways)"""
    if not publishing:
        return False  # no phone: the pipeline shows the slate anyway; a new phone starts on camera
    if holding:
        return not sustained(samples, now, RECOVER_FOR, usable)
    return sustained(samples, now, UNUSABLE_FOR, unusable)
