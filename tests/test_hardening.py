"""Issue #9, one finding per test: orders, secrets, exports, faults, limits (real HTTP on 127.0.0.1, real SQLite)."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import hmac
import http.client
import logging
import os
import re
import shutil
import sqlite3
import stat
import time
import zipfile
from pathlib import Path

import aiohttp
import openpyxl
import pytest
from aiohttp import web

import catalog
import studio.limits
from catalog.csvio import export_csv, import_csv
from catalog.orders import cancel_order, place_order
from catalog.shows import create_show, link_for
from studio.config import StudioConfig
from studio.control import order_burst
from studio.datadir import DataFolderBusy, open_data_folder
from studio.limits import Rate, RateLimiter
from studio.order_guard import ORDER_GUARD
from studio.serve import ConnectionGuard, RepeatFilter, redact, start_guarded_site
from studio.turn import browser_ice_servers
from tests.conftest import LOOPBACK, TEST_KEY, buyer_cookie, free_port, order_token

pytestmark = pytest.mark.timeout(120)

ORDER = {"quantity": "1", "name": "李四", "phone": "139 0013 9000", "address": "江西省赣州市信丰县 9 号"}


def oranges(**changes: object) -> catalog.Product:
    values: dict[str, object] = {
        "sku": "ORANGE-5KG", "name": "Navel oranges", "name_zh": "赣南脐橙", "price": 59.9, "stock": 120
    }
    values.update(changes)
    return catalog.Product(**values)  # type: ignore[arg-type]


async def shop(running_studio, product: catalog.Product | None = None) -> str:  # type: ignore[no-untyped-def]
    studio = running_studio.studio
    await studio.db(catalog.upsert_product, product or oranges())
    show = await studio.start_show("Harvest live")
    return (await studio.db(link_for, show.id, (product or oranges()).sku)).code


def fingerprint(db_file: Path) -> tuple:
    """What a refused request must leave exactly as it was."""
    conn = sqlite3.connect(db_file)
    try:
        return (
            conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(quantity), 0) FROM orders WHERE status != 'cancelled'"
            ).fetchone(),
            conn.execute("SELECT COALESCE(SUM(stock), 0), COUNT(*) FROM products").fetchone(),
            conn.execute("SELECT COUNT(*), COUNT(ended_at) FROM shows").fetchone(),
        )
    finally:
        conn.close()


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


# -- the order form ------------------------------------------------------------

async def test_cross_site_post_is_refused_and_changes_nothing(running_studio):
    """A page on another origin auto-submitting the form (CSRF) gets 403; the same form from our page works."""
    code = await shop(running_studio)
    before = fingerprint(running_studio.studio.db_file)
    async with jar() as http:
        token = await order_token(http, running_studio.url, code)
        form = {**ORDER, "request_id": token}
        for origin in ("https://evil.example", "null"):
            async with http.post(
                f"{running_studio.url}/order/{code}", data=form, headers={"Origin": origin}
            ) as response:
                assert response.status == 403 and "只接受本直播间" in await response.text()
        async with http.post(
            f"{running_studio.url}/order/{code}", data=form, headers={"Referer": "https://evil.example/page"}
        ) as response:
            assert response.status == 403
        assert fingerprint(running_studio.studio.db_file) == before
        async with http.post(
            f"{running_studio.url}/order/{code}", data=form, headers={"Origin": running_studio.url}
        ) as response:
            assert response.status == 201


async def test_an_order_needs_a_token_for_this_cookie_and_a_replay_shows_no_details(running_studio):
    code = await shop(running_studio)
    url = f"{running_studio.url}/order/{code}"
    before = fingerprint(running_studio.studio.db_file)
    async with jar() as buyer, jar() as other:
        token = await order_token(buyer, running_studio.url, code)
        async with other.post(url, json=ORDER, headers={"Accept": "application/json"}) as response:
            assert response.status == 403 and (await response.json())["code"] == "order_token"  # no token
        await order_token(other, running_studio.url, code)  # other has a cookie of its own now
        async with other.post(
            url, json={**ORDER, "request_id": token}, headers={"Accept": "application/json"}
        ) as response:
            assert response.status == 403  # someone else's token
        assert fingerprint(running_studio.studio.db_file) == before
        async with buyer.post(url, data={**ORDER, "request_id": token}) as response:
            assert response.status == 201
            first = await response.text()
        async with buyer.post(url, data={**ORDER, "request_id": token}) as response:
            assert response.status == 201  # the same order again, no more stock taken
            replay = await response.text()
    assert "13900139000" in first and "江西省赣州市信丰县 9 号" in first
    assert "13900139000" not in replay and "139****9000" in replay and "信丰县" not in replay
    number = re.search(r'id="order-number">([^<]+)<', first).group(1)
    assert number in replay and (await running_studio.studio.db(catalog.get_product, "ORANGE-5KG")).stock == 119


async def test_expired_token_is_refused(running_studio, monkeypatch):
    code = await shop(running_studio)
    async with jar() as http:
        token = await order_token(http, running_studio.url, code)
        guard = running_studio.app[ORDER_GUARD]
        monkeypatch.setattr(guard.tokens, "clock", lambda: time.time() + guard.limits.token_ttl + 60)
        async with http.post(f"{running_studio.url}/order/{code}", data={**ORDER, "request_id": token}) as response:
            assert response.status == 403 and "页面已过期" in await response.text()


async def test_one_client_cannot_drain_the_stock(running_studio):
    """The finding: one client took stock 120 -> 0 in 0.36 s, and quantity=60 took a whole product."""
    code = await shop(running_studio)
    url = f"{running_studio.url}/order/{code}"
    async with jar() as http:
        token = await order_token(http, running_studio.url, code)
        async with http.post(
            url, json={**ORDER, "quantity": 60, "request_id": token}, headers={"Accept": "application/json"}
        ) as response:
            assert response.status == 400
            assert "每单最多 10 件" in (await response.json())["errors"]["quantity"]
        statuses = []
        for n in range(30):  # one cookie, fresh tokens, as fast as it can
            token = await order_token(http, running_studio.url, code)
            body = {**ORDER, "quantity": 10, "phone": f"1390013{n:04d}", "request_id": token}
            async with http.post(url, json=body, headers={"Accept": "application/json"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert int(response.headers["Retry-After"]) >= 1
    assert statuses.count(201) == 3 and statuses.count(429) == 27  # the viewer's burst, then refused
    assert (await running_studio.studio.db(catalog.get_product, "ORANGE-5KG")).stock == 120 - 30


async def test_one_phone_number_is_limited_across_cookies(running_studio):
    code = await shop(running_studio)
    statuses = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for n in range(6):  # a new cookie each time, the same phone
            cookie = buyer_cookie(n)
            token = await order_token(http, running_studio.url, code, cookie)
            async with http.post(
                f"{running_studio.url}/order/{code}", json={**ORDER, "request_id": token},
                headers={"Accept": "application/json", **cookie},
            ) as response:
                statuses.append(response.status)
    assert statuses == [201, 201, 201, 429, 429, 429]


async def test_one_address_is_limited_across_cookies_and_phones(running_studio):
    code = await shop(running_studio)
    guard = running_studio.app[ORDER_GUARD]
    guard._by_ip = RateLimiter(Rate(5, 60.0))  # the default (20 at once) with fewer requests
    statuses = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        for n in range(8):
            cookie = buyer_cookie(n)
            token = await order_token(http, running_studio.url, code, cookie)
            async with http.post(
                f"{running_studio.url}/order/{code}", json={**ORDER, "phone": f"1370013{n:04d}", "request_id": token},
                headers={"Accept": "application/json", **cookie},
            ) as response:
                statuses.append(response.status)
    assert statuses == [201] * 5 + [429] * 3


async def test_host_cancels_an_order_and_its_stock_returns_and_a_burst_is_flagged(running_studio):
    studio_ = running_studio.studio
    code = await shop(running_studio, oranges(stock=50, max_per_order=3))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        numbers = []
        for n in range(3):
            cookie = buyer_cookie(n)
            token = await order_token(http, running_studio.url, code, cookie)
            async with http.post(
                f"{running_studio.url}/order/{code}",
                json={**ORDER, "quantity": 3, "phone": f"1360013{n:04d}", "request_id": token},
                headers={"Accept": "application/json", **cookie},
            ) as response:
                assert response.status == 201
                numbers.append((await response.json())["number"])
        async with http.get(f"{running_studio.url}/api/state", headers=running_studio.auth) as response:
            state = await response.json()
        assert state["order_burst"]["orders_last_minute"] == 3 and state["order_burst"]["burst"] is False
        order_id = state["recent_orders"][0]["id"]
        assert state["recent_orders"][0]["number"] in numbers
        for _ in range(2):  # idempotent
            async with http.post(
                f"{running_studio.url}/api/orders/{order_id}/cancel", headers=running_studio.auth
            ) as response:
                assert response.status == 200 and (await response.json())["status"] == "cancelled"
        async with http.post(f"{running_studio.url}/api/orders/{order_id}/cancel") as response:
            assert response.status == 401
        for bad in ("999999", str(2**64), "abc"):
            async with http.post(
                f"{running_studio.url}/api/orders/{bad}/cancel", headers=running_studio.auth
            ) as response:
                assert response.status == 404
    assert (await studio_.db(catalog.get_product, "ORANGE-5KG")).stock == 50 - 9 + 3
    burst = await studio_.db(order_burst, studio_.show.id, 2)  # the warning at a lower threshold
    assert burst == {"orders_last_minute": 2, "phones_last_minute": 2, "threshold": 2, "burst": True}


def test_imported_orders_are_not_cancelled_here(db):
    catalog.upsert_product(db, oranges())
    db.execute(
        "INSERT INTO orders (sku, quantity, unit_price, total, at, source, external_id, status) "
        "VALUES ('ORANGE-5KG', 1, 59.9, 59.9, '2026-11-23T12:00:00.000Z', 'import', 'DY1', 'paid')"
    )
    with pytest.raises(catalog.orders.NotCancellable):
        cancel_order(db, 1)


def test_order_numbers_are_not_sequential(db):
    catalog.upsert_product(db, oranges(stock=100))
    numbers = [
        place_order(
            db, sku="ORANGE-5KG", quantity=1, customer_name="A", phone="13800138000", address="Farm road 1"
        ).number
        for _ in range(20)
    ]
    assert len(set(numbers)) == 20 and all(
        re.fullmatch(r"FL-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", n) for n in numbers
    )
    assert numbers != sorted(numbers)


def test_max_per_order_round_trips_through_csv(db, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("sku,name,price,stock,限购\nA-1,Apples,5,10,2\nB-1,Beans,5,10,\n", encoding="utf-8")
    assert import_csv(db, path).ok
    assert catalog.get_product(db, "A-1").order_limit == 2 and catalog.get_product(db, "B-1").order_limit == 10
    export_csv(db, tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [r["max_per_order"] for r in rows] == ["2", ""]
    path.write_text("sku,name,price,max_per_order\nA-1,Apples,5,0\n", encoding="utf-8")
    result = import_csv(db, path)
    assert not result.ok and result.errors[0].field == "max_per_order"


# -- exports -------------------------------------------------------------------

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_catalog_export_neutralises_formulas_and_reads_them_back(db, tmp_path):
    for n, text in enumerate(HOSTILE):
        catalog.upsert_product(db, catalog.Product(sku=f"X-{n}", name=text.strip() or "x", description=text, price=1.0))
    export_csv(db, tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)))
    for row in rows:
        for column in ("name", "description"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
    fresh = catalog.connect(tmp_path / "again.db")
    assert import_csv(fresh, tmp_path / "out.csv").ok
    # The same text back (import trims the surrounding whitespace of every cell, as it always has).
    assert [p.description for p in catalog.list_products(fresh)] == [
        p.description.strip() for p in catalog.list_products(db)
    ]


def test_report_csv_and_xlsx_are_safe_to_open(db, tmp_path):
    from analytics import write_report

    catalog.upsert_product(db, catalog.Product(sku="EVIL", name=HOSTILE[0], name_zh="=1+1", price=1.0, stock=5))
    show = create_show(db, "Show")
    place_order(
        db, sku="EVIL", quantity=1, customer_name="A", phone="13800138000", address="Farm road", show_id=show.id
    )
    write_report(db, show.id, tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and not re.search(r'(^|,)"?=HYPERLINK', text, re.MULTILINE)
    write_report(db, show.id, tmp_path / "r.xlsx")
    with zipfile.ZipFile(tmp_path / "r.xlsx") as book:
        sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in sheet for sheet in sheets)  # no formula anywhere
    cells = [c for ws in openpyxl.load_workbook(tmp_path / "r.xlsx") for row in ws.iter_rows() for c in row]
    evil = [c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert evil and all(c.data_type == "s" for c in evil)  # kept as the text it is


# -- bad input that used to be a 500 -------------------------------------------

async def test_former_500s_are_clear_400s(running_studio):
    code = await shop(running_studio)
    before = fingerprint(running_studio.studio.db_file)
    auth = {**running_studio.auth, "Content-Type": "application/json"}
    async with jar() as http:
        token = await order_token(http, running_studio.url, code)
        order_url = f"{running_studio.url}/order/{code}"
        for body in (
            (
                f'{{"quantity": "{"9" * 5000}", "name": "a", "phone": "13800138000", "address": "road 1", '
                f'"request_id": "{token}"}}'
            ),
            (
                f'{{"quantity": {"9" * 5000}, "name": "a", "phone": "13800138000", "address": "road 1", '
                f'"request_id": "{token}"}}'
            ),
            (
                f'{{"quantity": 1, "name": "\\ud800", "phone": "13800138000", "address": "road 1", '
                f'"request_id": "{token}"}}'
            ),
            "[" * 100_000,
        ):
            async with http.post(
                order_url, data=body, headers={"Content-Type": "application/json", "Accept": "application/json"}
            ) as response:
                assert response.status == 400, (body[:80], await response.text())
        for method, path, body in (
            ("POST", "/api/shows", '{"title": "\\udfff"}'),
            ("PUT", "/api/overlay", '{"sku": "\\ud800"}'),
            ("PUT", "/api/products", '{"products": [{"values": {"sku": "A-1", "name": "\\ud800", "price": 1}}]}'),
            (
                "PUT",
                "/api/products",
                '{"products": [{"values": {"sku": "A-1", "name": "a", "price": 1, "stock": 1e20}}]}',
            ),
            (
                "PUT",
                "/api/products",
                (
                    '{"products": [{"values": {"sku": "A-1", "name": "a", "price": 1, '
                    '"buy_url": "https://x.example/\\u0000\\r\\nSet-Cookie: a=b"}}]}'
                ),
            ),
            ("POST", "/api/shows", "[" * 100_000),
        ):
            async with http.request(method, running_studio.url + path, data=body, headers=auth) as response:
                assert response.status == 400, (path, body[:80], await response.text())
                assert response.content_type == "application/problem+json"
        for path in (f"/api/shows/{2**63}/stats", f"/api/shows/{2**64}/stats", "/api/shows/-1/stats"):
            async with http.get(running_studio.url + path, headers=auth) as response:
                assert response.status == 404, path
        async with http.post(f"{running_studio.url}/api/shows/{2**70}/end", headers=auth) as response:
            assert response.status == 404
        for path in ("/images/%00", "/images/a%00.png", "/live/%00.js", "/live/a%00.css"):  # found by test_abuse
            async with http.get(running_studio.url + path) as response:
                assert response.status == 404, path
    assert fingerprint(running_studio.studio.db_file) == before


async def test_a_stored_buy_url_with_control_characters_cannot_break_the_buy_link(running_studio):
    code = await shop(running_studio, oranges(buy_url="https://shop.example/item\r\nSet-Cookie: evil=1"))
    async with jar() as http, http.get(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == f"/order/{code}"
        assert "evil" not in response.headers.getall("Set-Cookie", [""])[0]
    await running_studio.studio.db(catalog.upsert_product, oranges(buy_url="https://shop.example/商品?q=橙子"))
    async with jar() as http, http.get(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"].isascii()


async def test_a_failed_show_start_leaves_the_live_show_on_air(running_studio, monkeypatch):
    studio_ = running_studio.studio
    live = await studio_.start_show("Morning")

    def broken(db, title):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("studio.state.create_show", broken)
    async with (
        jar() as http,
        http.post(
            f"{running_studio.url}/api/shows", json={"title": "Evening"}, headers=running_studio.auth
        ) as response,
    ):
        assert response.status == 500
        body = await response.json()
    assert "disk I/O" not in str(body) and "Traceback" not in str(body)  # internals stay in the log
    assert studio_.show == live
    assert (await studio_.db(catalog.shows.get_show, live.id)).ended_at is None


# -- faults ----------------------------------------------------------------------

async def order_status(http: aiohttp.ClientSession, base: str, code: str, token: str) -> int:
    async with http.post(
        f"{base}/order/{code}", json={**ORDER, "request_id": token}, headers={"Accept": "application/json"}
    ) as response:
        return response.status


async def wait_unhealthy(http: aiohttp.ClientSession, base: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with http.get(f"{base}/healthz") as response:
            if response.status == 503:
                return await response.json()
        await asyncio.sleep(0.3)
    raise AssertionError("/healthz never said 503")


async def test_deleted_data_folder_makes_healthz_503_and_orders_refused(running_studio, data_dir):
    code = await shop(running_studio)
    async with jar() as http:
        async with http.get(f"{running_studio.url}/healthz") as response:
            assert response.status == 200
        token = await order_token(http, running_studio.url, code)
        shutil.rmtree(data_dir)
        assert await order_status(http, running_studio.url, code, token) == 503  # at once, before any health check
        problem = await wait_unhealthy(http, running_studio.url)
        assert problem["code"] == "unhealthy" and "备份" in problem["detail_zh"] and str(data_dir) not in str(problem)
        assert await order_status(http, running_studio.url, code, token) == 503


async def test_corrupted_database_makes_healthz_503_and_orders_refused(running_studio):
    code = await shop(running_studio)
    async with jar() as http:
        token = await order_token(http, running_studio.url, code)
        db_file = running_studio.studio.db_file
        await running_studio.studio.db(
            lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        )  # pages into the main file

        def scribble() -> None:  # garbage over the header and the first pages, in place
            with open(db_file, "r+b") as handle:
                handle.write(os.urandom(16384))

        await asyncio.to_thread(scribble)
        await wait_unhealthy(http, running_studio.url)
        assert await order_status(http, running_studio.url, code, token) == 503


def test_data_folder_is_private_and_locked(tmp_path):
    folder = open_data_folder(tmp_path / "data")
    assert folder.fresh and stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    db = catalog.open_db(tmp_path / "data")
    db.conn.close()
    assert stat.S_IMODE((tmp_path / "data" / "farmlive.db").stat().st_mode) == 0o600
    folder.lock()
    with pytest.raises(DataFolderBusy, match="already running"):
        open_data_folder(tmp_path / "data").lock()
    folder.unlock()
    open_data_folder(tmp_path / "data").lock()  # free again once the first let go
    assert not open_data_folder(tmp_path / "data").fresh  # it holds a database now: never seeded again


# -- limits and logs --------------------------------------------------------------

def test_rate_limiter_bursts_then_refills():
    now = [0.0]
    limiter = RateLimiter(Rate(3, 10.0), clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(10.0) and limiter.take("b") == 0.0
    now[0] = 10.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0


def test_repeated_errors_are_logged_once_with_a_count():
    now = [0.0]
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RepeatFilter(window=10.0, clock=lambda: now[0]))
    logger = logging.getLogger("farmlive.test.repeat")
    logger.addHandler(handler)
    try:
        for n in range(1000):
            logger.error("bad request from %s", f"10.0.0.{n % 250}")
        now[0] = 11.0
        logger.error("bad request from %s", "10.0.0.1")
    finally:
        logger.removeHandler(handler)
    assert records == ["bad request from 10.0.0.0", "bad request from 10.0.0.1 (and 999 more like it in the last 10 s)"]


async def test_access_log_redacts_the_key(running_studio, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with jar() as http:
        async with http.get(
            f"{running_studio.url}/publish?key=secret-studio-key", headers={"Referer": "http://x/?key=secret-studio-key"}
        ) as response:
            assert response.status == 200
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert '<meta name="referrer" content="no-referrer">' in await response.text()
        await asyncio.sleep(0.1)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    assert "/publish?key=[redacted]" in logged and "secret-studio-key" not in logged
    assert redact("GET /x?a=1&key=abc&token=t HTTP/1.1") == "GET /x?a=1&key=[redacted]&token=[redacted] HTTP/1.1"


async def test_pages_cannot_be_framed_by_other_sites(running_studio):
    code = await shop(running_studio)
    async with jar() as http:
        async with http.get(f"{running_studio.url}/order/{code}") as response:
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        async with http.get(f"{running_studio.url}/watch") as response:
            policy = response.headers["Content-Security-Policy"]
            assert f"http://127.0.0.1:{running_studio.config.ui_port}" in policy  # the control room's preview
            assert "frame-ancestors 'self'" in policy and "evil" not in policy


async def test_direct_taps_cors_is_exactly_the_control_rooms_origin(running_studio):
    """The control room's page may call PUT /api/overlay from the browser; no other page, no other route."""
    port = running_studio.config.ui_port
    room = f"http://127.0.0.1:{port}"
    url = f"{running_studio.url}/api/overlay"
    preflight = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization,content-type"}
    async with jar() as http:
        async with http.options(url, headers={"Origin": room, **preflight}) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == room
            assert "PUT" in response.headers["Access-Control-Allow-Methods"]
            assert {"authorization", "content-type"} <= {
                h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
            }
            assert "Origin" in response.headers["Vary"]
        # Another site, another port of this host, the HTTPS twin of a plain-HTTP control room, another method.
        for origin, method in (
            ("http://evil.example", "PUT"),
            (f"http://127.0.0.1:{port + 1}", "PUT"),
            (f"https://127.0.0.1:{port}", "PUT"),
            ("null", "PUT"),
            (room, "DELETE"),
        ):
            headers = {"Origin": origin, **preflight, "Access-Control-Request-Method": method}
            async with http.options(url, headers=headers) as response:
                assert response.status == 403, origin
                assert "Access-Control-Allow-Origin" not in response.headers, origin
                assert (await response.json())["code"] == "cross_origin_refused"
        auth = {**running_studio.auth, "Origin": room}
        async with http.put(url, json={"sku": None}, headers=auth) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == room
        # A refusal carries the header too: the page shows the studio's words under the button.
        async with http.put(url, json={"sku": None, "layout": "sideways"}, headers=auth) as response:
            assert response.status == 400
            assert response.headers["Access-Control-Allow-Origin"] == room
        async with http.put(url, json={"sku": None}, headers={**auth, "Origin": "http://evil.example"}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
        async with http.get(f"{running_studio.url}/api/state", headers=auth) as response:  # not opened to pages
            assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
        async with http.options(f"{running_studio.url}/api/state", headers={"Origin": room, **preflight}) as response:
            assert "Access-Control-Allow-Origin" not in response.headers


def test_ui_origin_override_opens_exactly_that_origin(monkeypatch):
    """A control room behind another host name: ``--ui-origin`` (or FARMLIVE_UI_ORIGIN) adds its origin."""
    from argparse import Namespace
    from dataclasses import replace

    from studio.app import control_room_origins, control_room_tap_origins
    from studio.runner import parse_origin, ui_origins_from_args

    monkeypatch.setenv("FARMLIVE_UI_ORIGIN", "https://a.example, http://b.example:8600")
    assert ui_origins_from_args(Namespace(ui_origin=[])) == ("https://a.example", "http://b.example:8600")
    assert ui_origins_from_args(Namespace(ui_origin=["https://c.example"])) == ("https://c.example",)

    assert parse_origin("HTTPS://Studio.Example:443/") == "https://studio.example"
    assert parse_origin("http://10.0.0.5:8600") == "http://10.0.0.5:8600"
    for bad in ("studio.example", "ftp://studio.example", "https://studio.example/room", "https://u@studio.example"):
        with pytest.raises(SystemExit):
            parse_origin(bad)
    config = StudioConfig(data_dir=Path("."), key="k", ui_port=8600)
    assert control_room_tap_origins(config) == ["http://127.0.0.1:8600", "http://localhost:8600"]
    lan = replace(config, lan=True, base_url="https://192.168.1.20:8080", ui_origins=("https://studio.example",))
    assert control_room_tap_origins(lan) == [
        "https://127.0.0.1:8600", "https://192.168.1.20:8600", "https://localhost:8600", "https://studio.example",
    ]
    assert "https://studio.example" in control_room_origins(lan)  # it may frame the preview too


async def test_slow_body_is_cut_off_with_408_and_the_connection_closed(running_studio, monkeypatch):
    monkeypatch.setattr(studio.limits, "BODY_DEADLINE", 0.5)
    code = await shop(running_studio)
    reader, writer = await asyncio.open_connection(LOOPBACK, running_studio.config.port)
    writer.write(
        f"POST /order/{code} HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 1000\r\n\r\nquantity=1".encode()
    )
    await writer.drain()
    started = time.monotonic()
    answer = await asyncio.wait_for(reader.read(), timeout=5)  # read() to EOF: the server closed it
    assert answer.startswith(b"HTTP/1.1 408") and b"body_too_slow" in answer
    assert 0.4 < time.monotonic() - started < 3
    writer.close()


async def test_connections_per_address_are_capped():
    """The per-IP cap of `farmlive up` (loopback is exempt there; here it is counted, to test it on 127.0.0.1)."""
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    guard = ConnectionGuard(3, limit_loopback=True)
    port = free_port()
    server = await start_guarded_site(runner, LOOPBACK, port, guard)
    try:
        idle = [await asyncio.open_connection(LOOPBACK, port) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed without an answer
        assert guard.refused == 1
        for _, w in idle:
            w.close()
        await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as http, http.get(f"http://{LOOPBACK}:{port}/") as response:
            assert await response.text() == "hi"
        assert guard.open[LOOPBACK] <= 1
    finally:
        server.close()
        await runner.cleanup()


def test_turn_credentials_for_browsers_are_short_lived_and_never_static():
    servers = [
        {"urls": "stun:stun.farm.lan:3478"},
        {"urls": "turn:turn.farm.lan:3478", "username": "farm", "credential": "s3cret"},
    ]
    assert browser_ice_servers(servers, "") == [{"urls": "stun:stun.farm.lan:3478"}]  # no static password handed out
    now = 1_800_000_000
    stun, turn = browser_ice_servers(servers, "shared-secret", now=now)
    expiry, _, name = turn["username"].partition(":")
    assert stun == servers[0] and int(expiry) == now + 4 * 3600 and name == "farmlive"
    # What coturn's use-auth-secret computes to check it:
    expected = base64.b64encode(hmac.new(b"shared-secret", turn["username"].encode(), hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected and "s3cret" not in str(turn)


def test_control_room_on_the_lan_is_https_and_hides_error_details(data_dir):
    from studio.control_room.launch import control_room_command, control_room_url

    lan = StudioConfig(data_dir=data_dir, key=TEST_KEY, host="0.0.0.0", lan=True, base_url="https://192.0.2.10:8080")
    command = control_room_command(lan)
    assert command[command.index("--server.sslCertFile") + 1].endswith("studio-cert.pem")
    assert command[command.index("--server.sslKeyFile") + 1].endswith("studio-key.pem")
    assert command[command.index("--client.showErrorDetails") + 1] == "false"
    assert control_room_url(lan) == "https://192.0.2.10:8501"
    local = control_room_command(StudioConfig(data_dir=data_dir, key=TEST_KEY))
    assert "--server.sslCertFile" not in local and command[command.index("--server.address") + 1] == "0.0.0.0"
    assert local[local.index("--server.address") + 1] == "127.0.0.1"


PEAK_CHILD = """
import resource, sys
from pathlib import Path
import catalog
rows, folder = int(sys.argv[1]), Path(sys.argv[2])
path = folder / "catalog.csv"
with path.open("w", encoding="utf-8", newline="") as out:
    out.write("sku,name,name_zh,price,stock,description\\r\\n")
    for n in range(rows):
        out.write(
            f"SKU-{n:07d},Navel oranges {n},赣南脐橙 {n},59.90,{n % 500},Sweet and juicy batch {n} of the harvest\\r\\n"
        )
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = catalog.import_csv(catalog.open_db(folder / "data"), path)
assert result.ok and result.created == rows, result.summary()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.timeout(300)
def test_csv_import_streams_its_rows(tmp_path):
    """Peak memory (ru_maxrss, in a fresh process each) must not grow with the file: 12x the rows, about the same peak.

    (1M rows peak at ~130 MB: benchmarks/catalog_import.py. Reading the file whole grew ~1.4 KB per row.)
    """
    import subprocess
    import sys

    growth = {}
    for rows in (5_000, 60_000):
        folder = tmp_path / str(rows)
        folder.mkdir()
        out = subprocess.run(
            [sys.executable, "-c", PEAK_CHILD, str(rows), str(folder)],
            capture_output=True, text=True, timeout=280, check=False,
        )
        assert out.returncode == 0, out.stderr
        growth[rows] = int(out.stdout) / 1024  # MB over the interpreter's own start
    assert growth[60_000] - growth[5_000] < 30, growth


def test_oversized_cells_and_control_characters_are_clear_errors(db, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(
        "sku,name,price,description\nA-1,Apples,5," + "x" * (200 * 1024) + "\nB-1,Beans,5,ok\n", encoding="utf-8"
    )
    result = import_csv(db, path)
    assert not result.ok and "larger than 128 KiB" in result.errors[0].message and result.errors[0].row == 2
    path.write_text("sku,name,price\nA-1,App\x07les,5\n", encoding="utf-8")
    result = import_csv(db, path)
    assert not result.ok and (result.errors[0].row, result.errors[0].field) == (2, "name")
    assert "control characters" in result.errors[0].message and catalog.list_products(db) == []


@pytest.mark.timeout(120)
def test_lan_control_room_answers_only_over_https(data_dir):
    """A real Streamlit control room as `farmlive up --lan` starts it: TLS with the studio's certificate."""
    import ssl
    import subprocess
    import urllib.error
    import urllib.request

    from studio.control_room.launch import start_control_room

    ui_port = free_port()
    config = StudioConfig(data_dir=data_dir, key=TEST_KEY, host=LOOPBACK, lan=True, ui_port=ui_port,
                          base_url=f"https://{LOOPBACK}:{free_port()}")
    process = start_control_room(config, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls = ssl._create_unverified_context()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(
                    f"https://{LOOPBACK}:{ui_port}/_stcore/health", timeout=2, context=tls
                ) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the control room never answered over HTTPS"
                time.sleep(0.5)
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://{LOOPBACK}:{ui_port}/_stcore/health", timeout=5).read()
    finally:
        process.terminate()
        process.wait(15)
