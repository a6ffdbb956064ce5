"""Promos enforced at checkout over real HTTP on 127.0.0.1: coupons, flash prices, per-buyer limits, channels.

The server decides the price from the promo on air for that product and show at
the moment of the order; what the page sends is only the buyer's claim.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

import analytics
import catalog
from catalog.orders import OverBuyerLimit, place_order
from catalog.pricing import Offer
from catalog.shows import create_show, link_for
from overlays import Promo
from studio.config import StudioConfig
from studio.limits import Rate
from studio.order_guard import OrderLimits
from tests.conftest import buyer_cookie, order_token

pytestmark = pytest.mark.timeout(120)

ORANGES = catalog.Product("ORANGE-5KG", "Navel oranges", 59.9, name_zh="赣南脐橙", stock=50)
TEA = catalog.Product("TEA-250G", "Green tea", 88.0, name_zh="绿茶", stock=50)
BUYER = {"quantity": 2, "name": "张三", "phone": "138 0013 8000", "address": "江西省赣州市信丰县"}
COUPON = Promo("coupon", code="FARM10", discount_percent=10)
JSON = {"Accept": "application/json"}


@pytest.fixture
def studio_config(studio_config: StudioConfig) -> StudioConfig:
    """Many orders from one address, cookie and phone here: lift the rate limits (the promo rules stay)."""
    loose = Rate(10_000, 0.001)
    return replace(studio_config, order_limits=OrderLimits(per_ip=loose, per_viewer=loose, per_phone=loose))


async def live(running_studio: Any, promo: Promo | None = None, sku: str = "ORANGE-5KG") -> dict[str, str]:
    """A show with both products, ``sku`` on air with ``promo``; the buy-link codes by SKU."""
    studio = running_studio.studio
    for product in (ORANGES, TEA):
        await studio.db(catalog.upsert_product, product)
    show = await studio.start_show("Flash sale 秒杀")
    await studio.put_on_air(sku, promo=promo)
    return {p.sku: (await studio.db(link_for, show.id, p.sku)).code for p in (ORANGES, TEA)}


async def order(
    http: aiohttp.ClientSession, running_studio: Any, code: str, n: int = 1, **fields: Any
) -> tuple[int, dict[str, Any]]:
    cookie = buyer_cookie(n)
    token = await order_token(http, running_studio.url, code, cookie)
    body = {**BUYER, "request_id": token, **fields}
    async with http.post(f"{running_studio.url}/order/{code}", json=body, headers={**JSON, **cookie}) as response:
        return response.status, await response.json()


async def stored(running_studio: Any) -> list[tuple[Any, ...]]:
    def query(db: Any) -> list[tuple[Any, ...]]:
        sql = "SELECT sku, quantity, unit_price, list_price, total, coupon, channel FROM orders ORDER BY id"
        return db.execute(sql).fetchall()

    return await running_studio.studio.db(query)


async def test_a_valid_coupon_is_charged_and_stored_case_ignored(running_studio: Any) -> None:
    codes = await live(running_studio, COUPON)
    async with aiohttp.ClientSession() as http:
        # The quote the buy sheet shows: the promo's code, and the price with it.
        url = f"{running_studio.url}/order/{codes['ORANGE-5KG']}?coupon=farm10&via=shelf"
        async with http.get(url, headers={**JSON, **buyer_cookie(1)}) as response:
            quote = await response.json()
        assert quote["coupon_on_air"] == "FARM10" and quote["channel"] == "shelf"
        assert (quote["list_price"], quote["unit_price"], quote["coupon"], quote["coupon_error"]) == (
            59.9, 53.91, "FARM10", None
        )
        status, body = await order(http, running_studio, codes["ORANGE-5KG"], coupon="farm10", channel="shelf",
                                   expected_total="107.82")
    assert status == 201, body
    assert (body["unit_price"], body["list_price"], body["total"], body["discount"], body["coupon"]) == (
        53.91, 59.9, 107.82, 11.98, "FARM10"
    )
    assert await stored(running_studio) == [("ORANGE-5KG", 2, 53.91, 59.9, 107.82, "FARM10", "shelf")]
    # Analytics counts what was charged.
    show_id = running_studio.studio.show.id
    stats = await running_studio.studio.db(analytics.live_stats, show_id)
    assert stats["revenue"] == 107.82


@pytest.mark.parametrize("case", ["wrong code", "another product", "taken off air", "another show"])
async def test_a_coupon_that_is_not_on_air_for_this_product_and_show_is_refused(running_studio: Any, case: str) -> None:
    codes = await live(running_studio, COUPON)
    studio = running_studio.studio
    coupon, code = "FARM10", codes["ORANGE-5KG"]
    if case == "wrong code":
        coupon = "FARM20"
    elif case == "another product":
        code = codes["TEA-250G"]
    elif case == "taken off air":
        await studio.put_on_air("ORANGE-5KG", promo=None)  # the host ended the coupon: it has expired
    else:
        await studio.start_show("The next show")  # the old show's links keep selling, without its promo
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_studio.url}/order/{code}?coupon={coupon}", headers=JSON) as response:
            quote = await response.json()
        assert quote["coupon"] is None and quote["coupon_error"]["detail_zh"] == "优惠码无效"
        status, body = await order(http, running_studio, code, coupon=coupon)
    assert status == 409 and body["code"] == "coupon_not_valid"
    assert "优惠码无效" in body["errors"]["coupon"] and body["detail"] == "coupon not valid"
    assert await stored(running_studio) == []


async def test_the_html_form_prefills_the_coupon_and_the_receipt_shows_the_discount(running_studio: Any) -> None:
    codes = await live(running_studio, COUPON)
    code = codes["ORANGE-5KG"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{running_studio.url}/b/{code}?via=click") as response:
            page = await response.text()
        assert str(response.url).endswith(f"/order/{code}?via=click")
        assert 'name="coupon" autocomplete="off" maxlength="32" value="FARM10"' in page
        assert 'name="channel" value="click"' in page
        token = page.split('name="request_id" value="')[1].split('"')[0]
        form = {**BUYER, "quantity": "1", "coupon": "FARM10", "channel": "click", "request_id": token}
        async with http.post(f"{running_studio.url}/order/{code}", data=form) as response:
            receipt = await response.text()
        assert response.status == 201
    assert 'id="order-discount">-¥5.99' in receipt and "FARM10" in receipt and "¥53.91" in receipt
    assert await stored(running_studio) == [("ORANGE-5KG", 1, 53.91, 59.9, 53.91, "FARM10", "click")]


async def test_a_flash_price_holds_until_the_countdown_ends_then_the_list_price(running_studio: Any) -> None:
    ends = catalog.utc_now() + timedelta(seconds=1.5)
    sale = Promo("countdown", ends_at=catalog.to_iso(ends), flash_price=49.0)
    codes = await live(running_studio, sale)
    code = codes["ORANGE-5KG"]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_studio.url}/watch/state") as response:
            card = (await response.json())["on_air"]
        assert (card["price"], card["flash_price"]) == (59.9, 49.0)
        async with http.get(f"{running_studio.url}/order/{code}") as response:
            assert "限时秒杀 Flash sale <b>¥49.00</b> <s>¥59.90</s>" in await response.text()
        status, body = await order(http, running_studio, code, n=1, expected_total="98.00")
        assert status == 201 and body["unit_price"] == 49.0
        await asyncio.sleep(max(0.0, (ends - catalog.utc_now()).total_seconds()) + 0.1)
        # The sheet still shows the flash total: refused, with the new total to show.
        status, body = await order(http, running_studio, code, n=2, expected_total="98.00")
        assert status == 409 and body["code"] == "price_changed"
        assert (body["unit_price"], body["total"]) == (59.9, 119.8) and "119.80" in body["detail_zh"]
        status, body = await order(http, running_studio, code, n=2, expected_total="119.80")
        assert status == 201 and body["unit_price"] == 59.9
    assert [(row[2], row[3]) for row in await stored(running_studio)] == [(49.0, 59.9), (59.9, 59.9)]


def hidden(page: str, name: str) -> str:
    return page.split(f'name="{name}" value="')[1].split('"', maxsplit=1)[0]


async def test_the_plain_form_refuses_a_price_that_changed_after_it_was_shown(running_studio: Any) -> None:
    """No JavaScript: the form carries the unit price it showed; the host ends the flash sale before
    Submit -> 409 with the new price in both languages, nothing stored, the form again at the new price."""
    sale = Promo("countdown", ends_at=catalog.to_iso(catalog.utc_now() + timedelta(minutes=5)), flash_price=49.0)
    code = (await live(running_studio, sale))["ORANGE-5KG"]
    url = f"{running_studio.url}/order/{code}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url) as response:
            page = await response.text()
        assert "<b>¥49.00</b>" in page and hidden(page, "expected_unit_price") == "49.00"
        off = {"sku": "ORANGE-5KG", "layout": "auto", "promo": None}  # the host ends the sale
        async with http.put(f"{running_studio.url}/api/overlay", json=off, headers=running_studio.auth) as response:
            assert response.status == 200
        # The buyer typed 2 (the form started at 1) and submits the page as it was shown.
        form = {
            **BUYER,
            "quantity": "2",
            "request_id": hidden(page, "request_id"),
            "channel": "scan",
            "expected_unit_price": hidden(page, "expected_unit_price"),
        }
        async with http.post(url, data=form) as response:
            again = await response.text()
            assert response.status == 409
        assert "the price has changed: now 59.90 each, 2 cost 119.80" in again
        assert "价格已变化：现价每件 59.90，2 件合计 119.80" in again
        assert "¥49.00" not in again and hidden(again, "expected_unit_price") == "59.90"
        assert 'name="quantity" type="number"' in again and 'value="2"' in again  # the buyer's entries kept
        assert await stored(running_studio) == []
        resubmit = {**form, "request_id": hidden(again, "request_id"), "expected_unit_price": "59.90"}
        async with http.post(url, data=resubmit) as response:
            assert response.status == 201, await response.text()
        # A changed quantity alone is no price change: the unit price still holds.
        async with http.get(url) as response:
            page = await response.text()
        form = {
            **form,
            "quantity": "3",
            "request_id": hidden(page, "request_id"),
            "expected_unit_price": hidden(page, "expected_unit_price"),
        }
        async with http.post(url, data=form) as response:
            assert response.status == 201
        bad = {**form, "expected_unit_price": "4.9.0"}
        async with http.post(url, data=bad) as response:
            assert response.status == 400 and "amount like 119.80" in await response.text()
    assert await stored(running_studio) == [
        ("ORANGE-5KG", 2, 59.9, 59.9, 119.8, None, "scan"),
        ("ORANGE-5KG", 3, 59.9, 59.9, 179.7, None, "scan"),
    ]


async def test_bad_channel_and_expected_total_are_refused(running_studio: Any) -> None:
    codes = await live(running_studio)
    async with aiohttp.ClientSession() as http:
        status, body = await order(http, running_studio, codes["ORANGE-5KG"], channel="tiktok")
        assert status == 400 and "channel" in body["errors"]
        status, body = await order(http, running_studio, codes["ORANGE-5KG"], expected_total="-1")
        assert status == 400 and body["code"] == "bad_expected_total"
        status, body = await order(http, running_studio, codes["ORANGE-5KG"])  # no channel given: not guessed
        assert status == 201 and body["channel"] is None
    assert len(await stored(running_studio)) == 1


async def test_the_per_buyer_limit_counts_the_phone_across_cookies_and_concurrent_orders(running_studio: Any) -> None:
    sale = Promo("countdown", ends_at=catalog.to_iso(catalog.utc_now() + timedelta(minutes=5)), flash_price=49.0,
                 limit_per_buyer=3)
    codes = await live(running_studio, sale)
    code = codes["ORANGE-5KG"]
    spellings = ("138 0013 8000", "+86 138-0013-8000", "(138) 0013 8000", "0086 13800138000")
    async with aiohttp.ClientSession() as http:
        # 2 units first; then 20 buyers (own cookies), one phone spelt four ways, want 1 each, at once.
        assert (await order(http, running_studio, code, n=0))[0] == 201
        results = await asyncio.gather(
            *(order(http, running_studio, code, n=n, quantity=1, phone=spellings[n % 4]) for n in range(1, 21))
        )
    statuses = [status for status, _ in results]
    assert statuses.count(201) == 1 and statuses.count(409) == 19
    refusal = next(body for status, body in results if status == 409)
    assert refusal["code"] == "buyer_limit" and refusal["limit"] == 3 and "每人限购 3 件" in refusal["detail_zh"]

    def units(db: Any) -> int:
        return db.execute("SELECT SUM(quantity) FROM orders").fetchone()[0]

    assert await running_studio.studio.db(units) == 3


def test_the_limit_holds_for_concurrent_writers_on_separate_connections(data_dir: Any) -> None:
    """Eight threads, each its own SQLite connection, one phone: the limit is checked inside the stock transaction."""
    db = catalog.open_db(data_dir)
    catalog.upsert_product(db, ORANGES)
    show = create_show(db, "Flash sale")
    code = link_for(db, show.id, ORANGES.sku).code
    db.conn.close()
    offer = Offer(flash_price=49.0, ends_at=catalog.utc_now() + timedelta(minutes=5), limit_per_buyer=2)
    start = threading.Barrier(8)

    def buy(_: int) -> str:
        connection = catalog.connect(catalog.db_path(data_dir))
        start.wait()
        try:
            place_order(connection, sku=ORANGES.sku, quantity=1, customer_name="李四", phone="13900139000",
                        address="福建泉州安溪", link_code=code, offer=offer, channel="scan")
        except OverBuyerLimit:
            return "limit"
        else:
            return "sold"
        finally:
            connection.conn.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(buy, range(8), timeout=60))
    assert sorted(outcomes) == ["limit"] * 6 + ["sold"] * 2
    with sqlite3.connect(catalog.db_path(data_dir)) as check:
        assert check.execute("SELECT SUM(quantity), MIN(unit_price) FROM orders").fetchone() == (2, 49.0)
        # A cancelled order gives the units back to the buyer's allowance.
        first = check.execute("SELECT MIN(id) FROM orders").fetchone()[0]
    db = catalog.open_db(data_dir)
    catalog.orders.cancel_order(db, first)
    again = place_order(db, sku=ORANGES.sku, quantity=1, customer_name="李四", phone="139 0013 9000",
                        address="福建泉州安溪", link_code=code, offer=offer)
    assert again.unit_price == 49.0
    db.conn.close()


async def test_buy_links_carry_the_channel_to_the_order_page(running_studio: Any) -> None:
    codes = await live(running_studio)
    code = codes["ORANGE-5KG"]
    async with aiohttp.ClientSession() as http:
        for via, location in (("", f"/order/{code}"), ("shelf", f"/order/{code}?via=shelf"),
                              ("draw", f"/order/{code}?via=draw"), ("nonsense", f"/order/{code}")):
            url = f"{running_studio.url}/b/{code}" + (f"?via={via}" if via else "")
            async with http.get(url, allow_redirects=False, headers=buyer_cookie(1)) as response:
                assert response.headers["Location"] == location
        async with http.get(f"{running_studio.url}/order/{code}?via=bogus", headers=JSON) as response:
            assert (await response.json())["channel"] == "scan"

    def kinds(db: Any) -> list[str]:
        return [row[0] for row in db.execute("SELECT kind FROM link_events ORDER BY id")]

    assert await running_studio.studio.db(kinds) == ["scan", "shelf", "click", "scan"]


async def test_the_shelf_lists_the_show_from_one_cached_read(running_studio: Any) -> None:
    from studio.pages.shelf import SHELF

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{running_studio.url}/watch/shelf") as response:
            assert await response.json() == {"live": False, "products": []}
        sale = Promo("countdown", ends_at=catalog.to_iso(catalog.utc_now() + timedelta(minutes=5)), flash_price=49.0)
        codes = await live(running_studio, sale, sku="TEA-250G")
        cache = running_studio.app[SHELF]
        before = cache.reads

        async def shelf() -> dict[str, Any]:
            async with http.get(f"{running_studio.url}/watch/shelf") as response:
                assert response.headers["Cache-Control"] == "no-store"
                return dict(await response.json())

        answers = await asyncio.gather(*(shelf() for _ in range(200)))
    assert cache.reads - before == 1  # 200 viewers, one database read
    products = answers[0]["products"]
    assert [p["sku"] for p in products] == ["TEA-250G", "ORANGE-5KG"]  # the one on air first
    tea, orange = products
    assert (tea["on_air"], tea["price"], tea["list_price"], tea["flash"]) == (True, 49.0, 88.0, True)
    assert (orange["on_air"], orange["price"], orange["flash"]) == (False, 59.9, False)
    assert tea["buy_href"] == f"/b/{codes['TEA-250G']}?via=shelf" and tea["stock"] == 50


async def test_the_control_api_refuses_promo_terms_out_of_range(running_studio: Any) -> None:
    await live(running_studio)
    bad = {"kind": "coupon", "code": "FARM10", "discount_percent": 95}
    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        async with http.put(f"{running_studio.url}/api/overlay", json={"sku": "ORANGE-5KG", "promo": bad}) as response:
            problem = await response.json()
        assert response.status == 400 and "discount_percent" in problem["detail"] and problem["detail_zh"]
    assert running_studio.studio.on_air.promo is None  # nothing changed on air
