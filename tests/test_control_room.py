"""Each control-room page under Streamlit's AppTest, against a real studio process.

The pages call the control API over HTTP on 127.0.0.1 (``studio_process`` is
``farmlive up --no-ui`` in a subprocess) and read the same SQLite file.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import string
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis.strategies import text as st_text
from streamlit.testing.v1 import AppTest

import catalog
from analytics import events
from catalog.shows import create_show, end_show, link_for
from studio.control_room.i18n import TEXTS, translate
from studio.control_room.later import SETTLED
from studio.control_room.reports import report_bytes
from tests.conftest import TEST_KEY, free_port

ROOM = Path(__file__).resolve().parents[1] / "studio" / "control_room"
ORANGE = catalog.Product(
    sku="ORANGE-5KG", name="Navel oranges", name_zh="赣南脐橙", price=59.0, stock=40, unit="5 kg box"
)
TEA = catalog.Product(sku="TEA-250G", name="Spring green tea", name_zh="明前绿茶", price=128.0, stock=10)


def api(server, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method, headers=server.auth)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def room_env(monkeypatch, studio_process, data_dir):
    monkeypatch.setenv("FARMLIVE_URL", studio_process.url)
    monkeypatch.setenv("FARMLIVE_KEY", TEST_KEY)
    monkeypatch.setenv("FARMLIVE_DATA_DIR", str(data_dir))
    return studio_process


@pytest.fixture
def farm(db, room_env):
    """Two known products next to the demo catalog the studio seeded on start."""
    for product in (ORANGE, TEA):
        catalog.upsert_product(db, product)
    return db


def page(name: str, *, settled: bool = True) -> AppTest:
    """Run a page as a browser session would after its first screen (``settled``: the browser has
    said it is idle, so the Go live page draws its lower half too; AppTest has no browser to say it)."""
    at = AppTest.from_file(str(ROOM / "views" / f"{name}_page.py"), default_timeout=60)
    if settled:
        at.session_state[SETTLED] = True
    return at.run()


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [h.proto.body for h in at.get("html")]
    parts += [e.value for e in at.error] + [c.value for c in at.caption]
    parts += [t.value for t in at.title] + [s.value for s in at.subheader] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


# -- i18n -------------------------------------------------------------------------------
def test_every_text_has_both_languages_with_the_same_placeholders():
    fields = string.Formatter()
    for key, (en, zh) in TEXTS.items():
        assert en.strip() and zh.strip(), key
        assert {f for _, f, _, _ in fields.parse(en) if f} == {f for _, f, _, _ in fields.parse(zh) if f}, key
    assert translate("stock", "zh", stock=3) == "库存 3" and translate("stock", "en", stock=3) == "stock 3"


# -- Go live ------------------------------------------------------------------------------
def test_go_live_one_tap_puts_a_product_on_air(farm, room_env):
    at = no_exception(page("go_live"))
    assert at.button(key="air:ORANGE-5KG").label == "上屏"
    assert "开播前观众看到“即将开播”" in texts(at)  # the show state viewers follow
    at.text_input(key="show_title").set_value("橙子丰收 Orange harvest")
    at.button(key="start_show").click().run()
    no_exception(at)
    state = api(room_env, "GET", "/api/state")
    assert state["show"]["title"] == "橙子丰收 Orange harvest"
    assert "直播中" in texts(at)

    at.button(key="air:ORANGE-5KG").click().run()
    no_exception(at)
    state = api(room_env, "GET", "/api/state")
    assert state["on_air"]["sku"] == "ORANGE-5KG" and state["on_air"]["link_code"]
    rows = farm.execute("SELECT sku, promo FROM overlay_events WHERE show_id = ?", [state["show"]["id"]]).fetchall()
    assert rows == [("ORANGE-5KG", None)]
    assert at.button(key="air:ORANGE-5KG").disabled  # already on air
    assert any("赣南脐橙" in t.value for t in at.toast)
    assert "已上屏" in texts(at)


def test_go_live_stage_then_take_with_a_promo(farm, room_env):
    api(room_env, "POST", "/api/shows", {"title": "Tea morning"})
    at = no_exception(page("go_live"))
    at.button(key="stage:TEA-250G").click().run()
    assert at.selectbox[0].label == "商品" and at.selectbox[0].value == "TEA-250G"
    assert at.image  # the staged preview (and the phone QR) are drawn
    at.radio(key="stage_promo").set_value("coupon").run()
    # No code yet: refused with a visible error, nothing goes on air.
    at.button(key="take").click().run()
    assert any("优惠码" in e.value for e in at.error)
    assert api(room_env, "GET", "/api/state")["on_air"]["sku"] is None

    at.text_input(key="stage_coupon").set_value("TEA10").run()
    at.button(key="take").click().run()
    no_exception(at)
    on_air = api(room_env, "GET", "/api/state")["on_air"]
    assert on_air["sku"] == "TEA-250G" and on_air["promo"] == {"kind": "coupon", "code": "TEA10"}
    promo = farm.execute("SELECT promo FROM overlay_events ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert json.loads(promo) == {"kind": "coupon", "code": "TEA10"}
    # Take reran only the on-air bar and the cards (AppTest then holds just those): the bar shows it.
    assert "已上屏" in texts(at) and at.button(key="air:TEA-250G").disabled
    with pytest.raises(KeyError):
        at.button(key="take")  # the staging panel was not rerun by the tap
    at.run()

    at.number_input(key="stage_discount").set_value(15).run()
    at.button(key="take").click().run()
    on_air = api(room_env, "GET", "/api/state")["on_air"]
    assert on_air["promo"] == {"kind": "coupon", "code": "TEA10", "discount_percent": 15}
    at.run()  # the tap reran only the on-air fragments: a page run brings the staging panel back

    at.radio(key="stage_promo").set_value("countdown").run()
    at.number_input(key="stage_minutes").set_value(5).run()
    at.number_input(key="stage_flash_price").set_value(49.9).run()
    at.number_input(key="stage_limit").set_value(2).run()
    at.segmented_control(key="stage_layout").set_value("portrait").run()
    at.button(key="take").click().run()
    on_air = api(room_env, "GET", "/api/state")["on_air"]
    assert on_air["layout"] == "portrait" and on_air["promo"]["kind"] == "countdown"
    assert (on_air["promo"]["flash_price"], on_air["promo"]["limit_per_buyer"]) == (49.9, 2)
    left = catalog.parse_iso(on_air["promo"]["ends_at"]) - catalog.utc_now()
    assert 4 * 60 < left.total_seconds() <= 5 * 60
    assert "限时秒杀 Flash sale ¥49.90 0" in texts(at)  # the on-air bar shows the flash price and the countdown

    at.button(key="clear").click().run()
    assert api(room_env, "GET", "/api/state")["on_air"]["sku"] is None


def test_go_live_live_figures_and_end_show(farm, room_env):
    show = api(room_env, "POST", "/api/shows", {"title": "Harvest"})
    code = link_for(farm, show["id"], "ORANGE-5KG").code
    events.record_viewer_join(farm, show["id"], "v1")
    farm.execute(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, link_code) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [show["id"], "ORANGE-5KG", 3, 59.0, 177.0, catalog.now_iso(), code],
    )
    api(room_env, "POST", f"/hls/{show['id']}/seen", {})  # an HLS player's heartbeat: watching now
    at = no_exception(page("go_live"))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["订单"] == "1" and metrics["销售额"] == "¥177.00"
    assert metrics["在线观众"] == "1" and "WebRTC 0 · HLS 1" in texts(at)
    feed = at.dataframe[0].value
    assert list(feed["数量"]) == [3] and "赣南脐橙" in feed["商品"].iloc[0]
    assert "手机未推流" in texts(at)

    at.button(key="end_show").click().run()
    no_exception(at)
    assert api(room_env, "GET", "/api/state")["show"] is None
    assert f"第 {show['id']} 场直播已结束" in texts(at)  # what viewers and the phone see now
    assert farm.execute("SELECT ended_at FROM shows WHERE id = ?", [show["id"]]).fetchone()[0]
    assert at.button(key="start_show")


def test_go_live_first_run_draws_the_controls_and_leaves_the_lower_half_for_later(farm, room_env):
    """A session's first run: the on-air bar, cards and staging, then only a placeholder where the
    figures, comments, pairing and simulcast go; the browser's idle trigger (or the button) draws them."""
    api(room_env, "POST", "/api/shows", {"title": "Harvest"})
    at = no_exception(page("go_live", settled=False))
    assert at.button(key="air:ORANGE-5KG") and at.button(key="take")
    assert not at.metric and "手机摄像头" not in texts(at)  # no figures, no pairing QR yet
    assert "马上显示" in texts(at)
    assert farm.execute("SELECT COUNT(*) FROM pairing_codes").fetchone()[0] == 0  # no code minted unseen
    at.button(key="fl-later-now").click().run()  # what the idle trigger's callback does
    no_exception(at)
    assert {m.label for m in at.metric} >= {"在线观众", "订单", "销售额"}
    assert "手机摄像头" in texts(at) and "马上显示" not in texts(at)
    assert farm.execute("SELECT COUNT(*) FROM pairing_codes").fetchone()[0] == 1
    at.run()  # later whole-page runs (Start / End show) draw everything at once
    assert {m.label for m in at.metric} >= {"在线观众", "订单"} and "马上显示" not in texts(at)


