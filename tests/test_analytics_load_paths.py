"""The report's fast SQLite road gives the figures the plain road gives (issue: the report got slower).

:func:`analytics.load_show` counts taps in SQL (per product and kind, distinct
people, people per tap kind) and looks up the buyer's last visit only for
orders placed after the show's end. Hypothesis draws taps (anonymous or not,
live or after the end) and orders around the end, writes them to a real
SQLite file, and checks every such figure against the same rows counted in
pandas (:meth:`ShowData.build`) and each order's channel against a plain
per-order search of every visit. The tally those people are counted from
(``link_taps``, kept by triggers) is checked against a recount of
``link_events`` after inserts, deletes and updates, and after the migration.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import catalog
from analytics.frames import ShowData, load_show
from analytics.metrics import channel_funnel, funnel
from catalog.products import Product, upsert_product
from catalog.shows import create_show, end_show, link_for
from tests.conftest import database_before
from tests.test_analytics_metrics import END, START, at

SHOW_S = (pd.Timestamp(END) - pd.Timestamp(START)).total_seconds()
viewers = st.sampled_from([None, "", "v1", "v2", "v3"])  # "": an id, if an odd one
# Seconds since the start: the end is at 600 s, and what comes after it is the replay's.
moments = st.one_of(st.sampled_from([0, 599, 600, 601]), st.integers(0, 900))
taps = st.lists(st.tuples(st.sampled_from(["scan", "click", "shelf"]), st.sampled_from(["ORANGE", "TEA"]),
                          viewers, moments), max_size=40)
buys = st.lists(st.tuples(st.sampled_from(["ORANGE", "TEA"]), viewers, st.booleans(), moments), max_size=10)


def rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """The frame's rows as sorted plain tuples: the figures, whatever the column dtypes."""
    return sorted(tuple(v.item() if hasattr(v, "item") else v for v in row) for row in frame.itertuples(index=False))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=taps, orders=buys)
@example(  # a replay sale, a live sale by the same buyer, and one after the end with its last visit live
    events=[("scan", "ORANGE", "v1", 300), ("click", "ORANGE", "v1", 700), ("scan", "TEA", "v2", 100),
            ("scan", "TEA", None, 650), ("shelf", "ORANGE", "v2", 600)],
    orders=[("ORANGE", "v1", True, 800), ("ORANGE", "v1", True, 500), ("TEA", "v2", True, 900)],
)
def test_sql_tap_figures_and_channels_equal_the_plain_ones(
    tmp_path_factory: object,
    events: list[tuple[str, str, str | None, int]],
    orders: list[tuple[str, str | None, bool, int]],
) -> None:
    folder: Path = tmp_path_factory.mktemp("paths")  # type: ignore[attr-defined]
    db = catalog.open_db(folder)
    for sku in ("ORANGE", "TEA"):
        upsert_product(db, Product(sku, sku.title(), 59.0, stock=1000))
    show = create_show(db, "Harvest", started_at=START)
    code = {sku: link_for(db, show.id, sku).code for sku in ("ORANGE", "TEA")}
    for kind, sku, viewer, second in events:
        db.execute(
            "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (?, ?, ?, ?, ?, ?)",
            [show.id, code[sku], sku, at(second), kind, viewer],
        )
    for sku, buyer, linked, second in orders:
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, status, buyer_id) "
            "VALUES (?, ?, 1, 59.0, 59.0, ?, 'builtin', ?, 'paid', ?)",
            [show.id, sku, at(second), code[sku] if linked else None, buyer],
        )
    show = end_show(db, show.id, ended_at=END)
    from_sql = load_show(db, show.id)
    raw_events = [dict(row) for row in db.query("SELECT * FROM link_events WHERE show_id = ?", [show.id])]
    db.conn.close()
    plain = ShowData.build(show, link_events=raw_events, orders=from_sql.orders)

    assert rows(from_sql.link_counts) == rows(plain.link_counts)
    assert rows(from_sql.replay_link_counts) == rows(plain.replay_link_counts)
    assert (from_sql.link_viewers, from_sql.link_anonymous) == (plain.link_viewers, plain.link_anonymous)
    assert rows(from_sql.link_people) == rows(plain.link_people)
    pd.testing.assert_frame_equal(funnel(from_sql), funnel(plain))
    pd.testing.assert_frame_equal(channel_funnel(from_sql), channel_funnel(plain))

    # Each order's channel, by searching every visit: replay when the buyer's last visit of
    # the order's link, at or before the order, came after the show's end.
    expected = []
    for sku, buyer, linked, second in orders:
        visits = [
            s for _, tap_sku, viewer, s in events
            if linked and buyer is not None and viewer == buyer and tap_sku == sku and s <= second
        ]
        expected.append("replay" if visits and max(visits) > SHOW_S else "live")
    assert from_sql.orders.sort_values("id")["channel"].tolist() == expected


