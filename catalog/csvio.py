"""Catalog CSV files: all-or-nothing import, round-tripping export, a readable listing.

Farmers keep their products in Excel or WPS. Import accepts what those save as
"CSV UTF-8" (with or without a byte-order mark, English or Chinese headers)
and writes nothing unless every row is valid, so a half-fixed file can never
leave a half-updated shop. Export writes the same format back, with a BOM so
Excel shows the Chinese names correctly when the file is double-clicked.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from catalog.products import Product, list_products
from catalog.schema import transaction
from catalog.validation import (
    COLUMNS,
    ImportResult,
    RowError,
    canonical_column,
    is_data_relative_path,
    validate_header,
    validate_product_rows,
)

SAVE_AS_HINT = (
    "save it from Excel/WPS with File > Save As > 'CSV UTF-8 (Comma delimited)'",
    "请在 Excel/WPS 中选择 文件 > 另存为 > “CSV UTF-8（逗号分隔）”",
)
DELIMITERS = (",", ";", "\t")
#: How a cell a spreadsheet would run as a formula (or a DDE command) begins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet shows as text: a leading ``'`` before ``= + - @``, tab or CR (OWASP CSV injection).

    Every CSV writer passes its cells through here; numbers are left alone.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unsafe_cell(text: str) -> str:
    """What :func:`safe_cell` wrote, read back: an export imports to the same products."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def decode_csv(data: bytes) -> tuple[str, list[RowError]]:
    """UTF-8 text of a CSV file (BOM removed), or an error naming the first bad line."""
    hint, hint_zh = SAVE_AS_HINT
    if data.startswith(b"PK\x03\x04"):
        return "", [RowError(1, "file", f"this is an Excel workbook (.xlsx), not a CSV file: {hint}", hint_zh)]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "", [RowError(1, "file", f"the file is UTF-16 ('Unicode text'), not UTF-8: {hint}", hint_zh)]
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        guess = ""
        try:
            data.decode("gb18030")
            guess = " (it looks like GBK/GB18030, the default of Chinese Excel)"
        except UnicodeDecodeError:
            pass
        return "", [
            RowError(line, "file", f"line {line} is not UTF-8 text{guess}: {hint}", f"第 {line} 行不是 UTF-8 编码，{hint_zh}")
        ]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return "", [RowError(line, "file", f"line {line} holds binary data, not CSV text: {hint}", hint_zh)]
    return text, []


def csv_records(text: str) -> list[list[str]]:
    """The records of decoded CSV text; the separator (comma, semicolon, tab) is read off the header line."""
    first_line = text.split("\n", 1)[0]
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=max(DELIMITERS, key=first_line.count)))


def read_catalog_rows(data: bytes) -> tuple[list[dict[str, str]], list[str], list[RowError]]:
    """A catalog CSV as rows keyed by field name (row *i* is spreadsheet row *i* + 2), its fields, and file/header problems."""
    text, errors = decode_csv(data)
    if errors:
        return [], [], errors
    records = csv_records(text)
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [], [RowError(1, "file", "the file is empty: the first row must name the columns (sku, name, price, ...)", "文件为空，第一行应为列名")]
    columns, errors = validate_header(records[0])
    width = len(columns)
    rows: list[dict[str, str]] = []
    for number, record in enumerate(records[1:], start=2):
        if any(cell.strip() for cell in record[width:]):
            errors.append(
                RowError(number, "", f"row has {len(record)} cells but the header names {width} columns", "该行的单元格多于列名")
            )
        padded = record[:width] + [""] * (width - len(record))
        rows.append({column: unsafe_cell(cell) for column, cell in zip(columns, padded) if column is not None})
    return rows, [c for c in columns if c is not None], errors


def parse_catalog_csv(data: bytes) -> tuple[list[Product], list[str], list[RowError]]:
    """Products in a catalog CSV, the fields its header names, and every problem found."""
    _, products, columns, errors = _parse(data)
    return products, columns, errors


def _parse(data: bytes) -> tuple[list[dict[str, str]], list[Product], list[str], list[RowError]]:
    rows, columns, errors = read_catalog_rows(data)
    if not columns:
        return rows, [], [], errors
    products, row_errors = validate_product_rows(rows)
    # Header problems were reported against the real headers by read_catalog_rows.
    errors = sorted(errors + [e for e in row_errors if e.row != 1], key=lambda e: e.row)
    return rows, products, columns, errors


def import_csv(db: sqlite_utils.Database, path: str | Path, *, dry_run: bool = False) -> ImportResult:
    """Import or update products from ``path``; nothing is written if any row is wrong."""
    path = Path(path)
    rows, products, columns, errors = _parse(path.read_bytes())
    result = ImportResult(errors=errors, source=str(path), dry_run=dry_run)
    if result.ok:
        result.created, result.updated = save_products(db, products, columns, dry_run=dry_run)
        result.warnings = missing_images(rows, data_folder(db))
    return result


