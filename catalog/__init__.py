"""Products, stock, tracked buy links, orders and the SQLite schema.

A plain Python API first (functions taking a ``sqlite_utils.Database``);
the ``farmlive catalog`` commands are a thin layer over it.
"""

from catalog.csvio import export_csv, import_csv, import_rows
from catalog.money import currency_symbol, format_money
from catalog.orders import InvalidOrder, NotOnSale, Order, OutOfStock, place_order
from catalog.products import Product, UnknownProduct, get_product, list_products, upsert_product
from catalog.schema import (
    DB_FILENAME,
    SCHEMA_VERSION,
    SchemaOutOfDate,
    connect,
    connect_readonly,
    db_path,
    open_db,
    transaction,
)
from catalog.timestamps import display_timezone, now_iso, parse_iso, to_display, to_iso, utc_now
from catalog.validation import ImportResult, RowError, validate_product_rows

__all__ = [
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "ImportResult",
    "InvalidOrder",
    "NotOnSale",
    "Order",
    "OutOfStock",
    "Product",
    "RowError",
    "SchemaOutOfDate",
    "UnknownProduct",
    "connect",
    "connect_readonly",
    "currency_symbol",
    "db_path",
    "display_timezone",
    "export_csv",
    "format_money",
    "get_product",
    "import_csv",
    "import_rows",
    "list_products",
    "now_iso",
    "open_db",
    "parse_iso",
    "place_order",
    "to_display",
    "to_iso",
    "transaction",
    "upsert_product",
    "utc_now",
    "validate_product_rows",
]
