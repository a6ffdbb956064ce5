"""Checking product rows before anything is written: one pure function for every entry point.

The CSV importer, the control room's catalog editor and scripts all call
:func:`validate_product_rows`, so a spreadsheet, a web form and a script get
the same rules and the same messages. Rows are numbered as a spreadsheet shows
them (the header is row 1), so a farmer can find the cell to fix.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from catalog.products import Product

# The columns a catalog file may have, in export order.
COLUMNS: tuple[str, ...] = (
    "sku",
    "name",
    "name_zh",
    "description",
    "price",
    "currency",
    "unit",
    "stock",
    "origin",
    "image",
    "buy_url",
    "active",
    "max_per_order",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("sku", "name", "price")

# Header spellings a farmer's spreadsheet may use, matched case-insensitively.
HEADER_ALIASES: dict[str, str] = {
    **{column: column for column in COLUMNS},
    "商品编号": "sku",
    "编号": "sku",
    "货号": "sku",
    "商品编码": "sku",
    "名称": "name",
    "英文名": "name",
    "英文名称": "name",
    "商品名称": "name",
    "name_en": "name",
    "中文名": "name_zh",
    "中文名称": "name_zh",
    "描述": "description",
    "商品描述": "description",
    "介绍": "description",
    "价格": "price",
    "单价": "price",
    "售价": "price",
    "币种": "currency",
    "货币": "currency",
    "单位": "unit",
    "规格": "unit",
    "库存": "stock",
    "库存数量": "stock",
    "产地": "origin",
    "图片": "image",
    "商品图片": "image",
    "购买链接": "buy_url",
    "链接": "buy_url",
    "url": "buy_url",
    "上架": "active",
    "在售": "active",
    "限购": "max_per_order",
    "每单限购": "max_per_order",
    "limit": "max_per_order",
}

MAX_TEXT = 200  # longest name/unit/origin a product card can show
MAX_DESCRIPTION = 2000
MAX_STOCK = 10**9  # far beyond any farm, far below SQLite's 64-bit integers
MAX_PER_ORDER = 999  # the order form's own ceiling
# Line breaks and tabs are text (a web address refuses them on its own); no other control character belongs in a cell.
TEXT_BREAKS = "\n\r\t"
SKU_PATTERN = re.compile(r"^[^\W_][\w.-]{0,63}$")
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
TRUE_WORDS = {"1", "yes", "y", "true", "t", "on", "是", "在售", "上架"}
FALSE_WORDS = {"0", "no", "n", "false", "f", "off", "否", "下架", "停售"}


@dataclass(frozen=True)
class RowError:
    """One problem, located as a spreadsheet user sees it: row number and column."""

    row: int
    field: str
    message: str
    hint_zh: str = ""

    def __str__(self) -> str:
        where = f"row {self.row}" if self.field in ("", "file") else f"row {self.row}, {self.field}"
        text = f"{where}: {self.message}"
        return f"{text} / {self.hint_zh}" if self.hint_zh else text


@dataclass
class ImportResult:
    """What an import did, or why it did nothing (``errors`` non-empty means nothing written)."""

    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    source: str = ""
    # Problems that do not stop the import (e.g. a picture not copied in yet).
    warnings: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    # Long error lists are cut in the summary; ``errors`` always holds all of them.
    SUMMARY_ERROR_LIMIT = 50

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        where = f" from {self.source}" if self.source else ""
        if self.ok:
            verb = "would import" if self.dry_run else "imported"
            verb_zh = "将导入" if self.dry_run else "已导入"
            total = self.created + self.updated
            lines = [
                (
                    f"{verb} {total} products{where} ({self.created} new, {self.updated} updated) / "
                    f"{verb_zh} {total} 个商品（新增 {self.created}，更新 {self.updated}）"
                )
            ]
            if self.warnings:
                lines.append(f"{len(self.warnings)} warning(s) / 提醒:")
            return "\n".join(lines + self._listed(self.warnings))
        count = len(self.errors)
        lines = [
            (
                f"nothing imported{where}: {count} problem{'s' if count != 1 else ''} to fix / "
                f"未导入任何商品：有 {count} 处需要修改"
            )
        ]
        return "\n".join(lines + self._listed(self.errors))

    def _listed(self, problems: list[RowError]) -> list[str]:
        lines = [f"  {problem}" for problem in problems[: self.SUMMARY_ERROR_LIMIT]]
        hidden = len(problems) - self.SUMMARY_ERROR_LIMIT
        if hidden > 0:
            lines.append(f"  ... and {hidden} more / 另有 {hidden} 处")
        return lines


def header_key(header: str) -> str:
    """A header as alias tables spell it: full-width folded, trimmed, lower case, ``_`` for spaces."""
    return unicodedata.normalize("NFKC", str(header)).strip().lower().replace(" ", "_")


@functools.lru_cache(maxsize=1024)
def canonical_column(header: str) -> str | None:
    """The product field a header names (``"库存"`` -> ``"stock"``), or None if unknown."""
    return HEADER_ALIASES.get(header_key(header))


def validate_header(headers: Sequence[str]) -> tuple[list[str | None], list[RowError]]:
    """Map each header to a field; report unknown, repeated and missing required columns."""
    errors: list[RowError] = []
    mapped: list[str | None] = []
    seen: dict[str, str] = {}
    for header in headers:
        column = canonical_column(header)
        if column is None:
            if str(header).strip():
                errors.append(
                    RowError(
                        1,
                        str(header),
                        f"unknown column {str(header)!r}; known columns: {', '.join(COLUMNS)}",
                        "无法识别的列名",
                    )
                )
        elif column in seen:
            errors.append(
                RowError(
                    1,
                    str(header),
                    f"column {str(header)!r} repeats {seen[column]!r} (both mean {column})",
                    "列名重复",
                )
            )
            column = None
        else:
            seen[column] = str(header)
        mapped.append(column)
    errors.extend(
        RowError(1, column, f"required column {column!r} is missing", f"缺少必填列 {column}")
        for column in REQUIRED_COLUMNS
        if column not in seen
    )
    return mapped, errors


def validate_product_rows(
    rows: Iterable[Mapping[str, Any]], *, first_row: int = 2
) -> tuple[list[Product], list[RowError]]:
    """Check every row; returns the valid products and every error found.

    Keys may be field names or any alias in :data:`HEADER_ALIASES`; values may
    be text (CSV) or numbers/None/NaN (a data-frame editor). Blank rows are
    skipped. Callers write nothing unless the error list is empty.
    """
    products: list[Product] = []
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    headers: dict[str, None] = {}  # every key seen, in order
    for index, raw in enumerate(rows):
        row_number = first_row + index
        headers.update(dict.fromkeys(str(key) for key in raw))
        values: dict[str, Any] = {}
        for key, value in raw.items():
            column = canonical_column(str(key))
            if column is not None and column not in values:
                values[column] = value
        if all(_blank(v) for v in raw.values()):
            continue
        product, row_errors = _validate_row(values, row_number)
        errors += row_errors
        if product is None:
            continue
        if product.sku in first_seen:
            errors.append(
                RowError(
                    row_number,
                    "sku",
                    f"duplicate sku {product.sku!r} (first used in row {first_seen[product.sku]})",
                    "商品编号重复",
                )
            )
            continue
        first_seen[product.sku] = row_number
        products.append(product)
    if not headers:
        return products, errors
    _, header_errors = validate_header(list(headers))
    # A column missing altogether is one header error, not one error per row.
    absent = {e.field for e in header_errors if e.field in REQUIRED_COLUMNS}
    errors = header_errors + [e for e in errors if e.field not in absent]
    return products, errors


def _validate_row(values: Mapping[str, Any], row: int) -> tuple[Product | None, list[RowError]]:
    errors: list[RowError] = []

    def problem(column: str, message: str, hint_zh: str) -> None:
        errors.append(RowError(row, column, message, hint_zh))

    for column, value in values.items():
        bad = _first_bad(value, TEXT_BREAKS) if isinstance(value, str) else -1
        if bad >= 0:
            problem(
                column,
                f"{column} holds control characters or broken text (U+{bad:04X}): retype the cell",
                "该单元格含有控制字符或乱码，请重新输入",
            )
    if errors:
        return None, errors
    sku = _text(values.get("sku"))
    _check_sku(sku, problem)
    name = _text(values.get("name"))
    if not name:
        problem("name", "name is missing", "缺少商品名称")
    for column in ("name", "name_zh", "unit", "origin"):
        if len(_text(values.get(column))) > MAX_TEXT:
            problem(column, f"{column} is longer than {MAX_TEXT} characters", "内容过长")
    description = _text(values.get("description"))
    if len(description) > MAX_DESCRIPTION:
        problem("description", f"description is longer than {MAX_DESCRIPTION} characters", "描述过长")
    price = _price(values.get("price"), problem)
    stock = _stock(values.get("stock"), problem)
    currency = _text(values.get("currency")).upper() or "CNY"
    if not CURRENCY_PATTERN.match(currency):
        problem("currency", f"currency {currency!r} must be a 3-letter code such as CNY", "币种应为 CNY 等三位代码")
    buy_url = _text(values.get("buy_url")) or None
    if buy_url is not None and not is_web_url(buy_url):
        message = f"buy_url {buy_url!r} must be a web address starting with http:// or https://"
        problem("buy_url", message, "购买链接需以 http:// 或 https:// 开头")
    image = _text(values.get("image")) or None
    if image is not None and not is_data_relative_path(image):
        problem(
            "image",
            f"image {image!r} must be a file inside the data folder, such as images/{sku or 'SKU'}.png",
            "图片需放在数据文件夹内，例如 images/商品编号.png",
        )
    active = _active(values.get("active"), problem)
    max_per_order = _max_per_order(values.get("max_per_order"), problem)
    if errors:
        return None, errors
    assert price is not None and stock is not None and active is not None
    return (
        Product(
            sku=sku,
            name=name,
            name_zh=_text(values.get("name_zh")),
            description=description,
            price=price,
            currency=currency,
            unit=_text(values.get("unit")),
            stock=stock,
            origin=_text(values.get("origin")),
            image=image,
            buy_url=buy_url,
            active=active,
            max_per_order=max_per_order,
        ),
        [],
    )


def has_control_characters(text: str, *, allowed: str = "") -> bool:
    """Control characters (U+0000-U+001F, U+007F-U+009F) or lone surrogates from broken JSON/UTF-16."""
    return _first_bad(text, allowed) >= 0


def _first_bad(text: str, allowed: str) -> int:
    """The code point of the first disallowed character, or -1."""
    for ch in text:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            return ord(ch)
    return -1


def is_web_url(text: str) -> bool:
    """An absolute http(s) address with a host and no spaces."""
    if any(ch.isspace() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host)


def is_data_relative_path(text: str) -> bool:
    """A relative path that stays inside the data folder (no ``..``, no drive, no root)."""
    if "\\" in text or ":" in text or text.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in text.split("/"))


def _blank(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _check_sku(sku: str, problem: Any) -> None:
    if not sku:
        problem("sku", "sku is missing", "缺少商品编号")
    elif not SKU_PATTERN.match(sku):
        problem(
            "sku",
            f"sku {sku!r} may only use letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit)",
            "商品编号只能包含字母、数字、- _ .",
        )


def _price(value: Any, problem: Any) -> float | None:
    text = _text(value)
    if not text:
        problem("price", "price is missing", "缺少价格")
        return None
    cleaned = number_text(unicodedata.normalize("NFKC", text).lstrip("¥$").removesuffix("元").strip())
    try:
        price = float(cleaned)
    except ValueError:
        problem("price", f"price {text!r} is not a number", "价格必须是数字")
        return None
    if not math.isfinite(price):
        problem("price", f"price {text!r} is not a number", "价格必须是数字")
        return None
    if price < 0:
        problem("price", f"price {text!r} is negative", "价格不能为负数")
        return None
    if abs(round(price, 2) - price) > 1e-9:
        problem("price", f"price {text!r} has more than 2 decimal places", "价格最多两位小数")
        return None
    return round(price, 2)


def number_text(text: str) -> str:
    """Drop thousands separators (``1,299.00``); a decimal comma (``12,5``) stays and is refused."""
    return text.replace(",", "") if THOUSANDS.match(text) else text


def _stock(value: Any, problem: Any) -> int | None:
    text = _text(value)
    if not text:
        return 0
    try:
        number = float(number_text(unicodedata.normalize("NFKC", text)))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or number < 0:
        problem("stock", f"stock {text!r} must be a whole number, 0 or more", "库存必须是不小于 0 的整数")
        return None
    if number > MAX_STOCK:
        problem("stock", f"stock {text!r} is more than {MAX_STOCK:,}", f"库存不能超过 {MAX_STOCK}")
        return None
    return int(number)


def _max_per_order(value: Any, problem: Any) -> int | None:
    """Blank: the default limit. Otherwise a whole number from 1 to MAX_PER_ORDER."""
    text = _text(value)
    if not text:
        return None
    try:
        number = float(unicodedata.normalize("NFKC", text)) if len(text) <= 12 else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not 1 <= number <= MAX_PER_ORDER:
        problem(
            "max_per_order",
            f"max_per_order {text!r} must be a whole number from 1 to {MAX_PER_ORDER}, or blank for the default",
            f"每单限购须为 1 到 {MAX_PER_ORDER} 的整数，留空则用默认值",
        )
        return None
    return int(number)


def _active(value: Any, problem: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if not text or text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    problem("active", f"active {text!r} must be yes or no", "上架请填 是 或 否")
    return None
