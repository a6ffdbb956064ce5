"""The per-platform table: scans, orders, units and GMV by own-QR destination, the rest "own page".

Hand-computed rows first, then Hypothesis: whatever the links, events and
orders, the rows add up to the show's totals and the SQLite road
(:func:`analytics.load_show`) gives the same table as the pure one.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalog
from analytics.frames import ShowData, load_show
from analytics.metrics import NO_LINK, OWN_PAGE, platform_sales, show_summary
from catalog.products import Product, upsert_product
from catalog.shows import Show, create_show, end_show, link_for
from tests.test_analytics_metrics import END, START, at, order

SHOW = Show(id=7, title="Harvest", started_at=START, ended_at=END)
LINKS = [
    {"code": "own", "sku": "ORANGE", "destination": None},
    {"code": "dy1", "sku": "ORANGE", "destination": "抖音"},
    {"code": "dy2", "sku": "TEA", "destination": "抖音"},
    {"code": "sph", "sku": "ORANGE", "destination": "视频号"},
]


def event(eid: int, code: str, kind: str = "scan") -> dict[str, object]:
    sku = next(link["sku"] for link in LINKS if link["code"] == code)
    return {"id": eid, "code": code, "sku": sku, "at": at(eid), "kind": kind, "viewer_id": f"v{eid}"}


def linked(oid: int, code: str | None, quantity: int, total: float) -> dict[str, object]:
    return {**order(oid, "ORANGE", quantity, total, f"b{oid}", oid), "link_code": code}


def test_each_own_qr_destination_has_its_row_and_the_rest_is_the_own_page() -> None:
    data = ShowData.build(
        SHOW,
        links=LINKS,
        link_events=[
            event(1, "own"), event(2, "own", "click"), event(3, "dy1"), event(4, "dy2"), event(5, "dy2"),
            event(6, "own", "shelf"),
        ],
        orders=[linked(1, "dy1", 2, 118.0), linked(2, "own", 1, 59.0), linked(3, None, 3, 150.0)],
    )
    table = platform_sales(data).set_index("destination")
    assert list(table.index) == ["抖音", "视频号", OWN_PAGE, NO_LINK]
    assert table.loc["抖音"].to_dict() == {"scans": 3, "clicks": 0, "orders": 1, "units": 2, "gmv": 118.0}
    assert table.loc["视频号"].to_dict() == {"scans": 0, "clicks": 0, "orders": 0, "units": 0, "gmv": 0.0}
    assert table.loc[OWN_PAGE].to_dict() == {"scans": 1, "clicks": 1, "orders": 1, "units": 1, "gmv": 59.0}
    assert table.loc[NO_LINK].to_dict() == {"scans": 0, "clicks": 0, "orders": 1, "units": 3, "gmv": 150.0}


def test_a_show_without_destinations_is_one_own_page_row() -> None:
    table = platform_sales(ShowData.build(SHOW))
    assert table.to_dict("records") == [
        {"destination": OWN_PAGE, "scans": 0, "clicks": 0, "orders": 0, "units": 0, "gmv": 0.0}
    ]


codes = st.sampled_from([link["code"] for link in LINKS])
events_strategy = st.lists(st.tuples(codes, st.sampled_from(["scan", "click", "shelf"])), max_size=30)
orders_strategy = st.lists(
    st.tuples(st.one_of(st.none(), codes), st.integers(1, 5), st.integers(1, 500)), max_size=12
)


@settings(max_examples=25, deadline=None)
@given(events=events_strategy, orders=orders_strategy)
def test_rows_add_up_to_the_show(events: list[tuple[str, str]], orders: list[tuple[str | None, int, int]]) -> None:
    data = ShowData.build(
        SHOW,
        links=LINKS,
        link_events=[event(i, code, kind) for i, (code, kind) in enumerate(events, start=1)],
        orders=[linked(i, code, qty, float(total)) for i, (code, qty, total) in enumerate(orders, start=1)],
    )
    table = platform_sales(data)
    summary = show_summary(data)
    assert table["scans"].sum() == summary["scans"] and table["clicks"].sum() == summary["clicks"]
    assert table["orders"].sum() == summary["orders"] and table["units"].sum() == summary["units"]
    assert abs(table["gmv"].sum() - summary["gmv"]) < 1e-6
    douyin = table.set_index("destination").loc["抖音"]
    assert douyin["scans"] == sum(1 for code, kind in events if code in ("dy1", "dy2") and kind == "scan")
    assert douyin["orders"] == sum(1 for code, _, _ in orders if code in ("dy1", "dy2"))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_strategy, orders=orders_strategy)
def test_sqlite_gives_the_table_the_pure_function_gives(
    tmp_path_factory: object, events: list[tuple[str, str]], orders: list[tuple[str | None, int, int]]
) -> None:
    """``load_show`` counts per destination in SQL; built from the raw rows, the table is the same."""
    data_dir = tmp_path_factory.mktemp("platforms")  # type: ignore[attr-defined]
    db = catalog.open_db(data_dir)
    for sku in ("ORANGE", "TEA"):
        upsert_product(db, Product(sku, sku.title(), 59.0, stock=1000))
    show = create_show(db, "Harvest", started_at=START)
    code_of = {
        link["code"]: link_for(db, show.id, str(link["sku"]), destination=link["destination"]).code for link in LINKS
    }
    sku_of = {link["code"]: link["sku"] for link in LINKS}
    for i, (code, kind) in enumerate(events, start=1):
        db.execute(
            "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (?, ?, ?, ?, ?, ?)",
            [show.id, code_of[code], sku_of[code], at(i), kind, f"v{i}"],
        )
    for i, (code, qty, total) in enumerate(orders, start=1):
        db.execute(
            "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, status) "
            "VALUES (?, 'ORANGE', ?, ?, ?, ?, 'builtin', ?, 'paid')",
            [show.id, qty, total / qty, float(total), at(i), code_of[code] if code else None],
        )
    end_show(db, show.id, ended_at=END)
    from_sql = platform_sales(load_show(db, show.id))
    rows = db.execute("SELECT code, sku, destination FROM links WHERE show_id = ?", [show.id]).fetchall()
    raw = ShowData.build(
        show,
        links=[dict(zip(("code", "sku", "destination"), row, strict=True)) for row in rows],
        link_events=[dict(row) for row in db.query("SELECT * FROM link_events WHERE show_id = ?", [show.id])],
        orders=load_show(db, show.id).orders,
    )
    db.conn.close()
    pd.testing.assert_frame_equal(from_sql, platform_sales(raw))
