"""UTC ISO-8601 timestamps with milliseconds, the one format stored in SQLite.

One fixed-width text format sorts correctly as text, so SQL range queries and
pandas parsing agree without time-zone surprises.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """``2026-11-23T18:28:49.123Z``; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return to_iso(utc_now())


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`to_iso`; also accepts offsets and plain dates-times."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- display ---------------------------------------------------------------------
# Times are stored in UTC and shown on one clock, the studio's: the farmer, the
# host and the sales staff read the same times on every screen and report.
DEFAULT_DISPLAY_TIMEZONE = "Asia/Shanghai"
TIMEZONE_ENV = "FARMLIVE_TIMEZONE"


class UnknownTimezone(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai or UTC)")
        self.name = name


def check_timezone(name: str) -> str:
    """``name`` if zoneinfo knows it; else :class:`UnknownTimezone` (a ValueError)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise UnknownTimezone(str(name)) from error
    return name


def display_timezone(explicit: str | None = None) -> str:
    """The display time zone: ``explicit``, else ``$FARMLIVE_TIMEZONE``, else Asia/Shanghai. Checked."""
    return check_timezone(explicit or os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_DISPLAY_TIMEZONE)


def to_display(moment: datetime | str, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored UTC moment (ISO text or datetime, naive = UTC) as text on the ``tz`` clock.

    The one place a time becomes text for people: every screen and report calls it.
    """
    if isinstance(moment, str):
        moment = parse_iso(moment)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz)).strftime(fmt)
