"""The one display formatter for money: cards on the video, shop pages, the control room, reports.

Amounts read the same wherever a farmer or a buyer sees them: the currency's
symbol where it has a well-known one (¥, $, €), else its ISO code and a space
("HKD 12.00"), then the amount with thousands separators and two decimals.
"""

from __future__ import annotations

CURRENCY_SYMBOLS: dict[str, str] = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€"}
DEFAULT_CURRENCY = "CNY"


def currency_symbol(currency: str) -> str:
    """¥ for CNY, $ for USD, € for EUR; any other code is printed as itself ("HKD ")."""
    code = (currency or DEFAULT_CURRENCY).strip().upper()
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def format_money(amount: float, currency: str = DEFAULT_CURRENCY) -> str:
    """``¥1,234.50``, ``$12.00``, ``HKD 12.00``: an amount as people read it."""
    return f"{currency_symbol(currency)}{amount:,.2f}"
