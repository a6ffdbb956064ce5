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
import itertools
import json
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    problem = _not_csv(data[:4])
    if problem is not None:
        return "", [problem]
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return "", [not_utf8(data.count(b"\n", 0, error.start) + 1, data)]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        return "", [RowError(line, "file", f"line {line} holds binary data, not CSV text: {hint}", hint_zh)]
    return text, []


class BadCsv(ValueError):
    """The CSV reader gave up (a cell over :data:`MAX_CELL`, a broken quote at the end):
    nothing after it is readable."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def not_utf8(line: int, data: bytes) -> RowError:
    """Line ``line`` is not UTF-8; ``data`` (the file or that line) tells whether it looks like GBK."""
    hint, hint_zh = SAVE_AS_HINT
    guess = ""
    try:
        data.decode("gb18030")
        guess = " (it looks like GBK/GB18030, the default of Chinese Excel)"
    except UnicodeDecodeError:
        pass
    return RowError(
        line, "file", f"line {line} is not UTF-8 text{guess}: {hint}", f"第 {line} 行不是 UTF-8 编码，{hint_zh}"
    )


def csv_reader(lines: Iterable[str], first_line: str) -> Iterator[list[str]]:
    """Records from text lines; the separator (comma, semicolon, tab) is read off the header line.

    Raises :class:`BadCsv` naming the line where the reader stopped.
    """
    reader = csv.reader(lines, delimiter=max(DELIMITERS, key=first_line.count))
    try:
        yield from reader
    except csv.Error as error:
        line = reader.line_num
        if "field larger than field limit" in str(error):
            raise BadCsv(
                RowError(
                    line,
                    "file",
                    f"line {line} has a cell larger than {MAX_CELL // 1024} KiB: is this really a catalog?",
                    f"第 {line} 行有超过 {MAX_CELL // 1024} KiB 的单元格",
                )
            ) from None
        raise BadCsv(
            RowError(line, "file", f"line {line} cannot be read as CSV ({error})", f"第 {line} 行无法按 CSV 读取")
        ) from None


def csv_records(text: str) -> list[list[str]]:
    """The records of decoded CSV text (see :func:`csv_reader`)."""
    return list(csv_reader(io.StringIO(text, newline=""), text.split("\n", 1)[0]))


EMPTY_FILE = RowError(
    1,
    "file",
    "the file is empty: the first row must name the columns (sku, name, price, ...)",
    "文件为空，第一行应为列名",
)


def read_catalog_rows(data: bytes) -> tuple[list[dict[str, str]], list[str], list[RowError]]:
    """A catalog CSV as rows keyed by field name, its fields, and file/header problems.

    Row *i* of the result is spreadsheet row *i* + 2 (the header is row 1).
    """
    text, errors = decode_csv(data)
    if errors:
        return [], [], errors
    try:
        records = csv_records(text)
    except BadCsv as bad:
        return [], [], [bad.error]
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [], [EMPTY_FILE]
    columns, errors = validate_header(records[0])
    rows: list[dict[str, str]] = []
    for _, row, error in shaped_rows(records[1:], columns):
        if error is not None:
            errors.append(error)
        rows.append(row)
    return rows, [c for c in columns if c is not None], errors


def shaped_rows(
    records: Iterable[list[str]], columns: Sequence[str | None], *, first_row: int = 2
) -> Iterator[tuple[int, dict[str, str], RowError | None]]:
    """Each record keyed by field, padded to the header; an error when it has more cells than the header."""
    width = len(columns)
    for number, record in enumerate(records, start=first_row):
        error = None
        if any(cell.strip() for cell in record[width:]):
            error = RowError(
                number, "", f"row has {len(record)} cells but the header names {width} columns", "该行的单元格多于列名"
            )
        padded = record[:width] + [""] * (width - len(record))
        cells = {
            column: unsafe_cell(cell) for column, cell in zip(columns, padded, strict=True) if column is not None
        }
        yield number, cells, error


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


class _Undo(Exception):
    """Raised inside the import transaction to roll it back (a bad row, or a dry run)."""


def _import_or_undo(
    db: sqlite_utils.Database, text: io.TextIOWrapper, result: ImportResult, folder: Path | None, *, dry_run: bool
) -> None:
    """Stream the rows in one transaction; raise :class:`_Undo` to roll it back after a bad row or a dry run."""
    with transaction(db):
        _stream_import(db, text, result, folder)
        if result.errors or dry_run:
            raise _Undo()


def import_csv(db: sqlite_utils.Database, path: str | Path, *, dry_run: bool = False) -> ImportResult:
    """Import or update products from ``path``; nothing is written if any row is wrong.

    Streams: rows are read, checked and written :data:`CHUNK_ROWS` at a time
    inside one transaction that is rolled back at the end if any row was
    wrong, so a million-row file needs memory for one chunk, not the file.
    """
    path = Path(path)
    result = ImportResult(source=str(path), dry_run=dry_run)
    folder = data_folder(db)
    with path.open("rb") as raw:
        start = raw.read(4)
        raw.seek(0)
        problem = _not_csv(start)
        if problem is not None:
            result.errors = [problem]
            return result
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            _import_or_undo(db, text, result, folder, dry_run=dry_run)
        except _Undo:
            pass
        except UnicodeDecodeError:
            result.errors.append(_decode_error(path))
        finally:
            db.execute("DROP TABLE IF EXISTS temp.import_skus")
    if not result.ok:
        result.created = result.updated = 0
    return result


#: Rows checked and written per step of a streamed import.
CHUNK_ROWS = 5000
#: A catalog cell is at most a 2,000-character description; csv's own limit (128 KiB) is the file's sanity bound.
MAX_CELL = csv.field_size_limit()
#: Problems kept per import; the count of the rest is reported.
MAX_ERRORS = 1000


def _stream_import(
    db: sqlite_utils.Database, text: io.TextIOWrapper, result: ImportResult, folder: Path | None
) -> None:
    first_line = text.readline()
    if not first_line.strip():
        result.errors.append(EMPTY_FILE)
        return
    if "\x00" in first_line:
        result.errors.append(
            RowError(1, "file", f"line 1 holds binary data, not CSV text: {SAVE_AS_HINT[0]}", SAVE_AS_HINT[1])
        )
        return
    records = csv_reader(itertools.chain([first_line], text), first_line)
    try:
        columns, header_errors = validate_header(next(records))
        if header_errors:
            result.errors.extend(header_errors)
            return
        fields = [c for c in columns if c is not None]
        db.execute("CREATE TEMP TABLE import_skus (sku TEXT PRIMARY KEY, row INTEGER NOT NULL)")
        rows = shaped_rows(records, columns)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            _import_chunk(db, chunk, fields, result, folder)
    except BadCsv as bad:
        _note(result, bad.error)


def _import_chunk(
    db: sqlite_utils.Database,
    chunk: list[tuple[int, dict[str, str], RowError | None]],
    fields: list[str],
    result: ImportResult,
    folder: Path | None,
) -> None:
    first = chunk[0][0]
    for number, row, error in chunk:
        if error is not None:
            _note(result, error)
        if any("\x00" in cell for cell in row.values()):
            _note(
                result,
                RowError(
                    number, "file", f"line {number} holds binary data, not CSV text: {SAVE_AS_HINT[0]}", SAVE_AS_HINT[1]
                ),
            )
    rows = [row for _, row, _ in chunk]
    products, errors = validate_product_rows(rows, first_row=first)
    for error in errors:
        _note(result, error)
    numbers = {p.sku: first + i for i, p in enumerate(products)}
    if products:  # a sku used in an earlier chunk
        for sku, row in db.execute(
            "SELECT sku, row FROM temp.import_skus WHERE sku IN (SELECT value FROM json_each(?))",
            [json.dumps([p.sku for p in products])],
        ):
            _note(
                result,
                RowError(
                    numbers.get(sku, first), "sku", f"duplicate sku {sku!r} (first used in row {row})", "商品编号重复"
                ),
            )
        db.conn.executemany("INSERT OR IGNORE INTO temp.import_skus VALUES (?, ?)", ((p.sku, first) for p in products))
    if len(result.warnings) < MAX_ERRORS:
        result.warnings.extend(missing_images(rows, folder, first_row=first))
    if not result.errors:
        created, updated = save_products(db, products, fields)
        result.created += created
        result.updated += updated


def _note(result: ImportResult, error: RowError) -> None:
    """Keep the first MAX_ERRORS problems; the last one kept says how many more there are."""
    if len(result.errors) < MAX_ERRORS:
        result.errors.append(error)
    elif len(result.errors) == MAX_ERRORS:
        result.errors.append(
            RowError(
                error.row, "file", "more problems follow: fix the ones above first", "还有更多问题，请先修改上面的"
            )
        )


def _not_csv(start: bytes) -> RowError | None:
    hint, hint_zh = SAVE_AS_HINT
    if start.startswith(b"PK\x03\x04"):
        return RowError(1, "file", f"this is an Excel workbook (.xlsx), not a CSV file: {hint}", hint_zh)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return RowError(1, "file", f"the file is UTF-16 ('Unicode text'), not UTF-8: {hint}", hint_zh)
    return None


def _decode_error(path: Path) -> RowError:
    """The line holding the first byte that is not UTF-8, found by reading again in binary, line by line."""
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return not_utf8(number, line)
    return not_utf8(1, b"")


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
        image = next(
            (str(v).strip() for k, v in row.items() if canonical_column(str(k)) == "image" and isinstance(v, str)), ""
        )
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
        updated = db.execute(
            "SELECT COUNT(*) FROM products WHERE sku IN (SELECT value FROM json_each(?))",
            [json.dumps([p.sku for p in products])],
        ).fetchone()[0]
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
        row = dict(zip(COLUMNS, _row_values(product), strict=True))
        row["price"] = price_text(product.price)
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


def price_text(price: float) -> str:
    """A price as plain number text for a CSV cell or a terminal table ("59.90"), not display money.

    Two decimals when that is exact, else every digit, so an export reads back to the same price.
    """
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
            f"{price_text(p.price)} {p.currency}",
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
