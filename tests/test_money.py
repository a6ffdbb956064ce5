"""The one display-money formatter, as cards, shop pages, the control room and reports show it."""

from __future__ import annotations

import pytest

import catalog
from analytics.report import _display
from catalog.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1234.5, "CNY", "¥1,234.50"),
        (59.9, "RMB", "¥59.90"),
        (12, "USD", "$12.00"),
        (12, "usd ", "$12.00"),
        (0.5, "EUR", "€0.50"),
        (12, "HKD", "HKD 12.00"),
        (1_000_000, "", "¥1,000,000.00"),
    ],
)
def test_format_money(amount: float, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_cny_is_the_default_and_catalog_exports_it() -> None:
    assert catalog.format_money(59) == "¥59.00"


def test_reports_show_money_the_same_way() -> None:
    assert _display("gmv", 1234.5) == format_money(1234.5)
