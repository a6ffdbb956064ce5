"""The Go live page's simulcast panel under Streamlit's AppTest, against a real studio process."""

from __future__ import annotations

from tests.test_control_room import api, farm, no_exception, page, room_env, texts  # noqa: F401  (fixtures)

KEY = "wx-live-secret-7Hq2"


def test_panel_lists_platforms_masked_and_adds_one_with_the_preset_hint(farm, room_env):  # noqa: F811
    added = api(room_env, "POST", "/api/destinations", {
        "name": "视频号", "url": "rtmp://127.0.0.1:9/live", "key": KEY, "preset": "wechat",
    })
    assert added["key"] == "****" + KEY[-4:]
    at = no_exception(page("go_live"))
    shown = texts(at)
    assert "多平台同步推流" in shown and "视频号" in shown and "****" + KEY[-4:] in shown
    assert "未推流" in shown  # no show is live: idle
    assert KEY not in shown

    at.selectbox(key="dest_preset").set_value("douyin").run()
    assert "creator.douyin.com" in "\n".join(i.value for i in at.info)
    form = {w.label: w for w in at.text_input}
    form["名称"].set_value("抖音")
    form["推流地址（rtmp:// 或 rtmps://）"].set_value("rtmp://127.0.0.1:9/third")
    form["推流码"].set_value("dy-key-0001")
    at.button[[b.label for b in at.button].index("添加")].click().run()
    no_exception(at)
    names = [d["name"] for d in api(room_env, "GET", "/api/destinations")["destinations"]]
    assert names == ["视频号", "抖音"]


def test_panel_refuses_a_bad_url_and_stores_nothing(farm, room_env):  # noqa: F811
    at = no_exception(page("go_live"))
    form = {w.label: w for w in at.text_input}
    form["推流地址（rtmp:// 或 rtmps://）"].set_value("https://live.example/app")
    form["推流码"].set_value("k-1234")
    at.button[[b.label for b in at.button].index("添加")].click().run()
    no_exception(at)
    assert "rtmp://" in "\n".join(e.value for e in at.error)
    assert api(room_env, "GET", "/api/destinations")["destinations"] == []
