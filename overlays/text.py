"""The words on a product card, as plain strings (bilingual, zh-CN first)."""

from __future__ import annotations

from urllib.parse import urlsplit

from catalog.money import format_money
from catalog.products import Product


def format_price(product: Product) -> str:
    """"¥59.00 / 5 kg box"."""
    amount = format_money(product.price, product.currency)
    return f"{amount} / {product.unit}" if product.unit else amount


def stock_line(product: Product, sold_out: bool = False) -> str:
    """"已售罄 Sold out" at zero stock or when the host closed the sale, else the stock left."""
    if sold_out or product.stock <= 0:
        return "已售罄 Sold out"
    return f"库存 Stock: {product.stock:,}"


def origin_line(product: Product) -> str | None:
    return f"产地 Origin: {product.origin}" if product.origin else None


def short_url(url: str) -> str:
    """The link as printed under the QR: no scheme, no trailing slash ("127.0.0.1:8080/b/k3m9qx")."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    rest = parts.path.rstrip("/")
    if parts.query:
        rest += f"?{parts.query}"
    return f"{parts.netloc}{rest}"
