"""Importing platform order exports (Douyin, Taobao, Pinduoduo style CSV).

Farmers sell the same boxes on the platforms' own shops while they stream,
and those orders belong in the show's figures. Exports come with Chinese
headers, local (Asia/Shanghai) times without an offset, money like
``¥1,299.00``, and often in GBK; all of that is accepted.

Rules:

* all-or-nothing: any bad row (unknown SKU, bad quantity, bad time,
  unknown status, an order id twice in the file, ...) reports every problem
  with its spreadsheet row number and writes nothing;
* idempotent: an order is keyed by its platform order id
  (``UNIQUE(source, external_id)``); importing the same file again adds
  nothing, and a newer export only updates the status of known orders (so a
  refund shows up in the revenue);
* stock: platform orders sell the same physical boxes, so a newly imported
  sale takes its units from stock (never below 0; a shortfall is reported).
  A later refund does not put units back: returned produce is rarely
  resellable, the farmer corrects stock in the catalog if it is.
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from analytics.attribution import SALE_STATUSES
from catalog.csvio import BadCsv, csv_records, decode_csv
from catalog.schema import transaction
from catalog.timestamps import to_iso
from catalog.validation import ImportResult, RowError, header_key, number_text

DEFAULT_TIMEZONE = "Asia/Shanghai"
SOURCE = "import"
MAX_QUANTITY = 100_000

# Header spellings of the platforms' exports, matched after NFKC, trim and lower-case.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["external_id", "order_id", "order_no", "order", "订单号", "订单编号", "主订单编号", "订单id"], "external_id"
    ),
    **dict.fromkeys(["sku", "商品编码", "商家编码", "商品编号", "sku编码", "货号", "商家sku"], "sku"),
    **dict.fromkeys(["quantity", "qty", "数量", "商品数量", "购买数量"], "quantity"),
    **dict.fromkeys(["unit_price", "price", "单价", "商品单价", "商品价格"], "unit_price"),
    **dict.fromkeys(
        ["total", "amount", "实付金额", "实付款", "订单金额", "支付金额", "实收款", "买家实付"], "total"
    ),
    **dict.fromkeys(
        ["at", "paid_at", "time", "order_time", "下单时间", "支付时间", "付款时间", "创建时间", "订单创建时间"], "at"
    ),
    **dict.fromkeys(["status", "订单状态", "状态"], "status"),
    **dict.fromkeys(["buyer_id", "buyer", "买家", "买家昵称", "买家id", "用户id", "用户昵称"], "buyer_id"),
    **dict.fromkeys(["link_code", "code", "推广码", "推广链接码", "直播码"], "link_code"),
}
REQUIRED = ("external_id", "sku", "quantity", "at")
# Reports one problem of a row: (column, message, hint in Chinese).
Problem = Callable[[str, str, str], None]
FIELD_NAMES_ZH = {
    "external_id": "订单号", "sku": "商品编码", "quantity": "数量", "unit_price": "单价",
    "total": "实付金额", "at": "下单时间", "status": "订单状态", "buyer_id": "买家", "link_code": "推广码",
}

# Platform status words -> the studio's statuses (SALE_STATUSES count as sales).
STATUS_ALIASES: dict[str, str] = {
    **dict.fromkeys(["paid", "已付款", "已支付", "待发货", "买家已付款", "等待卖家发货", "已付款待发货"], "paid"),
    **dict.fromkeys(["shipped", "已发货", "卖家已发货", "待收货", "等待买家确认收货"], "shipped"),
    **dict.fromkeys(["delivered", "已签收", "已收货"], "delivered"),
    **dict.fromkeys(["completed", "complete", "已完成", "交易成功", "交易完成"], "completed"),
    **dict.fromkeys(["refunded", "已退款", "退款成功", "售后完成"], "refunded"),
    **dict.fromkeys(["cancelled", "canceled", "已取消", "交易关闭", "订单关闭", "已关闭"], "cancelled"),
    **dict.fromkeys(["pending", "unpaid", "待付款", "等待买家付款", "未付款"], "pending"),
}

# 1.23457E+17: a long order id Excel rounded; the real id is lost.
_EXCEL_NUMBER = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)

_TIME = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[ T]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:\.(\d{1,6}))?)?秒?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class ImportedOrder:
    """One valid row, ready to write (``at`` already UTC ISO text)."""

    row: int
    external_id: str
    sku: str
    quantity: int
    unit_price: float
    total: float
    at: str
    status: str
    buyer_id: str | None
    link_code: str | None
    show_id: int | None


@dataclass
class OrderImportResult(ImportResult):
    """``created`` new orders, ``updated`` status changes, ``unchanged`` already imported."""

    unchanged: int = 0
    units_from_stock: int = 0
    short: dict[str, int] = field(default_factory=dict)  # sku -> units sold beyond the stock

    def summary(self) -> str:
        where = f" from {self.source}" if self.source else ""
        if not self.ok:
            count = len(self.errors)
            lines = [
                (
                    f"no orders imported{where}: {count} problem{'s' if count != 1 else ''} to fix / "
                    f"未导入任何订单：有 {count} 处需要修改"
                )
            ]
            return "\n".join(lines + self._listed(self.errors))
        verb, verb_zh = ("would import", "将导入") if self.dry_run else ("imported", "已导入")
        lines = [
            (
                f"{verb} orders{where}: {self.created} new, {self.updated} status updated, "
                f"{self.unchanged} already imported; {self.units_from_stock} units taken from stock / "
                f"{verb_zh}订单：新增 {self.created}，状态更新 {self.updated}，已存在 {self.unchanged}；"
                f"扣减库存 {self.units_from_stock} 件"
            )
        ]
        for sku, units in sorted(self.short.items()):
            lines.append(
                f"  warning: {sku} sold {units} more than in stock; its stock is now 0 / "
                f"警告：{sku} 售出数量超出库存 {units} 件，库存已归零"
            )
        return "\n".join(lines)


def import_orders_csv(
    db: sqlite_utils.Database,
    path: str | Path,
    *,
    timezone_name: str = DEFAULT_TIMEZONE,
    dry_run: bool = False,
) -> OrderImportResult:
    """Import a platform order export; nothing is written if any row is wrong.

    Times without an offset are read in ``timezone_name`` (Chinese exports
    are in Beijing time); times with an offset or ``Z`` keep theirs.
    """
    path = Path(path)
    result = OrderImportResult(source=str(path), dry_run=dry_run)
    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {timezone_name!r}") from error
    orders, result.errors = parse_orders_csv(db, path.read_bytes(), zone)
    if result.ok:
        _save(db, orders, result)
    return result


def parse_orders_csv(
    db: sqlite_utils.Database, data: bytes, zone: ZoneInfo
) -> tuple[list[ImportedOrder], list[RowError]]:
    """Valid orders of an export and every problem found (checks the catalog and links)."""
    text, errors = _decode(data)
    if errors:
        return [], errors
    try:
        records = csv_records(text)
    except BadCsv as bad:
        return [], [bad.error]
    if not records or not any(cell.strip() for cell in records[0]):
        return [], [
            RowError(1, "file", "the file is empty: the first row must name the columns", "文件为空，第一行应为列名")
        ]
    columns, errors = _header(records[0])
    if errors:
        return [], errors
    skus = {row[0] for row in db.execute("SELECT sku FROM products")}
    links = {row[0]: (row[1], row[2]) for row in db.execute("SELECT code, show_id, sku FROM links")}
    orders: list[ImportedOrder] = []
    first_seen: dict[str, int] = {}
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        values = {column: _cell(cell) for column, cell in zip(columns, record, strict=False) if column}
        order, row_errors = _order(number, values, skus, links, zone)
        errors += row_errors
        if order is None:
            continue
        if order.external_id in first_seen:
            errors.append(
                RowError(
                    number,
                    "external_id",
                    f"order id {order.external_id!r} is already in row {first_seen[order.external_id]}",
                    "订单号重复",
                )
            )
            continue
        first_seen[order.external_id] = number
        orders.append(order)
    return orders, errors


def _cell(text: str) -> str:
    """A cell without the guards exports put around long numbers: ``="123"``, a tab, a quote."""
    text = text.strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    return text.lstrip("'\t").strip()


def _decode(data: bytes) -> tuple[str, list[RowError]]:
    """UTF-8 (with or without BOM), else GBK/GB18030: the platforms' default export."""
    text, errors = decode_csv(data)
    if errors and not data.startswith(b"PK") and b"\x00" not in data:
        try:
            return data.decode("gb18030"), []
        except UnicodeDecodeError:
            pass
    return text, errors