def test_go_live_warns_of_an_order_burst_and_cancels_an_order(farm, room_env):
    """20 orders within a minute: the host is warned, cancels one, and its stock comes back."""
    from catalog.orders import place_order

    show = api(room_env, "POST", "/api/shows", {"title": "Flash sale"})
    code = link_for(farm, show["id"], "ORANGE-5KG").code
    for n in range(20):
        place_order(farm, sku="ORANGE-5KG", quantity=1, customer_name=f"Buyer {n}", phone=f"1380013{n:04d}",
                    address="Farm road 1", show_id=show["id"], link_code=code)
    at = no_exception(page("go_live"))
    assert "订单激增" in at.warning[0].value and "20" in at.warning[0].value
    newest = api(room_env, "GET", "/api/state")["recent_orders"][0]
    assert at.selectbox(key="cancel_order_id").value == newest["id"]
    at.button(key="cancel_order").click().run()
    no_exception(at)
    assert farm.execute("SELECT status FROM orders WHERE id = ?", [newest["id"]]).fetchone()[0] == "cancelled"
    assert catalog.get_product(farm, "ORANGE-5KG").stock == ORANGE.stock - 19


def test_go_live_in_english(farm, room_env):
    at = page("go_live")
    at.radio(key="lang").set_value("en").run()
    no_exception(at)
    assert at.title[0].value == "Go live"
    assert at.button(key="air:ORANGE-5KG").label == "On air"
    assert at.button(key="start_show").label == "Start show"