TALLY = "SELECT show_id, kind, anonymous, viewer_id, events FROM link_taps ORDER BY 1, 2, 3, 4"
RECOUNT = (
    "SELECT show_id, kind, viewer_id IS NULL, COALESCE(viewer_id, ''), COUNT(*) FROM link_events "
    "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
)
changes = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(1, 2), st.sampled_from(["scan", "click", "shelf"]), viewers),
        st.tuples(st.just("delete"), st.integers(0, 30)),
        st.tuples(
            st.just("update"), st.integers(0, 30), st.integers(1, 2), st.sampled_from(["scan", "click"]), viewers
        ),
    ),
    max_size=40,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=changes)
def test_the_tally_of_taps_follows_every_insert_delete_and_update(
    tmp_path_factory: object, steps: list[tuple[object, ...]]
) -> None:
    db = catalog.open_db(tmp_path_factory.mktemp("tally"))  # type: ignore[attr-defined]
    for show in (1, 2):
        db.execute("INSERT INTO shows (id, title, started_at) VALUES (?, 'Harvest', ?)", [show, START])
    for step in steps:
        ids = [row[0] for row in db.execute("SELECT id FROM link_events ORDER BY id")]
        if step[0] == "insert":
            db.execute(
                "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (?, 'c', 'ORANGE', ?, ?, ?)",
                [step[1], START, step[2], step[3]],
            )
        elif ids and step[0] == "delete":
            db.execute("DELETE FROM link_events WHERE id = ?", [ids[int(step[1]) % len(ids)]])  # type: ignore[call-overload]
        elif ids:
            db.execute(
                "UPDATE link_events SET show_id = ?, kind = ?, viewer_id = ? WHERE id = ?",
                [step[2], step[3], step[4], ids[int(step[1]) % len(ids)]],  # type: ignore[call-overload]
            )
        assert db.execute(TALLY).fetchall() == db.execute(RECOUNT).fetchall()
    db.conn.close()


def test_the_migration_tallies_the_taps_already_recorded(tmp_path: Path) -> None:
    path = tmp_path / catalog.schema.DB_FILENAME
    old, _ = database_before(path, "CREATE TABLE link_taps")
    old.execute("INSERT INTO shows (id, title, started_at) VALUES (1, 'Harvest', ?)", [START])
    taps = [
        ("scan", "v1"), ("scan", "v1"), ("scan", None), ("scan", None), ("click", "v1"), ("click", ""), ("shelf", "v2")
    ]
    old.executemany(
        "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (1, 'c', 'ORANGE', ?, ?, ?)",
        [(START, kind, viewer) for kind, viewer in taps],
    )
    old.commit()
    old.close()
    db = catalog.connect(path)
    assert db.execute(TALLY).fetchall() == db.execute(RECOUNT).fetchall() == [
        (1, "click", 0, "", 1), (1, "click", 0, "v1", 1), (1, "scan", 0, "v1", 2), (1, "scan", 1, "", 2),
        (1, "shelf", 0, "v2", 1),
    ]
    assert "link_events_kind" not in {index.name for index in db["link_events"].indexes}
    data = load_show(db, 1)
    assert (data.link_viewers, data.link_anonymous) == (3, 2)  # v1, "" (an id) and v2; two scans without one
    assert rows(data.link_people) == [("click", 2), ("scan", 3), ("shelf", 1)]
    db.conn.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == catalog.SCHEMA_VERSION
