"""The show simulator: realistic shape, consistent rows, reproducible, fast enough for demos."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlite_utils

import catalog
from analytics.frames import load_link_events, load_show
from analytics.metrics import on_air_intervals, show_summary
from analytics.simulate import simulate_show
from studio.cli import main

END = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


@pytest.fixture
def simulated(db: sqlite_utils.Database) -> int:
    return simulate_show(db, viewers=1500, minutes=40, seed=11, ended_at=END)


def test_empty_catalog_gets_the_demo_farm_shop(db: sqlite_utils.Database, simulated: int, data_dir: Path) -> None:
    products = catalog.list_products(db)
    assert len(products) == 7 and any("ORANGE" in p.sku for p in products)
    assert (data_dir / "images").is_dir()


def test_show_shape_is_realistic(db: sqlite_utils.Database, simulated: int) -> None:
    data = load_show(db, simulated)
    summary = show_summary(data)
    assert summary["unique_viewers"] == 1500
    assert summary["sessions"] > 1500  # some viewers come back
    assert (data.start, data.end) == (pd.Timestamp("2026-11-23T12:20:00Z"), pd.Timestamp(END))
    joined = data.seconds(data.sessions["joined_at"])
    assert (joined < 600).mean() > 0.5  # the opening rush: most arrive in the first quarter
    assert (joined > 1800).any()  # and a long tail
    watch = data.watch_s
    assert watch.median() < watch.mean() / 1.5  # heavy-tailed watch time
    assert watch.max() > 20 * 60
    segments = on_air_intervals(data)
    assert segments["sku"].nunique() >= 5  # the host works through the catalog
    assert segments["seconds"].max() <= 360
    assert 0 < summary["orders"] < summary["clicks"]
    # Platform orders name the simulated show too: no real show's time window may take them.
    assert set(data.orders["attributed_by"]) == {"link", "recorded"}
    assert set(data.orders.loc[data.orders["attributed_by"] == "recorded", "source"]) == {"import"}
    assert (data.orders["at"] <= data.end).all()  # nothing after the end, which is never after now
    assert (data.stream_events["kind"] == "stats").sum() == 240  # every 10 s


def test_scans_and_clicks_happen_while_their_product_is_on_air(db: sqlite_utils.Database, simulated: int) -> None:
    data = load_show(db, simulated)
    segments = on_air_intervals(data)
    clicks = load_link_events(db, simulated)
    seconds = data.seconds(clicks["at"]).to_numpy()
    index = np.searchsorted(segments["start_s"].to_numpy(), seconds, side="right") - 1
    assert (index >= 0).all()
    assert (segments["sku"].to_numpy()[index] == clicks["sku"].to_numpy()).all()
    assert (seconds < segments["end_s"].to_numpy()[index] + 1e-3).all()
    codes = dict(db.execute("SELECT sku, code FROM links WHERE show_id = ?", [simulated]).fetchall())
    assert (clicks["code"] == clicks["sku"].map(codes)).all()


def test_same_seed_same_show(tmp_path: Path) -> None:
    figures = []
    for name in ("a", "b"):
        db = catalog.open_db(tmp_path / name)
        show = simulate_show(db, viewers=300, minutes=10, seed=5, ended_at=END)
        figures.append(show_summary(load_show(db, show)))
        db.conn.close()
    assert figures[0] == figures[1]


def test_simulated_orders_leave_stock_alone(db: sqlite_utils.Database) -> None:
    catalog.upsert_product(db, catalog.Product(sku="HONEY", name="Honey", price=50, stock=4))
    show = simulate_show(db, viewers=800, minutes=15, seed=2, ended_at=END)
    assert catalog.get_product(db, "HONEY").stock == 4
    assert db.execute("SELECT COUNT(*) FROM orders WHERE sku = 'HONEY'").fetchone()[0] > 0
    assert catalog.list_products(db) == [catalog.get_product(db, "HONEY")]  # no demo seeding
    assert show == 1


def test_bad_arguments_are_refused(db: sqlite_utils.Database) -> None:
    bad = ({"viewers": -1, "minutes": 5}, {"viewers": 5, "minutes": 0}, {"viewers": 5, "minutes": 5, "activity": -1})
    for kwargs in bad:
        with pytest.raises(ValueError, match="must be"):
            simulate_show(db, **kwargs)
    assert db.execute("SELECT COUNT(*) FROM shows").fetchone()[0] == 0


def test_zero_viewers_is_an_empty_but_valid_show(db: sqlite_utils.Database) -> None:
    show = simulate_show(db, viewers=0, minutes=5, seed=1, ended_at=END)
    summary = show_summary(load_show(db, show))
    assert (summary["unique_viewers"], summary["orders"], summary["duration_s"]) == (0, 0, 300.0)


def test_cli_simulate(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--viewers", "50", "--minutes", "3", "--seed", "1", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "simulated show 1: 50 viewers" in out and "farmlive report 1" in out
