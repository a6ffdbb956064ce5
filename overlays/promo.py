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

from catalog.money import DEFAULT_CURRENCY, format_money
from catalog.pricing import MAX_LIMIT_PER_BUYER, MAX_PERCENT, MIN_PERCENT, Offer
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
MAX_FLASH_PRICE = 10_000_000.0
FIELDS = ("kind", "text", "text_zh", "ends_at", "code", "discount_percent", "flash_price", "limit_per_buyer")


@dataclass(frozen=True)
class Promo:
    """One banner shown above the product card, and the price terms checkout enforces.

    A coupon may carry ``discount_percent`` (1-90 % off the list price); a
    countdown may be a flash sale with ``flash_price`` (per unit) and
    ``limit_per_buyer`` (units per phone number, product and show) that hold
    until ``ends_at``. See :mod:`catalog.pricing`.
    """

    kind: PromoKind
    text: str = ""
    text_zh: str = ""
    ends_at: str | None = None
    code: str | None = None
    discount_percent: int | None = None
    flash_price: float | None = None
    limit_per_buyer: int | None = None

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
        self._check_terms()

    def _check_terms(self) -> None:
        """Price terms only where they mean something, and only in range."""
        if self.discount_percent is not None:
            if self.kind != "coupon":
                raise ValueError("discount_percent belongs to a coupon promo")
            if not _whole(self.discount_percent) or not MIN_PERCENT <= self.discount_percent <= MAX_PERCENT:
                raise ValueError(f"discount_percent must be a whole number from {MIN_PERCENT} to {MAX_PERCENT}")
        if self.flash_price is not None:
            if self.kind != "countdown":
                raise ValueError("flash_price belongs to a countdown (flash sale) promo")
            price: object = self.flash_price
            if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price):
                raise ValueError("flash_price must be a number")
            if not 0 < price <= MAX_FLASH_PRICE:
                raise ValueError(f"flash_price must be above 0 and at most {MAX_FLASH_PRICE:,.0f}")
        if self.limit_per_buyer is not None:
            if self.kind != "countdown":
                raise ValueError("limit_per_buyer belongs to a countdown (flash sale) promo")
            if not _whole(self.limit_per_buyer) or not 1 <= self.limit_per_buyer <= MAX_LIMIT_PER_BUYER:
                raise ValueError(f"limit_per_buyer must be a whole number from 1 to {MAX_LIMIT_PER_BUYER}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Promo:
        """Build from API/DB input; ``ValueError`` with a clear message on bad input."""
        if not isinstance(d, Mapping):
            raise ValueError("promo must be an object like {\"kind\": \"countdown\", \"ends_at\": ...}")
        unknown = sorted(set(d) - set(FIELDS))
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
            discount_percent=d.get("discount_percent"),
            flash_price=_cents(d.get("flash_price")),
            limit_per_buyer=d.get("limit_per_buyer"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in FIELDS[1:]:
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    def offer(self) -> Offer:
        """The price terms for :func:`catalog.pricing.price_for` (a banner-only promo has none)."""
        return Offer(
            coupon_code=self.code if self.kind == "coupon" else None,
            discount_percent=self.discount_percent,
            flash_price=self.flash_price,
            ends_at=parse_iso(self.ends_at) if self.kind == "countdown" and self.ends_at else None,
            limit_per_buyer=self.limit_per_buyer,
        )

    @property
    def label(self) -> str:
        """"限时秒杀 Flash sale": the zh-CN and English lines, with defaults per kind."""
        en, zh = DEFAULT_TEXT[self.kind]
        return f"{self.text_zh or zh} {self.text or en}"

    def remaining(self, now: datetime) -> timedelta | None:
        """Time left on a countdown (never negative); None for other kinds."""
        return time_left(self.ends_at, now) if self.kind == "countdown" else None

    def banner_text(self, now: datetime, currency: str = DEFAULT_CURRENCY) -> str:
        """The one line the banner shows at ``now``, e.g. "限时秒杀 Flash sale 04:59".

        A running flash sale also shows its price ("限时秒杀 Flash sale ¥49.00 04:59"): the card
        shows the list price, and people watching on another screen should see what they pay.
        """
        if self.kind == "coupon":
            off = f" -{self.discount_percent}%" if self.discount_percent else ""
            return f"{self.label}: {self.code}{off}"
        left = self.remaining(now)
        if left is None:
            return self.label
        if left <= timedelta(0):
            return f"{self.label} 已结束 ended"
        # Round up: a sale with 0.4 s left still shows 00:01, and 00:00 means over.
        price = f" {format_money(self.flash_price, currency)}" if self.flash_price else ""
        return f"{self.label}{price} {format_clock(math.ceil(left.total_seconds()))}"

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


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cents(value: Any) -> Any:
    """A finite price rounded to whole cents; anything else is left for the checks to refuse."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 2)
    return value


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
