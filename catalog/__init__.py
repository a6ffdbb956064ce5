"""Products, stock, tracked buy links, orders and the SQLite schema.

A plain Python API first (functions taking a ``sqlite_utils.Database``);
the ``farmlive catalog`` commands are a thin layer over it.
"""

from catalog.products import Product, UnknownProduct, get_product, list_products, upsert_product
from catalog.schema import DB_FILENAME, SCHEMA_VERSION, connect, db_path, open_db, transaction
from catalog.timestamps import now_iso, parse_iso, to_iso, utc_now
from catalog.validation import ImportResult, RowError, validate_product_rows

__all__ = [
    "DB_FILENAME",
    "ImportResult",
    "SCHEMA_VERSION",
    "Product",
    "RowError",
    "UnknownProduct",
    "connect",
    "db_path",
    "get_product",
    "list_products",
    "now_iso",
    "open_db",
    "parse_iso",
    "to_iso",
    "transaction",
    "upsert_product",
    "utc_now",
    "validate_product_rows",
]
