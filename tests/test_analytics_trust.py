"""Analytics people trust (issue #12): simulated shows never change a real show's figures.

The issue's numbers: a real show placed 3 orders / ¥359.40, and the time window
counted 8 / ¥954.50 because ``farmlive simulate`` had back-dated a show over it
and left platform orders (no link code, no show) after it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

import catalog
from analytics.attribution import attribute_orders, window_bounds
from analytics.frames import load_show
from analytics.metrics import show_summary
from analytics.simulate import SimulationRefused, place_show, simulate_show
from catalog.shows import create_show, end_show, get_show, link_for, list_shows
from tests.conftest import database_before

DAY = "2026-11-23"
REAL_ORDERS = [  # sku, quantity, unit price, at, link?, recorded?: 119.80 + 139.80 + 99.80 = 359.40
    ("ORANGE", 2, 59.90, f"{DAY}T10:10:00.000Z", True, False),
    ("TEA", 1, 139.80, f"{DAY}T10:20:00.000Z", False, True),
    ("SUGAR", 2, 49.90, f"{DAY}T11:30:00.000Z", False, False),  # a platform order after the show
]
# What the old simulator left behind: platform orders without a show, after the real show.
LEGACY_SIM_ORDERS = [  # 595.10 more: 954.50 in all
    ("ORANGE", 2, 59.90, f"{DAY}T10:40:00.000Z"),
    ("TEA", 1, 139.80, f"{DAY}T11:10:00.000Z"),
    ("SUGAR", 2, 49.90, f"{DAY}T11:45:00.000Z"),
    ("ORANGE", 2, 59.90, f"{DAY}T12:30:00.000Z"),
    ("TEA", 1, 115.90, f"{DAY}T13:00:00.000Z"),
]


def _products(db: sqlite_utils.Database | sqlite3.Connection) -> None:
    for sku, price in (("ORANGE", 59.9), ("TEA", 139.8), ("SUGAR", 49.9)):
        db.execute("INSERT INTO products (sku, name, price, stock) VALUES (?, ?, ?, 100)", [sku, sku.title(), price])


def _real_show(db: sqlite_utils.Database) -> int:
    show = create_show(db, "Harvest live", started_at=f"{DAY}T10:00:00.000Z")
    for sku in ("ORANGE", "TEA", "SUGAR"):
        link_for(db, show.id, sku)
    for sku, quantity, price, at, linked, recorded in REAL_ORDERS:
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'paid')",
            [
                show.id if recorded or linked else None,
                sku,
                quantity,
                price,
                round(quantity * price, 2),
                at,
                "builtin" if linked or recorded else "import",
                link_for(db, show.id, sku).code if linked else None,
            ],
        )
    end_show(db, show.id, ended_at=f"{DAY}T11:00:00.000Z")
    return show.id


def test_issue_12_legacy_simulated_show_is_marked_and_real_figures_come_back(tmp_path: Path) -> None:
    """A database the old simulator wrote into: the upgrade marks its show and gives its orders back."""
    path = tmp_path / catalog.schema.DB_FILENAME
    old, _ = database_before(path, "farmlive-simulator")
    _products(old)
    old.execute(
        "INSERT INTO shows VALUES (1, 'Harvest live', ?, ?, 0)", [f"{DAY}T10:00:00.000Z", f"{DAY}T11:00:00.000Z"]
    )
    # The old simulator back-dated its show to start before the real one.
    old.execute(
        "INSERT INTO shows VALUES (2, 'Farm live (simulated)', ?, ?, 0)",
        [f"{DAY}T09:30:00.000Z", f"{DAY}T10:15:00.000Z"],
    )
    for show in (1, 2):
        for sku in ("ORANGE", "TEA", "SUGAR"):
            old.execute("INSERT INTO links (code, show_id, sku) VALUES (?, ?, ?)", [f"{show}{sku}", show, sku])
    old.execute(
        "INSERT INTO viewer_sessions (show_id, viewer_id, joined_at, left_at, user_agent) "
        "VALUES (2, 's2-v000001', ?, ?, 'farmlive-simulator')",
        [f"{DAY}T09:31:00.000Z", f"{DAY}T09:40:00.000Z"],
    )
    rows = [
        (
            1 if recorded or linked else None,
            sku,
            quantity,
            price,
            at,
            "builtin" if linked or recorded else "import",
            f"1{sku}" if linked else None,
            None if linked or recorded else "DY-1",
        )
        for sku, quantity, price, at, linked, recorded in REAL_ORDERS
    ] + [
        (None, sku, quantity, price, at, "import", None, f"SIM2-{i:07d}")
        for i, (sku, quantity, price, at) in enumerate(LEGACY_SIM_ORDERS)
    ]
    old.executemany(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, external_id, status) "
        "VALUES (?, ?, ?, ?, round(? * ?, 2), ?, ?, ?, ?, 'paid')",
        [(r[0], r[1], r[2], r[3], r[2], r[3], *r[4:]) for r in rows],
    )
    old.commit()
    # The bug, as reported: by the time window the real show took the simulator's orders.
    orders = pd.read_sql("SELECT id, sku, at, link_code, show_id, total FROM orders", old)
    shows = pd.read_sql("SELECT id, started_at, ended_at, simulated FROM shows", old)
    links = pd.read_sql("SELECT code, show_id, sku FROM links", old)
    wrong = attribute_orders(orders, links, shows, timedelta(hours=24))
    wrong = wrong[wrong["attributed_show_id"] == 1]
    assert (len(wrong), round(wrong["total"].sum(), 2)) == (8, 954.50)
    old.close()

    db = catalog.connect(path)  # the upgrade
    assert get_show(db, 2).simulated and not get_show(db, 1).simulated
    assert [s.id for s in list_shows(db, include_simulated=False)] == [1]  # for totals across real shows
    right = show_summary(load_show(db, 1))
    assert (right["orders"], round(right["gmv"], 2)) == (3, 359.40)
    mine = load_show(db, 2).orders
    assert (len(mine), set(mine["attributed_by"])) == (5, {"recorded"})


def test_simulating_after_a_real_show_leaves_its_figures_alone(db: sqlite_utils.Database) -> None:
    _products(db)
    real = _real_show(db)
    now = datetime.now(UTC)
    sim = simulate_show(db, viewers=400, minutes=30, seed=3)
    show = get_show(db, sim)
    assert show.simulated and not get_show(db, real).simulated
    assert catalog.parse_iso(show.started_at) >= catalog.parse_iso(f"{DAY}T11:00:00.000Z")
    later = catalog.to_iso(datetime.now(UTC))
    for table, column in (
        ("orders", "at"),
        ("link_events", "at"),
        ("viewer_sessions", "left_at"),
        ("comments", "at"),
        ("stream_events", "at"),
        ("overlay_events", "at"),
        ("draws", "ends_at"),
    ):
        newest = db.execute(f"SELECT MAX({column}) FROM {table} WHERE show_id = ?", [sim]).fetchone()[0]
        assert newest is not None and newest <= later, (table, newest)
    assert catalog.parse_iso(show.ended_at or "") >= now - timedelta(seconds=5)
    summary = show_summary(load_show(db, real))
    assert (summary["orders"], round(summary["gmv"], 2)) == (3, 359.40)
    # Every simulated order names its show: no real show's window can take one.
    assert (
        db.execute("SELECT COUNT(*) FROM orders WHERE show_id IS NULL AND at > ?", [f"{DAY}T12:00:00Z"]).fetchone()[0]
        == 0
    )


def test_a_real_unlinked_order_never_goes_to_a_simulated_show(db: sqlite_utils.Database) -> None:
    """A platform order paid during a simulated show belongs to the real show before it, by its window."""
    _products(db)
    real = _real_show(db)
    sim = simulate_show(db, viewers=50, minutes=20, seed=1)
    during = catalog.to_iso(catalog.parse_iso(get_show(db, sim).started_at) + timedelta(minutes=5))
    db.execute(
        "INSERT INTO orders (sku, quantity, unit_price, total, at, source, external_id, status) "
        "VALUES ('ORANGE', 1, 59.9, 59.9, ?, 'import', 'DY-1', 'paid')",
        [during],
    )
    sim_ids = set(load_show(db, sim).orders["external_id"].dropna())
    assert "DY-1" not in sim_ids
    window = timedelta(days=365 * 3)  # wide enough to reach the simulated show, now
    assert "DY-1" in set(load_show(db, real, window=window).orders["external_id"].dropna())


def test_place_show_never_overlaps_and_never_writes_the_future() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert place_show(1800, now=now, latest_end=None, live=False) == (now - hour / 2, now)
    assert place_show(1800, now=now, latest_end=now - hour, live=False) == (now - hour / 2, now)
    # Only 10 minutes free since the last show: a shorter show, not an overlap.
    assert place_show(1800, now=now, latest_end=now - hour / 6, live=False) == (now - hour / 6, now)
    for kwargs in (
        {"latest_end": now - timedelta(seconds=30), "live": False},  # less than a minute free
        {"latest_end": None, "live": True},  # a show is live
        {"latest_end": None, "live": False, "ended_at": now + hour},  # the future
        {"latest_end": now - hour, "live": False, "ended_at": now - 2 * hour},  # back-dated before the last show
    ):
        with pytest.raises(SimulationRefused):
            place_show(1800, now=now, **kwargs)  # type: ignore[arg-type]


def test_cli_simulate_refuses_while_a_show_is_live(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    db = catalog.open_db(data_dir)
    create_show(db, "Live now")
    db.conn.close()
    assert main(["simulate", "--viewers", "10", "--minutes", "3", "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert "a show is live" in err and "正在直播" in err


BASE = pd.Timestamp("2026-11-01T00:00:00Z")
minutes = st.integers(min_value=0, max_value=600)


@st.composite
def shows_and_orders(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    count = draw(st.integers(1, 4))
    starts = sorted(draw(st.lists(minutes, min_size=count, max_size=count)))
    rows = []
    for i, start in enumerate(starts):
        length = draw(st.integers(1, 120))
        ended = None if i == count - 1 and draw(st.booleans()) else BASE + pd.Timedelta(minutes=start + length)
        rows.append(
            {
                "id": i + 1,
                "started_at": (BASE + pd.Timedelta(minutes=start)).isoformat(),
                "ended_at": ended.isoformat() if ended is not None else None,
                "simulated": int(draw(st.booleans())),
            }
        )
    shows = pd.DataFrame(rows)
    links = pd.DataFrame(
        [{"code": None, "show_id": s["id"], "sku": sku} for s in rows for sku in ("A", "B") if draw(st.booleans())],
        columns=["code", "show_id", "sku"],
    )
    at = draw(st.lists(st.integers(0, 1000), min_size=1, max_size=20))
    orders = pd.DataFrame(
        {
            "id": range(len(at)),
            "sku": [draw(st.sampled_from(["A", "B"])) for _ in at],
            "at": [(BASE + pd.Timedelta(minutes=m)).isoformat() for m in at],
            "link_code": None,
            "show_id": None,
        }
    )
    return shows, links, orders


@settings(max_examples=150, deadline=None)
@given(shows_and_orders(), st.integers(0, 300))
def test_window_attribution_never_crosses_into_another_show(
    case: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], window_min: int
) -> None:
    shows, links, orders = case
    window = timedelta(minutes=window_min)
    now = (BASE + pd.Timedelta(minutes=2000)).isoformat()
    result = attribute_orders(orders, links, shows, window, now=now)
    starts = pd.to_datetime(shows["started_at"], utc=True)
    real = shows["simulated"] == 0
    for _, order in result[result["attributed_by"] == "window"].iterrows():
        show = shows[shows["id"] == order["attributed_show_id"]].iloc[0]
        at = pd.Timestamp(order["at"])
        assert show["simulated"] == 0  # a simulated show never takes an order by time
        begin = pd.Timestamp(show["started_at"])
        end = pd.Timestamp(show["ended_at"] if isinstance(show["ended_at"], str) else now)
        assert begin <= at <= end + window
        later = starts[real & (starts > begin)]
        assert not (later <= at).any()  # never in (or after the start of) a later real show
        assert ((links["show_id"] == show["id"]) & (links["sku"] == order["sku"])).any()
    bounds = window_bounds(shows, window, now)
    assert set(bounds["show_id"]) == set(shows.loc[real, "id"])