def _canonical(header: str) -> str | None:
    return HEADER_ALIASES.get(header_key(header))


def _header(headers: list[str]) -> tuple[list[str | None], list[RowError]]:
    """Map headers to fields; unknown columns (exports have dozens) are ignored."""
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    errors: list[RowError] = []
    for header in headers:
        column = _canonical(header)
        if column in seen:
            message = f"columns {seen[column]!r} and {header!r} both mean {column}; delete one"
            errors.append(RowError(1, header, message, "列名重复，请删除其中一列"))
            column = None
        elif column:
            seen[column] = header
        columns.append(column)
    errors.extend(
        RowError(
            1,
            column,
            f"required column {column!r} ({FIELD_NAMES_ZH[column]}) is missing",
            f"缺少必填列 {FIELD_NAMES_ZH[column]}",
        )
        for column in REQUIRED
        if column not in seen
    )
    if "unit_price" not in seen and "total" not in seen:
        message = "the file needs a unit_price (单价) or a total (实付金额) column"
        errors.append(RowError(1, "total", message, "需要 单价 或 实付金额 列"))
    return columns, errors


def _order(
    row: int,
    values: dict[str, str],
    skus: set[str],
    links: dict[str, tuple[int, str]],
    zone: ZoneInfo,
) -> tuple[ImportedOrder | None, list[RowError]]:
    errors: list[RowError] = []

    def problem(column: str, message: str, hint_zh: str) -> None:
        errors.append(RowError(row, column, message, hint_zh))

    external_id = values.get("external_id", "")
    if not external_id:
        problem("external_id", "order id is missing", "缺少订单号")
    elif _EXCEL_NUMBER.match(external_id):
        problem(
            "external_id",
            f"order id {external_id!r} was turned into a rounded number by Excel; export the file again "
            "and open it without re-saving, or format the column as text",
            "订单号被 Excel 改成了科学计数法，请重新导出，或将该列设为文本格式",
        )
    sku = values.get("sku", "")
    if not sku:
        problem("sku", "sku is missing", "缺少商品编码")
    elif sku not in skus:
        problem("sku", f"unknown SKU {sku!r}: add it to the catalog first", "商品编码不在商品库中")
    quantity = _quantity(values.get("quantity", ""), problem)
    unit_price = _money(values.get("unit_price", ""), "unit_price", problem)
    total = _money(values.get("total", ""), "total", problem)
    if unit_price is None and total is None and not any(e.field in ("unit_price", "total") for e in errors):
        problem("total", "unit price and total are both empty", "单价和实付金额不能都为空")
    at = _time(values.get("at", ""), zone, problem)
    status_text = unicodedata.normalize("NFKC", values.get("status", "")).strip().lower()
    status = STATUS_ALIASES.get(status_text or "paid")
    if status is None:
        problem(
            "status",
            f"unknown status {values.get('status')!r}; "
            "use paid, shipped, delivered, completed, refunded, cancelled or pending",
            "无法识别的订单状态",
        )
    link_code = values.get("link_code") or None
    show_id = _link_show(link_code, sku, links, problem) if link_code is not None else None
    if errors:
        return None, errors
    assert quantity is not None and at is not None and status is not None
    if unit_price is None:
        assert total is not None  # one of the two was given: checked above
        unit_price = round(total / quantity, 2)
    elif total is None:
        total = round(unit_price * quantity, 2)
    return (
        ImportedOrder(
            row, external_id, sku, quantity, unit_price, total, at, status,
            values.get("buyer_id") or None, link_code, show_id,
        ),
        [],
    )


