"""A realistic synthetic show, for demos, reports and benchmarks.

The shape follows what farm livestreams look like: most viewers arrive in
the first minutes after the show is announced, a long tail drifts in later;
watch times are heavy-tailed (most leave within a minute or two, a few stay
the whole show); the host switches products every few minutes; scans and
clicks happen while a product is on air; orders follow clicks after a short
delay, most through the show's buy links, some on a platform shop without a
link (as a later order import would bring them). Everything is generated
with NumPy arrays and written in one transaction with ``executemany``, so
100,000 viewers take seconds, not minutes.

Simulated orders do not take stock: they describe a past show, and a demo
must not empty the real catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlite_utils

from catalog.csvio import data_folder
from catalog.demo import seed_demo_catalog
from catalog.products import Product, list_products
from catalog.schema import transaction
from catalog.shows import create_show, end_show, link_for
from catalog.timestamps import to_iso, utc_now

SEGMENT_S = (150.0, 360.0)  # the host talks about one product for 2.5 to 6 minutes
MEDIAN_WATCH_S = 75.0
WATCH_SIGMA = 1.3  # lognormal: median 75 s, mean ~3.5 min, a few stay for the whole show
FRONT_LOADED = 0.65  # share of viewers arriving in the opening rush
REJOIN_SHARE = 0.12
ACTIONS_PER_WATCH_MIN = 0.08  # scans + clicks per minute watched, at activity 1.0
ORDER_PER_CLICK = 0.12
PLATFORM_SHARE = 0.3  # orders placed on a platform shop: no link code, imported later
STATS_EVERY_S = 10.0

@dataclass(frozen=True)
class Segment:
    """One stretch of the show with a product on air (``sku`` None: host chatting)."""

    start_s: float
    sku: str | None
    promo: dict[str, str | float] | None


def simulate_show(
    db: sqlite_utils.Database,
    *,
    viewers: int,
    minutes: float,
    seed: int | None = None,
    title: str | None = None,
    ended_at: datetime | None = None,
    activity: float = 1.0,
) -> int:
    """Record a finished synthetic show of ``viewers`` people over ``minutes``; returns its id.

    The show ends at ``ended_at`` (default now). ``activity`` scales scans
    and clicks per minute watched, not purchases: a viewer who taps more
    does not buy more (the benchmark raises it to reach a million events
    with a realistic number of orders). Seeded runs are reproducible.
    """
    if viewers < 0:
        raise ValueError(f"viewers must be 0 or more, got {viewers}")
    if not minutes > 0:
        raise ValueError(f"minutes must be more than 0, got {minutes}")
    if activity < 0:
        raise ValueError(f"activity must be 0 or more, got {activity}")
    rng = np.random.default_rng(seed)
    products = _products(db)
    duration = float(minutes) * 60.0
    end = ended_at or utc_now()
    start = end - timedelta(seconds=duration)
    with transaction(db):
        show = create_show(
            db, title or "Farm live (simulated) / 农场直播（模拟）", started_at=to_iso(start)
        )
        segments = _segments(rng, products, duration)
        codes = {s.sku: link_for(db, show.id, s.sku).code for s in segments if s.sku}
        prices = {p.sku: p.price for p in products}
        _write_overlays(db, show.id, start, segments)
        sessions = _sessions(rng, show.id, viewers, duration)
        _write_sessions(db, show.id, start, sessions)
        actions = _actions(rng, sessions, segments, activity)
        _write_link_events(db, show.id, start, actions, codes)
        _write_orders(
            db, show.id, start, rng=rng, actions=actions, codes=codes, prices=prices, duration=duration,
            activity=activity,
        )
        _write_stream(db, show.id, start, rng, duration)
        end_show(db, show.id, ended_at=to_iso(end))
    return show.id


def _products(db: sqlite_utils.Database) -> list[Product]:
    """Active catalog products; an empty catalog gets the demo farm shop first."""
    products = list_products(db, active_only=True)
    if products:
        return products
    seed_demo_catalog(db, data_folder(db) or Path.cwd())
    return list_products(db, active_only=True)


def _segments(rng: np.random.Generator, products: list[Product], duration: float) -> list[Segment]:
    """Products in a shuffled rotation, a short chat without a product now and then."""
    segments: list[Segment] = []
    order = list(rng.permutation(len(products)))
    at = 0.0
    while at < duration:
        if segments and segments[-1].sku is not None and rng.random() < 0.12:
            segments.append(Segment(at, None, None))
            at += float(rng.uniform(20, 60))
            continue
        if not order:
            order = list(rng.permutation(len(products)))
        product = products[order.pop()]
        promo: dict[str, str | float] | None = None
        if rng.random() < 0.3:
            promo = {"kind": "flash_sale", "price": round(product.price * 0.8, 2), "seconds": 120}
        segments.append(Segment(at, product.sku, promo))
        at += float(rng.uniform(*SEGMENT_S))
    return segments


def _sessions(rng: np.random.Generator, show_id: int, viewers: int, duration: float) -> pd.DataFrame:
    """viewer, start_s, end_s, transport: a front-loaded rush plus a long tail, lognormal stays."""
    rush = rng.random(viewers) < FRONT_LOADED
    arrival = np.where(
        rush,
        rng.exponential(duration / 8.0, viewers),
        rng.uniform(0.0, duration, viewers),
    )
    arrival = np.minimum(arrival, duration * 0.999)
    stay = rng.lognormal(np.log(MEDIAN_WATCH_S), WATCH_SIGMA, viewers)
    leave = np.minimum(arrival + np.maximum(stay, 2.0), duration)
    ids = np.arange(viewers)
    back = ids[(rng.random(viewers) < REJOIN_SHARE) & (leave < duration - 60)]
    again = leave[back] + rng.exponential(120.0, len(back))
    keep = again < duration - 5
    back, again = back[keep], again[keep]
    again_leave = np.minimum(again + rng.lognormal(np.log(MEDIAN_WATCH_S), WATCH_SIGMA, len(back)), duration)
    viewer = np.concatenate([ids, back])
    frame = pd.DataFrame(
        {
            "viewer": viewer,
            "start_s": np.concatenate([arrival, again]),
            "end_s": np.concatenate([leave, again_leave]),
            "transport": np.where(rng.random(len(viewer)) < 0.85, "webrtc", "hls"),
        }
    )
    frame["viewer_id"] = [f"s{show_id}-v{n:06d}" for n in frame["viewer"]]
    return frame.sort_values("start_s", kind="stable").reset_index(drop=True)


def _actions(
    rng: np.random.Generator, sessions: pd.DataFrame, segments: list[Segment], activity: float
) -> pd.DataFrame:
    """Scans and clicks at random moments of each session, for the product then on air."""
    length = (sessions["end_s"] - sessions["start_s"]).to_numpy()
    counts = rng.poisson(activity * ACTIONS_PER_WATCH_MIN * length / 60.0)
    rows = np.repeat(np.arange(len(sessions)), counts)
    at = sessions["start_s"].to_numpy()[rows] + rng.random(len(rows)) * length[rows]
    starts = np.array([s.start_s for s in segments])
    on_air = np.array([s.sku for s in segments], dtype=object)[np.searchsorted(starts, at, side="right") - 1]
    kind = np.where(rng.random(len(rows)) < 0.4, "scan", "click")
    # A scan from a second phone carries no viewer cookie.
    viewer = sessions["viewer_id"].to_numpy()[rows].astype(object)
    viewer[(kind == "scan") & (rng.random(len(rows)) < 0.5)] = None
    frame = pd.DataFrame({"at_s": at, "sku": on_air, "kind": kind, "viewer_id": viewer})
    return frame[frame["sku"].notna()].sort_values("at_s", kind="stable").reset_index(drop=True)


def _write_overlays(db: sqlite_utils.Database, show_id: int, start: datetime, segments: list[Segment]) -> None:
    times = _iso(start, np.array([s.start_s for s in segments]))
    db.conn.executemany(
        "INSERT INTO overlay_events (show_id, at, sku, layout, promo) VALUES (?, ?, ?, 'auto', ?)",
        [
            (show_id, at, s.sku, json.dumps(s.promo) if s.promo else None)
            for at, s in zip(times, segments, strict=True)
        ],
    )


def _write_sessions(db: sqlite_utils.Database, show_id: int, start: datetime, sessions: pd.DataFrame) -> None:
    joined = _iso(start, sessions["start_s"].to_numpy())
    left = _iso(start, sessions["end_s"].to_numpy())
    db.conn.executemany(
        "INSERT INTO viewer_sessions (show_id, viewer_id, joined_at, left_at, last_seen_at, transport, user_agent) "
        "VALUES (?, ?, ?, ?, ?, ?, 'farmlive-simulator')",
        zip([show_id] * len(sessions), sessions["viewer_id"], joined, left, left, sessions["transport"], strict=True),
    )


def _write_link_events(
    db: sqlite_utils.Database, show_id: int, start: datetime, actions: pd.DataFrame, codes: dict[str, str]
) -> None:
    db.conn.executemany(
        "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (?, ?, ?, ?, ?, ?)",
        zip(
            [show_id] * len(actions),
            actions["sku"].map(codes),
            actions["sku"],
            _iso(start, actions["at_s"].to_numpy()),
            actions["kind"],
            actions["viewer_id"], strict=True,
        ),
    )


def _write_orders(
    db: sqlite_utils.Database,
    show_id: int,
    start: datetime,
    *,
    rng: np.random.Generator,
    actions: pd.DataFrame,
    codes: dict[str, str],
    prices: dict[str, float],
    duration: float,
    activity: float,
) -> None:
    """Some clicks become orders a little later; a share goes through a platform shop."""
    chance = ORDER_PER_CLICK / max(activity, 1.0)
    clicks = actions[(actions["kind"] == "click") & (rng.random(len(actions)) < chance)]
    count = len(clicks)
    at_s = clicks["at_s"].to_numpy() + rng.exponential(90.0, count)
    platform = rng.random(count) < PLATFORM_SHARE
    # Platform buyers often pay after the show: up to a few hours later.
    at_s = np.where(platform, at_s + rng.exponential(1800.0, count), np.minimum(at_s, duration))
    quantity = rng.geometric(0.6, count)
    unit_price = clicks["sku"].map(prices).to_numpy(dtype=float)
    status = rng.choice(["paid", "completed", "refunded", "cancelled"], count, p=[0.8, 0.14, 0.04, 0.02])
    skus = clicks["sku"].to_numpy()
    buyers = clicks["viewer_id"].to_numpy()
    times = _iso(start, at_s)
    db.conn.executemany(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, "
        "external_id, status, buyer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                None if platform[i] else show_id,
                skus[i],
                int(quantity[i]),
                float(unit_price[i]),
                round(float(unit_price[i]) * int(quantity[i]), 2),
                times[i],
                "import" if platform[i] else "builtin",
                None if platform[i] else codes[skus[i]],
                f"SIM{show_id}-{i:07d}" if platform[i] else None,
                str(status[i]),
                f"tb_{buyers[i]}" if platform[i] and buyers[i] else buyers[i],
            )
            for i in range(count)
        ],
    )


def _write_stream(
    db: sqlite_utils.Database, show_id: int, start: datetime, rng: np.random.Generator, duration: float
) -> None:
    """Phone uplink stats every 10 s: bitrate wandering around 2 Mbit/s, a dropout or two."""
    ticks = np.arange(0.0, duration, STATS_EVERY_S)
    bitrate = np.clip(2000 + np.cumsum(rng.normal(0, 80, len(ticks))), 300, 4000)
    fps = np.clip(rng.normal(29.5, 0.8, len(ticks)), 12, 30)
    rows: list[tuple[int, float, str, float | None, float | None, str | None]] = [
        (show_id, float(t), "stats", round(float(b), 1), round(float(f), 1), None)
        for t, b, f in zip(ticks, bitrate, fps, strict=True)
    ]
    rows.append((show_id, 0.0, "connect", None, None, "simulated phone"))
    for drop in rng.uniform(0.1, 0.9, rng.integers(0, 3)) * duration:
        rows += [
            (show_id, float(drop), "disconnect", None, None, "uplink lost"),
            (show_id, float(drop) + float(rng.uniform(2, 8)), "connect", None, None, "reconnected"),
        ]
    times = _iso(start, np.array([r[1] for r in rows]))
    db.conn.executemany(
        "INSERT INTO stream_events (show_id, at, kind, bitrate_kbps, fps, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [(r[0], at, *r[2:]) for r, at in zip(rows, times, strict=True)],
    )


def _iso(start: datetime, seconds: np.ndarray) -> list[str]:
    """Stored timestamps for offsets in seconds, vectorised (no per-row strftime)."""
    base = np.datetime64(to_iso(start)[:-1], "ms")
    moments = base + np.round(np.asarray(seconds, dtype=float) * 1000).astype("timedelta64[ms]")
    return [text + "Z" for text in np.datetime_as_string(moments, unit="ms")]
