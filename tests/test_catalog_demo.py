"""The demo farm shop a first start seeds: seven products with Chinese names and real pictures."""

from __future__ import annotations

import re

from PIL import Image

import catalog
from catalog.csvio import parse_catalog_csv
from catalog.demo import demo_catalog_csv, draw_product_image, seed_demo_catalog

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_seed_adds_seven_products_with_pictures(db, data_dir):
    assert seed_demo_catalog(db, data_dir) == 7
    products = catalog.list_products(db)
    assert len(products) == 7
    names = {p.name_zh for p in products}
    assert {"赣南脐橙", "安溪铁观音", "古法红糖", "香菇", "轮台小白杏", "红薯粉"} <= names
    assert any("月饼" in name for name in names)
    for product in products:
        assert product.currency == "CNY" and product.price > 0 and product.stock > 0 and product.active
        assert CJK.search(product.name_zh) and CJK.search(product.description) and CJK.search(product.origin)
        assert product.unit and product.buy_url is None  # sold on the built-in order page
        assert product.image == f"images/{product.sku}.png"
        with Image.open(data_dir / product.image) as image:
            image.load()
            assert image.format == "PNG" and image.size == (320, 320)
            # A drawn picture, not a blank square: many distinct colours.
            assert len(image.getcolors(maxcolors=100_000) or []) > 20
    oranges = next(p for p in products if p.name_zh == "赣南脐橙")
    assert "Jiangxi" in oranges.origin and "赣州" in oranges.origin and "5 kg" in oranges.unit


def test_seeding_twice_updates_instead_of_duplicating(db, data_dir):
    seed_demo_catalog(db, data_dir)
    db.execute("UPDATE products SET stock = 1")
    assert seed_demo_catalog(db, data_dir) == 7
    assert db.execute("SELECT COUNT(*), MIN(stock) FROM products").fetchone() == (7, 40)


def test_shipped_demo_csv_is_a_valid_import_example():
    products, columns, errors = parse_catalog_csv(demo_catalog_csv())
    assert errors == [] and len(products) == 7
    assert columns[:3] == ["sku", "name", "name_zh"]


def test_pictures_differ_between_products(db, data_dir):
    seed_demo_catalog(db, data_dir)
    a, b = catalog.list_products(db)[:2]
    assert draw_product_image(a).tobytes() != draw_product_image(b).tobytes()
    # Deterministic: the same product always gets the same picture.
    assert draw_product_image(a).tobytes() == draw_product_image(a).tobytes()


def test_first_start_seeds_only_an_empty_catalog(data_dir):
    from studio.config import StudioConfig
    from studio.runner import seed_if_new

    config = StudioConfig(data_dir=data_dir, key="k")
    assert seed_if_new(config) == 7
    assert seed_if_new(config) == 0
