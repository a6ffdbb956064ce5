"""A flash sale: 500 buyers at once for 100 boxes, over real HTTP on 127.0.0.1; and a killed server."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from dataclasses import replace

import aiohttp
import pytest

import catalog
from catalog.shows import create_show, link_for
from studio.config import StudioConfig
from studio.limits import Rate
from studio.order_guard import OrderLimits
from tests.conftest import buyer_cookie, order_token

pytestmark = pytest.mark.timeout(240)

BUYERS = 500
STOCK = 100


def buyer(n: int) -> dict[str, object]:
    return {"quantity": 1, "name": f"Buyer {n}", "phone": f"1380013{n:04d}", "address": f"Farm road {n}, Ganzhou"}


@pytest.fixture
def studio_config(studio_config: StudioConfig) -> StudioConfig:
    """All 500 buyers come from 127.0.0.1 here: lift the per-address limit (the others stay)."""
    return replace(studio_config, order_limits=OrderLimits(per_ip=Rate(10_000, 0.001)))


async def place(http: aiohttp.ClientSession, base_url: str, code: str, n: int) -> aiohttp.ClientResponse:
    """Buyer ``n`` (own cookie) opens the form, then orders one."""
    cookie = buyer_cookie(n)
    token = await order_token(http, base_url, code, cookie)
    headers = {"Accept": "application/json", **cookie}
    return await http.post(f"{base_url}/order/{code}", json={**buyer(n), "request_id": token}, headers=headers)


async def test_500_concurrent_orders_for_stock_100(running_studio):
    studio = running_studio.studio
    oranges = catalog.Product(sku="ORANGE-5KG", name="Navel oranges", price=59.9, stock=STOCK)
    await studio.db(catalog.upsert_product, oranges)
    show = await studio.start_show("Flash sale")
    code = (await studio.db(link_for, show.id, "ORANGE-5KG")).code

    async def order(http: aiohttp.ClientSession, n: int) -> tuple[int, dict]:
        async with await place(http, running_studio.url, code, n) as response:
            return response.status, await response.json()

    connector = aiohttp.TCPConnector(limit=BUYERS)
    timeout = aiohttp.ClientTimeout(total=180)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as http:
        results = await asyncio.gather(*(order(http, n) for n in range(BUYERS)))

    statuses = [status for status, _ in results]
    assert statuses.count(201) == STOCK and statuses.count(409) == BUYERS - STOCK
    refusals = [body for status, body in results if status == 409]
    assert all(body["code"] == "out_of_stock" and body["available"] == 0 for body in refusals)
    assert all("已售罄" in body["detail_zh"] for body in refusals)
    numbers = {body["number"] for status, body in results if status == 201}
    assert len(numbers) == STOCK

    def totals(db):
        return db.execute(
            "SELECT COUNT(*), SUM(quantity), COUNT(DISTINCT phone) FROM orders WHERE link_code = ?", [code]
        ).fetchone()

    assert await studio.db(totals) == (STOCK, STOCK, STOCK)
    assert (await studio.db(catalog.get_product, "ORANGE-5KG")).stock == 0


def test_killed_server_keeps_every_acknowledged_order_and_no_half_orders(studio_process):
    """SIGKILL the studio mid-sale: each 201 is in the database, and stock + sold == what we started with."""
    db = catalog.open_db(studio_process.data_dir)
    start_stock = catalog.get_product(db, "SUGAR-YUNNAN-500G").stock  # the demo catalog seeded on first start
    show = create_show(db, "Sugar sale")
    code = link_for(db, show.id, "SUGAR-YUNNAN-500G").code
    db.conn.close()
    acknowledged: list[str] = []

    async def order(http: aiohttp.ClientSession, n: int) -> None:
        try:
            async with await place(http, studio_process.url, code, n) as response:
                if response.status == 201:
                    acknowledged.append((await response.json())["number"])
        except (TimeoutError, aiohttp.ClientError):
            pass  # the server died under this request: not acknowledged, so it may or may not exist

    async def sale() -> None:
        timeout = aiohttp.ClientTimeout(total=20)
        connector = aiohttp.TCPConnector(limit=20)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            tasks = [asyncio.create_task(order(http, n)) for n in range(start_stock)]
            deadline = time.monotonic() + 30
            while len(acknowledged) < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            studio_process.process.send_signal(signal.SIGKILL)
            await asyncio.gather(*tasks)

    asyncio.run(sale())
    studio_process.process.wait(timeout=10)
    assert len(acknowledged) >= 10
    conn = sqlite3.connect(studio_process.data_dir / catalog.DB_FILENAME)
    try:
        ids = {row[0] for row in conn.execute("SELECT number FROM orders")}
        sold = conn.execute("SELECT COALESCE(SUM(quantity), 0) FROM orders").fetchone()[0]
        left = conn.execute("SELECT stock FROM products WHERE sku = 'SUGAR-YUNNAN-500G'").fetchone()[0]
    finally:
        conn.close()
    assert set(acknowledged) <= ids
    assert left + sold == start_stock  # no order without its stock, no stock taken without its order
    assert sold < start_stock  # the kill really happened mid-sale
