"""Buy links and the built-in order page over real HTTP on 127.0.0.1."""

from __future__ import annotations

import re

import aiohttp
import pytest
from PIL import Image

import catalog
from catalog.shows import link_for
from tests.conftest import order_token

pytestmark = pytest.mark.timeout(120)

ORDER = {"quantity": "2", "name": "张三", "phone": "138 0013 8000", "address": "江西省赣州市信丰县大塘埠镇 8 号"}


async def shop(running_studio, *products: catalog.Product, sku: str | None = None) -> str:
    """Put products in the catalog, start a show; returns the buy-link code for ``sku``."""
    studio = running_studio.studio
    for product in products:
        await studio.db(catalog.upsert_product, product)
    show = await studio.start_show("Harvest live")
    link = await studio.db(link_for, show.id, sku or products[0].sku)
    return link.code


def client() -> aiohttp.ClientSession:
    """A browser-like session that keeps cookies from 127.0.0.1 (aiohttp drops IP-host cookies by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def oranges(**changes) -> catalog.Product:
    values = {
        "sku": "ORANGE-5KG", "name": "Gannan navel oranges", "name_zh": "赣南脐橙", "price": 59.9, "stock": 10,
        "unit": "5 kg box", "origin": "Ganzhou, Jiangxi",
    }
    values.update(changes)
    return catalog.Product(**values)


async def link_events(running_studio) -> list[tuple]:
    def query(db):
        return db.execute("SELECT code, sku, kind, viewer_id FROM link_events ORDER BY id").fetchall()

    return await running_studio.studio.db(query)


async def test_scan_records_event_sets_cookie_and_redirects_to_order_page(running_studio):
    code = await shop(running_studio, oranges())
    async with client() as http:
        async with http.get(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == f"/order/{code}"
            cookie = response.cookies["fl_viewer"]
            assert cookie["samesite"] == "Lax" and int(cookie["max-age"]) >= 30 * 24 * 3600
            viewer = cookie.value
        # The same phone clicking the watch page's buy button keeps its id; no new cookie.
        async with http.get(f"{running_studio.url}/b/{code}?via=click", allow_redirects=False) as response:
            assert response.status == 302 and "fl_viewer" not in response.cookies
        # A link checker's HEAD is answered the same way but is nobody's scan.
        async with http.head(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == f"/order/{code}"
    assert await link_events(running_studio) == [
        (code, "ORANGE-5KG", "scan", viewer),
        (code, "ORANGE-5KG", "click", viewer),
    ]


async def test_link_to_external_shop_redirects_there(running_studio):
    code = await shop(running_studio, oranges(buy_url="https://shop.example.com/item/42"))
    async with client() as http, http.get(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "https://shop.example.com/item/42"
    assert [row[2] for row in await link_events(running_studio)] == ["scan"]


async def test_unknown_code_is_404_and_records_nothing(running_studio):
    await shop(running_studio, oranges())
    async with client() as http:
        for path in ("/b/zzzzzz", "/order/zzzzzz"):
            async with http.get(running_studio.url + path, allow_redirects=False) as response:
                assert response.status == 404
                text = await response.text()
                assert "Link not found" in text and "链接无效" in text
        async with http.post(f"{running_studio.url}/order/zzzzzz", data=ORDER) as response:
            assert response.status == 404
    assert await link_events(running_studio) == []


async def test_order_page_shows_the_product_bilingually(running_studio, data_dir):
    code = await shop(running_studio, oranges(image="images/ORANGE-5KG.png", description="Sweet <and> juicy"))
    async with client() as http, http.get(f"{running_studio.url}/order/{code}") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
    for text in ("Gannan navel oranges", "赣南脐橙", "¥59.90", "5 kg box", "Ganzhou, Jiangxi", "<strong>10</strong>",
                 "Quantity 数量", "Phone 手机号码", "收货地址", 'src="/images/ORANGE-5KG.png"'):
        assert text in page, text
    assert "Sweet &lt;and&gt; juicy" in page  # catalog text is escaped, never markup


async def test_form_order_decrements_stock_and_confirms(running_studio):
    code = await shop(running_studio, oranges())
    studio = running_studio.studio
    await studio.put_on_air("ORANGE-5KG")
    version = studio.on_air.version
    async with client() as http:
        async with http.get(f"{running_studio.url}/b/{code}", allow_redirects=False) as response:
            viewer = response.cookies["fl_viewer"].value
        token = await order_token(http, running_studio.url, code)
        async with http.post(f"{running_studio.url}/order/{code}", data={**ORDER, "request_id": token}) as response:
            assert response.status == 201
            page = await response.text()
    assert re.search(r"FL-[2-9A-Z]{4}-[2-9A-Z]{4}", page) and "¥119.80" in page and "下单成功" in page
    assert "13800138000" in page  # the buyer's own fresh order shows their details

    def saved(db):
        return db.execute(
            "SELECT show_id, sku, quantity, unit_price, total, source, link_code, buyer_id, customer_name, phone, "
            "status FROM orders"
        ).fetchall()

    assert await studio.db(saved) == [
        (studio.show.id, "ORANGE-5KG", 2, 59.9, 119.8, "builtin", code, viewer, "张三", "13800138000", "cod")
    ]
    assert (await studio.db(catalog.get_product, "ORANGE-5KG")).stock == 8
    assert studio.on_air.version > version  # the card on air re-renders with the new stock


async def test_json_order(running_studio):
    code = await shop(running_studio, oranges())
    async with client() as http:
        token = await order_token(http, running_studio.url, code)
        async with http.post(
            f"{running_studio.url}/order/{code}", json={**ORDER, "quantity": 3, "request_id": token},
            headers={"Accept": "application/json"},
        ) as response:
            assert response.status == 201
            body = await response.json()
    assert re.fullmatch(r"FL-[2-9A-Z]{4}-[2-9A-Z]{4}", body["number"]) and body["quantity"] == 3
    assert body["total"] == 179.7 and body["link_code"] == code and body["status"] == "cod"
    assert "id" not in body  # the row id would count the shop's orders


async def test_bad_input_is_400_with_field_errors_and_kept_values(running_studio):
    code = await shop(running_studio, oranges())
    bad = {"quantity": "0", "name": "", "phone": "call me", "address": "<b>Ganzhou</b> farm road"}
    async with client() as http:
        bad["request_id"] = await order_token(http, running_studio.url, code)
        async with http.post(f"{running_studio.url}/order/{code}", data=bad) as response:
            assert response.status == 400
            page = await response.text()
        async with http.post(f"{running_studio.url}/order/{code}", json=bad) as response:
            assert response.status == 400
            body = await response.json()
        async with http.post(
            f"{running_studio.url}/order/{code}", data=b"{not json", headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400 and "JSON" in (await response.json())["detail"]
        async with http.post(f"{running_studio.url}/order/{code}", json=["a list"]) as response:
            assert response.status == 400
    assert set(body["errors"]) == {"quantity", "name", "phone"}
    assert 'id="quantity-error"' in page and 'id="name-error"' in page and 'id="phone-error"' in page
    assert 'id="address-error"' not in page
    assert 'value="call me"' in page and "&lt;b&gt;Ganzhou&lt;/b&gt; farm road" in page  # kept, escaped
    assert "手机号码格式不正确" in page
    assert (await running_studio.studio.db(catalog.get_product, "ORANGE-5KG")).stock == 10


async def test_out_of_stock_is_409_with_stock_left(running_studio):
    code = await shop(running_studio, oranges(stock=3))
    async with client() as http:
        token = await order_token(http, running_studio.url, code)
        async with http.post(
            f"{running_studio.url}/order/{code}", data={**ORDER, "quantity": "5", "request_id": token}
        ) as response:
            assert response.status == 409
            page = await response.text()
        async with http.post(
            f"{running_studio.url}/order/{code}", json={**ORDER, "quantity": 5, "request_id": token}
        ) as response:
            assert response.status == 409
            body = await response.json()
    assert "Only 3 left" in page and "库存仅剩 3 件" in page and 'value="5"' in page
    assert (body["code"], body["available"], body["requested"]) == ("out_of_stock", 3, 5)

    def count(db):
        return db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]

    assert await running_studio.studio.db(count) == 0


async def test_sold_out_page_disables_the_button(running_studio):
    code = await shop(running_studio, oranges(stock=0))
    async with client() as http, http.get(f"{running_studio.url}/order/{code}") as response:
        page = await response.text()
    assert response.status == 200 and "已售罄" in page and "disabled" in page


async def test_product_off_sale_is_refused(running_studio):
    code = await shop(running_studio, oranges())
    async with client() as http:
        token = await order_token(http, running_studio.url, code)
        await running_studio.studio.db(catalog.upsert_product, oranges(active=False))
        async with http.get(f"{running_studio.url}/order/{code}") as response:
            assert response.status == 410 and "商品已下架" in await response.text()
        async with http.post(f"{running_studio.url}/order/{code}", json={**ORDER, "request_id": token}) as response:
            assert response.status == 410 and (await response.json())["code"] == "not_on_sale"


async def test_product_images_are_served_without_path_traversal(running_studio, data_dir):
    (data_dir / "images").mkdir()
    Image.new("RGB", (8, 8), (255, 128, 0)).save(data_dir / "images" / "ORANGE-5KG.png")
    (data_dir / "secret.png").write_bytes(b"not for viewers")
    async with client() as http:
        async with http.get(f"{running_studio.url}/images/ORANGE-5KG.png") as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert (await response.read()).startswith(b"\x89PNG")
        for path in ("/images/..%2Fsecret.png", "/images/%2E%2E%2Fsecret.png", "/images/../secret.png",
                     "/images/..%2Fstudio.key", "/images/missing.png", "/images/.hidden.png"):
            async with http.get(running_studio.url + path) as response:
                assert response.status == 404, path


async def test_resubmitted_form_gives_the_same_order_once(running_studio):
    """A second tap, or a reload after a lost answer, must not sell twice."""
    import re

    code = await shop(running_studio, oranges())
    async with client() as http:
        async with http.get(f"{running_studio.url}/order/{code}") as response:
            page = await response.text()
        async with http.get(f"{running_studio.url}/order/{code}") as response:
            other_page = await response.text()
        token = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
        assert token not in other_page  # every form gets its own id
        numbers = []
        for _ in range(2):
            async with http.post(f"{running_studio.url}/order/{code}", data={**ORDER, "request_id": token}) as response:
                assert response.status == 201
                numbers.append(re.search(r'id="order-number">([^<]+)<', await response.text()).group(1))
        api_token = await order_token(http, running_studio.url, code)
        async with http.post(
            f"{running_studio.url}/order/{code}", json=ORDER, headers={"Idempotency-Key": api_token}
        ) as response:
            api_number = (await response.json())["number"]
        async with http.post(
            f"{running_studio.url}/order/{code}", json=ORDER, headers={"Idempotency-Key": api_token}
        ) as response:
            assert response.status == 201 and (await response.json())["number"] == api_number
        async with http.post(f"{running_studio.url}/order/{code}", data={**ORDER, "request_id": "x"}) as response:
            assert response.status == 403
            assert "刷新" in await response.text()
    assert numbers[0] == numbers[1] and api_number != numbers[0]
    assert (await running_studio.studio.db(catalog.get_product, "ORANGE-5KG")).stock == 10 - 2 - 2
