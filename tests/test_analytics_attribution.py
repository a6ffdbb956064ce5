"""Order attribution (pure) and load_show/live_stats over a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
import sqlite_utils

import catalog
from analytics import events
from analytics.attribution import attribute_orders
from analytics.frames import load_link_events, load_show, summarise_link_events
from analytics.live import live_stats
from analytics.metrics import show_summary
from catalog.shows import UnknownShow, create_show, end_show, link_for

SHOWS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "started_at": ["2026-11-01T10:00:00.000Z", "2026-11-04T10:00:00.000Z", "2026-11-10T10:00:00.000Z"],
        "ended_at": ["2026-11-01T11:00:00.000Z", "2026-11-04T11:00:00.000Z", None],
    }
)
LINKS = pd.DataFrame(
    {"code": ["aaa", "bbb", "ccc", "ddd"], "show_id": [1, 2, 2, 3], "sku": ["ORANGE", "ORANGE", "TEA", "ORANGE"]}
)


def orders_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "sku", "at", "link_code", "show_id"])


def test_link_code_wins_then_recorded_show_then_time_window() -> None:
    orders = orders_frame(
        [
            (1, "ORANGE", "2026-11-04T10:30:00.000Z", "aaa", None),  # show 2's time, show 1's link
            (2, "ORANGE", "2026-11-01T10:30:00.000Z", "bbb", 1),  # link of another show beats recorded
            (3, "ORANGE", "2026-11-01T10:30:00.000Z", None, None),  # during show 1
            (4, "ORANGE", "2026-11-02T10:59:00.000Z", None, None),  # 23 h 59 min after show 1
            (5, "ORANGE", "2026-11-02T11:01:00.000Z", None, None),  # 24 h 1 min after: outside
            (6, "TEA", "2026-11-01T10:30:00.000Z", None, None),  # show 1 never featured TEA
            (7, "TEA", "2026-11-04T12:00:00.000Z", None, None),  # after show 2, which did
            (8, "SUGAR", "2026-11-01T10:30:00.000Z", None, 1),  # recorded at purchase
            (9, "ORANGE", "2026-11-01T09:59:59.000Z", None, None),  # before any show
            (10, "ORANGE", "2026-11-01T10:30:00.000Z", "zzz", None),  # unknown code: by time
            (11, "ORANGE", "2026-11-20T10:00:00.000Z", None, None),  # show 3 is still live
        ]
    )
    result = attribute_orders(orders, LINKS, SHOWS, timedelta(hours=24))
    assert result["attributed_show_id"].tolist() == [1, 2, 1, 1, pd.NA, pd.NA, 2, 1, pd.NA, 1, 3]
    assert result["attributed_by"].fillna("-").tolist() == [
        "link", "link", "window", "window", "-", "-", "window", "recorded", "-", "window", "window",
    ]
    assert "attributed_show_id" not in orders.columns  # pure: input untouched


def test_window_is_configurable_and_the_latest_show_wins_overlaps() -> None:
    orders = orders_frame([(1, "ORANGE", "2026-11-04T12:00:00.000Z", None, None)])
    wide = attribute_orders(orders, LINKS, SHOWS, timedelta(days=7))
    assert wide["attributed_show_id"].tolist() == [2]  # shows 1 and 2 qualify; 2 started later
    narrow = attribute_orders(orders, LINKS, SHOWS, timedelta(minutes=30))
    assert narrow["attributed_show_id"].tolist() == [pd.NA]


def test_live_show_ends_at_now_when_given() -> None:
    orders = orders_frame([(1, "ORANGE", "2026-11-20T10:00:00.000Z", None, None)])
    result = attribute_orders(orders, LINKS, SHOWS, timedelta(hours=1), now="2026-11-10T12:00:00.000Z")
    assert result["attributed_show_id"].tolist() == [pd.NA]


def insert_order(db: sqlite_utils.Database, **values) -> None:
    row = {"quantity": 1, "unit_price": 10.0, "total": 10.0, "status": "paid", "source": "import", **values}
    db.table("orders").insert(row)


@pytest.fixture
def two_shows(db: sqlite_utils.Database) -> sqlite_utils.Database:
    for sku in ("ORANGE", "TEA"):
        catalog.upsert_product(db, catalog.Product(sku=sku, name=sku.title(), price=10.0, stock=50))
    first = create_show(db, "first", started_at="2026-11-01T10:00:00.000Z")
    link = link_for(db, first.id, "ORANGE")
    events.record_overlay(db, first.id, "ORANGE", at="2026-11-01T10:00:00.000Z")
    session = events.record_viewer_join(db, first.id, "v1", at="2026-11-01T10:00:00.000Z")
    events.record_viewer_leave(db, session, at="2026-11-01T10:30:00.000Z")
    events.record_viewer_join(db, first.id, "v2", at="2026-11-01T10:10:00.000Z")
    events.record_link_event(db, first.id, link.code, "ORANGE", "scan", "v1", at="2026-11-01T10:05:00.000Z")
    end_show(db, first.id, ended_at="2026-11-01T11:00:00.000Z")
    second = create_show(db, "second", started_at="2026-11-03T10:00:00.000Z")
    other = link_for(db, second.id, "ORANGE")
    end_show(db, second.id, ended_at="2026-11-03T11:00:00.000Z")
    insert_order(db, show_id=first.id, sku="ORANGE", at="2026-11-01T10:06:00.000Z", link_code=link.code,
                 source="builtin", buyer_id="v1", quantity=2, total=20.0)
    insert_order(db, sku="ORANGE", at="2026-11-01T20:00:00.000Z", external_id="in-window", total=11.0)
    insert_order(db, sku="ORANGE", at="2026-11-02T12:00:00.000Z", external_id="too-late", total=12.0)
    insert_order(db, sku="ORANGE", at="2026-11-01T10:40:00.000Z", external_id="refunded", status="refunded")
    insert_order(db, sku="ORANGE", at="2026-11-01T10:40:00.000Z", external_id="other-link",
                 link_code=other.code, total=13.0)
    insert_order(db, sku="TEA", at="2026-11-01T10:40:00.000Z", external_id="not-featured", total=14.0)
    return db


def test_load_show_attributes_orders_and_parses_times(two_shows: sqlite_utils.Database) -> None:
    data = load_show(two_shows, 1)
    assert sorted(data.orders["total"].tolist()) == [11.0, 20.0]
    assert dict(zip(data.orders["total"], data.orders["attributed_by"], strict=True)) == {20.0: "link", 11.0: "window"}
    assert str(data.sessions["joined_at"].dt.tz) == "UTC"
    assert data.end == pd.Timestamp("2026-11-01T11:00:00Z")
    summary = show_summary(data)
    assert (summary["unique_viewers"], summary["orders"], summary["units"], summary["gmv"]) == (2, 2, 3, 31.0)
    # v1 watched 30 min; v2's open session runs to the show's end: 50 min.
    assert summary["avg_watch_s"] == 2400.0
    second = load_show(two_shows, 2)
    assert second.orders["total"].tolist() == [13.0]  # its link, though placed during show 1


def test_load_show_with_a_wider_window(two_shows: sqlite_utils.Database) -> None:
    data = load_show(two_shows, 1, window=timedelta(hours=30))
    assert sorted(data.orders["total"].tolist()) == [11.0, 12.0, 20.0]


def test_unknown_show_is_a_clear_error(db: sqlite_utils.Database) -> None:
    with pytest.raises(UnknownShow, match="unknown show 42"):
        load_show(db, 42)
    with pytest.raises(UnknownShow):
        live_stats(db, 42)


def test_live_stats(two_shows: sqlite_utils.Database) -> None:
    stats = live_stats(two_shows, 1)
    assert (stats["viewers_now"], stats["viewers_total"]) == (1, 2)
    assert (stats["orders"], stats["units"], stats["revenue"], stats["buyers"]) == (1, 2, 20.0, 1)
    assert [o["total"] for o in stats["recent_orders"]] == [20.0]
    assert stats["recent_orders"][0]["name"] == "Orange"
    assert live_stats(two_shows, 2)["orders"] == 1  # the order that used show 2's link


def test_link_aggregates_read_in_sql_match_the_raw_events(two_shows: sqlite_utils.Database) -> None:
    code = two_shows.execute("SELECT code FROM links WHERE show_id = 1").fetchone()[0]
    for kind, viewer in (("click", "v1"), ("scan", None), ("scan", None), ("scan", "v2")):
        events.record_link_event(two_shows, 1, code, "ORANGE", kind, viewer, at="2026-11-01T10:20:00.000Z")
    data = load_show(two_shows, 1)
    raw = load_link_events(two_shows, 1)
    assert len(raw) == 5 and str(raw["at"].dt.tz) == "UTC"
    counts, viewers, anonymous = summarise_link_events(raw)
    assert data.link_counts.sort_values("kind").to_dict("records") == counts.sort_values("kind").to_dict("records")
    assert data.link_counts.set_index("kind")["events"].to_dict() == {"click": 1, "scan": 4}
    assert (data.link_viewers, data.link_anonymous) == (viewers, anonymous) == (2, 2)


def test_a_product_on_air_without_a_buy_link_still_counts_as_featured() -> None:
    on_air = pd.concat([LINKS, pd.DataFrame({"code": [None], "show_id": [1], "sku": ["TEA"]})], ignore_index=True)
    orders = orders_frame([(1, "TEA", "2026-11-01T10:30:00.000Z", None, None)])
    result = attribute_orders(orders, on_air, SHOWS, timedelta(hours=24))
    assert (result["attributed_show_id"].tolist(), result["attributed_by"].tolist()) == ([1], ["window"])
