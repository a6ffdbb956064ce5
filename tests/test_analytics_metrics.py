"""Every show metric on a small show computed by hand (exact equality).

The show runs 10:00:00 -> 10:10:00 (600 s). Sessions, in seconds from start:
  v1: [0, 300) and again [420, 480)  -> one viewer, 360 s
  v2: [60, 80)                       -> 20 s, not engaged
  v3: [120, open)                    -> open session ends at show end: 480 s
  v4: [240, 720) clipped to 600      -> 360 s
  v5: [-120, 30) clipped to 0        -> 30 s, engaged (>= 30 s)
On air: ORANGE [0,180), TEA [180,360), nothing [360,420), ORANGE [420,600).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.frames import ShowData
from analytics.metrics import (
    concurrency,
    funnel,
    on_air_intervals,
    peak_concurrent,
    product_table,
    retention_curve,
    show_summary,
    timeline_figure_data,
    watch_times,
)
from catalog.shows import Show

START = "2026-11-20T10:00:00.000Z"
END = "2026-11-20T10:10:00.000Z"


def at(seconds: float) -> str:
    return (pd.Timestamp(START) + pd.Timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def session(sid: int, viewer: str, start: float, end: float | None) -> dict:
    return {"id": sid, "viewer_id": viewer, "joined_at": at(start), "left_at": None if end is None else at(end)}


def order(oid: int, sku: str, quantity: int, total: float, buyer: str | None, seconds: float) -> dict:
    return {
        "id": oid, "sku": sku, "quantity": quantity, "unit_price": total / quantity, "total": total,
        "at": at(seconds), "status": "paid", "buyer_id": buyer, "attributed_by": "link",
    }


@pytest.fixture
def show() -> ShowData:
    return ShowData.build(
        Show(id=7, title="Navel oranges live", started_at=START, ended_at=END),
        sessions=[
            session(1, "v1", 0, 300),
            session(2, "v2", 60, 80),
            session(3, "v3", 120, None),
            session(4, "v4", 240, 720),
            session(5, "v5", -120, 30),
            session(6, "v1", 420, 480),
        ],
        overlay_events=[
            {"id": 1, "at": at(0), "sku": "ORANGE"},
            {"id": 2, "at": at(180), "sku": "TEA"},
            {"id": 3, "at": at(360), "sku": None},
            {"id": 4, "at": at(420), "sku": "ORANGE"},
        ],
        link_events=[
            {"id": 1, "code": "o", "sku": "ORANGE", "at": at(60), "kind": "scan", "viewer_id": "v1"},
            {"id": 2, "code": "o", "sku": "ORANGE", "at": at(65), "kind": "click", "viewer_id": "v1"},
            {"id": 3, "code": "t", "sku": "TEA", "at": at(240), "kind": "scan", "viewer_id": "v3"},
            {"id": 4, "code": "t", "sku": "TEA", "at": at(300), "kind": "scan", "viewer_id": None},
            {"id": 5, "code": "o", "sku": "ORANGE", "at": at(480), "kind": "click", "viewer_id": "v4"},
        ],
        orders=[
            order(1, "ORANGE", 2, 40.0, "v1", 70),
            order(2, "ORANGE", 1, 20.0, "v1", 450),
            order(3, "TEA", 3, 90.0, "v3", 250),
            order(4, "TEA", 1, 30.0, None, 310),
        ],
        stream_events=[
            {"id": 1, "at": at(0), "kind": "connect"},
            {"id": 2, "at": at(100), "kind": "stats", "bitrate_kbps": 1800, "fps": 30},
            {"id": 3, "at": at(200), "kind": "disconnect"},
            {"id": 4, "at": at(205), "kind": "connect"},
        ],
        products=[
            {"sku": "ORANGE", "name": "Navel oranges", "name_zh": "赣南脐橙", "price": 20},
            {"sku": "TEA", "name": "Tea leaves", "name_zh": "茶叶", "price": 30},
        ],
    )


def test_watch_time_sums_sessions_of_a_rejoining_viewer_and_clips_to_the_show(show: ShowData) -> None:
    assert watch_times(show).sort_index().to_dict() == {
        "v1": 360.0, "v2": 20.0, "v3": 480.0, "v4": 360.0, "v5": 30.0,
    }


def test_summary(show: ShowData) -> None:
    summary = show_summary(show)
    expected = {
        "duration_s": 600.0,
        "unique_viewers": 5,
        "sessions": 6,
        "peak_concurrent": 3,
        "peak_at": pd.Timestamp("2026-11-20T10:04:00Z"),
        "avg_watch_s": 250.0,  # (360 + 20 + 480 + 360 + 30) / 5
        "median_watch_s": 360.0,  # 20, 30, [360], 360, 480
        "engaged_viewers": 4,
        "scans": 3,
        "clicks": 2,
        "orders": 4,
        "units": 7,
        "gmv": 180.0,
        "buyers": 3,  # v1, v3 and one order without a buyer id
        "revenue_per_viewer": 36.0,
        "gpm": 36000.0,  # 180 / 5 * 1000
        "conversion": 0.6,
        "reconnects": 1,
        "live": False,
    }
    assert {key: summary[key] for key in expected} == expected


def test_concurrency_counts_open_sessions_at_each_tick(show: ShowData) -> None:
    frame = concurrency(show, freq="60s")
    assert frame["seconds"].tolist() == [float(s) for s in range(0, 600, 60)]
    assert frame["viewers"].tolist() == [2, 2, 2, 2, 3, 2, 2, 3, 2, 2]
    assert frame["time"].iloc[4] == pd.Timestamp("2026-11-20T10:04:00Z")


def test_peak_is_the_first_moment_of_the_maximum(show: ShowData) -> None:
    assert peak_concurrent(show) == (3, pd.Timestamp("2026-11-20T10:04:00Z"))


def test_retention_is_the_share_still_watching_since_their_own_arrival(show: ShowData) -> None:
    curve = retention_curve(show, step_s=60)
    assert curve["seconds"].tolist() == [float(s) for s in range(0, 481, 60)]
    assert curve["viewers"].tolist() == [5, 3, 3, 3, 3, 3, 3, 1, 1]
    assert curve["share"].tolist() == [1.0, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.2, 0.2]


def test_on_air_intervals_run_until_the_next_event_and_null_means_nothing(show: ShowData) -> None:
    intervals = on_air_intervals(show)
    assert intervals[["sku", "start_s", "end_s"]].values.tolist() == [
        ["ORANGE", 0.0, 180.0], ["TEA", 180.0, 360.0], ["ORANGE", 420.0, 600.0],
    ]


def test_product_table(show: ShowData) -> None:
    table = product_table(show).set_index("sku")
    assert table.loc["ORANGE"].to_dict() == {
        "name": "Navel oranges", "name_zh": "赣南脐橙",
        "on_air_s": 360.0,
        "viewers_present": 5,  # every session overlaps [0,180) or [420,600)
        "scans": 1, "clicks": 2, "orders": 2, "units": 3, "revenue": 60.0, "buyers": 1,
        "conversion": 0.2,  # 1 buyer / 5 present
        "revenue_per_on_air_min": 10.0,  # 60 / 6 min
        "comments": 0, "wants": 0,  # no live room here (see test_analytics_live_room.py)
    }
    tea = table.loc["TEA"]
    assert tea["on_air_s"] == 180.0
    assert tea["viewers_present"] == 3  # v1, v3, v4 overlap [180, 360)
    assert (tea["scans"], tea["clicks"], tea["orders"], tea["units"], tea["revenue"]) == (2, 0, 2, 4, 120.0)
    assert tea["buyers"] == 2
    assert math.isclose(tea["conversion"], 2 / 3)
    assert tea["revenue_per_on_air_min"] == 40.0


def test_funnel(show: ShowData) -> None:
    frame = funnel(show)
    assert frame["stage"].tolist() == ["viewers", "engaged", "scanned_or_clicked", "ordered"]
    assert frame["viewers"].tolist() == [5, 4, 4, 3]
    assert frame["share_of_previous"].tolist() == [1.0, 0.8, 1.0, 0.75]
    assert frame["share_of_viewers"].tolist() == [1.0, 0.8, 0.8, 0.6]


def test_timeline_frames_share_one_time_axis(show: ShowData) -> None:
    frames = timeline_figure_data(show, freq="60s")
    assert set(frames) == {"concurrency", "pins", "orders", "stream", "comments", "draws", "drops", "holds"}
    assert frames["pins"]["name"].tolist() == ["Navel oranges", "Tea leaves", "Navel oranges"]
    assert frames["pins"]["end"].iloc[1] == pd.Timestamp("2026-11-20T10:06:00Z")
    assert frames["orders"]["total"].tolist() == [40.0, 90.0, 30.0, 20.0]  # by time
    assert frames["stream"]["kind"].tolist() == ["connect", "stats", "disconnect", "connect"]
    assert frames["concurrency"]["viewers"].max() == 3


def test_product_sold_but_never_on_air_has_a_row_with_zero_air_time(show: ShowData) -> None:
    data = ShowData.build(
        Show(id=1, title="t", started_at=START, ended_at=END),
        sessions=[session(1, "v1", 0, 60)],
        orders=[order(1, "SUGAR", 1, 15.0, "v1", 30)],
    )
    row = product_table(data).set_index("sku").loc["SUGAR"]
    assert (row["on_air_s"], row["viewers_present"], row["orders"], row["conversion"]) == (0.0, 0, 1, 0.0)
    assert row["revenue_per_on_air_min"] == 0.0


def test_empty_show_gives_zeros_not_errors() -> None:
    data = ShowData.build(Show(id=1, title="empty", started_at=START, ended_at=END))
    summary = show_summary(data)
    assert (summary["unique_viewers"], summary["peak_concurrent"], summary["peak_at"]) == (0, 0, None)
    assert (summary["avg_watch_s"], summary["median_watch_s"], summary["gmv"], summary["gpm"]) == (0.0, 0.0, 0.0, 0.0)
    assert product_table(data).empty
    assert funnel(data)["viewers"].tolist() == [0, 0, 0, 0]
    assert funnel(data)["share_of_viewers"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert retention_curve(data)["viewers"].tolist() == [0]
    assert concurrency(data, "300s")["viewers"].tolist() == [0, 0]


def test_live_show_counts_open_sessions_until_now() -> None:
    data = ShowData.build(
        Show(id=1, title="live", started_at=START, ended_at=None),
        sessions=[session(1, "v1", 10, None), session(2, "v2", 20, 50)],
        now=at(100),
    )
    summary = show_summary(data)
    assert summary["live"] is True
    assert summary["ended_at"] is None
    assert summary["duration_s"] == 100.0
    assert watch_times(data).to_dict() == {"v1": 90.0, "v2": 30.0}
    assert concurrency(data, "50s")["viewers"].tolist() == [0, 1]  # at 50 s v2 has just left


def test_leave_and_join_at_the_same_instant_never_double_count() -> None:
    data = ShowData.build(
        Show(id=1, title="t", started_at=START, ended_at=END),
        sessions=[session(1, "a", 0, 100), session(2, "b", 100, 200), session(3, "c", 150, 150)],
    )
    assert peak_concurrent(data) == (1, pd.Timestamp(START))


def test_bad_frequency_and_step_are_refused(show: ShowData) -> None:
    with pytest.raises(ValueError, match="freq must be positive"):
        concurrency(show, "0s")
    with pytest.raises(ValueError, match="step_s must be positive"):
        retention_curve(show, step_s=0)