def import_rows(
    db: sqlite_utils.Database, rows: Iterable[Mapping[str, Any]], *, dry_run: bool = False
) -> ImportResult:
    """The same all-or-nothing import for rows from an editor or a script (first row = row 2)."""
    rows = list(rows)
    products, errors = validate_product_rows(rows)
    result = ImportResult(errors=errors, dry_run=dry_run)
    if result.ok:
        columns = [c for c in COLUMNS if any(c in _canonical_keys(row) for row in rows)]
        result.created, result.updated = save_products(db, products, columns, dry_run=dry_run)
        result.warnings = missing_images(rows, data_folder(db))
    return result


def data_folder(db: sqlite_utils.Database) -> Path | None:
    """The folder holding the database file (image paths are relative to it); None in memory."""
    for _, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file).parent
    return None


def missing_images(rows: Sequence[Mapping[str, Any]], folder: Path | None, *, first_row: int = 2) -> list[RowError]:
    """Rows whose picture is not in the data folder yet: imported anyway, the card shows a placeholder."""
    if folder is None:
        return []
    warnings = []
    for number, row in enumerate(rows, start=first_row):
        image = next((str(v).strip() for k, v in row.items() if canonical_column(str(k)) == "image" and isinstance(v, str)), "")
        if image and is_data_relative_path(image) and not (folder / image).is_file():
            warnings.append(
                RowError(
                    number,
                    "image",
                    f"{image} is not in the data folder {folder} yet; the product card shows a placeholder until it is",
                    "图片文件不存在，请放入数据文件夹",
                )
            )
    return warnings


def save_products(
    db: sqlite_utils.Database,
    products: Sequence[Product],
    columns: Sequence[str] = COLUMNS,
    *,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Upsert by sku in one transaction; returns ``(created, updated)``.

    Existing products only change in ``columns``: a sheet with just sku, price
    and stock updates prices and stock without wiping images or descriptions.
    """
    update = [c for c in dict.fromkeys(columns) if c in COLUMNS and c != "sku"]
    conflict = f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in update)}" if update else "DO NOTHING"
    sql = (
        f"INSERT INTO products ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT(sku) {conflict}"
    )
    with transaction(db):
        existing = {row[0] for row in db.execute("SELECT sku FROM products")}
        updated = sum(1 for p in products if p.sku in existing)
        if not dry_run:
            db.conn.executemany(sql, (_row_values(p) for p in products))
    return len(products) - updated, updated


def _row_values(product: Product) -> list[Any]:
    """The row in :data:`COLUMNS` order (``dataclasses.asdict`` deep-copies: 10x slower)."""
    return [int(product.active) if c == "active" else getattr(product, c) for c in COLUMNS]


def catalog_csv(products: Iterable[Product]) -> str:
    """The CSV text :func:`import_csv` reads back to the same products."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for product in products:
        row = dict(zip(COLUMNS, _row_values(product)))
        row["price"] = format_price(product.price)
        row["active"] = "yes" if product.active else "no"
        writer.writerow(["" if row[c] is None else safe_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def export_csv(db: sqlite_utils.Database, path: str | Path) -> int:
    """Write every product (active or not) to ``path``; returns how many."""
    products = list_products(db)
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(catalog_csv(products), encoding="utf-8-sig", newline="")
    os.replace(temporary, path)
    return len(products)


def format_price(price: float) -> str:
    text = f"{price:.2f}"
    return text if float(text) == price else repr(price)


def format_catalog(products: Sequence[Product]) -> str:
    """A terminal table that lines up Chinese text (two columns per wide character)."""
    if not products:
        return "the catalog is empty: add products with `farmlive catalog import FILE.csv` / 商品目录为空"
    header = ["sku", "name", "中文名", "price", "stock", "unit", "origin"]
    rows = [
        [
            p.sku + ("" if p.active else " (off sale)"),
            p.name,
            p.name_zh,
            f"{format_price(p.price)} {p.currency}",
            str(p.stock),
            p.unit,
            p.origin,
        ]
        for p in products
    ]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {3, 4}

    def line(cells: list[str]) -> str:
        padded = [
            _pad(cell, widths[i], right=i in numeric) for i, cell in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    total = f"{len(products)} products, {sum(p.stock for p in products)} units in stock / 共 {len(products)} 个商品"
    return "\n".join([line(header), rule, *(line(r) for r in rows), total])


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * (width - display_width(text))
    return space + text if right else text + space


def _canonical_keys(row: Mapping[str, Any]) -> set[str]:
    return {c for c in (canonical_column(str(k)) for k in row) if c is not None}
