"""After the show, pure: chapters, live/replay split, most-replayed chapters, the clip plan.

Every expected figure is worked out by hand from the rows below (show clock:
seconds since 10:00:00).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.attribution import order_channels
from analytics.frames import ShowData
from analytics.replay import BEAT_S, channel_split, chapters, clip_plan, replayed_chapters, strongest_window
from catalog.shows import Show

SHOW = Show(1, "Harvest", "2026-11-20T10:00:00.000Z", "2026-11-20T10:10:00.000Z")  # 600 s


def at(seconds: float) -> str:
    return (pd.Timestamp(SHOW.started_at) + pd.Timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


PRODUCTS = [
    {"sku": "ORANGE", "name": "Oranges", "name_zh": "脐橙", "price": 59.0},
    {"sku": "TEA", "name": "Tea", "name_zh": "茶叶", "price": 88.0},
]
OVERLAY = [  # oranges 0-200, nothing 200-250, tea 250-400, oranges 400-600
    {"id": 1, "at": at(0), "sku": "ORANGE"},
    {"id": 2, "at": at(200), "sku": None},
    {"id": 3, "at": at(250), "sku": "TEA"},
    {"id": 4, "at": at(400), "sku": "ORANGE"},
]


def data(**rows: object) -> ShowData:
    return ShowData.build(SHOW, overlay_events=OVERLAY, products=PRODUCTS, **rows)  # type: ignore[arg-type]


def test_chapters_are_the_on_air_intervals() -> None:
    table = chapters(data())
    assert table["chapter"].tolist() == [1, 2, 3]
    assert table["sku"].tolist() == ["ORANGE", "TEA", "ORANGE"]
    assert table["name_zh"].tolist() == ["脐橙", "茶叶", "脐橙"]
    assert table["start_s"].tolist() == [0.0, 250.0, 400.0]
    assert table["end_s"].tolist() == [200.0, 400.0, 600.0]  # the blank stretch is no chapter


def test_live_and_replay_are_split() -> None:
    sessions = [
        {"id": 1, "viewer_id": "a", "joined_at": at(0), "left_at": at(300), "transport": "webrtc"},
        {"id": 2, "viewer_id": "b", "joined_at": at(10), "left_at": at(20), "transport": "webrtc"},
        {"id": 3, "viewer_id": "b", "joined_at": at(700), "left_at": at(800), "transport": "replay"},
        {"id": 4, "viewer_id": "c", "joined_at": at(900), "left_at": at(960), "transport": "replay"},
        {"id": 5, "viewer_id": "c", "joined_at": at(1000), "left_at": at(1010), "transport": "replay"},
    ]
    link_events = [
        {"id": 1, "sku": "ORANGE", "at": at(30), "kind": "scan", "viewer_id": "a"},
        {"id": 2, "sku": "TEA", "at": at(260), "kind": "click", "viewer_id": "a"},
        {"id": 3, "sku": "TEA", "at": at(720), "kind": "click", "viewer_id": "b"},  # after the end: replay
        {"id": 4, "sku": "TEA", "at": at(930), "kind": "scan", "viewer_id": "c"},  # QR off the replayed video
    ]
    orders = [
        {"id": 1, "sku": "TEA", "quantity": 1, "total": 88.0, "at": at(270), "buyer_id": "a", "channel": "live"},
        {"id": 2, "sku": "TEA", "quantity": 2, "total": 176.0, "at": at(725), "buyer_id": "b", "channel": "replay"},
        {"id": 3, "sku": "ORANGE", "quantity": 1, "total": 59.0, "at": at(940), "buyer_id": "c", "channel": "replay"},
    ]
    show = data(sessions=sessions, link_events=link_events, orders=orders)
    # Live figures keep to the live audience: replay sessions are not "viewers of the show".
    assert len(show.sessions) == 2 and len(show.replay_sessions) == 3
    split = channel_split(show).set_index("channel")
    assert split.loc["live"].to_dict() == {
        "viewers": 2, "sessions": 2, "scans": 1, "clicks": 1, "orders": 1, "units": 1, "gmv": 88.0, "buyers": 1,
    }
    assert split.loc["replay"].to_dict() == {
        "viewers": 2, "sessions": 3, "scans": 1, "clicks": 1, "orders": 2, "units": 3, "gmv": 235.0, "buyers": 2,
    }


def test_an_order_is_replay_when_its_buyer_last_came_after_the_end() -> None:
    end = pd.Timestamp(SHOW.ended_at)
    orders = pd.DataFrame(
        {
            "last_visit_at": pd.to_datetime(
                [at(100), at(599), at(601), None], utc=True, format="ISO8601"
            ),
        }
    )
    # scanned live; scanned in the last second; came from the replay; no visit known (a platform import)
    assert order_channels(orders, end).tolist() == ["live", "live", "replay", "live"]
    assert order_channels(orders, None).tolist() == ["live"] * 4  # a live show has no replay yet


def test_most_replayed_chapters() -> None:
    positions = [  # viewer x: 3 beats in chapter 2, 1 in chapter 1; viewer y: 1 in chapter 2, 2 in chapter 3
        {"session_id": 1, "viewer_id": "x", "at": at(700), "position_s": 260.0},
        {"session_id": 1, "viewer_id": "x", "at": at(705), "position_s": 265.0},
        {"session_id": 1, "viewer_id": "x", "at": at(710), "position_s": 270.0},
        {"session_id": 1, "viewer_id": "x", "at": at(715), "position_s": 10.0},
        {"session_id": 2, "viewer_id": "y", "at": at(800), "position_s": 399.0},
        {"session_id": 2, "viewer_id": "y", "at": at(805), "position_s": 400.0},
        {"session_id": 2, "viewer_id": "y", "at": at(810), "position_s": 590.0},
        {"session_id": 2, "viewer_id": "y", "at": at(815), "position_s": 220.0},  # the blank stretch: no chapter
    ]
    table = replayed_chapters(data(replay_positions=positions))
    assert table["chapter"].tolist() == [2, 3, 1]
    assert table["replay_viewers"].tolist() == [2, 1, 1]
    assert table["replay_s"].tolist() == [4 * BEAT_S, 2 * BEAT_S, 1 * BEAT_S]


def test_strongest_window() -> None:
    times = np.array([10.0, 50.0, 52.0, 55.0, 90.0, 150.0])
    # [50, 80) holds 3 (50, 52, 55); no 30 s window holds more.
    assert strongest_window(times, 0.0, 200.0, 30.0) == (50.0, 3)
    # A window may not run past the interval: the latest start is finish - length.
    assert strongest_window(np.array([195.0, 199.0]), 0.0, 200.0, 30.0) == (170.0, 2)
    # No events: the interval's start.
    assert strongest_window(np.array([]), 40.0, 200.0, 30.0) == (40.0, 0)
    # Short enough: the whole interval.
    assert strongest_window(times, 40.0, 60.0, 30.0) == (40.0, 3)


def test_clip_plan_skips_short_trims_long_and_ranks_by_orders_then_gpm() -> None:
    sessions = [{"id": 1, "viewer_id": "a", "joined_at": at(0), "left_at": at(600), "transport": "webrtc"}]
    orders = [
        {"id": 1, "sku": "TEA", "quantity": 1, "total": 88.0, "at": at(300), "buyer_id": "a"},
        {"id": 2, "sku": "TEA", "quantity": 1, "total": 88.0, "at": at(310), "buyer_id": "b"},
        {"id": 3, "sku": "ORANGE", "quantity": 1, "total": 59.0, "at": at(450), "buyer_id": "c"},
    ]
    events = pd.DataFrame(
        {
            "sku": ["ORANGE", "ORANGE", "ORANGE", "TEA"],
            "at": pd.to_datetime([at(120), at(130), at(140), at(320)], utc=True),
        }
    )
    show = data(sessions=sessions, orders=orders)
    plan = clip_plan(show, events, min_s=20, max_s=90)
    # TEA (2 orders) first; then the two oranges chapters (1 order each, same GPM), busier window first.
    assert plan["sku"].tolist() == ["TEA", "ORANGE", "ORANGE"]
    assert plan["rank"].tolist() == [1, 2, 3]
    assert plan["orders"].tolist() == [2, 1, 1]
    tea = plan.iloc[0]
    # Tea 250-400 trimmed to 90 s holding its orders at 300, 310 and the click at 320: [250, 340)
    # holds all three, as does [300, 390); the earliest wins (it opens on the product's introduction).
    assert (tea["start_s"], tea["end_s"], tea["activity"]) == (250.0, 340.0, 3)
    first_oranges = plan.iloc[1]
    # 0-200 trimmed: the window must hold the scans at 120-140 and end by 200, so it starts at 110.
    assert (first_oranges["start_s"], first_oranges["end_s"], first_oranges["activity"]) == (110.0, 200.0, 3)
    assert plan.iloc[2]["start_s"] == 400.0 and plan.iloc[2]["activity"] == 1
    assert plan["gpm"].iloc[0] == pytest.approx(176.0 / 1 * 1000)
    # min-seconds: chapters shorter are skipped (tea is 150 s, the others 200 s).
    assert plan_skus(clip_plan(show, events, min_s=160, max_s=300)) == ["ORANGE", "ORANGE"]


def plan_skus(plan: pd.DataFrame) -> list[str]:
    return plan["sku"].tolist()


def test_clip_plan_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="need 0 < min-seconds <= max-seconds"):
        clip_plan(data(), pd.DataFrame({"sku": [], "at": []}), min_s=30, max_s=20)
    with pytest.raises(ValueError, match="need 0 < min-seconds <= max-seconds"):
        clip_plan(data(), pd.DataFrame({"sku": [], "at": []}), min_s=0, max_s=20)
