"""One show state for every screen: the phase, sold-out sales, the pushed ``show`` message, the slates."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from catalog.products import upsert_product
from catalog.shows import create_show, link_for
from overlays import Promo, render_show_ended, render_slate, render_starting_soon
from overlays.card import render_card
from overlays.slate import SLATES
from studio.state import ShowPhase, Studio
from tests.conftest import RunningStudio, order_token, start_studio_process, stop_studio_process
from tests.test_browser_show import api, wait_until
from tests.test_room import receive
from tests.test_shop import ORDER, client, oranges

pytestmark = pytest.mark.timeout(120)


def test_a_phase_holds_together() -> None:
    with pytest.raises(ValueError, match="has one"):
        ShowPhase("live")  # a live phase names its show
    with pytest.raises(ValueError, match="replay"):
        ShowPhase("pending", replay_url="http://x/replay/1")
    assert not ShowPhase().live


async def state(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/watch/state") as response:
        assert response.status == 200
        return dict(await response.json())


async def test_phase_moves_pending_live_ended_and_the_card_only_shows_live(running_studio: RunningStudio) -> None:
    studio: Studio = running_studio.studio
    url = running_studio.url
    await studio.db(upsert_product, oranges())
    async with aiohttp.ClientSession() as http:
        # Before Start: pending, and no card even with a product staged on air (no buy link yet).
        await studio.put_on_air("ORANGE-5KG")
        before = await state(http, url)
        assert before["phase"] == "pending" and before["live"] is False and before["show"] is None
        assert before["on_air"] is None and before["replay_url"] is None

        show = await studio.start_show("早市 Morning market")
        live = await state(http, url)
        assert live["phase"] == "live" and live["show"]["id"] == show.id and live["version"] > before["version"]
        assert live["on_air"]["sku"] == "ORANGE-5KG" and live["on_air"]["sold_out"] is False
        assert live["on_air"]["buy_href"].startswith("/b/")

        ended = await studio.end_show()
        assert ended is not None and studio.show is None
        after = await state(http, url)
        assert after["phase"] == "ended" and after["show"]["id"] == show.id and after["show"]["ended_at"]
        assert after["on_air"] is None and after["replay_url"] is None

        # The replay of another show changes nothing; this show's replay is shown once it exists.
        studio.replay_ready(show.id + 1, f"{url}/replay/{show.id + 1}")
        assert studio.phase.replay_url is None
        studio.replay_ready(show.id, f"{url}/replay/{show.id}")
        assert (await state(http, url))["replay_url"] == f"{url}/replay/{show.id}"

        # The control room reads the same state.
        async with http.get(f"{url}/api/state", headers=running_studio.auth) as response:
            control = await response.json()
        assert control["show_state"]["phase"] == "ended" and control["show_state"]["replay_url"].endswith(
            f"/replay/{show.id}"
        )

        # The next Start makes it live again, with no replay link.
        again = await studio.start_show("Evening")
        next_state = await state(http, url)
        assert next_state["phase"] == "live" and next_state["show"]["id"] == again.id
        assert next_state["replay_url"] is None


async def place(http: aiohttp.ClientSession, url: str, code: str, quantity: int = 1) -> aiohttp.ClientResponse:
    token = await order_token(http, url, code)
    return await http.post(f"{url}/order/{code}", json={**ORDER, "quantity": quantity, "request_id": token})


async def test_sold_out_closes_the_sale_with_409_until_the_host_reopens_it(running_studio: RunningStudio) -> None:
    studio: Studio = running_studio.studio
    url = running_studio.url
    await studio.db(upsert_product, oranges(stock=40))
    await studio.db(upsert_product, oranges(sku="TEA-1", name="Tea", name_zh="茶", stock=5))
    show = await studio.start_show("Harvest")
    code = (await studio.db(link_for, show.id, "ORANGE-5KG")).code
    host = running_studio.auth
    async with client() as http:
        async with http.put(f"{url}/api/overlay", json={"sku": "ORANGE-5KG", "promo": {"kind": "sold_out"}},
                            headers=host) as response:
            assert response.status == 200 and (await response.json())["sold_out"] is True
        card = (await state(http, url))["on_air"]
        assert card["stock"] == 40 and card["sold_out"] is True  # stock left, but the sale is closed

        # JSON order API: 409 with a bilingual problem; the order page says sold out, its button disabled.
        async with http.get(f"{url}/order/{code}", headers={"Accept": "application/json"}) as response:
            assert response.status == 200 and (await response.json())["sold_out"] is True
        refused = await place(http, url, code)
        body = await refused.json()
        assert refused.status == 409 and refused.content_type == "application/problem+json"
        assert body["code"] == "sold_out" and "已售罄" in body["detail_zh"] and "Sold out" in body["detail"]
        async with http.get(f"{url}/order/{code}") as response:
            page = await response.text()
            assert "已售罄" in page and "disabled" in page
        token = await order_token(http, url, code)
        form = {**ORDER, "request_id": token}
        async with http.post(f"{url}/order/{code}", data=form, headers={"Origin": url}) as response:
            assert response.status == 409 and "已售罄" in await response.text()

        # Another product on air: the oranges stay closed for this show.
        async with http.put(f"{url}/api/overlay", json={"sku": "TEA-1"}, headers=host) as response:
            assert response.status == 200
        assert (await place(http, url, code)).status == 409

        # The host reopens it: the product back on air without the sold-out banner.
        async with http.put(f"{url}/api/overlay", json={"sku": "ORANGE-5KG"}, headers=host) as response:
            assert response.status == 200 and (await response.json())["sold_out"] is False
        placed = await place(http, url, code, quantity=2)
        assert placed.status == 201, await placed.text()
        assert (await state(http, url))["on_air"]["stock"] == 38

        # Stock reaching zero closes it too: the card says sold out, orders get 409 out_of_stock.
        await studio.db(upsert_product, oranges(stock=0))
        await studio.refresh_on_air()
        assert (await state(http, url))["on_air"]["sold_out"] is True
        refused = await http.post(f"{url}/order/{code}", json={**ORDER, "request_id": token})
        assert refused.status == 409 and (await refused.json())["code"] == "out_of_stock"
        await studio.db(upsert_product, oranges(stock=5))  # restocking reopens it
        await studio.refresh_on_air()
        assert (await state(http, url))["on_air"]["sold_out"] is False



async def test_a_closed_sale_survives_a_restart_and_follows_the_banner(running_studio: RunningStudio) -> None:
    studio: Studio = running_studio.studio
    await studio.db(upsert_product, oranges())
    await studio.db(upsert_product, oranges(sku="TEA-1", name="Tea", name_zh="茶"))
    show = await studio.start_show("Harvest")
    await studio.put_on_air("ORANGE-5KG", promo=Promo("sold_out"))
    await studio.put_on_air("TEA-1", promo=Promo("sold_out"))
    await studio.put_on_air("TEA-1")  # reopened
    # A restart keeps the closure: it is rebuilt from the on-air log.
    restarted = Studio(running_studio.config)
    await restarted.open()
    try:
        assert restarted.sale_closed(show.id, "ORANGE-5KG") and not restarted.sale_closed(show.id, "TEA-1")
    finally:
        await restarted.close()
    # A new show with the sold-out banner still on air: closed there too (the banner and the sale agree);
    # the product on air again without it opens the sale.
    await studio.put_on_air("ORANGE-5KG", promo=Promo("sold_out"))
    again = await studio.start_show("Next day")
    assert studio.sale_closed(again.id, "ORANGE-5KG") and studio.on_air.sold_out
    assert not studio.sale_closed(show.id, "ORANGE-5KG")  # only the live show's links are refused this way
    await studio.put_on_air("ORANGE-5KG")
    assert not studio.sale_closed(again.id, "ORANGE-5KG") and not studio.on_air.sold_out


async def test_a_restart_restores_the_newest_real_show_that_ended_never_a_simulated_one(
    running_studio: RunningStudio,
) -> None:
    studio: Studio = running_studio.studio
    fresh = Studio(running_studio.config)
    await fresh.open()
    assert fresh.phase == ShowPhase()  # no show ever: pending ("starting soon")
    await fresh.close()
    show = await studio.start_show("Harvest")
    ended = await studio.end_show()
    await studio.db(create_show, "demo", simulated=True)  # newer, simulated, and never ended here
    await studio.db(lambda db: db.execute("UPDATE shows SET ended_at = started_at WHERE simulated = 1"))
    restarted = Studio(running_studio.config)
    restarted.find_replays_with(lambda show_id: f"http://x/replay/{show_id}")
    await restarted.open()
    try:
        assert restarted.phase == ShowPhase("ended", ended, f"http://x/replay/{show.id}")
        assert restarted.show is None and restarted.state_version > 0
    finally:
        await restarted.close()


async def test_every_change_is_pushed_to_pages_within_a_second(running_studio: RunningStudio) -> None:
    studio: Studio = running_studio.studio
    url = running_studio.url
    await studio.db(upsert_product, oranges(stock=40))
    async with client() as http:
        page = await http.ws_connect(f"{url.replace('http', 'ws')}/room/ws")
        hello = await receive(page, "hello")
        assert hello["show"]["phase"] == "pending"

        async def pushed(change: Any, check: Any) -> dict[str, Any]:
            """Make the change, then the next ``show`` message, within 1 s; it must pass ``check``."""
            began = time.monotonic()
            await change()
            while True:
                message = await receive(page, "show", timeout=max(0.01, 1.0 - (time.monotonic() - began)))
                if check(message["state"]):
                    return dict(message["state"])

        live = await pushed(lambda: studio.start_show("Push"), lambda s: s["phase"] == "live")
        show_id = live["show"]["id"]
        code = (await studio.db(link_for, show_id, "ORANGE-5KG")).code

        async def on_air(promo: Any = None) -> None:
            async with http.put(f"{url}/api/overlay", json={"sku": "ORANGE-5KG", "promo": promo},
                                headers=running_studio.auth) as response:
                assert response.status == 200

        await pushed(on_air, lambda s: s["on_air"] and s["on_air"]["stock"] == 40)

        async def order() -> None:
            assert (await place(http, url, code, quantity=3)).status == 201

        await pushed(order, lambda s: s["on_air"]["stock"] == 37)

        async def restock() -> None:
            values = {"sku": "ORANGE-5KG", "name": "Gannan navel oranges", "price": 59.9, "stock": 100}
            async with http.put(f"{url}/api/products", json={"products": [{"values": values, "fields": ["stock"]}]},
                                headers=running_studio.auth) as response:
                assert response.status == 200, await response.text()

        await pushed(restock, lambda s: s["on_air"]["stock"] == 100)
        await pushed(lambda: on_air({"kind": "sold_out"}), lambda s: s["on_air"]["sold_out"])
        ended = await pushed(studio.end_show, lambda s: s["phase"] == "ended")
        assert ended["on_air"] is None
        await page.close()


def test_the_video_card_says_sold_out_when_the_sale_is_closed_with_stock_left() -> None:
    """The card agrees with the banner: closed with 40 left draws exactly the card of a product with none."""
    closed = np.asarray(render_card(oranges(stock=40), 1.0, 900, sold_out=True))
    assert np.array_equal(closed, np.asarray(render_card(oranges(stock=0), 1.0, 900)))
    assert not np.array_equal(closed, np.asarray(render_card(oranges(stock=40), 1.0, 900)))


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_slates_are_pure_bilingual_and_told_apart() -> None:
    soon = render_starting_soon(640, 360)
    ended = render_show_ended(640, 360)
    hold = render_slate(None, 640, 360)
    assert soon.shape == ended.shape == hold.shape == (360, 640, 3)
    assert np.array_equal(soon, render_starting_soon(640, 360))  # pure: same input, same pixels
    # Each kind has its own colour: told apart even in a small, compressed frame.
    assert min(_distance(soon, ended), _distance(soon, hold), _distance(ended, hold)) > 20
    for kind, (_, _, top, _) in SLATES.items():
        corner = render_slate(None, 640, 360, kind=kind)[2, 2][::-1]  # BGR -> RGB
        assert np.abs(corner.astype(int) - np.array(top)).max() <= 3
    # The replay line changes the end slate; text is drawn (not an empty background).
    assert not np.array_equal(ended, render_show_ended(640, 360, "http://127.0.0.1:8080/replay/3"))
    assert soon.std() > 5
    with pytest.raises(ValueError, match="kind"):
        render_slate(None, 640, 360, kind="party")  # type: ignore[arg-type]


async def test_the_pipeline_never_sends_the_camera_before_start_or_after_end(running_studio: RunningStudio) -> None:
    """Checked on the media thread's own composition: slate kinds follow the phase, live shows the camera."""
    from studio.media.pipeline import slate_for

    studio: Studio = running_studio.studio
    assert slate_for(studio.phase)[0] == "starting"
    show = await studio.start_show("Camera")
    assert slate_for(studio.phase) == ("hold", None)
    await studio.end_show()
    kind, note = slate_for(studio.phase)
    assert kind == "ended" and note is not None and "回放" in note
    studio.replay_ready(show.id, "http://127.0.0.1:1/replay/1")
    assert slate_for(studio.phase)[1] == "回放 Replay: 127.0.0.1:1/replay/1"