def test_go_live_says_so_when_the_studio_is_down(farm, monkeypatch):
    monkeypatch.setenv("FARMLIVE_URL", f"http://127.0.0.1:{free_port()}")
    at = page("go_live")
    assert not at.exception
    assert any("没有响应" in e.value and "farmlive up" in e.value for e in at.error)


def test_wrong_key_is_reported_not_crashed(farm, monkeypatch):
    monkeypatch.setenv("FARMLIVE_KEY", "not-the-key")
    at = page("go_live")
    assert not at.exception
    assert any("密钥" in e.value for e in at.error)


# -- Catalog -----------------------------------------------------------------------------
def edit(at: AppTest, **state: Any) -> AppTest:
    at.session_state["catalog_editor_0"] = {"edited_rows": {}, "added_rows": [], "deleted_rows": [], **state}
    return at


def catalog_rows(db) -> list[tuple]:
    return db.execute("SELECT sku, name, price, stock, active FROM products ORDER BY sku").fetchall()


def position(at: AppTest, sku: str) -> int:
    return list(at.dataframe[0].value["sku"]).index(sku)


def test_catalog_saves_a_good_edit(farm, room_env):
    at = no_exception(page("catalog"))
    assert "ORANGE-5KG" in list(at.dataframe[0].value["sku"])
    row = position(at, "ORANGE-5KG")
    farm.execute("UPDATE products SET stock = 33 WHERE sku = 'ORANGE-5KG'")  # orders meanwhile
    new = {"sku": "HONEY-500G", "name": "Wild honey", "name_zh": "土蜂蜜", "price": 88.0, "stock": 12, "active": True}
    edit(at, edited_rows={str(row): {"price": 55.5, "name_zh": "赣南脐橙（特级）"}}, added_rows=[new])
    at.button(key="save").click().run()
    no_exception(at)
    assert any("新增 1，更新 1" in s.value for s in at.success)
    orange = farm.execute("SELECT price, name_zh, stock FROM products WHERE sku = 'ORANGE-5KG'").fetchone()
    assert orange == (55.5, "赣南脐橙（特级）", 33)  # stock untouched by a price edit
    assert farm.execute("SELECT name FROM products WHERE sku = 'HONEY-500G'").fetchone() == ("Wild honey",)
    assert "HONEY-500G" in list(at.dataframe[0].value["sku"])  # the table reloads from SQLite


