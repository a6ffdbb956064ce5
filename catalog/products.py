"""The product record and its plain read/write API over the ``products`` table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import sqlite_utils

#: Units per order when a product sets no limit of its own: a family's order, not a reseller's.
DEFAULT_MAX_PER_ORDER = 10


@dataclass(frozen=True)
class Product:
    """One sellable item as the studio shows it on air and sells it."""

    sku: str
    name: str
    price: float
    name_zh: str = ""
    description: str = ""
    currency: str = "CNY"
    unit: str = ""
    stock: int = 0
    origin: str = ""
    image: str | None = None
    buy_url: str | None = None
    active: bool = True
    # Most units one order may take; None means DEFAULT_MAX_PER_ORDER.
    max_per_order: int | None = None

    @property
    def order_limit(self) -> int:
        """The most one order may take: a flash sale of 120 must not go to one buyer in one tap."""
        return self.max_per_order or DEFAULT_MAX_PER_ORDER

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Product:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known}
        if "active" in values:
            values["active"] = bool(values["active"])
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["active"] = int(self.active)
        return row


class UnknownProduct(LookupError):
    """Raised for a SKU that is not in the catalog."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"unknown SKU {sku!r}")
        self.sku = sku


def get_product(db: sqlite_utils.Database, sku: str) -> Product:
    cursor = db.execute("SELECT * FROM products WHERE sku = ?", [sku])
    row = cursor.fetchone()
    if row is None:
        raise UnknownProduct(sku)
    columns = [d[0] for d in cursor.description]
    return Product.from_row(dict(zip(columns, row, strict=True)))


def list_products(db: sqlite_utils.Database, *, active_only: bool = False) -> list[Product]:
    where = "WHERE active = 1" if active_only else ""
    return [Product.from_row(r) for r in db.query(f"SELECT * FROM products {where} ORDER BY sku")]


def upsert_product(db: sqlite_utils.Database, product: Product) -> None:
    row = product.to_row()
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "sku")
    db.execute(
        f"INSERT INTO products ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT(sku) DO UPDATE SET {updates}",
        list(row.values()),
    )
