"""Live-room analytics (issue #11 item 6), hand-computed: channels, coupons, comments, wants, draws, drop-offs."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.frames import ShowData, load_show
from analytics.metrics import (
    channel_funnel,
    comments_per_minute,
    coupon_use,
    discounts,
    drop_offs,
    orders_by_channel,
    product_table,
    show_summary,
    timeline_figure_data,
)
from catalog.shows import Show

START, END = "2026-11-20T10:00:00.000Z", "2026-11-20T10:10:00.000Z"  # 600 s


def at(seconds: float) -> str:
    return (pd.Timestamp(START) + pd.Timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def order(
    i: int,
    sku: str,
    via: str | None,
    qty: int,
    unit: float,
    listed: float | None,
    coupon: str | None,
    buyer: str | None,
) -> dict[str, object]:
    return {
        "id": i,
        "sku": sku,
        "quantity": qty,
        "unit_price": unit,
        "total": qty * unit,
        "at": at(100 + i),
        "via": via,
        "coupon": coupon,
        "list_price": listed,
        "buyer_id": buyer,
        "status": "paid",
    }


@pytest.fixture
def room() -> ShowData:
    # 12 viewers from the start; 8 of them leave between 240 s and 250 s (while TEA is on air).
    sessions = [
        {
            "id": n,
            "viewer_id": f"v{n}",
            "joined_at": at(0),
            "left_at": at(240 + n) if n < 8 else None,
            "transport": "webrtc",
        }
        for n in range(12)
    ]
    taps = [  # scans: v1, v1, anonymous -> 2 people; clicks: v1, v2 -> 2; shelf: v3 -> 1
        {"sku": "ORANGE", "kind": "scan", "viewer_id": "v1", "at": at(10)},
        {"sku": "ORANGE", "kind": "scan", "viewer_id": "v1", "at": at(11)},
        {"sku": "ORANGE", "kind": "scan", "viewer_id": None, "at": at(12)},
        {"sku": "ORANGE", "kind": "click", "viewer_id": "v1", "at": at(13)},
        {"sku": "TEA", "kind": "click", "viewer_id": "v2", "at": at(220)},
        {"sku": "TEA", "kind": "shelf", "viewer_id": "v3", "at": at(230)},
    ]
    orders = [
        order(1, "ORANGE", "scan", 2, 50.0, 50.0, None, "v1"),
        order(2, "ORANGE", "click", 1, 45.0, 50.0, "FARM10", "v1"),  # 5 off
        order(3, "TEA", "shelf", 3, 72.0, 80.0, "FARM10", "v3"),  # 24 off
        order(4, "TEA", "draw", 1, 0.0, 80.0, None, "v5"),  # the prize: 80 off, nothing charged
        order(5, "TEA", None, 1, 64.0, None, None, None),  # a platform import: no channel, no list price
        order(6, "ORANGE", "scan", 1, 40.0, 50.0, None, "v4"),  # flash-sale price: 10 off, no coupon
    ]
    comments = [
        {"id": 1, "at": at(5), "viewer_id": "v1", "sku": "ORANGE", "want": True},
        {"id": 2, "at": at(30), "viewer_id": "v1", "sku": "ORANGE", "want": True},  # same person: one want
        {"id": 3, "at": at(65), "viewer_id": "v2", "sku": "ORANGE", "want": False},
        {"id": 4, "at": at(200), "viewer_id": "v3", "sku": "TEA", "want": True},
        {"id": 5, "at": at(599), "viewer_id": "v4", "sku": None, "want": False},
    ]
    draws = [
        {
            "id": 1,
            "prize": "Tea box",
            "rule": "comment",
            "keyword": "福袋",
            "start": at(120),
            "end": at(240),
            "status": "drawn",
            "winner_name": "v5",
            "entrants": 4,
        }
    ]
    return ShowData.build(
        Show(id=3, title="Room", started_at=START, ended_at=END),
        sessions=sessions,
        link_events=taps,
        orders=orders,
        overlay_events=[{"id": 1, "at": at(0), "sku": "ORANGE"}, {"id": 2, "at": at(200), "sku": "TEA"}],
        products=[
            {"sku": "ORANGE", "name": "Navel oranges", "name_zh": "脐橙", "price": 50.0},
            {"sku": "TEA", "name": "Tea", "name_zh": "茶叶", "price": 80.0},
        ],
        comments=comments,
        draws=draws,
    )


def test_orders_by_channel_count_what_was_charged(room: ShowData) -> None:
    table = orders_by_channel(room).set_index("channel")
    assert list(table.index) == ["scan", "click", "shelf", "draw", "unknown"]
    assert table["orders"].to_dict() == {"scan": 2, "click": 1, "shelf": 1, "draw": 1, "unknown": 1}
    assert table["revenue"].to_dict() == {"scan": 140.0, "click": 45.0, "shelf": 216.0, "draw": 0.0, "unknown": 64.0}
    assert table["buyers"].to_dict() == {"scan": 2, "click": 1, "shelf": 1, "draw": 1, "unknown": 1}
    assert math.isclose(table["share_of_revenue"].sum(), 1.0)


def test_funnel_split_by_channel(room: ShowData) -> None:
    table = channel_funnel(room).set_index("channel")
    assert table["people"].to_dict() == {"scan": 2, "click": 2, "shelf": 1, "draw": 4}
    assert table["buyers"].to_dict() == {"scan": 2, "click": 1, "shelf": 1, "draw": 1}
    assert table["conversion"].to_dict() == {"scan": 1.0, "click": 0.5, "shelf": 1.0, "draw": 0.25}


def test_coupon_use_and_discounts_given(room: ShowData) -> None:
    assert discounts(room.orders).tolist() == [0.0, 5.0, 24.0, 80.0, 0.0, 10.0]
    table = coupon_use(room).set_index("coupon")
    assert table.loc["FARM10"].to_dict() == {"orders": 2, "units": 4, "revenue": 261.0, "discount": 29.0}
    assert table.loc["(none)"].to_dict() == {"orders": 2, "units": 2, "revenue": 40.0, "discount": 90.0}
    summary = show_summary(room)
    assert (summary["coupon_orders"], summary["discount_given"]) == (2, 119.0)
    assert (summary["comments"], summary["wants"], summary["draws"]) == (5, 2, 1)


def test_comments_and_wants_per_product_and_per_minute(room: ShowData) -> None:
    table = product_table(room).set_index("sku")
    assert table[["comments", "wants"]].to_dict("index") == {
        "ORANGE": {"comments": 3, "wants": 1},  # v1 wanted twice: one person
        "TEA": {"comments": 1, "wants": 1},
    }
    pulse = comments_per_minute(room)
    assert len(pulse) == 10 and pulse["time"].iloc[1] == pd.Timestamp(START) + pd.Timedelta(minutes=1)
    assert pulse["comments"].tolist() == [2, 1, 0, 1, 0, 0, 0, 0, 0, 1]
    assert pulse["wants"].tolist() == [2, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_drop_off_says_what_was_on_air(room: ShowData) -> None:
    drops = drop_offs(room)
    assert len(drops) == 1
    drop = drops.iloc[0]
    assert drop["before"] == 12 and drop["after"] == 4 and drop["lost"] == 8
    assert drop["sku"] == "TEA" and drop["name"] == "Tea"
    assert (
        pd.Timestamp(START) + pd.Timedelta(seconds=240)
        <= drop["time"]
        <= pd.Timestamp(START) + pd.Timedelta(seconds=300)
    )
    frames = timeline_figure_data(room)
    assert frames["drops"].equals(drops)
    assert frames["draws"][["prize", "entrants"]].values.tolist() == [["Tea box", 4]]


def test_a_steady_audience_has_no_drop_offs() -> None:
    data = ShowData.build(
        Show(id=1, title="calm", started_at=START, ended_at=END),
        sessions=[
            {"id": n, "viewer_id": f"v{n}", "joined_at": at(0), "left_at": at(60 * n), "transport": "hls"}
            for n in range(1, 11)
        ],  # one leaves a minute: never 3 at once
    )
    assert drop_offs(data).empty


money = st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 2))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["scan", "click", "shelf", "draw", "replay", None]),
            st.integers(1, 5),
            money,
            st.one_of(st.none(), money),
            st.sampled_from([None, "A", "B"]),
        ),
        max_size=25,
    )
)
def test_channel_and_coupon_tables_add_up(rows: list[tuple[str | None, int, float, float | None, str | None]]) -> None:
    data = ShowData.build(
        Show(id=1, title="t", started_at=START, ended_at=END),
        orders=[
            order(i, "ORANGE", via, qty, unit, listed, coupon, f"b{i}")
            for i, (via, qty, unit, listed, coupon) in enumerate(rows)
        ],
    )
    by_channel = orders_by_channel(data)
    assert by_channel["orders"].sum() == len(rows)
    assert math.isclose(by_channel["revenue"].sum(), data.orders["total"].sum(), abs_tol=1e-6)
    given_off = discounts(data.orders)
    assert (given_off >= 0).all()
    coupons = coupon_use(data)
    assert math.isclose(coupons["discount"].sum(), given_off.sum(), abs_tol=1e-6)
    assert coupons.loc[coupons["coupon"] != "(none)", "orders"].sum() == sum(1 for r in rows if r[4])


def test_load_show_reads_the_live_room(db) -> None:  # type: ignore[no-untyped-def]
    """A simulated show has every channel, coupons, comments and a draw; load_show reads them all."""
    from analytics.simulate import simulate_show

    show = simulate_show(db, viewers=600, minutes=30, seed=4)
    data = load_show(db, show)
    assert data.simulated and show_summary(data)["simulated"]
    assert set(data.link_people["kind"]) == {"scan", "click", "shelf"}
    assert {"scan", "click", "shelf"} <= set(data.orders["via"].dropna())
    assert data.orders["coupon"].notna().any() and (discounts(data.orders) > 0).any()
    assert data.comments["want"].any() and len(data.draws) == 1 and data.draws["entrants"].iloc[0] > 0
    table = product_table(data)
    assert table["comments"].sum() > 0 and table["wants"].sum() > 0