def test_catalog_rejects_a_bad_row_and_saves_nothing(farm, room_env):
    at = no_exception(page("catalog"))
    before = catalog_rows(farm)
    row = position(at, "TEA-250G")
    bad = {"sku": "EGG 30", "name": "", "price": 12.0}
    edit(at, edited_rows={str(row): {"price": 99.0}}, added_rows=[bad])
    at.button(key="save").click().run()
    no_exception(at)
    assert any("未保存" in e.value for e in at.error)
    problems = at.dataframe[0].value
    added_row = len(before) + 1
    assert set(problems["行"]) == {added_row}
    assert {"商品编号", "英文名"} <= set(problems["列"])
    assert catalog_rows(farm) == before  # the good TEA edit was not saved either


def test_catalog_refuses_a_renamed_sku(farm, room_env):
    at = no_exception(page("catalog"))
    before = catalog_rows(farm)
    edit(at, edited_rows={str(position(at, "TEA-250G")): {"sku": "TEA-500G"}})
    at.button(key="save").click().run()
    assert any("未保存" in e.value for e in at.error)
    assert "商品编号不能修改" in at.dataframe[0].value["问题"].iloc[0]
    assert catalog_rows(farm) == before


def test_catalog_csv_import_is_checked_then_saved(farm, room_env):
    at = no_exception(page("catalog"))
    before = catalog_rows(farm)
    uploader = at.get("file_uploader")[0]
    bad = "商品编号,名称,价格,库存\nHONEY-500G,Wild honey,88,12\nEGG-30,Free-range eggs,cheap,5\n"
    uploader.set_value(("bad.csv", bad.encode(), "text/csv"))
    at.button(key="import").click().run()
    no_exception(at)
    assert any("未保存" in e.value for e in at.error)
    problems = at.dataframe[0].value
    assert list(problems["行"]) == [3] and "价格必须是数字" in problems["问题"].iloc[0]
    assert catalog_rows(farm) == before

    good = "sku,name,price\nTEA-250G,Spring green tea,118\n"  # a price list: stock and the rest stay
    at.get("file_uploader")[0].set_value(("prices.csv", good.encode(), "text/csv"))
    at.button(key="import").click().run()
    no_exception(at)
    assert any("更新 1" in s.value for s in at.success)
    saved = farm.execute("SELECT price, stock, name_zh FROM products WHERE sku = 'TEA-250G'").fetchone()
    assert saved == (118.0, 10, "明前绿茶")


def test_catalog_with_no_changes_says_so(farm, room_env):
    at = no_exception(page("catalog"))
    at.button(key="save").click().run()
    assert any("没有需要保存的修改" in i.value for i in at.info)


# -- Analytics --------------------------------------------------------------------------
def hand_made_show(db) -> int:
    """Three viewers, one product on air, one scan, one order: every figure computable by hand.

    v1 10:00:00-10:05:00 (300 s), v2 10:01:00-10:02:00 (60 s), v3 10:03:00-10:03:20 (20 s):
    unique 3, peak 2 at 10:01 (v1 + v2), average 126.7 s, median 60 s.
    v2 scans and buys 2 x 59 = 118: GMV 118, GPM 118 / 3 * 1000 = 39,333.33.
    """
    show = create_show(db, "Hand-made harvest", started_at="2026-05-01T10:00:00.000Z")
    code = link_for(db, show.id, "ORANGE-5KG").code
    visits = (("v1", "10:00:00", "10:05:00"), ("v2", "10:01:00", "10:02:00"), ("v3", "10:03:00", "10:03:20"))
    for viewer, joined, left in visits:
        session = events.record_viewer_join(db, show.id, viewer, at=f"2026-05-01T{joined}.000Z")
        events.record_viewer_leave(db, session, at=f"2026-05-01T{left}.000Z")
    events.record_overlay(db, show.id, "ORANGE-5KG", at="2026-05-01T10:00:30.000Z")
    events.record_overlay(db, show.id, None, at="2026-05-01T10:04:00.000Z")
    events.record_link_event(db, show.id, code, "ORANGE-5KG", "scan", "v2", at="2026-05-01T10:01:30.000Z")
    db.execute(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, link_code, buyer_id) "
        "VALUES (?, 'ORANGE-5KG', 2, 59.0, 118.0, '2026-05-01T10:02:00.000Z', ?, 'v2')",
        [show.id, code],
    )
    end_show(db, show.id, ended_at="2026-05-01T10:10:00.000Z")
    return show.id


