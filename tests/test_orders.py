"""place_order on a real SQLite file: validation, refusals, and stock that never goes wrong."""

from __future__ import annotations

import re
import threading

import pytest

import catalog
from catalog.orders import (
    MAX_QUANTITY,
    InvalidOrder,
    NotOnSale,
    OutOfStock,
    get_order,
    place_order,
    validate_order_form,
)
from catalog.shows import UnknownLink, create_show, link_for

BUYER = {"customer_name": "李四", "phone": "+86 138-0013-8000", "address": "湖北省随州市三里岗镇 12 号"}


@pytest.fixture
def shop_db(db):
    catalog.upsert_product(db, catalog.Product(sku="TEA", name="Tieguanyin", name_zh="铁观音", price=33.33, stock=5))
    catalog.upsert_product(db, catalog.Product(sku="OLD", name="Last year's tea", price=1.0, stock=9, active=False))
    return db


def stock(db, sku: str = "TEA") -> int:
    return catalog.get_product(db, sku).stock


def order_count(db) -> int:
    return db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]


def test_order_takes_stock_and_prices_at_order_time(shop_db):
    order = place_order(shop_db, sku="TEA", quantity=3, at="2026-11-23T12:00:00.000Z", **BUYER)
    assert (order.quantity, order.unit_price, order.total) == (3, 33.33, 99.99)
    assert re.fullmatch(r"FL-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", order.number) and order.phone == "+8613800138000"
    assert order.status == "cod"  # pay on delivery: never stored as paid
    assert stock(shop_db) == 2
    # A later price change does not touch the recorded order.
    catalog.upsert_product(shop_db, catalog.Product(sku="TEA", name="Tieguanyin", price=40.0, stock=2))
    assert get_order(shop_db, order.id) == order


def test_order_through_a_link_belongs_to_its_show(shop_db):
    show = create_show(shop_db, "Tea harvest")
    link = link_for(shop_db, show.id, "TEA")
    order = place_order(shop_db, sku="TEA", quantity="1", link_code=link.code, viewer_id="viewer-123", **BUYER)
    assert (order.show_id, order.link_code, order.viewer_id) == (show.id, link.code, "viewer-123")
    with pytest.raises(UnknownLink):
        place_order(shop_db, sku="TEA", quantity=1, link_code="nope42", **BUYER)
    assert stock(shop_db) == 4


def test_out_of_stock_reports_what_is_left_and_changes_nothing(shop_db):
    with pytest.raises(OutOfStock) as refused:
        place_order(shop_db, sku="TEA", quantity=6, **BUYER)
    assert (refused.value.sku, refused.value.requested, refused.value.available) == ("TEA", 6, 5)
    assert stock(shop_db) == 5 and order_count(shop_db) == 0
    place_order(shop_db, sku="TEA", quantity=5, **BUYER)  # exactly the stock is fine
    with pytest.raises(OutOfStock) as refused:
        place_order(shop_db, sku="TEA", quantity=1, **BUYER)
    assert refused.value.available == 0 and stock(shop_db) == 0


def test_unknown_and_inactive_products_are_refused(shop_db):
    with pytest.raises(catalog.UnknownProduct):
        place_order(shop_db, sku="NOPE", quantity=1, **BUYER)
    with pytest.raises(NotOnSale):
        place_order(shop_db, sku="OLD", quantity=1, **BUYER)
    assert stock(shop_db, "OLD") == 9 and order_count(shop_db) == 0


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"quantity": 0}, {"quantity"}),
        ({"quantity": -2}, {"quantity"}),
        ({"quantity": MAX_QUANTITY + 1}, {"quantity"}),
        ({"quantity": "1.5"}, {"quantity"}),
        ({"quantity": "two"}, {"quantity"}),
        ({"quantity": True}, {"quantity"}),
        ({"quantity": None}, {"quantity"}),
        ({"customer_name": "  "}, {"name"}),
        ({"customer_name": "x" * 101}, {"name"}),
        ({"phone": ""}, {"phone"}),
        ({"phone": "12345"}, {"phone"}),
        ({"phone": "call me maybe"}, {"phone"}),
        ({"phone": "1" * 16}, {"phone"}),
        ({"address": ""}, {"address"}),
        ({"address": "abc"}, {"address"}),
        ({"address": "x" * 301}, {"address"}),
        ({"quantity": 0, "customer_name": "", "phone": "", "address": ""}, {"quantity", "name", "phone", "address"}),
    ],
)
def test_invalid_orders_list_every_bad_field(shop_db, changes, fields):
    values = {"quantity": 1, **BUYER, **changes}
    with pytest.raises(InvalidOrder) as refused:
        place_order(shop_db, sku="TEA", **values)
    assert set(refused.value.errors) == fields
    assert all(" / " in message for message in refused.value.errors.values())  # English / 中文
    assert stock(shop_db) == 5 and order_count(shop_db) == 0


def test_form_values_are_cleaned():
    customer, errors = validate_order_form(
        quantity=" ３ ", customer_name="  王五 ", phone="(0797) 123-4567", address="  江西赣州  "
    )
    assert errors == {}
    assert (customer.quantity, customer.name) == (3, "王五")
    assert (customer.phone, customer.address) == ("07971234567", "江西赣州")


def test_threads_on_separate_connections_never_oversell(data_dir):
    """Eight writers with their own connections race for 50 units: BEGIN IMMEDIATE serialises them."""
    setup = catalog.open_db(data_dir)
    catalog.upsert_product(setup, catalog.Product(sku="EGGS", name="Eggs", price=1.5, stock=50))
    sold: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def buyer() -> None:
        db = catalog.open_db(data_dir)
        try:
            for _ in range(10):
                try:
                    order = place_order(db, sku="EGGS", quantity=1, **BUYER)
                except OutOfStock:
                    with lock:
                        refused.append(1)
                else:
                    with lock:
                        sold.append(order.id)
        finally:
            db.conn.close()

    threads = [threading.Thread(target=buyer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(sold) == 50 and len(refused) == 30 and len(set(sold)) == 50
    assert stock(setup, "EGGS") == 0
    assert setup.execute("SELECT COUNT(*), SUM(quantity) FROM orders").fetchone() == (50, 50)
    setup.conn.close()


def test_same_request_id_returns_the_first_order_and_takes_stock_once(shop_db):
    first = place_order(shop_db, sku="TEA", quantity=2, request_id="form-token-123", **BUYER)
    again = place_order(shop_db, sku="TEA", quantity=2, request_id="form-token-123", **BUYER)
    assert again == first
    assert stock(shop_db) == 3 and order_count(shop_db) == 1
    other = place_order(shop_db, sku="TEA", quantity=1, request_id="form-token-456", **BUYER)
    assert other.id != first.id and stock(shop_db) == 2
    with pytest.raises(InvalidOrder) as refused:
        place_order(shop_db, sku="TEA", quantity=1, request_id="bad id!", **BUYER)
    assert set(refused.value.errors) == {"request_id"} and stock(shop_db) == 2
