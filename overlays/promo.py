"""Promo banners: a flash-sale countdown, a coupon code, or "sold out".

A promo travels as a plain dict through the control API and the database
(``overlay_events.promo``); :meth:`Promo.from_dict` is the one place that
checks it, so bad input is refused before it reaches the video.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from catalog.timestamps import parse_iso, to_iso

PromoKind = Literal["countdown", "coupon", "sold_out"]
PROMO_KINDS: tuple[str, ...] = get_args(PromoKind)

DEFAULT_TEXT: dict[str, tuple[str, str]] = {
    "countdown": ("Flash sale", "限时秒杀"),
    "coupon": ("Coupon", "优惠券"),
    "sold_out": ("Sold out", "已售罄"),
}
MAX_TEXT = 60
MAX_CODE = 32


@dataclass(frozen=True)
class Promo:
    """One banner shown above the product card."""

    kind: PromoKind
    text: str = ""
    text_zh: str = ""
    ends_at: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PROMO_KINDS:
            raise ValueError(f"promo kind must be one of {', '.join(PROMO_KINDS)}, not {self.kind!r}")
        for name in ("text", "text_zh"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"promo {name} must be text")
            if len(value) > MAX_TEXT:
                raise ValueError(f"promo {name} is longer than {MAX_TEXT} characters")
        if self.kind == "countdown":
            if not self.ends_at:
                raise ValueError("a countdown promo needs ends_at (ISO-8601 UTC, e.g. 2026-11-23T20:00:00Z)")
            try:
                parse_iso(str(self.ends_at))
            except (TypeError, ValueError):
                raise ValueError(f"promo ends_at {self.ends_at!r} is not an ISO-8601 time") from None
        if self.kind == "coupon":
            if not isinstance(self.code, str) or not self.code.strip():
                raise ValueError("a coupon promo needs a code")
            if len(self.code) > MAX_CODE:
                raise ValueError(f"coupon code is longer than {MAX_CODE} characters")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Promo:
        """Build from API/DB input; ``ValueError`` with a clear message on bad input."""
        if not isinstance(d, Mapping):
            raise ValueError("promo must be an object like {\"kind\": \"countdown\", \"ends_at\": ...}")
        unknown = sorted(set(d) - {"kind", "text", "text_zh", "ends_at", "code"})
        if unknown:
            raise ValueError(f"unknown promo field(s): {', '.join(unknown)}")
        if "kind" not in d:
            raise ValueError(f"promo needs a kind: one of {', '.join(PROMO_KINDS)}")
        ends_at = d.get("ends_at")
        if ends_at is not None and not isinstance(ends_at, str):
            raise ValueError("promo ends_at must be an ISO-8601 text time")
        code = d.get("code")
        return cls(
            kind=d["kind"],
            text=d.get("text") or "",
            text_zh=d.get("text_zh") or "",
            ends_at=to_iso(parse_iso(ends_at)) if ends_at and _parses(ends_at) else ends_at,
            code=code.strip() if isinstance(code, str) else code,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("text", "text_zh", "ends_at", "code"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    @property
    def label(self) -> str:
        """"限时秒杀 Flash sale": the zh-CN and English lines, with defaults per kind."""
        en, zh = DEFAULT_TEXT[self.kind]
        return f"{self.text_zh or zh} {self.text or en}"

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left on a countdown (never negative); None for other kinds."""
        return time_left(self.ends_at, now) if self.kind == "countdown" else None

    def banner_text(self, now: datetime) -> str:
        """The one line the banner shows at ``now``, e.g. "限时秒杀 Flash sale 04:59"."""
        if self.kind == "coupon":
            return f"{self.label}: {self.code}"
        left = self.remaining(now)
        if left is None:
            return self.label
        if left <= timedelta(0):
            return f"{self.label} 已结束 ended"
        # Round up: a sale with 0.4 s left still shows 00:01, and 00:00 means over.
        return f"{self.label} {format_clock(math.ceil(left.total_seconds()))}"

    def next_change(self, now: datetime) -> datetime | None:
        """When :meth:`banner_text` next shows something else (countdowns tick each second)."""
        return next_tick(self.remaining(now), now)


def time_left(ends_at: str | None, now: datetime) -> timedelta | None:
    """Time left until ``ends_at`` (never negative; a naive ``now`` is UTC); None without an end."""
    if not ends_at:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(parse_iso(ends_at) - now, timedelta(0))


def next_tick(left: timedelta | None, now: datetime) -> datetime | None:
    """When a countdown with ``left`` to go shows its next whole second (None once it is over)."""
    if left is None or left <= timedelta(0):
        return None
    seconds = left.total_seconds()
    fraction = seconds - math.floor(seconds)
    return now + timedelta(seconds=fraction if fraction > 0 else 1.0)


def _parses(text: str) -> bool:
    try:
        parse_iso(text)
    except ValueError:
        return False
    return True


def format_clock(seconds_left: int) -> str:
    """Whole seconds left as MM:SS, or H:MM:SS from one hour on."""
    hours, rest = divmod(max(int(seconds_left), 0), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes:02d}:{seconds:02d}"
