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

A simulated show must never change a real show's figures. It is marked
(``shows.simulated = 1``), placed after the newest show has ended and never
later than now (see :func:`place_show`), and every order it writes names it
(``show_id``), so no real show can take a simulated order by its time window
and the simulated show takes no real one (attribution skips simulated shows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlite_utils

from analytics.draws import close_draw, open_draw
from catalog.csvio import data_folder
from catalog.demo import seed_demo_catalog
from catalog.products import Product, list_products
from catalog.schema import transaction
from catalog.shows import create_show, end_show, link_for
from catalog.timestamps import parse_iso, to_iso, utc_now

SEGMENT_S = (150.0, 360.0)  # the host talks about one product for 2.5 to 6 minutes
MEDIAN_WATCH_S = 75.0
WATCH_SIGMA = 1.3  # lognormal: median 75 s, mean ~3.5 min, a few stay for the whole show
FRONT_LOADED = 0.65  # share of viewers arriving in the opening rush
REJOIN_SHARE = 0.12
ACTIONS_PER_WATCH_MIN = 0.08  # scans + clicks per minute watched, at activity 1.0
ORDER_PER_TAP = 0.07  # about what 12 % of Buy-button clicks gave when only clicks bought
PLATFORM_SHARE = 0.3  # orders placed on a platform shop: no link code, imported later
STATS_EVERY_S = 10.0
# How viewers open a buy link: scanning the QR, the Buy button, the shelf (小黄车).
TAP_KINDS, TAP_SHARES = ("scan", "click", "shelf"), (0.35, 0.45, 0.20)
COUPON, COUPON_SHARE, COUPON_OFF = "FARM10", 0.15, 0.10  # 10 % off for some buyers
COMMENTS_PER_WATCH_MIN, WANT_SHARE = 0.05, 0.35
WANT_WORDS = ("扣1", "想要", "1", "要一箱")
CHAT_WORDS = ("好新鲜", "多少钱", "发什么快递", "主播好", "包邮吗", "甜不甜")
DRAW_KEYWORD, DRAW_S = "福袋", 120.0
MIN_SHOW_S = 60.0  # less free time than this before now: refuse rather than squeeze a show in


class SimulationRefused(ValueError):
    """The simulated show cannot be placed without overlapping a real one or writing the future."""


def place_show(
    duration_s: float, *, now: datetime, latest_end: datetime | None, live: bool, ended_at: datetime | None = None
) -> tuple[datetime, datetime]:
    """(start, end) of a simulated show: after every existing show, never after ``now``. Pure.

    The show ends at ``ended_at`` (default ``now``) and lasts ``duration_s``;
    if that would begin before the newest show ended (``latest_end``), it
    starts at that end instead and is shorter. Refused (:class:`SimulationRefused`)
    while a show is live, for an end in the future or before ``latest_end``,
    and when less than a minute is free.
    """
    end = ended_at or now
    if live:
        raise SimulationRefused("a show is live: simulate after it ends / 正在直播：请在结束后再模拟")
    if end > now:
        raise SimulationRefused(f"ended_at {to_iso(end)} is in the future / 结束时间不能晚于现在")
    start = end - timedelta(seconds=duration_s)
    if latest_end is not None and start < latest_end:
        start = latest_end
    if (end - start).total_seconds() < MIN_SHOW_S:
        free = max((end - start).total_seconds(), 0.0)
        raise SimulationRefused(
            f"only {free:.0f} s between the last show's end and {to_iso(end)}: a simulated show never overlaps a "
            f"real one; try again later / 距上一场直播结束不足 1 分钟，模拟直播不能与真实直播重叠，请稍后再试"
        )
    return start, end

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

    The show is marked simulated and ends at ``ended_at`` (default now, never
    later); it never overlaps an existing show, so it may be shorter than
    ``minutes`` or refused (see :func:`place_show`). ``activity`` scales scans
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
    with transaction(db):
        products = _products(db)
        latest, live = db.execute(
            "SELECT MAX(ended_at), COUNT(*) FILTER (WHERE ended_at IS NULL) FROM shows"
        ).fetchone()
        start, end = place_show(
            float(minutes) * 60.0,
            now=utc_now(),
            latest_end=parse_iso(latest) if latest else None,
            live=bool(live),
            ended_at=ended_at,
        )
        duration = (end - start).total_seconds()
        show = create_show(
            db, title or "Farm live (simulated) / 农场直播（模拟）", started_at=to_iso(start), simulated=True
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
            activity=activity, segments=segments,
        )
        _write_comments(db, show.id, start, rng, sessions=sessions, segments=segments)
        _write_draw(db, show.id, start, rng, duration)
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
    segment = _segment_at(segments, at)
    on_air = np.array([s.sku for s in segments], dtype=object)[segment]
    kind = rng.choice(np.array(TAP_KINDS), len(rows), p=TAP_SHARES)
    # A scan from a second phone carries no viewer cookie.
    viewer = sessions["viewer_id"].to_numpy()[rows].astype(object)
    viewer[(kind == "scan") & (rng.random(len(rows)) < 0.5)] = None
    frame = pd.DataFrame({"at_s": at, "sku": on_air, "kind": kind, "viewer_id": viewer, "segment": segment})
    return frame[frame["sku"].notna()].sort_values("at_s", kind="stable").reset_index(drop=True)


def _segment_at(segments: list[Segment], at_s: np.ndarray) -> np.ndarray:
    """Index of the segment on air at each moment (seconds since the start)."""
    starts = np.array([s.start_s for s in segments])
    return np.asarray(np.clip(np.searchsorted(starts, at_s, side="right") - 1, 0, None), dtype=np.int64)


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
    segments: list[Segment],
) -> None:
    """Some taps become orders a little later; a share goes through a platform shop.

    Every order names this show (``show_id``), platform ones too: they are
    what a later import of the simulated shop would bring, and a real show's
    time window must never pick them up. Nothing is placed after the show's
    end, which is never after now. An order keeps how the buyer came (the
    tap's kind), the list price, and the flash-sale price or coupon it paid.
    """
    chance = ORDER_PER_TAP / max(activity, 1.0)
    taps = actions[rng.random(len(actions)) < chance]
    count = len(taps)
    at_s = np.minimum(taps["at_s"].to_numpy() + rng.exponential(90.0, count), duration)
    platform = rng.random(count) < PLATFORM_SHARE
    quantity = rng.geometric(0.6, count)
    list_price = taps["sku"].map(prices).to_numpy(dtype=float)
    flash = np.array(
        [float(p["price"]) if p and p.get("kind") == "flash_sale" else np.nan for p in (s.promo for s in segments)]
    )
    on_sale = flash[_segment_at(segments, at_s)] if count else np.zeros(0)
    coupon = ~platform & (rng.random(count) < COUPON_SHARE)
    unit_price = np.where(np.isnan(on_sale), list_price, on_sale)
    unit_price = np.where(coupon, np.round(unit_price * (1 - COUPON_OFF), 2), unit_price)
    status = rng.choice(["paid", "completed", "refunded", "cancelled"], count, p=[0.8, 0.14, 0.04, 0.02])
    skus, kinds = taps["sku"].to_numpy(), taps["kind"].to_numpy()
    buyers = taps["viewer_id"].to_numpy()
    times = _iso(start, at_s)
    db.conn.executemany(
        "INSERT INTO orders (show_id, sku, quantity, unit_price, total, at, source, link_code, "
        "external_id, status, buyer_id, channel, coupon, list_price) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                show_id,
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
                None if platform[i] else str(kinds[i]),
                COUPON if coupon[i] else None,
                float(list_price[i]),
            )
            for i in range(count)
        ],
    )


