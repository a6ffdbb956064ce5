"""Reports in every format, read back: HTML (self-contained), CSV, XLSX; bad requests fail cleanly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlite_utils

import catalog
from analytics import events
from analytics.frames import load_show
from analytics.metrics import product_table
from analytics.report import write_report
from catalog.shows import UnknownShow, create_show, end_show, link_for
from studio.cli import main


@pytest.fixture
def show(db: sqlite_utils.Database) -> int:
    """20:00-20:10 Beijing time; 2 viewers; oranges then tea; 2 orders."""
    catalog.upsert_product(
        db, catalog.Product(sku="ORANGE", name="Navel oranges", name_zh="赣南脐橙", price=20, stock=9)
    )
    catalog.upsert_product(db, catalog.Product(sku="TEA", name="Tea <leaves>", name_zh="茶叶", price=30, stock=9))
    created = create_show(db, "Harvest & sale", started_at="2026-11-23T12:00:00.000Z")
    orange = link_for(db, created.id, "ORANGE")
    events.record_overlay(db, created.id, "ORANGE", at="2026-11-23T12:00:00.000Z")
    events.record_overlay(db, created.id, "TEA", at="2026-11-23T12:05:00.000Z")
    first = events.record_viewer_join(db, created.id, "v1", at="2026-11-23T12:00:00.000Z")
    events.record_viewer_leave(db, first, at="2026-11-23T12:10:00.000Z")
    second = events.record_viewer_join(db, created.id, "v2", at="2026-11-23T12:06:00.000Z")
    events.record_viewer_leave(db, second, at="2026-11-23T12:06:20.000Z")
    events.record_link_event(db, created.id, orange.code, "ORANGE", "scan", "v1", at="2026-11-23T12:01:00.000Z")
    events.record_stream_event(db, created.id, "stats", bitrate_kbps=1800, fps=30, at="2026-11-23T12:02:00.000Z")
    events.record_stream_event(db, created.id, "disconnect", at="2026-11-23T12:03:00.000Z")
    db.table("orders").insert_all(
        [
            {"show_id": created.id, "sku": "ORANGE", "quantity": 2, "unit_price": 20, "total": 40,
             "at": "2026-11-23T12:02:00.000Z", "link_code": orange.code, "buyer_id": "v1",
             "source": "builtin", "external_id": None},
            {"show_id": None, "sku": "TEA", "quantity": 1, "unit_price": 30, "total": 30,
             "at": "2026-11-23T12:30:00.000Z", "source": "import", "external_id": "P1", "buyer_id": "淘宝买家"},
        ]
    )
    end_show(db, created.id, ended_at="2026-11-23T12:10:00.000Z")
    return created.id


def test_html_is_self_contained_and_bilingual(db: sqlite_utils.Database, show: int, tmp_path: Path) -> None:
    path = write_report(db, show, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    for heading in ("Show report / 直播报告", "Products / 商品", "Funnel / 转化漏斗", "Retention / 留存",
                    "Timeline / 时间线", "Orders / 订单", "GMV / 成交金额", "Unique viewers / 观看人数"):
        assert heading in html
    assert "Harvest &amp; sale" in html and "Tea &lt;leaves&gt;" in html  # escaped
    assert "<svg" in html and "<script" not in html
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<circle") == 2  # one dot per order
    assert "+1 orders after the show / 直播结束后下单" in svg  # the platform order at 20:30
    assert svg.count("stroke-dasharray") == 1  # the phone disconnect
    assert "<title>Navel oranges (ORANGE)</title>" in svg and "<title>Tea &lt;leaves&gt; (TEA)</title>" in svg
    assert "src=" not in html and "<link" not in html  # nothing to fetch: opens offline
    assert "¥70.00" in html  # GMV tile: 40 + 30 (platform order, in the window)
    assert "2026-11-23 20:00:00" in html  # Beijing time
    assert "赣南脐橙" in html and "淘宝买家" in html


def test_csv_products_and_summary_read_back(db: sqlite_utils.Database, show: int, tmp_path: Path) -> None:
    path = write_report(db, show, tmp_path / "r.csv")
    products = pd.read_csv(path, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens Chinese correctly
    assert list(products.columns[:3]) == ["SKU / 商品编码", "Product / 商品", "Product (Chinese) / 商品中文名"]
    rows = products.set_index("SKU / 商品编码")
    assert rows.loc["ORANGE", "Revenue / 销售额"] == 40.0
    assert rows.loc["TEA", "Units sold / 售出件数"] == 1
    assert rows.loc["ORANGE", "On air (s) / 讲解时长（秒）"] == 300.0
    expected = product_table(load_show(db, show)).set_index("sku")
    assert rows["Viewers while on air / 讲解期间观看人数"].to_dict() == expected["viewers_present"].to_dict()
    summary = pd.read_csv(tmp_path / "r.summary.csv", encoding="utf-8-sig").set_index("Metric / 指标")
    assert summary.loc["gmv", "Value / 数值"] == "70.0"
    assert summary.loc["unique_viewers", "Value / 数值"] == "2"
    assert summary.loc["peak_at", "Name / 名称"] == "Peak at / 峰值时间"


def test_xlsx_sheets_read_back(db: sqlite_utils.Database, show: int, tmp_path: Path) -> None:
    path = write_report(db, show, tmp_path / "r.xlsx")
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == [
        "summary", "products", "funnel", "retention", "orders", "concurrency", "replay", "chapters", "platforms",
        "by_channel", "channel_funnel", "coupons", "comments", "drop_offs", "draws", "platform sales", "holds",
    ]
    funnel = sheets["funnel"]
    assert funnel["Stage / 阶段"].tolist() == [
        "Watched / 观看", "Watched ≥ 30 s / 观看≥30秒", "Scanned or clicked / 扫码或点击", "Ordered / 下单"
    ]
    assert funnel["People / 人数"].tolist() == [2, 1, 1, 2]
    orders = sheets["orders"]
    assert orders["Total / 金额"].tolist() == [40.0, 30.0]
    assert orders["Time / 时间"].iloc[0] == pd.Timestamp("2026-11-23 20:02:00")  # local, naive for Excel
    assert orders["Attributed by / 归因方式"].tolist() == ["link", "window"]
    assert sheets["retention"]["Share still watching / 仍在观看比例"].iloc[0] == 1.0


def test_sales_by_platform_in_every_format(db: sqlite_utils.Database, show: int, tmp_path: Path) -> None:
    """Douyin's own QR: its scan and order get a row of their own; the rest stays the own page."""
    douyin = link_for(db, show, "ORANGE", destination="抖音")
    events.record_link_event(db, show, douyin.code, "ORANGE", "scan", "d1", at="2026-11-23T12:04:00.000Z")
    db.table("orders").insert(
        {"show_id": show, "sku": "ORANGE", "quantity": 3, "unit_price": 20, "total": 60,
         "at": "2026-11-23T12:04:30.000Z", "link_code": douyin.code, "buyer_id": "d1", "source": "builtin"}
    )
    html = write_report(db, show, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Sales by platform (own QR codes) / 各平台销售（独立二维码）" in html and "抖音" in html
    write_report(db, show, tmp_path / "r.csv")
    sales = pd.read_csv(tmp_path / "r.platforms.csv", encoding="utf-8-sig").set_index("Platform / 平台")
    assert sales.loc["抖音", "QR scans / 扫码次数"] == 1 and sales.loc["抖音", "GMV / 成交金额"] == 60.0
    assert sales.loc["own page · 自有页面", "QR scans / 扫码次数"] == 1
    assert sales.loc["own page · 自有页面", "Orders / 订单数"] == 1  # the oranges' own link
    assert sales.loc["no buy link · 无购买链接", "Orders / 订单数"] == 1  # the platform import
    sheet = pd.read_excel(write_report(db, show, tmp_path / "r.xlsx"), sheet_name="platform sales")
    assert sheet["Units sold / 售出件数"].tolist() == [3, 2, 1]


def test_bad_requests_write_nothing(db: sqlite_utils.Database, show: int, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"\.html, \.csv, \.xlsx"):
        write_report(db, show, out / "r.pdf")
    with pytest.raises(UnknownShow):
        write_report(db, 99, out / "r.html")
    assert not out.exists()


def test_cli_report(db: sqlite_utils.Database, show: int, data_dir: Path, tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports" / "show.html"
    assert main(["report", str(show), "--out", str(out), "--data-dir", str(data_dir)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    assert main(["report", "99", "--out", str(out), "--data-dir", str(data_dir)]) == 2
    assert "unknown show 99" in capsys.readouterr().err


def test_a_live_show_reports_its_figures_so_far(db: sqlite_utils.Database, tmp_path: Path) -> None:
    live = create_show(db, "on air now", started_at="2026-11-23T12:00:00.000Z")
    events.record_viewer_join(db, live.id, "v1", at="2026-11-23T12:00:05.000Z")
    html = write_report(db, live.id, tmp_path / "live.html").read_text(encoding="utf-8")
    assert "still live / 直播中" in html
    assert "Unique viewers / 观看人数</div>" in html
    workbook = pd.read_excel(write_report(db, live.id, tmp_path / "live.xlsx"), sheet_name="summary")
    values = dict(zip(workbook["Metric / 指标"], workbook["Value / 数值"], strict=True))
    assert values["unique_viewers"] == 1 and values["peak_concurrent"] == 1


def test_html_report_fits_a_laptop_and_labels_a_simulated_show(db: sqlite_utils.Database, tmp_path: Path,
                                                                 browser) -> None:  # type: ignore[no-untyped-def]
    """Issue #12: the product table fits 1280 px, revenue first and sorted by revenue; every product is
    in the timeline legend; the uplink has its own chart; retention is a chart; a simulated show says so."""
    from analytics.simulate import simulate_show

    show = simulate_show(db, viewers=600, minutes=40, seed=2)  # the demo shop's long bilingual names
    path = write_report(db, show, tmp_path / "sim.html", timezone_name="UTC")
    html = path.read_text(encoding="utf-8")
    assert "simulated · 模拟" in html and "never counted in a real show" in html
    assert "Times in / 时间时区: UTC" in html
    data = load_show(db, show)
    on_air = set(data.overlay_events["sku"].dropna())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(path.as_uri())
        fit = page.evaluate(
            """() => {
                const table = document.querySelector('.fit table');
                const heads = [...table.querySelectorAll('th')].map(th => th.textContent);
                const revenue = [...table.querySelectorAll('tbody tr')].map(tr => tr.children[1].textContent);
                return {table: table.scrollWidth, box: table.parentElement.clientWidth,
                        page: document.documentElement.scrollWidth, heads, revenue,
                        legend: [...document.querySelectorAll('.product-legend text')].map(t => t.textContent),
                        svgs: [...document.querySelectorAll('.chart svg')].map(s => s.getAttribute('aria-label')),
                        uplink: document.querySelectorAll('.chart svg polyline').length,
                        retention: document.querySelectorAll('.retention polygon.retention').length};
            }"""
        )
    finally:
        page.close()
    assert fit["table"] <= fit["box"] and fit["page"] <= 1280, fit  # no horizontal scrolling on a laptop
    assert fit["heads"][:2] == ["Product / 商品", "Revenue / 销售额"]
    revenue = [float(v.replace("¥", "").replace(",", "")) for v in fit["revenue"]]
    assert revenue == sorted(revenue, reverse=True) and len(revenue) >= len(on_air)
    assert sorted(text.rsplit("(", 1)[1].rstrip(")") for text in fit["legend"]) == sorted(on_air)  # every product
    assert fit["svgs"] == ["Timeline / 时间线", "Retention / 留存"] and fit["uplink"] == 1 and fit["retention"] == 1


def test_cli_report_uses_the_display_time_zone_and_says_simulated(
    db: sqlite_utils.Database, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analytics.simulate import simulate_show

    show = simulate_show(db, viewers=30, minutes=5, seed=1)
    out = tmp_path / "s.html"
    monkeypatch.setenv("FARMLIVE_TIMEZONE", "Europe/Berlin")
    assert main(["report", str(show), "--out", str(out), "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    assert "times in Europe/Berlin" in printed and "simulated (模拟)" in printed
    assert "Europe/Berlin" in out.read_text(encoding="utf-8")
    assert main(["report", str(show), "--out", str(out), "--timezone", "UTC", "--data-dir", str(data_dir)]) == 0
    assert "times in UTC" in capsys.readouterr().out
    assert main(["report", str(show), "--out", str(out), "--timezone", "Mars/Base", "--data-dir", str(data_dir)]) == 2
    assert "unknown time zone 'Mars/Base'" in capsys.readouterr().err


def test_times_show_on_one_display_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FARMLIVE_TIMEZONE", raising=False)
    assert catalog.display_timezone() == "Asia/Shanghai"
    assert catalog.to_display("2026-11-23T12:00:00.000Z", "Asia/Shanghai") == "2026-11-23 20:00:00"
    monkeypatch.setenv("FARMLIVE_TIMEZONE", "America/New_York")
    assert catalog.display_timezone() == "America/New_York"
    assert catalog.to_display("2026-07-01T12:00:00.000Z", catalog.display_timezone(), "%H:%M") == "08:00"  # EDT
    assert catalog.display_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match="unknown time zone"):
        catalog.display_timezone("Nowhere/Land")
