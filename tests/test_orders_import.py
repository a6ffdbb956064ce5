"""Platform order exports: aliases, GBK, Beijing time, all-or-nothing, idempotent, stock."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

import catalog
from analytics import events
from analytics.frames import load_show
from analytics.orders_import import import_orders_csv
from catalog.shows import create_show, end_show, link_for
from studio.cli import main

HEADER = "订单号,商品编码,数量,单价,实付金额,下单时间,订单状态,买家,推广码\n"


@pytest.fixture
def shop(db: sqlite_utils.Database) -> sqlite_utils.Database:
    catalog.upsert_product(
        db, catalog.Product(sku="ORANGE", name="Navel oranges", name_zh="脐橙", price=59.9, stock=10)
    )
    catalog.upsert_product(db, catalog.Product(sku="TEA", name="Tea", name_zh="茶叶", price=168.0, stock=3))
    # Show: 20:00-21:00 Beijing time = 12:00-13:00 UTC.
    show = create_show(db, "evening", started_at="2026-11-23T12:00:00.000Z")
    db.execute("INSERT INTO links (code, show_id, sku) VALUES ('orng01', ?, 'ORANGE')", [show.id])
    link_for(db, show.id, "TEA")
    events.record_overlay(db, show.id, "ORANGE", at="2026-11-23T12:00:00.000Z")
    end_show(db, show.id, ended_at="2026-11-23T13:00:00.000Z")
    return db


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def stock(db: sqlite_utils.Database, sku: str) -> int:
    return db.execute("SELECT stock FROM products WHERE sku = ?", [sku]).fetchone()[0]


def test_chinese_gbk_export_in_beijing_time(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(
        tmp_path / "douyin.csv",
        HEADER
        + "DY1001,ORANGE,2,￥59.90,￥119.80,2026-11-23 20:15:00,已付款,买家甲,orng01\n"
        + "DY1002,ORANGE,1,,\"￥1,059.00\",2026/11/23 21:30,交易成功,,\n"
        + "DY1003,TEA,1,168,168,2026-11-23 20:40:05,已退款,买家乙,\n",
        encoding="gbk",
    )
    result = import_orders_csv(shop, path)
    assert result.ok, result.summary()
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    rows = shop.execute(
        "SELECT external_id, show_id, sku, quantity, unit_price, total, at, status, buyer_id, link_code, source "
        "FROM orders ORDER BY external_id"
    ).fetchall()
    assert rows == [
        ("DY1001", 1, "ORANGE", 2, 59.9, 119.8, "2026-11-23T12:15:00.000Z", "paid", "买家甲", "orng01", "import"),
        ("DY1002", None, "ORANGE", 1, 1059.0, 1059.0, "2026-11-23T13:30:00.000Z", "completed", None, None, "import"),
        ("DY1003", None, "TEA", 1, 168.0, 168.0, "2026-11-23T12:40:05.000Z", "refunded", "买家乙", None, "import"),
    ]
    # Sales take stock; the refunded order does not.
    assert (stock(shop, "ORANGE"), stock(shop, "TEA")) == (7, 3)
    assert result.units_from_stock == 3
    assert "3 new" in result.summary() and "新增 3" in result.summary()
    # DY1001 by its link code, DY1002 by the time window (30 min after the show).
    data = load_show(shop, 1)
    attributed = sorted(zip(data.orders["total"], data.orders["attributed_by"], strict=True))
    assert attributed == [(119.8, "link"), (1059.0, "window")]


def test_reimport_is_idempotent_and_a_newer_export_updates_status(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", "order_id,sku,qty,total,paid_at,status\nT1,ORANGE,2,100,2026-11-23 20:10,paid\n")
    assert import_orders_csv(shop, path).created == 1
    again = import_orders_csv(shop, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert shop.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
    assert stock(shop, "ORANGE") == 8  # taken once
    newer = write(
        tmp_path / "o2.csv", "order_id,sku,qty,total,paid_at,status\nT1,ORANGE,2,100,2026-11-23 20:10,refunded\n"
    )
    result = import_orders_csv(shop, newer)
    assert (result.created, result.updated) == (0, 1)
    assert load_show(shop, 1).orders.empty  # refunded: no longer a sale
    assert stock(shop, "ORANGE") == 8  # refunds do not restock (documented)


def test_bad_rows_are_all_reported_and_nothing_is_written(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        "order_id,sku,quantity,total,at,status,link_code\n"
        "A1,ORANGE,1,10,2026-11-23 20:00,paid,\n"
        "A2,PEACH,1,10,2026-11-23 20:00,paid,\n"
        "A3,ORANGE,0,10,2026-11-23 20:00,paid,\n"
        "A4,ORANGE,two,10,yesterday,paid,\n"
        "A1,ORANGE,1,10,2026-11-23 20:00,paid,\n"
        "A6,ORANGE,1,-5,2026-11-23 20:00,lost,\n"
        "A7,TEA,1,10,2026-11-23 20:00,paid,orng01\n"
        "A8,ORANGE,1,10,2026-13-40 20:00,paid,nope\n",
    )
    result = import_orders_csv(shop, path)
    assert not result.ok
    problems = {(e.row, e.field) for e in result.errors}
    assert problems == {
        (3, "sku"), (4, "quantity"), (5, "quantity"), (5, "at"), (6, "external_id"),
        (7, "total"), (7, "status"), (8, "link_code"), (9, "at"), (9, "link_code"),
    }
    text = result.summary()
    assert "no orders imported" in text and "未导入任何订单" in text
    assert "row 6, external_id: order id 'A1' is already in row 2" in text
    assert "unknown SKU 'PEACH'" in text
    assert shop.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    assert stock(shop, "ORANGE") == 10


def test_missing_columns_and_empty_files(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    result = import_orders_csv(shop, write(tmp_path / "a.csv", "订单号,数量\nX,1\n"))
    assert {e.field for e in result.errors} == {"sku", "at", "total"}
    assert not import_orders_csv(shop, write(tmp_path / "e.csv", "")).ok
    twice = import_orders_csv(shop, write(tmp_path / "t.csv", "订单号,order_id,sku,qty,total,at\n"))
    assert "both mean external_id" in twice.summary()


def test_offsets_are_kept_and_the_default_zone_is_configurable(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(
        tmp_path / "tz.csv",
        "order_id,sku,quantity,total,at\n"
        "Z1,ORANGE,1,10,2026-11-23T20:15:00+08:00\n"
        "Z2,ORANGE,1,10,2026-11-23T12:16:00Z\n"
        "Z3,ORANGE,1,10,2026-11-23 12:17:00\n",
    )
    assert import_orders_csv(shop, path, timezone_name="UTC").ok
    times = [r[0] for r in shop.execute("SELECT at FROM orders ORDER BY external_id")]
    assert times == ["2026-11-23T12:15:00.000Z", "2026-11-23T12:16:00.000Z", "2026-11-23T12:17:00.000Z"]
    with pytest.raises(ValueError, match="unknown time zone"):
        import_orders_csv(shop, path, timezone_name="Mars/Olympus")


def test_selling_more_than_in_stock_empties_it_and_warns(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "order_id,sku,quantity,unit_price,at\nS1,TEA,5,168,2026-11-23 20:30\n")
    result = import_orders_csv(shop, path)
    assert result.ok and result.short == {"TEA": 2}
    assert stock(shop, "TEA") == 0
    assert "TEA sold 2 more than in stock" in result.summary()
    assert shop.execute("SELECT total FROM orders").fetchone()[0] == 840.0


def test_dry_run_reports_without_writing(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "order_id,sku,quantity,unit_price,at\nD1,TEA,5,168,2026-11-23 20:30\n")
    result = import_orders_csv(shop, path, dry_run=True)
    assert (result.created, result.short) == (1, {"TEA": 2})
    assert "would import" in result.summary()
    assert shop.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    assert stock(shop, "TEA") == 3


def test_cli_orders_import(
    shop: sqlite_utils.Database, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "g.csv", "order_id,sku,quantity,total,at\nC1,ORANGE,1,59.9,2026-11-23 20:05\n")
    assert main(["orders", "import", str(good), "--data-dir", str(data_dir)]) == 0
    assert "1 new" in capsys.readouterr().out
    bad = write(tmp_path / "b.csv", "order_id,sku,quantity,total,at\nC2,NOPE,1,59.9,2026-11-23 20:05\n")
    assert main(["orders", "import", str(bad), "--data-dir", str(data_dir)]) == 1
    assert "unknown SKU 'NOPE'" in capsys.readouterr().out


def test_cli_timezone_and_dry_run(shop: sqlite_utils.Database, data_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "utc.csv", "order_id,sku,quantity,total,at\nU1,ORANGE,1,59.9,2026-11-23 12:05\n")
    args = ["orders", "import", str(path), "--data-dir", str(data_dir), "--timezone", "UTC"]
    assert main([*args, "--dry-run"]) == 0
    assert "would import" in capsys.readouterr().out
    assert shop.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    assert main(args) == 0
    assert shop.execute("SELECT at FROM orders").fetchone()[0] == "2026-11-23T12:05:00.000Z"
    assert main([*args[:-1], "Nowhere/Land"]) == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_export_guards_around_long_ids_are_removed_and_excel_rounding_is_caught(
    shop: sqlite_utils.Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "taobao.csv",
        "订单编号,商家编码,购买数量,买家实付,付款时间\n"
        '"=""3456789012345678901""",ORANGE,1,59.9,2026-11-23 20:05\n'
        "\t3456789012345678902,ORANGE,1,59.9,2026-11-23 20:06\n",
    )
    assert import_orders_csv(shop, path).ok
    ids = [r[0] for r in shop.execute("SELECT external_id FROM orders ORDER BY external_id")]
    assert ids == ["3456789012345678901", "3456789012345678902"]
    mangled = write(
        tmp_path / "m.csv", "订单编号,商家编码,购买数量,买家实付,付款时间\n3.45679E+18,ORANGE,1,59.9,2026-11-23 20:05\n"
    )
    result = import_orders_csv(shop, mangled)
    assert [(e.row, e.field) for e in result.errors] == [(2, "external_id")]
    assert "Excel" in result.summary()


def test_a_decimal_comma_is_refused_not_read_as_thousands(shop: sqlite_utils.Database, tmp_path: Path) -> None:
    """``12,50`` is ambiguous (12.50 in Europe, 1250 with a thousands comma): ask, never guess."""
    path = write(
        tmp_path / "comma.csv",
        HEADER
        + "DY3001,ORANGE,\"1,5\",59.90,,2026-11-23 20:15:00,已付款,,\n"
        + "DY3002,ORANGE,1,\"12,50\",,2026-11-23 20:16:00,已付款,,\n"
        + "DY3003,ORANGE,1,\"1,059.00\",,2026-11-23 20:17:00,已付款,,\n",
    )
    result = import_orders_csv(shop, path)
    assert not result.ok
    assert [(e.row, e.field) for e in result.errors] == [(2, "quantity"), (3, "unit_price")]
    assert shop.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