def test_a_new_slate_never_stalls_the_media_thread() -> None:
    """At Start/End the frame shows the last slate while the new one renders on the slate thread."""
    from studio.media.pipeline import SlateCache

    cache = SlateCache()
    try:
        hold = cache.frame("auto", 320, 180, "hold")  # the first slate at a size is waited for
        assert np.array_equal(hold, cache.frame("auto", 320, 180, "ended", "note"))  # not ready yet: the last one
        deadline = time.monotonic() + 10
        while np.array_equal(ended := cache.frame("auto", 320, 180, "ended", "note"), hold):
            assert time.monotonic() < deadline, "the end slate never came"
            time.sleep(0.01)
        assert _distance(ended, hold) > 5
    finally:
        cache.close()


def watch_state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/watch/state", timeout=10) as response:
        return dict(json.loads(response.read()))


def test_a_killed_and_restarted_studio_keeps_the_end_and_the_replay_or_the_live_show(data_dir: Path) -> None:
    """kill -9 after End show: the restarted studio says ended with the same replay, not "starting soon";
    kill -9 while live: the show resumes live, and the phase says so."""
    server = start_studio_process(data_dir)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        show = api(server, "POST", "/api/shows", {"title": "Harvest 丰收"})
        time.sleep(2.5)  # a few recorded fragments of the slate, so the show has a replay
        api(server, "POST", f"/api/shows/{show['id']}/end")
        before = wait_until(lambda: (s := watch_state(server.url))["replay_url"] and s, 60, "the replay")
        assert before["phase"] == "ended" and before["replay_url"].endswith(f"/replay/{show['id']}")
        server.process.kill()
        server.process.wait(timeout=10)

        server = start_studio_process(data_dir, port)  # the same address: the replay link stays valid
        after = watch_state(server.url)
        assert (after["phase"], after["live"], after["on_air"]) == ("ended", False, None)
        assert after["show"]["id"] == show["id"] and after["show"]["ended_at"] == before["show"]["ended_at"]
        assert after["replay_url"] == before["replay_url"]
        assert api(server, "GET", "/api/state")["show_state"]["replay_url"] == before["replay_url"]

        second = api(server, "POST", "/api/shows", {"title": "Evening 晚场"})
        server.process.kill()
        server.process.wait(timeout=10)
        server = start_studio_process(data_dir, port)
        resumed = watch_state(server.url)
        assert (resumed["phase"], resumed["live"], resumed["replay_url"]) == ("live", True, None)
        assert resumed["show"]["id"] == second["id"] and resumed["show"]["ended_at"] is None
    finally:
        stop_studio_process(server)