def _link_show(link_code: str, sku: str, links: dict[str, tuple[int, str]], problem: Problem) -> int | None:
    """The show a buy-link code belongs to, if it is known and is for this SKU."""
    if link_code not in links:
        problem("link_code", f"unknown link code {link_code!r}", "推广码不存在")
        return None
    show_id, link_sku = links[link_code]
    if sku and link_sku != sku:
        problem("link_code", f"link code {link_code!r} is for {link_sku}, not {sku}", "推广码与商品不符")
    return show_id


def _quantity(text: str, problem: Problem) -> int | None:
    cleaned = number_text(unicodedata.normalize("NFKC", text).strip())
    try:
        number = float(cleaned)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not 0 < number <= MAX_QUANTITY:
        problem("quantity", f"quantity {text!r} must be a whole number from 1 to {MAX_QUANTITY}", "数量必须是正整数")
        return None
    return int(number)


def _money(text: str, column: str, problem: Problem) -> float | None:
    """``¥1,299.00``, ``1299元`` -> 1299.0; empty -> None."""
    cleaned = number_text(unicodedata.normalize("NFKC", text).strip().lstrip("¥$").removesuffix("元").strip())
    if not cleaned:
        return None
    try:
        amount = float(cleaned)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount < 0:
        problem(column, f"{column} {text!r} must be an amount of money, 0 or more", "金额必须是不小于 0 的数字")
        return None
    return round(amount, 2)


