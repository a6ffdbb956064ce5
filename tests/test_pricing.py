"""catalog.pricing.price_for: the one rule for what a unit costs, and the promo terms it reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.pricing import CouponNotValid, Offer, price_for, to_cents
from overlays import Promo

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SALE = Offer(flash_price=49.0, ends_at=NOW + timedelta(minutes=5), limit_per_buyer=2)
COUPON = Offer(coupon_code="FARM10", discount_percent=10)

prices = st.integers(min_value=0, max_value=10**9).map(lambda cents: cents / 100)
percents = st.integers(min_value=1, max_value=90)
codes = st.text(min_size=1, max_size=32).filter(lambda code: code.strip() != "")


def test_list_price_without_a_promo() -> None:
    price = price_for(59.9, None, NOW)
    assert (price.unit_price, price.list_price, price.coupon, price.flash) == (59.9, 59.9, None, False)
    assert price.total(3) == 179.7  # whole cents, not 179.70000000000002


def test_a_flash_sale_holds_until_its_countdown_ends() -> None:
    during = price_for(59.9, SALE, NOW)
    assert (during.unit_price, during.flash, during.limit_per_buyer) == (49.0, True, 2)
    assert during.discount == 10.9
    at_the_end = price_for(59.9, SALE, SALE.ends_at)  # type: ignore[arg-type]
    assert (at_the_end.unit_price, at_the_end.flash, at_the_end.limit_per_buyer) == (59.9, False, None)


def test_a_flash_price_above_the_list_price_charges_the_list_price() -> None:
    assert price_for(30.0, SALE, NOW).unit_price == 30.0


def test_a_coupon_applies_case_and_spaces_ignored_and_rounds_half_a_cent_up() -> None:
    price = price_for(59.9, COUPON, NOW, " farm10 ")
    assert (price.unit_price, price.coupon, price.discount_percent) == (53.91, "FARM10", 10)
    assert price_for(0.05, COUPON, NOW, "FARM10").unit_price == 0.05  # 4.5 cents rounds up to 5
    assert price_for(0.15, COUPON, NOW, "FARM10").unit_price == 0.14  # 13.5 -> 14


@pytest.mark.parametrize("offer", [None, SALE, COUPON, Offer(coupon_code="OTHER", discount_percent=10)])
def test_a_code_that_is_not_the_promo_s_is_refused_never_ignored(offer: Offer | None) -> None:
    with pytest.raises(CouponNotValid):
        price_for(59.9, offer, NOW, "FARM1")


def test_an_empty_code_is_no_coupon() -> None:
    assert price_for(59.9, COUPON, NOW, "  ").unit_price == 59.9


def test_promo_terms_reach_the_offer() -> None:
    sale = Promo.from_dict(
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "flash_price": 49, "limit_per_buyer": 2}
    )
    assert sale.offer() == SALE
    # The video's banner shows the flash price while the sale runs (in the product's currency), not after.
    assert sale.banner_text(NOW) == "限时秒杀 Flash sale ¥49.00 05:00"
    assert sale.banner_text(NOW, "USD") == "限时秒杀 Flash sale $49.00 05:00"
    assert sale.banner_text(NOW + timedelta(minutes=5)) == "限时秒杀 Flash sale 已结束 ended"
    coupon = Promo.from_dict({"kind": "coupon", "code": " FARM10 ", "discount_percent": 10})
    assert coupon.offer() == COUPON
    assert coupon.banner_text(NOW) == "优惠券 Coupon: FARM10 -10%"
    assert Promo("sold_out").offer() == Offer()


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "coupon", "code": "A", "discount_percent": 0},
        {"kind": "coupon", "code": "A", "discount_percent": 91},
        {"kind": "coupon", "code": "A", "discount_percent": 9.5},
        {"kind": "coupon", "code": "A", "discount_percent": True},
        {"kind": "coupon", "code": "A", "flash_price": 3},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "flash_price": 0},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "flash_price": "49"},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "flash_price": float("inf")},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "limit_per_buyer": 0},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "limit_per_buyer": 1.5},
        {"kind": "countdown", "ends_at": "2026-11-30T12:05:00Z", "discount_percent": 10},
        {"kind": "sold_out", "limit_per_buyer": 2},
    ],
)
def test_bad_promo_terms_are_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"discount_percent|flash_price|limit_per_buyer"):
        Promo.from_dict(bad)


@given(
    list_price=prices,
    percent=percents,
    flash=st.none() | prices,
    code=codes,
    given_code=st.none() | codes,
    seconds=st.integers(min_value=-600, max_value=600),
)
def test_never_negative_never_above_list_whole_cents_coupon_only_when_valid(
    list_price: float, percent: int, flash: float | None, code: str, given_code: str | None, seconds: int
) -> None:
    offers = [
        Offer(coupon_code=code, discount_percent=percent),
        Offer(flash_price=flash, ends_at=NOW + timedelta(seconds=seconds), limit_per_buyer=3),
        None,
    ]
    for offer in offers:
        try:
            price = price_for(list_price, offer, NOW, given_code)
        except CouponNotValid:
            assert given_code is not None and given_code.strip()
            carried = offer.coupon_code if offer is not None else None
            assert carried is None or carried.casefold() != given_code.strip().casefold()
            continue
        assert 0 <= price.unit_price <= price.list_price == list_price
        assert price.unit_price == to_cents(price.unit_price) / 100
        assert price.total(7) == to_cents(price.unit_price) * 7 / 100
        if price.coupon is not None:
            assert offer is not None and offer.coupon_code is not None
            assert given_code is not None and given_code.strip().casefold() == offer.coupon_code.strip().casefold()
            expected = (to_cents(list_price) * (100 - percent) + 50) // 100
            assert to_cents(price.unit_price) == expected
        elif price.flash:
            assert offer is not None and offer.flash_running(NOW) and seconds > 0
        else:
            assert price.unit_price == list_price
