"""The Go live page's simulcast panel under Streamlit's AppTest, against a real studio process."""

from __future__ import annotations

import analytics
from analytics import events
from analytics.metrics import platform_spans
from analytics.report import write_report
from catalog.shows import create_show, end_show, link_for
from tests.test_control_room import ORANGE, api, farm, no_exception, page, room_env, texts  # noqa: F401  (fixtures)

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
    at.checkbox[[c.label for c in at.checkbox].index("独立二维码")].check()
    at.button[[b.label for b in at.button].index("添加")].click().run()
    no_exception(at)
    listed = api(room_env, "GET", "/api/destinations")["destinations"]
    assert [(d["name"], d["own_qr"]) for d in listed] == [("视频号", False), ("抖音", True)]
    assert all(d["encode_cpu_percent"] is None for d in listed)  # nothing pushed, nothing encoded
    assert "独立二维码" in texts(no_exception(at.run()))


def test_panel_refuses_a_bad_url_and_stores_nothing(farm, room_env):  # noqa: F811
    at = no_exception(page("go_live"))
    form = {w.label: w for w in at.text_input}
    form["推流地址（rtmp:// 或 rtmps://）"].set_value("https://live.example/app")
    form["推流码"].set_value("k-1234")
    at.button[[b.label for b in at.button].index("添加")].click().run()
    no_exception(at)
    assert "rtmp://" in "\n".join(e.value for e in at.error)
    assert api(room_env, "GET", "/api/destinations")["destinations"] == []


def test_analytics_and_report_say_which_platform_was_live_when(farm, room_env, tmp_path):  # noqa: F811
    show = create_show(farm, "Harvest", started_at="2026-11-30T02:00:00.000Z")
    for at, name, state in [
        ("02:00:01", "抖音", "connecting"), ("02:00:02", "抖音", "live"), ("02:10:02", "抖音", "retrying"),
        ("02:10:05", "抖音", "live"), ("02:30:00", "抖音", "idle"),
        ("02:00:01", "YouTube", "connecting"), ("02:00:03", "YouTube", "live"), ("02:30:00", "YouTube", "idle"),
        ("02:00:01", "视频号", "connecting"), ("02:00:02", "视频号", "failed"),
    ]:
        events.record_destination_event(farm, show.id, name, state, at=f"2026-11-30T{at}.000Z")
    douyin = link_for(farm, show.id, ORANGE.sku, destination="抖音")
    events.record_link_event(farm, show.id, douyin.code, ORANGE.sku, "scan", "d1", at="2026-11-30T02:05:00.000Z")
    end_show(farm, show.id, ended_at="2026-11-30T02:30:00.000Z")

    spans = platform_spans(analytics.load_show(farm, show.id))
    assert list(zip(spans["destination"], spans["live_s"], spans["ended_by"], strict=True)) == [
        ("YouTube", 1797.0, "idle"), ("抖音", 600.0, "retrying"), ("抖音", 1195.0, "idle"),
    ]  # the refused 视频号 was never live

    html = write_report(farm, show.id, tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index("各平台推流时段"):html.index("各平台销售")]
    assert section.count("<tr>") == 3 and "10:10:02" in section  # Asia/Shanghai local times

    at = no_exception(page("analytics"))
    table = next(d.value for d in at.dataframe if "平台" in d.value.columns)
    assert list(table["平台"]) == ["YouTube", "抖音", "抖音"]
    assert list(table["推流时长（分钟）"]) == [30.0, 10.0, 19.9]
    sales = next(d.value for d in at.dataframe if "destination" in d.value.columns)
    assert list(zip(sales["destination"], sales["scans"], strict=True)) == [("抖音", 1), ("own page · 自有页面", 0)]
    assert "各平台销售" in texts(at)


def test_viewers_are_counted_by_transport_separately_and_together(farm, room_env):  # noqa: F811
    show = create_show(farm, "Tea", started_at="2026-11-30T02:00:00.000Z")
    for viewer_id, transport in [("a", "webrtc"), ("b", "webrtc"), ("c", "hls"), ("a", "hls")]:
        session = events.record_viewer_join(farm, show.id, viewer_id, transport, at="2026-11-30T02:01:00.000Z")
        events.record_viewer_leave(farm, session, at="2026-11-30T02:05:00.000Z")
    end_show(farm, show.id, ended_at="2026-11-30T02:30:00.000Z")
    summary = analytics.show_summary(analytics.load_show(farm, show.id))
    # "a" switched from WebRTC to HLS: one person, counted once together and once under each.
    assert (summary["unique_viewers"], summary["viewers_webrtc"], summary["viewers_hls"]) == (3, 2, 2)
    at = no_exception(page("analytics"))
    assert "WebRTC 2 · HLS 2" in "\n".join(c.value for c in at.caption)