def _time(text: str, zone: ZoneInfo, problem: Problem) -> str | None:
    """Order time -> stored UTC text; naive times are local to ``zone``."""
    match = _TIME.match(unicodedata.normalize("NFKC", text).strip())
    moment = None
    if match:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                int((fraction or "0").ljust(6, "0")),
                tzinfo=_offset(offset) if offset else zone,
            )
        except ValueError:
            moment = None
    if moment is None:
        message = f"time {text!r} is not a date and time such as 2026-11-23 20:15:00"
        problem("at", message, "下单时间格式应为 2026-11-23 20:15:00")
        return None
    return to_iso(moment.astimezone(UTC))


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    return timezone((-1 if text[0] == "-" else 1) * timedelta(minutes=minutes))


class _DryRun(Exception):
    """Raised inside the transaction of a dry run so that it rolls back."""


def _save(db: sqlite_utils.Database, orders: list[ImportedOrder], result: OrderImportResult) -> None:
    """Insert new orders, update changed statuses, take stock: one transaction.

    A dry run does all of it and then rolls back, so its figures (stock
    shortfalls included) are exactly what the real import would report.
    """
    with contextlib.suppress(_DryRun):
        _save_all(db, orders, result)


def _save_all(db: sqlite_utils.Database, orders: list[ImportedOrder], result: OrderImportResult) -> None:
    with transaction(db):
        for order in orders:
            _save_one(db, order, result)
        if result.dry_run:
            raise _DryRun


def _save_one(db: sqlite_utils.Database, order: ImportedOrder, result: OrderImportResult) -> None:
    known = db.execute(
        "SELECT id, status FROM orders WHERE source = ? AND external_id = ?", [SOURCE, order.external_id]
    ).fetchone()
    if known is not None:
        if known[1] == order.status:
            result.unchanged += 1
        else:
            result.updated += 1
            db.execute("UPDATE orders SET status = ? WHERE id = ?", [order.status, known[0]])
        return
    result.created += 1
    if order.status in SALE_STATUSES:
        stock = db.execute("SELECT stock FROM products WHERE sku = ?", [order.sku]).fetchone()[0]
        taken = min(stock, order.quantity)
        result.units_from_stock += taken
        if taken < order.quantity:
            result.short[order.sku] = result.short.get(order.sku, 0) + order.quantity - taken
        db.execute("UPDATE products SET stock = stock - ? WHERE sku = ?", [taken, order.sku])
    db.execute(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, "
        "external_id, status, buyer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            order.show_id, order.sku, order.quantity, order.unit_price, order.total, order.at,
            SOURCE, order.link_code, order.external_id, order.status, order.buyer_id,
        ],
    )
