"""Catalog CSV import/export on real SQLite files: good files, every kind of bad file, round trips."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

import catalog
from catalog.csvio import export_csv, format_catalog, import_csv, import_rows
from catalog.validation import RowError, validate_product_rows

HEADER = "sku,name,name_zh,price,stock,unit,origin,buy_url\n"
GOOD = (
    HEADER
    + "ORANGE-5KG,Gannan navel oranges,赣南脐橙,59.90,120,5 kg box,\"Ganzhou, Jiangxi\",\n"
    + "TEA-250G,Anxi Tieguanyin,安溪铁观音,168,60,250 g tin,Anxi,https://shop.example.com/tea?id=7\n"
)


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "products.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows_in_db(db) -> list[tuple]:
    return db.execute("SELECT * FROM products ORDER BY sku").fetchall()


def test_good_file_creates_products(db, tmp_path):
    result = import_csv(db, write(tmp_path, GOOD))
    assert result.ok and (result.created, result.updated) == (2, 0)
    orange = catalog.get_product(db, "ORANGE-5KG")
    assert orange == catalog.Product(
        sku="ORANGE-5KG", name="Gannan navel oranges", name_zh="赣南脐橙", price=59.9, stock=120,
        unit="5 kg box", origin="Ganzhou, Jiangxi",
    )
    assert catalog.get_product(db, "TEA-250G").buy_url == "https://shop.example.com/tea?id=7"
    assert "imported 2 products from" in result.summary() and "(2 new, 0 updated)" in result.summary()


def test_reimport_updates_only_the_columns_in_the_file(db, tmp_path):
    import_csv(db, write(tmp_path, GOOD))
    db.execute("UPDATE products SET image = 'images/ORANGE-5KG.png', description = 'sweet'")
    result = import_csv(db, write(tmp_path, "sku,price,stock\nORANGE-5KG,49.5,80\nNEW-1,5,1\n", name="b.csv"))
    assert result.errors == [RowError(1, "name", "required column 'name' is missing", "缺少必填列 name")]
    text = "sku,name,price,stock\nORANGE-5KG,Oranges,49.5,80\nNEW-1,Eggs,5,1\n"
    result = import_csv(db, write(tmp_path, text, name="c.csv"))
    assert (result.created, result.updated) == (1, 1)
    orange = catalog.get_product(db, "ORANGE-5KG")
    assert (orange.name, orange.price, orange.stock) == ("Oranges", 49.5, 80)
    # Columns absent from the sheet keep their values.
    assert (orange.image, orange.description, orange.name_zh) == ("images/ORANGE-5KG.png", "sweet", "赣南脐橙")


def test_chinese_headers_bom_and_excel_line_endings(db, tmp_path):
    text = (
        "商品编号,名称,中文名,价格,库存,单位,产地,图片,购买链接,上架\r\n"
        "APRICOT-2KG,White apricots,小白杏,¥49.90,80,2 kg box,新疆轮台,images/APRICOT-2KG.png,,是\r\n"
        "SUGAR,Brown sugar,古法红糖,\"1,029.00\",５,500 g,云南,,,否\r\n"
    )
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    result = import_csv(db, path)
    assert result.ok, result.summary()
    apricot = catalog.get_product(db, "APRICOT-2KG")
    assert (apricot.name_zh, apricot.price, apricot.stock, apricot.origin, apricot.image, apricot.active) == (
        "小白杏", 49.9, 80, "新疆轮台", "images/APRICOT-2KG.png", True,
    )
    sugar = catalog.get_product(db, "SUGAR")
    assert (sugar.price, sugar.stock, sugar.active) == (1029.0, 5, False)


def test_missing_picture_is_a_warning_not_an_error(db, data_dir, tmp_path):
    (data_dir / "images").mkdir()
    (data_dir / "images" / "A.png").write_bytes(b"png")
    path = write(tmp_path, "sku,name,price,image\nA,Apples,1,images/A.png\nB,Beans,2,images/B.png\nC,Corn,3,\n")
    result = import_csv(db, path)
    assert result.ok and result.created == 3
    assert [(w.row, w.field) for w in result.warnings] == [(3, "image")]
    assert "images/B.png is not in the data folder" in result.summary()
    assert catalog.get_product(db, "B").image == "images/B.png"


def test_semicolon_separated_file(db, tmp_path):
    result = import_csv(db, write(tmp_path, "sku;name;price\nA-1;Honey;38.5\n"))
    assert result.ok and catalog.get_product(db, "A-1").price == 38.5


@pytest.mark.parametrize(
    ("body", "row", "field", "words"),
    [
        (",Oranges,59,1,,,\n", 2, "sku", "sku is missing"),
        ("   ,Oranges,59,1,,,\n", 2, "sku", "sku is missing"),
        ("A-1,,59,1,,,\n", 2, "name", "name is missing"),
        ("A-1,Oranges,-3,1,,,\n", 2, "price", "negative"),
        ("A-1,Oranges,cheap,1,,,\n", 2, "price", "not a number"),
        ("A-1,Oranges,,1,,,\n", 2, "price", "price is missing"),
        ("A-1,Oranges,nan,1,,,\n", 2, "price", "not a number"),
        ('A-1,Oranges,"12,5",1,,,\n', 2, "price", "not a number"),  # a decimal comma is never read as 125
        ("A-1,Oranges,1.234,1,,,\n", 2, "price", "2 decimal places"),
        ("A-1,Oranges,59,-1,,,\n", 2, "stock", "whole number"),
        ("A-1,Oranges,59,2.5,,,\n", 2, "stock", "whole number"),
        ("A-1,Oranges,59,lots,,,\n", 2, "stock", "whole number"),
        ("A-1,Oranges,59,1,,,ftp://shop.example.com/a\n", 2, "buy_url", "http"),
        ("A-1,Oranges,59,1,,,https://\n", 2, "buy_url", "http"),
        ("A-1,Oranges,59,1,,,www.taobao.com/item\n", 2, "buy_url", "http"),
        ("A-1,Oranges,59,1,,,http://shop example.com\n", 2, "buy_url", "http"),
        ("A-1,Oranges,59,1,../../etc/passwd,,\n", 2, "image", "inside the data folder"),
        ("A-1,Oranges,59,1,C:\\photos\\a.jpg,,\n", 2, "image", "inside the data folder"),
        ("A-1,Oranges,59,1,,maybe,\n", 2, "active", "yes or no"),
        ("B-2,Tea,5,1,,,\nbad sku,Oranges,59,1,,,\n", 3, "sku", "may only use"),
        (
            "A-1,Oranges,59,1,,,\nB-2,Tea,5,1,,,\nA-1,Again,1,1,,,\n",
            4,
            "sku",
            "duplicate sku 'A-1' (first used in row 3)",
        ),
        ("A-1,Oranges,59,1,,,,extra cell\n", 2, "", "cells but the header names"),
    ],
)
def test_bad_row_is_named_and_nothing_is_imported(db, tmp_path, body, row, field, words):
    catalog.upsert_product(db, catalog.Product(sku="KEEP", name="Existing", price=1.0, stock=3))
    before = rows_in_db(db)
    path = write(tmp_path, "sku,name,price,stock,image,active,buy_url\nGOOD-1,Fine row,10,1,,,\n" + body)
    result = import_csv(db, path)
    assert not result.ok
    assert any(e.row == row + 1 and e.field == field and words in e.message for e in result.errors), result.errors
    assert rows_in_db(db) == before  # the good row before the bad one was not imported either
    summary = result.summary()
    assert summary.startswith("nothing imported") and f"row {row + 1}" in summary


def test_unknown_and_repeated_columns_are_reported(db, tmp_path):
    result = import_csv(db, write(tmp_path, "sku,name,price,colour,价格\nA,B,1,red,2\n"))
    assert [(e.row, e.field) for e in result.errors] == [(1, "colour"), (1, "价格")]
    assert "unknown column 'colour'" in result.errors[0].message
    assert rows_in_db(db) == []


def test_missing_required_column_is_one_error_not_one_per_row(db, tmp_path):
    result = import_csv(db, write(tmp_path, "sku,name\nA,Apples\nB,Beans\n"))
    assert [(e.row, e.field) for e in result.errors] == [(1, "price")]


def test_gbk_file_gets_a_save_as_utf8_error_naming_the_line(db, tmp_path):
    text = "sku,name,name_zh,price\nA-1,Oranges,Oranges,59\nA-2,Tea,铁观音,168\n"
    result = import_csv(db, write(tmp_path, text, encoding="gbk"))
    [error] = result.errors
    assert (error.row, error.field) == (3, "file")
    assert "line 3 is not UTF-8" in error.message and "CSV UTF-8" in error.message
    assert "GBK" in error.message and "另存为" in error.hint_zh
    assert rows_in_db(db) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (codecs.BOM_UTF16_LE + "sku,name,price\n".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"sku,name,price\nA,B\x00C,1\n", "binary"),
    ],
)
def test_files_that_are_not_csv_text(db, tmp_path, data, words):
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    result = import_csv(db, path)
    assert not result.ok and words in result.errors[0].message
    assert rows_in_db(db) == []


def test_blank_rows_are_skipped_and_rows_count_like_a_spreadsheet(db, tmp_path):
    path = write(tmp_path, "sku,name,price\nA,Apples,1\n,,\n\nB,Beans,-2\n")
    result = import_csv(db, path)
    [error] = result.errors
    assert (error.row, error.field) == (5, "price")


def test_quoted_multiline_cell_is_one_row(db, tmp_path):
    path = write(tmp_path, 'sku,name,description,price\nA,Apples,"line one\nline two",1\nB,Beans,,x\n')
    [error] = import_csv(db, path).errors
    assert error.row == 3  # a spreadsheet shows the multi-line cell in one row


def test_export_then_import_gives_the_same_products(db, tmp_path, data_dir):
    from catalog.demo import seed_demo_catalog

    seed_demo_catalog(db, data_dir)
    catalog.upsert_product(
        db,
        catalog.Product(
            sku="ODD-1", name='Quotes "and", commas', name_zh="换行\n测试", price=0.1, stock=0,
            buy_url="https://shop.example.com/x?a=1&b=2", active=False, currency="USD",
        ),
    )
    original = catalog.list_products(db)
    path = tmp_path / "export.csv"
    assert export_csv(db, path) == len(original) == 8
    assert path.read_bytes().startswith(codecs.BOM_UTF8)  # Excel shows the Chinese correctly
    fresh = catalog.connect(tmp_path / "other.db")
    result = import_csv(fresh, path)
    assert result.ok and result.created == 8, result.summary()
    assert catalog.list_products(fresh) == original
    # Importing the export into the same catalog changes nothing and says "updated".
    again = import_csv(db, path)
    assert (again.created, again.updated) == (0, 8)
    assert catalog.list_products(db) == original


def test_dry_run_writes_nothing(db, tmp_path):
    result = import_csv(db, write(tmp_path, GOOD), dry_run=True)
    assert result.ok and result.created == 2 and "would import" in result.summary()
    assert rows_in_db(db) == []


def test_validate_product_rows_takes_editor_rows():
    """The control room editor passes data-frame records: numbers, None and NaN."""
    rows = [
        {"sku": "A", "name": "Apples", "price": 12, "stock": 3.0, "buy_url": None, "active": True},
        {"sku": "B", "name": "Beans", "price": float("nan"), "stock": None, "buy_url": None, "active": False},
        {"sku": None, "name": None, "price": None, "stock": None, "buy_url": None, "active": None},
    ]
    products, errors = validate_product_rows(rows)
    assert [p.sku for p in products] == ["A"] and products[0].stock == 3 and products[0].price == 12.0
    assert errors == [RowError(3, "price", "price is missing", "缺少价格")]
    assert str(errors[0]) == "row 3, price: price is missing / 缺少价格"


def test_import_rows_is_all_or_nothing(db):
    bad = import_rows(db, [{"sku": "A", "name": "Apples", "price": "1"}, {"sku": "B", "name": "Beans", "price": "-1"}])
    assert not bad.ok and rows_in_db(db) == []
    good = import_rows(db, [{"sku": "A", "name": "Apples", "price": "1"}])
    assert (good.created, good.updated) == (1, 0)


def test_format_catalog_lines_up_chinese(db, tmp_path):
    import_csv(db, write(tmp_path, GOOD))
    table = format_catalog(catalog.list_products(db))
    lines = table.splitlines()
    assert lines[0].split() == ["sku", "name", "中文名", "price", "stock", "unit", "origin"]
    from catalog.csvio import display_width

    # Every data row places the price column at the same screen column.
    starts = {display_width(line[: line.index("CNY")]) for line in lines[2:4]}
    assert len(starts) == 1
    assert "赣南脐橙" in table and "59.90 CNY" in table and "2 products" in lines[-1]
    assert "empty" in format_catalog([])


def test_summary_lists_at_most_fifty_errors(db, tmp_path):
    body = "".join(f"S{i},Name,-1\n" for i in range(80))
    result = import_csv(db, write(tmp_path, "sku,name,price\n" + body))
    assert len(result.errors) == 80
    assert "and 30 more" in result.summary() and len(result.summary().splitlines()) == 52

