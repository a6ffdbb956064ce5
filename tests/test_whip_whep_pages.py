"""The /publish and /watch pages, their assets, and the public /watch/state JSON."""

from __future__ import annotations

import aiohttp
import yarl

import catalog
from tests.conftest import RunningStudio


async def test_pages_are_bilingual_and_load_only_local_assets(running_studio: RunningStudio) -> None:
    async with aiohttp.ClientSession() as http:
        pages = (
            ("/publish", ("Start camera", "开始推流", "Studio key", "直播间密钥")),
            ("/watch", ("Buy now", "立即购买", "人在看")),
        )
        for path, words in pages:
            async with http.get(running_studio.url + path) as response:
                assert response.status == 200
                html = await response.text()
            for word in words:
                assert word in html
            assert "http://" not in html and "https://" not in html  # no CDN: everything from the studio
        for asset in ("webrtc.js", "publish.js", "watch.js", "style.css", "icon.svg"):
            async with http.get(f"{running_studio.url}/live/{asset}") as response:
                assert response.status == 200, asset
        for hidden in ("__init__.py", "publish.html", "..%2F..%2Fstate.py"):
            async with http.get(f"{running_studio.url}/live/{hidden}") as response:
                assert response.status == 404, hidden


async def test_watch_page_gives_a_viewer_cookie_once(running_studio: RunningStudio) -> None:
    # unsafe=True: aiohttp's jar otherwise ignores cookies from an IP-address host.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{running_studio.url}/watch") as response:
            first = response.cookies["fl_viewer"].value
        async with http.get(f"{running_studio.url}/watch") as response:
            assert "fl_viewer" not in response.cookies  # kept, not replaced
        assert http.cookie_jar.filter_cookies(yarl.URL(running_studio.url))["fl_viewer"].value == first


async def test_watch_state_follows_the_show_and_the_product(running_studio: RunningStudio) -> None:
    studio = running_studio.studio
    from catalog import Product, upsert_product

    def add(db) -> None:  # type: ignore[no-untyped-def]
        upsert_product(db, Product(sku="PEAR-1", name="Snow pears", name_zh="雪梨", price=39.5,
                                   unit="3 kg box", stock=12, origin="Laiyang, Shandong"))

    await studio.db(add)
    async with aiohttp.ClientSession() as http:
        async def state() -> dict:
            async with http.get(f"{running_studio.url}/watch/state") as response:
                assert response.status == 200
                return await response.json()

        quiet = await state()
        assert catalog.parse_iso(quiet.pop("now")) <= catalog.utc_now()  # the studio's clock, for page countdowns
        assert quiet == {
            "phase": "pending", "live": False, "show": None, "replay_url": None, "version": 0,
            "publishing": False, "viewers_now": 0, "on_air": None,
        }
        show = await studio.start_show("pear day")
        on_air = await studio.put_on_air("PEAR-1")
        body = await state()
        assert body["live"] and body["show"]["id"] == show.id
        card = body["on_air"]
        assert (card["sku"], card["name_zh"], card["price"], card["stock"]) == ("PEAR-1", "雪梨", 39.5, 12)
        assert card["link_url"] == on_air.link_url
        assert card["buy_href"] == f"/b/{on_air.link_code}?via=click"
        assert "key" not in str(body).lower()  # public: nothing secret in it

        # An order changes the stock: the refreshed card shows it.
        await studio.db(lambda db: db.execute("UPDATE products SET stock = 11 WHERE sku = 'PEAR-1'"))
        await studio.refresh_on_air()
        assert (await state())["on_air"]["stock"] == 11
        await studio.put_on_air(None)
        assert (await state())["on_air"] is None


async def test_media_config_offers_no_ice_servers_on_loopback(running_studio: RunningStudio) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{running_studio.url}/media/config") as response:
        assert await response.json() == {"ice_servers": []}
