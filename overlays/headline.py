"""A headline across the top of the picture: a lucky draw's countdown, or a message the host pinned.

Viewers on another screen (a TV, a second phone) see only the video, so what
the host wants everyone to know goes into the picture as well as onto the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from catalog.timestamps import parse_iso
from overlays.promo import format_clock, next_tick, time_left

HeadlineKind = Literal["draw", "pinned"]
MAX_HEADLINE = 80


@dataclass(frozen=True)
class Headline:
    """One line of text; with ``ends_at`` a countdown ticks after it while time is left."""

    text: str
    kind: HeadlineKind = "pinned"
    ends_at: str | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a headline needs text")
        if len(self.text) > MAX_HEADLINE:
            raise ValueError(f"a headline is at most {MAX_HEADLINE} characters")
        if self.ends_at is not None:
            parse_iso(self.ends_at)

    def remaining(self, now: datetime) -> timedelta | None:
        return time_left(self.ends_at, now)

    def banner_text(self, now: datetime) -> str:
        left = self.remaining(now)
        if left is None or left <= timedelta(0):
            return self.text
        return f"{self.text} {format_clock(math.ceil(left.total_seconds()))}"

    def next_change(self, now: datetime) -> datetime | None:
        """When the countdown next shows another second (None once it has run out, or without one)."""
        return next_tick(self.remaining(now), now)