def _write_comments(
    db: sqlite_utils.Database,
    show_id: int,
    start: datetime,
    rng: np.random.Generator,
    *,
    sessions: pd.DataFrame,
    segments: list[Segment],
) -> None:
    """A few comments per viewer-minute; about a third ask for the product on air (扣1, 想要)."""
    length = (sessions["end_s"] - sessions["start_s"]).to_numpy()
    rows = np.repeat(np.arange(len(sessions)), rng.poisson(COMMENTS_PER_WATCH_MIN * length / 60.0))
    at = sessions["start_s"].to_numpy()[rows] + rng.random(len(rows)) * length[rows]
    order = np.argsort(at, kind="stable")
    rows, at = rows[order], at[order]
    skus = np.array([s.sku for s in segments], dtype=object)[_segment_at(segments, at)]
    want = (rng.random(len(rows)) < WANT_SHARE) & pd.notna(skus)
    words = np.where(want, rng.choice(np.array(WANT_WORDS), len(rows)), rng.choice(np.array(CHAT_WORDS), len(rows)))
    viewers = sessions["viewer_id"].to_numpy()[rows]
    db.conn.executemany(
        "INSERT INTO comments (show_id, at, viewer_id, nickname, text, sku, want) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (show_id, when, viewer, f"观众{str(viewer)[-4:]}", str(text), sku, int(wanted))
            for when, viewer, text, sku, wanted in zip(_iso(start, at), viewers, words, skus, want, strict=True)
        ],
    )


def _write_draw(
    db: sqlite_utils.Database, show_id: int, start: datetime, rng: np.random.Generator, duration: float
) -> None:
    """One lucky draw (福袋) halfway through: comment the keyword to enter, drawn like a real one."""
    if duration < 4 * DRAW_S:
        return
    opened = float(rng.uniform(0.3, 0.6)) * duration
    begin, finish = _iso(start, np.array([opened, opened + DRAW_S]))
    draw = open_draw(db, show_id, "一箱脐橙 / a box of oranges", "comment", finish, keyword=DRAW_KEYWORD, at=begin)
    at = opened + rng.random(int(rng.integers(3, 12))) * DRAW_S
    entrants = db.execute(
        "SELECT viewer_id FROM viewer_sessions WHERE show_id = ? AND joined_at <= ? AND left_at >= ? LIMIT ?",
        [show_id, begin, begin, len(at)],
    ).fetchall()
    db.conn.executemany(
        "INSERT INTO comments (show_id, at, viewer_id, nickname, text, want) VALUES (?, ?, ?, ?, ?, 0)",
        [
            (show_id, when, viewer, f"观众{viewer[-4:]}", DRAW_KEYWORD)
            for when, (viewer,) in zip(_iso(start, at), entrants, strict=False)
        ],
    )
    close_draw(db, draw.id, seed=f"{show_id}-{rng.integers(1 << 30)}", at=finish)


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