def test_analytics_shows_the_right_numbers(farm, room_env):
    show_id = hand_made_show(farm)
    at = page("analytics")
    no_exception(at)
    assert at.selectbox(key="show_id").value == show_id
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["观众人数"] == "3"
    assert metrics["最高同时在线"] == "2"
    assert metrics["平均观看"] == "2:07"
    assert metrics["观看中位数"] == "1:00"
    assert metrics["成交额"] == "¥118.00"
    assert metrics["订单"] == "1"
    assert metrics["买家"] == "1"
    assert metrics["千次观看成交额"] == "¥39,333.33"
    products = at.dataframe[0].value.set_index("product")
    orange = products.loc["赣南脐橙 · Navel oranges"]
    assert orange["on_air_min"] == pytest.approx(3.5)  # 10:00:30 -> 10:04:00
    assert orange["viewers_present"] == 3 and orange["scans"] == 1 and orange["orders"] == 1
    assert orange["revenue"] == pytest.approx(118.0)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3  # timeline, funnel, retention
    timeline = charts[0].proto
    assert '"layer"' in timeline.spec and '"rect"' in timeline.spec
    assert any("赣南脐橙".encode() in d.data.data for d in timeline.datasets)  # the product band is named
    assert [b.label for b in at.get("download_button")] == ["HTML 报告", "CSV（商品表）", "Excel 工作簿"]


def test_analytics_timeline_shades_the_automatic_hold(farm, room_env):
    """hold/resume stream events (the automatic hold slate) are grey "on hold · 保持画面" spans on the timeline."""
    show_id = hand_made_show(farm)  # 10:00 -> 10:10
    for at_, kind in (("10:02:00", "hold"), ("10:02:45", "resume"), ("10:08:00", "hold")):  # the last never resumed
        events.record_stream_event(farm, show_id, kind, detail="uplink unusable", at=f"2026-05-01T{at_}.000Z")
    at = page("analytics")
    no_exception(at)
    timeline = at.get("vega_lite_chart")[0].proto
    spec = json.loads(timeline.spec)
    audience = json.dumps(spec["vconcat"][0])
    assert '"color": "#495057"' in audience.replace('":"', '": "')  # the shaded spans, in the audience chart
    data = b"".join(d.data.data for d in timeline.datasets).decode("utf-8", "replace")
    assert "on hold · 保持画面" in data
    assert data.count("on hold · 保持画面") >= 2  # both spans, the unmatched one to the show's end


def test_analytics_splits_live_and_replay_and_offers_clips(farm, room_env):
    show_id = hand_made_show(farm)  # ended 10:10; the oranges were on air from 10:00:30
    session = events.record_viewer_join(farm, show_id, "replayer", "replay", at="2026-05-02T09:00:00.000Z")
    events.record_replay_position(farm, show_id, session, 45.0, at="2026-05-02T09:00:05.000Z")
    at = page("analytics")
    no_exception(at)
    channels = at.dataframe[1].value.set_index("channel")
    assert channels.loc["直播", "viewers"] == 3 and channels.loc["回放", "viewers"] == 1
    assert channels.loc["直播", "orders"] == 1 and channels.loc["回放", "orders"] == 0
    replayed = at.dataframe[2].value
    assert replayed["product"].tolist() == ["赣南脐橙 · Navel oranges"] and replayed["replay_viewers"].tolist() == [1]
    assert any(f"/replay/{show_id}" in c.value for c in at.caption)
    at.button(key=f"clips{show_id}").click().run()
    no_exception(at)
    assert any(
        "无法生成短视频" in w.value and "直播没有录像" in w.value for w in at.warning
    )  # this hand-made show has no recording


