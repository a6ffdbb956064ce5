"""``farmlive catalog import|export|list`` as a real subprocess against a real data folder."""

from __future__ import annotations

import codecs
import subprocess
import sys
from pathlib import Path

import catalog

GOOD = (
    "商品编号,名称,中文名,价格,库存,单位,产地\n"
    "ORANGE-5KG,Gannan navel oranges,赣南脐橙,59.90,120,5 kg box,江西赣州\n"
    "TEA-250G,Tieguanyin,安溪铁观音,168,60,250 g tin,福建安溪\n"
)


def farmlive(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", "catalog", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        check=False,  # the tests read the exit code
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def test_import_list_export(tmp_path):
    data_dir = tmp_path / "data"
    source = tmp_path / "products.csv"
    source.write_bytes(codecs.BOM_UTF8 + GOOD.encode("utf-8"))

    done = farmlive(data_dir, "import", str(source))
    assert done.returncode == 0, done.stderr
    assert "imported 2 products" in done.stdout and "2 new" in done.stdout

    listing = farmlive(data_dir, "list")
    assert listing.returncode == 0
    header, _rule, *rows = listing.stdout.splitlines()
    assert header.split() == ["sku", "name", "中文名", "price", "stock", "unit", "origin"]
    assert rows[0].startswith("ORANGE-5KG") and "赣南脐橙" in rows[0] and "59.90 CNY" in rows[0] and "120" in rows[0]
    assert rows[1].startswith("TEA-250G") and "安溪铁观音" in rows[1]

    exported = tmp_path / "export.csv"
    done = farmlive(data_dir, "export", str(exported))
    assert done.returncode == 0 and "exported 2 products" in done.stdout
    again = farmlive(tmp_path / "other", "import", str(exported))
    assert again.returncode == 0 and "2 new" in again.stdout
    first = catalog.open_db(data_dir)
    second = catalog.open_db(tmp_path / "other")
    assert catalog.list_products(first) == catalog.list_products(second)


def test_bad_file_exits_1_names_the_row_and_imports_nothing(tmp_path):
    data_dir = tmp_path / "data"
    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    assert farmlive(data_dir, "import", str(good)).returncode == 0

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sku,name,price,stock\nORANGE-5KG,Oranges,1.00,5\nNEW-1,New thing,-4,1\n,No sku,3,1\n", encoding="utf-8"
    )
    done = farmlive(data_dir, "import", str(bad))
    assert done.returncode == 1
    assert "nothing imported" in done.stdout
    assert "row 3, price: price '-4' is negative" in done.stdout
    assert "row 4, sku: sku is missing" in done.stdout

    db = catalog.open_db(data_dir)
    assert [p.sku for p in catalog.list_products(db)] == ["ORANGE-5KG", "TEA-250G"]
    assert catalog.get_product(db, "ORANGE-5KG").price == 59.9  # the good first row was not applied


def test_gbk_file_is_refused_with_save_as_advice(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(GOOD.encode("gbk"))
    done = farmlive(tmp_path / "data", "import", str(path))
    assert done.returncode == 1
    assert "line 1 is not UTF-8" in done.stdout and "CSV UTF-8" in done.stdout
    assert catalog.list_products(catalog.open_db(tmp_path / "data")) == []


def test_missing_file_is_a_clear_error(tmp_path):
    done = farmlive(tmp_path / "data", "import", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and "nope.csv" in done.stderr


def test_empty_catalog_listing(tmp_path):
    done = farmlive(tmp_path / "data", "list")
    assert done.returncode == 0 and "catalog is empty" in done.stdout


def test_dry_run_reports_and_writes_nothing(tmp_path):
    data_dir = tmp_path / "data"
    source = tmp_path / "products.csv"
    source.write_text(GOOD, encoding="utf-8")

    done = farmlive(data_dir, "import", str(source), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would import 2 products" in done.stdout

    db = catalog.open_db(data_dir)
    assert catalog.list_products(db) == []
