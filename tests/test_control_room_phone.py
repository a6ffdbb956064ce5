"""The Go live page's phone pairing QR, loud alerts and end-of-show recap (AppTest, real studio process)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import aiohttp
import pytest
from aiortc import RTCSessionDescription

import catalog
from analytics import events
from catalog.shows import link_for
from studio.media.ice import use_loopback_candidates
from tests.test_control_room import api, farm, no_exception, page, room_env, texts  # noqa: F401  (fixtures)
from tests.test_whip_whep import SDP, publisher_offer


def exchange(server, code: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        f"{server.url}/api/pairing/exchange", data=json.dumps({"code": code}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_phone_qr_pairs_without_the_key(farm, room_env):  # noqa: F811
    at = no_exception(page("go_live"))
    pairing = at.session_state["pairing"]
    url = pairing["pair_url"]
    assert url.startswith(f"{room_env.url}/publish#pair=")
    assert room_env.key not in url and "key=" not in url  # the studio key is never in the QR
    shown = texts(at)
    assert "无需输入密钥" in shown and "二维码" in shown
    assert "#key=" not in shown

    # What the phone does with it: exchange once for a publish token; the same code never again.
    code = url.split("#pair=", 1)[1]
    status, body = exchange(room_env, code)
    assert status == 200 and body["token"].startswith("flpub_")
    assert exchange(room_env, code)[0] == 410

    # New QR: a fresh code. Unpair all phones: the token is refused from then on.
    at.button(key="pair_new").click().run()
    no_exception(at)
    assert at.session_state["pairing"]["code"] != code
    at.button(key="pair_unpair").click().run()
    no_exception(at)
    assert "已解除 1 部手机的配对" in " ".join(str(t.value) for t in at.toast)
    request = urllib.request.Request(
        f"{room_env.url}/api/phone/status", headers={"Authorization": f"Bearer {body['token']}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401


async def publish_then_drop(url: str, auth: dict[str, str]) -> None:
    """A phone publishes over WHIP (real aiortc), then its connection is gone."""
    use_loopback_candidates()  # the studio process answers on 127.0.0.1 only (--ice-loopback-only)
    pc = await publisher_offer()

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/whip", data=pc.localDescription.sdp, headers={**SDP, **auth}) as response:
            assert response.status == 201, await response.text()
            answer = await response.text()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        deadline = time.monotonic() + 15
        while pc.connectionState != "connected" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert pc.connectionState == "connected"
        await asyncio.sleep(1.5)
    await pc.close()


def test_a_dropped_phone_is_a_loud_red_alert(farm, room_env):  # noqa: F811
    api(room_env, "POST", "/api/shows", {"title": "Harvest"})
    asyncio.run(publish_then_drop(room_env.url, room_env.auth))
    deadline = time.monotonic() + 15
    while api(room_env, "GET", "/api/state")["alert"]["level"] != "red":
        assert time.monotonic() < deadline, api(room_env, "GET", "/api/state")["alert"]
        time.sleep(0.3)
    at = page("go_live")
    at.toggle(key="alert_sound").set_value(True).run()
    no_exception(at)
    banners = [h.proto.body for h in at.get("html") if "fl-alert-red" in h.proto.body]
    assert banners and "手机已断线" in banners[0] and " 秒" in banners[0]
    # It is drawn with the first screen, on top of the on-air bar, not in the figures that follow.
    unsettled = page("go_live", settled=False)
    assert [h for h in unsettled.get("html") if "fl-alert-red" in h.proto.body]
    assert "alert_sound" not in [t.key for t in unsettled.toggle]
    assert "断线 1 次" in texts(at)
    assert len(at.get("audio")) == 1  # the alarm plays while it is red, when the host wants sound

    # The host turns the automatic hold slate off (and on again) from the same panel.
    at.toggle(key="auto_hold_toggle").set_value(False).run()
    no_exception(at)
    assert api(room_env, "GET", "/api/state")["auto_hold"] is False
    at.toggle(key="auto_hold_toggle").set_value(True).run()
    assert api(room_env, "GET", "/api/state")["auto_hold"] is True

    # A new show starts its counters from zero: no red carried over from the last one.
    api(room_env, "POST", "/api/shows", {"title": "Evening"})
    deadline = time.monotonic() + 10
    while (state := api(room_env, "GET", "/api/state"))["stream_health"]["drops"] != 0:
        assert time.monotonic() < deadline, state["stream_health"]
        time.sleep(0.3)
    assert state["alert"]["level"] == "ok" and state["stream_health"]["reconnects"] == 0


def test_the_host_ends_the_show_and_sees_the_recap(farm, room_env):  # noqa: F811
    show = api(room_env, "POST", "/api/shows", {"title": "Orange harvest 橙子丰收"})
    orange, tea = link_for(farm, show["id"], "ORANGE-5KG").code, link_for(farm, show["id"], "TEA-250G").code
    for viewer in ("v1", "v2", "v3"):
        events.record_viewer_join(farm, show["id"], viewer)
    for sku, code, quantity, price in (("ORANGE-5KG", orange, 3, 59.0), ("TEA-250G", tea, 1, 128.0)):
        farm.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, link_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [show["id"], sku, quantity, price, quantity * price, catalog.now_iso(), code],
        )
    at = no_exception(page("go_live"))
    assert "本场回顾" not in texts(at)  # live: no recap yet
    assert [b.label for b in at.button if b.key == "end_show"] == ["确定下播"]

    at.button(key="end_show").click().run()  # 下播
    no_exception(at)
    assert f"本场回顾：{show['title']}" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["本场订单"] == "2" and metrics["本场成交额"] == "¥305.00"
    assert metrics["最高在线"] == "3"
    assert metrics["销量冠军"] == "赣南脐橙"
    assert ":" in metrics["直播时长"]
    assert any("查看完整数据" in str(m.value) and "analytics" in str(m.value) for m in at.markdown)
    assert at.button(key="start_show").label == "开播"

    at.button(key="recap_close").click().run()
    no_exception(at)
    assert "本场回顾" not in texts(at)