def test_analytics_labels_a_simulated_show_and_shows_the_live_room(farm, room_env, monkeypatch):
    """Issue #12 and #11: a simulated show is labelled and warned about; orders by channel, the funnel per
    channel and coupons are tables; every product is in the timeline legend, the uplink a chart of its own;
    times on the one display clock (FARMLIVE_TIMEZONE)."""
    from analytics.simulate import simulate_show

    real = hand_made_show(farm)
    sim = simulate_show(farm, viewers=300, minutes=30, seed=4)
    monkeypatch.setenv("FARMLIVE_TIMEZONE", "UTC")
    at = page("analytics")
    no_exception(at)
    box = at.selectbox(key="show_id")
    assert box.value == sim
    labels = set(box.options)
    assert any(f"#{sim} " in o and "模拟 · simulated" in o for o in labels)
    assert any(f"#{real} " in o and "模拟" not in o and "(2026-05-01 10:00)" in o for o in labels)  # UTC clock
    assert any("模拟直播" in w.value for w in at.warning)
    assert any("时区 UTC" in c.value for c in at.caption)
    frames = [d.value for d in at.dataframe]
    by_channel = next(f for f in frames if "share_of_revenue" in f.columns).set_index("channel")
    assert {"扫码", "购买按钮", "小黄车"} <= set(by_channel.index) and by_channel["orders"].sum() > 0
    funnel = next(f for f in frames if "people" in f.columns).set_index("channel")
    assert list(funnel.index) == ["扫码", "购买按钮", "小黄车", "福袋"] and funnel.loc["福袋", "people"] > 0
    coupons = next(f for f in frames if "discount" in f.columns)
    assert "FARM10" in set(coupons["coupon"]) and coupons["discount"].sum() > 0
    products = frames[0]
    assert list(products.columns[:2]) == ["product", "revenue"]
    assert products["revenue"].is_monotonic_decreasing and products["wants"].sum() > 0
    timeline = at.get("vega_lite_chart")[0].proto
    spec = json.loads(timeline.spec)
    assert "vconcat" in spec and len(spec["vconcat"]) == 2  # the uplink under the audience chart
    assert '"symbolLimit": 0' in timeline.spec.replace('":0', '": 0')  # no product cut from the legend
    on_air = {p.name_zh for p in catalog.list_products(farm) if p.sku in {
        r[0] for r in farm.execute("SELECT sku FROM overlay_events WHERE show_id = ? AND sku IS NOT NULL", [sim])
    }}
    data = b"".join(d.data.data for d in timeline.datasets).decode("utf-8", "replace")
    assert all(name in data for name in on_air)
    at.selectbox(key="show_id").set_value(real).run()
    no_exception(at)
    assert not any("模拟直播" in w.value for w in at.warning)


def test_report_downloads_are_real_reports(db, data_dir):
    catalog.upsert_product(db, ORANGE)
    show_id = hand_made_show(db)
    db_file = catalog.db_path(data_dir)
    page_html = report_bytes(db_file, show_id, ".html", "Asia/Shanghai").decode("utf-8")
    assert "Hand-made harvest" in page_html and "ORANGE-5KG" in page_html
    assert report_bytes(db_file, show_id, ".xlsx", "Asia/Shanghai")[:2] == b"PK"  # a zip: an Excel workbook
    assert "ORANGE-5KG" in report_bytes(db_file, show_id, ".csv", "Asia/Shanghai").decode("utf-8-sig")
    with pytest.raises(ValueError, match="report format must be one of"):
        report_bytes(db_file, show_id, ".pdf", "Asia/Shanghai")


def test_analytics_of_a_live_show_counts_so_far(farm, room_env):
    hand_made_show(farm)
    show = api(room_env, "POST", "/api/shows", {"title": "Evening tea"})
    events.record_viewer_join(farm, show["id"], "late-viewer")
    at = page("analytics")
    no_exception(at)
    assert at.selectbox(key="show_id").value == show["id"]  # the newest show first
    assert any("直播中" in c.value for c in at.caption)
    assert {m.label: m.value for m in at.metric}["观众人数"] == "1"


