"""The control API over real HTTP on 127.0.0.1: auth, shows, overlay, stats."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

import catalog
from analytics import events

ORANGE = catalog.Product(sku="ORANGE-5KG", name="Navel oranges", name_zh="赣南脐橙", price=59.0, stock=40)
TEA = catalog.Product(sku="TEA-250G", name="Spring green tea", name_zh="明前绿茶", price=128.0, stock=10)


@pytest.fixture
def products(db):
    for product in (ORANGE, TEA):
        catalog.upsert_product(db, product)
    return db


async def call(
    studio, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = studio.auth if headers is None else headers
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"headers": headers}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with http.request(method, f"{studio.url}{path}", **kwargs) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None, response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/state"),
        ("POST", "/api/shows"),
        ("POST", "/api/shows/1/end"),
        ("PUT", "/api/overlay"),
        ("GET", "/api/shows/1/stats"),
        ("PUT", "/api/products"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "Basic dGVzdA=="}, {"Authorization": "Bearer"}],
)
async def test_every_route_needs_the_studio_key(running_studio, method, path, headers):
    status, body, response_headers = await call(running_studio, method, path, {"title": "x"}, headers=headers)
    assert status == 401
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert body["detail"] and body["detail_zh"]
    assert running_studio.studio.show is None  # nothing happened


async def test_state_before_any_show(running_studio):
    status, state, _ = await call(running_studio, "GET", "/api/state")
    assert status == 200
    assert state["show"] is None
    assert state["on_air"]["sku"] is None
    assert state["viewers_now"] == 0 and state["orders"] == 0 and state["revenue"] == 0
    assert state["publish_url"] == f"{running_studio.url}/publish"
    assert state["watch_url"] == f"{running_studio.url}/watch"
    assert state["stream_health"]["publishing"] is False


async def test_start_and_end_a_show(running_studio, db):
    status, show, _ = await call(running_studio, "POST", "/api/shows", {"title": "  Orange harvest 橙子丰收  "})
    assert status == 201
    assert show["title"] == "Orange harvest 橙子丰收" and show["live"] is True and show["ended_at"] is None
    _, state, _ = await call(running_studio, "GET", "/api/state")
    assert state["show"]["id"] == show["id"]

    status, ended, _ = await call(running_studio, "POST", f"/api/shows/{show['id']}/end")
    assert status == 200 and ended["live"] is False and ended["ended_at"]
    assert db.execute("SELECT ended_at FROM shows WHERE id = ?", [show["id"]]).fetchone()[0] == ended["ended_at"]
    _, state, _ = await call(running_studio, "GET", "/api/state")
    assert state["show"] is None

    # Idempotent: a second tap on "End" keeps the first end time.
    status, again, _ = await call(running_studio, "POST", f"/api/shows/{show['id']}/end")
    assert status == 200 and again["ended_at"] == ended["ended_at"]


async def test_starting_a_show_ends_the_live_one(running_studio, db):
    _, first, _ = await call(running_studio, "POST", "/api/shows", {"title": "Morning"})
    _, second, _ = await call(running_studio, "POST", "/api/shows", {"title": "Evening"})
    rows = dict(db.execute("SELECT id, ended_at FROM shows").fetchall())
    assert rows[first["id"]] is not None and rows[second["id"]] is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"title": ""}', "title"),
        (b'{"title": "   "}', "title"),
        (b'{"title": 7}', "title"),
        (b"{}", "title"),
        (b'{"title": "' + b"x" * 201 + b'"}', "200"),
        (b"not json", "JSON"),
        (b'["Orange harvest"]', "object"),
    ],
)
async def test_bad_show_requests_are_400_and_start_nothing(running_studio, db, raw, error):
    headers = {**running_studio.auth, "Content-Type": "application/json"}
    status, body, _ = await call(running_studio, "POST", "/api/shows", raw=raw, headers=headers)
    assert status == 400
    assert error in body["detail"] and body["detail_zh"]
    assert db.execute("SELECT COUNT(*) FROM shows").fetchone()[0] == 0


@pytest.mark.parametrize("path", ["/api/shows/999/end", "/api/shows/abc/end", "/api/shows/999/stats"])
async def test_unknown_show_is_404(running_studio, path):
    method = "POST" if path.endswith("end") else "GET"
    status, body, _ = await call(running_studio, method, path)
    assert status == 404 and "show" in body["detail"] and body["detail_zh"]


async def test_overlay_put_and_clear_are_recorded(running_studio, products):
    db = products
    _, show, _ = await call(running_studio, "POST", "/api/shows", {"title": "Harvest"})
    status, on_air, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": "ORANGE-5KG", "layout": "portrait"})
    assert status == 200
    assert on_air["sku"] == "ORANGE-5KG" and on_air["layout"] == "portrait"
    code = db.execute("SELECT code FROM links WHERE show_id = ? AND sku = 'ORANGE-5KG'", [show["id"]]).fetchone()[0]
    assert on_air["link_code"] == code and on_air["link_url"] == f"{running_studio.url}/b/{code}"

    _, state, _ = await call(running_studio, "GET", "/api/state")
    assert state["on_air"] == on_air
    assert running_studio.studio.on_air.sku == "ORANGE-5KG"

    status, cleared, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": None})
    assert status == 200 and cleared["sku"] is None and cleared["link_code"] is None
    rows = db.execute("SELECT sku, layout FROM overlay_events WHERE show_id = ? ORDER BY id", [show["id"]]).fetchall()
    assert rows == [("ORANGE-5KG", "portrait"), (None, "auto")]


async def test_overlay_without_a_show_is_allowed_but_not_recorded(running_studio, products):
    status, on_air, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": "TEA-250G"})
    assert status == 200 and on_air["sku"] == "TEA-250G" and on_air["link_code"] is None
    assert products.execute("SELECT COUNT(*) FROM overlay_events").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"sku": "NOPE"}, 404, "NOPE"),
        ({"sku": "ORANGE-5KG", "layout": "diagonal"}, 400, "layout"),
        ({"layout": "auto"}, 400, "sku"),
        ({"sku": ""}, 400, "sku"),
        ({"sku": 12}, 400, "sku"),
        ({"sku": "ORANGE-5KG", "promo": "half price"}, 400, "promo"),
    ],
)
async def test_bad_overlay_requests_change_nothing(running_studio, products, body, status, error):
    await call(running_studio, "POST", "/api/shows", {"title": "Harvest"})
    await call(running_studio, "PUT", "/api/overlay", {"sku": "TEA-250G"})
    got, answer, _ = await call(running_studio, "PUT", "/api/overlay", body)
    assert got == status
    assert error in answer["detail"] and answer["detail_zh"]
    _, state, _ = await call(running_studio, "GET", "/api/state")
    assert state["on_air"]["sku"] == "TEA-250G"
    assert products.execute("SELECT COUNT(*) FROM overlay_events").fetchone()[0] == 1


async def test_state_and_stats_count_orders_and_viewers(running_studio, products):
    db = products
    _, show, _ = await call(running_studio, "POST", "/api/shows", {"title": "Harvest"})
    _, on_air, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": "ORANGE-5KG"})
    session = events.record_viewer_join(db, show["id"], "viewer-1")
    events.record_viewer_join(db, show["id"], "viewer-2")
    events.record_viewer_leave(db, session)
    for quantity in (1, 3):
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, link_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [show["id"], "ORANGE-5KG", quantity, 59.0, 59.0 * quantity, catalog.now_iso(), on_air["link_code"]],
        )
    _, state, _ = await call(running_studio, "GET", "/api/state")
    assert state["orders"] == 2 and state["units"] == 4 and state["revenue"] == pytest.approx(236.0)
    assert [o["quantity"] for o in state["recent_orders"]] == [3, 1]  # the live feed, newest first

    status, stats, _ = await call(running_studio, "GET", f"/api/shows/{show['id']}/stats")
    assert status == 200
    assert stats["show"]["id"] == show["id"]
    assert stats["orders"] == 2 and stats["revenue"] == pytest.approx(236.0)
    assert stats["viewers_now"] == 1
    assert [o["quantity"] for o in stats["recent_orders"]] == [3, 1]  # newest first
    assert "summary" not in stats

    status, full, _ = await call(running_studio, "GET", f"/api/shows/{show['id']}/stats?summary=1")
    assert status == 200
    assert full["summary"]["unique_viewers"] == 2
    assert full["summary"]["orders"] == 2 and full["summary"]["gmv"] == pytest.approx(236.0)


async def test_overlay_promo_is_validated_and_normalised(running_studio, products):
    await call(running_studio, "POST", "/api/shows", {"title": "Harvest"})
    promo = {"kind": "countdown", "ends_at": "2030-01-01T10:00:00+08:00", "text_zh": "限时秒杀"}
    status, on_air, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": "ORANGE-5KG", "promo": promo})
    assert status == 200
    assert on_air["promo"] == {"kind": "countdown", "ends_at": "2030-01-01T02:00:00.000Z", "text_zh": "限时秒杀"}
    stored = products.execute("SELECT promo FROM overlay_events").fetchone()[0]
    assert json.loads(stored) == on_air["promo"]

    for bad, word in (
        ({"kind": "countdown"}, "ends_at"),
        ({"kind": "coupon"}, "code"),
        ({"kind": "discount"}, "kind"),
        ({"kind": "sold_out", "colour": "red"}, "colour"),
    ):
        status, body, _ = await call(running_studio, "PUT", "/api/overlay", {"sku": "TEA-250G", "promo": bad})
        assert status == 400 and word in body["detail"], body
    assert running_studio.studio.on_air.sku == "ORANGE-5KG"


def product_row(db, sku: str) -> dict[str, Any]:
    return dict(next(db.query("SELECT * FROM products WHERE sku = ?", [sku])))


async def test_products_save_only_the_edited_fields(running_studio, products):
    db = products
    await call(running_studio, "PUT", "/api/overlay", {"sku": "ORANGE-5KG"})
    version = running_studio.studio.on_air.version
    db.execute("UPDATE products SET stock = 37 WHERE sku = 'ORANGE-5KG'")  # orders since the editor loaded
    edited = {**ORANGE.to_row(), "price": 55.5}  # the editor still shows stock 40
    new = {"sku": "HONEY-500G", "name": "Wild honey", "name_zh": "土蜂蜜", "price": "88", "stock": 12}
    status, body, _ = await call(
        running_studio,
        "PUT",
        "/api/products",
        {"products": [{"row": 1, "values": edited, "fields": ["price"]}, {"row": 3, "values": new}]},
    )
    assert status == 200, body
    assert body == {"created": 1, "updated": 1}
    assert product_row(db, "ORANGE-5KG")["price"] == 55.5
    assert product_row(db, "ORANGE-5KG")["stock"] == 37  # not put back to 40
    assert product_row(db, "HONEY-500G")["name_zh"] == "土蜂蜜"
    assert running_studio.studio.on_air.version > version  # the card on air re-renders


async def test_products_with_a_bad_row_save_nothing(running_studio, products):
    db = products
    before = list(db.query("SELECT * FROM products ORDER BY sku"))
    good = {**TEA.to_row(), "price": 99}
    bad = {"sku": "EGG-30", "name": "Free-range eggs", "price": "-3", "stock": "lots"}
    status, body, _ = await call(
        running_studio,
        "PUT",
        "/api/products",
        {"products": [{"row": 2, "values": good, "fields": ["price"]}, {"row": 5, "values": bad}]},
    )
    assert status == 400
    assert "nothing saved" in body["detail"] and body["detail_zh"]
    assert {(e["row"], e["field"]) for e in body["errors"]} == {(5, "price"), (5, "stock")}
    assert all(e["hint_zh"] and e["text"].startswith("row 5") for e in body["errors"])
    assert list(db.query("SELECT * FROM products ORDER BY sku")) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"products": "ORANGE"},
        {"products": [{"sku": "X"}]},
        {"products": [{"values": {**TEA.to_row()}, "fields": ["colour"]}]},
    ],
)
async def test_malformed_product_requests_are_400(running_studio, products, body):
    status, answer, _ = await call(running_studio, "PUT", "/api/products", body)
    assert status == 400 and answer["detail"] and answer["detail_zh"]
    assert product_row(products, "TEA-250G")["price"] == 128.0


async def test_products_accept_chinese_column_names(running_studio, products):
    honey = {"商品编号": "HONEY-500G", "名称": "Wild honey", "中文名": "土蜂蜜", "价格": "88", "库存": "12"}
    status, body, _ = await call(running_studio, "PUT", "/api/products", {"products": [{"row": 1, "values": honey}]})
    assert status == 200, body
    assert body == {"created": 1, "updated": 0}
    assert product_row(products, "HONEY-500G")["stock"] == 12


async def test_an_unknown_column_is_not_blamed_on_a_product_row(running_studio, products):
    odd = {**TEA.to_row(), "sku": "TEA-100G", "colour": "green"}
    status, body, _ = await call(
        running_studio,
        "PUT",
        "/api/products",
        {"products": [{"row": 4, "values": TEA.to_row()}, {"row": 7, "values": odd}]},
    )
    assert status == 400
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(0, "colour")]
    assert product_row(products, "TEA-250G")["price"] == 128.0
