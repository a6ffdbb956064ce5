"""Lucky draws: entrants from the show's own records, a winner anyone can recompute, a real room."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

import catalog
from analytics import comments, draws
from catalog.orders import place_order
from catalog.shows import create_show, link_for
from tests.conftest import RunningStudio
from tests.test_room import ORANGE, api, receive, seeded  # noqa: F401 (seeded is a fixture)


@given(seed=st.text(max_size=40), people=st.sets(st.text(min_size=1, max_size=12), min_size=1, max_size=30))
def test_the_winner_is_an_entrant_and_the_same_inputs_give_the_same_winner(seed: str, people: set[str]) -> None:
    entrants = tuple(sorted(people))
    winner = draws.pick_winner(seed, entrants)
    assert winner in entrants and draws.pick_winner(seed, entrants) == winner


def test_every_entrant_can_win() -> None:
    entrants = ("a", "b", "c", "d")
    winners = {draws.pick_winner(str(seed), entrants) for seed in range(200)}
    assert winners == set(entrants)
    with pytest.raises(ValueError, match="no entrants"):
        draws.pick_winner("seed", ())


def test_entrants_are_who_took_part_in_the_window(db: Any) -> None:
    catalog.upsert_product(db, ORANGE)
    show = create_show(db, "Draw")
    window = ("2026-11-30T08:00:00.000Z", "2026-11-30T08:01:00.000Z")
    draw = draws.open_draw(db, show.id, "一箱橙子", "comment", window[1], keyword="扣1 橙子", at=window[0])
    for viewer, text, at in (
        ("early", "扣1橙子", "2026-11-30T07:59:59.000Z"),  # before the draw opened
        ("v1", "扣1 橙子！", "2026-11-30T08:00:10.000Z"),
        ("v1", "扣1橙子", "2026-11-30T08:00:20.000Z"),  # twice is still one entry
        ("v2", "ＫＯＵ 扣1橙子 please", "2026-11-30T08:00:30.000Z"),
        ("v3", "橙子好吃", "2026-11-30T08:00:40.000Z"),  # no keyword
        ("hidden", "扣1橙子", "2026-11-30T08:00:41.000Z"),
        ("muted", "扣1橙子", "2026-11-30T08:00:42.000Z"),
        ("late", "扣1橙子", "2026-11-30T08:01:01.000Z"),  # after it closed
    ):
        comment = comments.record_comment(db, show.id, viewer, viewer, text, at=at)
        if viewer == "hidden":
            comments.hide_comment(db, comment.id)
    comments.mute_viewer(db, show.id, "muted")
    closed = draws.close_draw(db, draw.id, seed="fixed-seed")
    assert closed.entrants == ("v1", "v2") and closed.status == "drawn"
    assert closed.winner_viewer_id == draws.pick_winner("fixed-seed", ("v1", "v2"))  # anyone can recompute it
    assert closed.winner_name == closed.winner_viewer_id  # the nickname they commented with
    assert draws.close_draw(db, draw.id) == closed  # closing twice changes nothing

    by_order = draws.open_draw(db, show.id, "茶叶", "order", window[1], at=window[0])
    code = link_for(db, show.id, ORANGE.sku).code
    buyer = {"customer_name": "张三丰", "phone": "13800138000", "address": "江西省赣州市信丰县"}
    place_order(db, sku=ORANGE.sku, quantity=1, show_id=show.id, link_code=code, viewer_id="buyer-1", **buyer)
    db.execute("UPDATE orders SET at = '2026-11-30T08:00:30.000Z'")
    closed = draws.close_draw(db, by_order.id, seed="s")
    assert closed.entrants == ("buyer-1",) and closed.winner_name == "张**"  # a buyer's name, masked

    nobody = draws.open_draw(db, show.id, "月饼", "comment", window[1], keyword="月饼", at=window[0])
    assert draws.close_draw(db, nobody.id).status == "no_entrants"
    cancelled = draws.cancel_draw(db, draws.open_draw(db, show.id, "x", "order", window[1]).id)
    assert draws.close_draw(db, cancelled.id).status == "cancelled"


@pytest.mark.usefixtures("seeded")
async def test_a_draw_in_the_live_room_from_start_to_winner(running_studio: RunningStudio) -> None:
    studio = running_studio.studio
    await studio.start_show("Draw night 福袋")
    await studio.put_on_air(ORANGE.sku)
    ws = running_studio.url.replace("http", "ws") + "/room/ws"
    async with aiohttp.ClientSession(cookies={"fl_viewer": "viewer-lucky-1"}) as one, aiohttp.ClientSession(
        cookies={"fl_viewer": "viewer-lucky-2"}
    ) as two:
        a, b = await one.ws_connect(ws), await two.ws_connect(ws)
        await receive(a, "hello")
        for body, code in (
            ({"prize": "一箱橙子", "rule": "comment", "seconds": 30}, "keyword"),
            ({"prize": "一箱橙子", "rule": "comment", "keyword": "扣1", "seconds": 5}, "seconds"),
            ({"prize": "", "rule": "order", "seconds": 30}, "prize"),
            ({"prize": "x", "rule": "lottery", "seconds": 30}, "rule"),
        ):
            status, problem = await api(running_studio, "POST", "/api/draws", body)
            assert (status, problem["field"]) == (400, code)
        draw = {"prize": "一箱橙子", "rule": "comment", "keyword": "扣1", "seconds": 10}
        status, opened = await api(running_studio, "POST", "/api/draws", draw)
        assert status == 201
        for socket in (a, b):
            assert (await receive(socket, "draw"))["draw"]["status"] == "open"
        assert studio.on_air.headline is not None and "一箱橙子" in studio.on_air.headline.text
        assert studio.on_air.headline.ends_at == opened["ends_at"]  # the countdown runs on the video
        status, _ = await api(running_studio, "POST", "/api/draws", {"prize": "y", "rule": "order", "seconds": 30})
        assert status == 409
        await a.send_json({"type": "comment", "nickname": "阿丽", "text": "扣1"})
        await b.send_json({"type": "comment", "nickname": "Bob", "text": "扣1 扣1"})
        result = (await receive(a, "draw", timeout=20))["draw"]
        assert result["status"] == "drawn" and result["entrants"] == 2 and result["winner"] in {"阿丽", "Bob"}
        assert "entrant_ids" not in result  # viewers never see who else entered
        assert studio.on_air.headline is not None and result["winner"] in studio.on_air.headline.text
        status, listing = await api(running_studio, "GET", "/api/draws")
        audit = listing["draws"][0]
        assert audit["entrant_ids"] == ["viewer-lucky-1", "viewer-lucky-2"]
        assert audit["winner_viewer_id"] == draws.pick_winner(audit["seed"], tuple(audit["entrant_ids"]))
        # A draw nobody enters says so; then the headline goes when the show ends.
        await api(running_studio, "POST", "/api/draws", {"prize": "茶叶", "rule": "order", "seconds": 10})
        assert (await receive(a, "draw"))["draw"]["status"] == "open"
        assert (await receive(a, "draw", timeout=20))["draw"]["status"] == "no_entrants"
        await studio.end_show()
        assert studio.on_air.headline is None
        for socket in (a, b):
            await socket.close()
    await asyncio.sleep(0)