def test_analytics_without_shows_explains_how_to_get_one(db, room_env):
    at = page("analytics")
    no_exception(at)
    assert any("farmlive simulate" in i.value for i in at.info)


# -- the multipage app -----------------------------------------------------------------
def test_app_opens_on_go_live(farm, room_env):
    at = AppTest.from_file(str(ROOM / "app.py"), default_timeout=60).run()
    no_exception(at)
    assert at.title[0].value == "开播"
    assert at.button(key="air:TEA-250G")


def test_app_imports_the_installed_package_without_touching_sys_path():
    """`streamlit run` finds `studio` as the installed package (pip install -e .), not by a path patch."""
    tree = ast.parse((ROOM / "app.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "sys" not in imported
    found = importlib.util.find_spec("studio")
    assert found is not None and found.origin is not None
    assert Path(found.origin).resolve() == (ROOM.parent / "__init__.py").resolve()


# -- the client on its own ----------------------------------------------------------
def test_client_reaches_a_lan_studio_over_https_on_loopback(data_dir):
    """`farmlive up --lan` serves HTTPS with a self-signed certificate; the control room on
    the same machine talks to it on 127.0.0.1 (the certificate names the LAN address)."""
    from studio.config import StudioConfig
    from studio.control_room.client import ControlClient, ControlError
    from studio.control_room.launch import control_room_env
    from tests.conftest import start_studio_process, stop_studio_process

    port = free_port()
    server = start_studio_process(data_dir, port, "--lan")
    try:
        env = control_room_env(StudioConfig(data_dir=data_dir, key=TEST_KEY, host="0.0.0.0", port=port, lan=True))
        assert env["FARMLIVE_URL"] == f"https://127.0.0.1:{port}"
        client = ControlClient(env["FARMLIVE_URL"], env["FARMLIVE_KEY"])
        assert client.start_show("LAN show")["live"] is True
        assert client.state()["publish_url"].startswith("https://")
        with pytest.raises(ControlError) as refused:
            ControlClient(env["FARMLIVE_URL"], "wrong").state()
        assert refused.value.status == 401 and "密钥" in refused.value.message("zh")
    finally:
        stop_studio_process(server)


def test_language_is_remembered_in_the_address(farm, room_env):
    at = AppTest.from_file(str(ROOM / "views" / "catalog_page.py"), default_timeout=60)
    at.query_params["lang"] = "en"
    at.run()
    no_exception(at)
    assert at.title[0].value == "Catalog" and at.button(key="save").label == "Save changes"
    at.radio(key="lang").set_value("zh").run()
    assert at.title[0].value == "商品" and at.query_params["lang"] == "zh"


def test_a_lan_control_room_asks_for_the_studio_key(farm, room_env, monkeypatch):
    monkeypatch.setenv("FARMLIVE_UI_LOCK", "1")
    at = page("go_live")
    no_exception(at)
    assert not at.button  # nothing to press before the key
    at.text_input(key="_studio_key").set_value("guess").run()
    assert any("密钥不正确" in e.value for e in at.error) and not at.button
    at.text_input(key="_studio_key").set_value(TEST_KEY).run()
    no_exception(at)
    assert at.button(key="air:ORANGE-5KG")
    at.button(key="air:ORANGE-5KG").click().run()  # stays unlocked for this session
    assert api(room_env, "GET", "/api/state")["on_air"]["sku"] == "ORANGE-5KG"


def test_launch_locks_the_control_room_only_on_the_lan(data_dir):
    from studio.config import StudioConfig
    from studio.control_room.launch import control_room_command, control_room_env

    local = StudioConfig(data_dir=data_dir, key=TEST_KEY, port=8080, ui_port=8501)
    lan = StudioConfig(data_dir=data_dir, key=TEST_KEY, host="0.0.0.0", port=8443, lan=True, ui_port=8501)
    assert control_room_env(local)["FARMLIVE_UI_LOCK"] == "0"
    assert control_room_env(lan)["FARMLIVE_UI_LOCK"] == "1"
    local_cmd, lan_cmd = control_room_command(local), control_room_command(lan)
    assert local_cmd[local_cmd.index("--server.address") + 1] == "127.0.0.1"
    assert lan_cmd[lan_cmd.index("--server.address") + 1] == "0.0.0.0"
    assert local_cmd[local_cmd.index("--server.port") + 1] == "8501"


# -- the live room panel -------------------------------------------------------------------
def test_the_host_sees_comments_and_wants_and_moderates(farm, room_env):
    show = api(room_env, "POST", "/api/shows", {"title": "Room 评论"})
    api(room_env, "PUT", "/api/overlay", {"sku": ORANGE.sku})
    said = (("viewer-aaaa-1", "扣1"), ("viewer-bbbb-2", "想要两箱 <b>bold</b>"), ("viewer-cccc-3", "好吃吗"))
    for viewer, text in said:
        request = urllib.request.Request(
            room_env.url + "/room/comments", data=json.dumps({"nickname": viewer[-1], "text": text}).encode(),
            method="POST", headers={"Content-Type": "application/json", "Cookie": f"fl_viewer={viewer}"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    at = no_exception(page("go_live"))
    assert "2 人想要 赣南脐橙" in texts(at)
    shown = [t.value for t in at.text]
    assert any("想要两箱 <b>bold</b>" in value for value in shown)  # plain text, never markup
    # Hide the newest comment ("好吃吗", listed first), then mute the viewer of "扣1".
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("hide_"))).click().run()
    listing = api(room_env, "GET", "/api/comments")
    assert [c["text"] for c in listing["comments"] if c["hidden"]] == ["好吃吗"]
    first = next(c for c in listing["comments"] if c["text"] == "扣1")
    no_exception(at.button(key=f"mute_{first['id']}").click().run())
    assert api(room_env, "GET", "/api/comments")["muted"] == ["viewer-aaaa-1"]
    at.text_input[0].input("今晚包邮")
    no_exception(at.button[[b.label for b in at.button].index("置顶")].click().run())
    assert api(room_env, "GET", "/api/comments")["pinned"]["text"] == "今晚包邮"
    assert show["id"] == listing["show_id"]


def test_the_host_starts_a_lucky_draw_from_the_room_panel(farm, room_env):
    api(room_env, "POST", "/api/shows", {"title": "Draw 福袋"})
    at = no_exception(page("go_live"))
    at.text_input[[t.label for t in at.text_input].index("奖品")].input("一箱橙子")
    no_exception(at.button[[b.label for b in at.button].index("发福袋")].click().run())
    draws = api(room_env, "GET", "/api/draws")["draws"]
    started = [(d["prize"], d["rule"], d["keyword"], d["status"]) for d in draws]
    assert started == [("一箱橙子", "comment", "扣1", "open")]
    # A second one while the first runs: the refusal is shown, nothing is started.
    at.text_input[[t.label for t in at.text_input].index("奖品")].input("茶叶")
    at = no_exception(at.button[[b.label for b in at.button].index("发福袋")].click().run())
    assert "已有福袋正在进行" in texts(at)
    assert len(api(room_env, "GET", "/api/draws")["draws"]) == 1


# -- the tap echo ------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st_text())
def test_the_echo_names_a_button_as_streamlit_classes_it(key):
    """The echo finds a tapped button by the class Streamlit gives its holder: ``st-key-`` and the key
    with every character outside [a-zA-Z0-9_-] as "-" (the frontend's rule), whatever the SKU."""
    from studio.control_room.echo import widget_class

    name = widget_class(f"air:{key}")
    assert re.fullmatch(r"st-key-[A-Za-z0-9_-]*", name)
    assert len(name) == len("st-key-") + len(f"air:{key}".strip().encode("utf-16-le")) // 2
    assert widget_class("air:ORANGE-GANNAN-5KG") == "st-key-air-ORANGE-GANNAN-5KG"


def test_warming_imports_the_page_modules_without_touching_streamlits_runtime():
    """``farmlive up`` warms these modules before Streamlit's runtime exists: each is imported, and none
    registers a cache or a component at import (Streamlit warns "No runtime found" when one does)."""
    import subprocess
    import sys

    code = (
        "import sys; from studio.control_room import warm; warm.warm(); "
        "print([m for m in warm.WARM_MODULES if m not in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
    assert "No runtime found" not in done.stderr and "Traceback" not in done.stderr, done.stderr
