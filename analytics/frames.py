"""One show as pandas DataFrames: the I/O edge every metric starts from.

Metrics are pure functions of a :class:`ShowData`; only :func:`load_show`
touches SQLite. Tests build a ``ShowData`` by hand with
:meth:`ShowData.build`, so every metric is checked on exact, hand-computed
timestamps without a database.

Link events are the one table that grows to millions of rows, and no metric
needs them one by one: a show keeps their counts per product and kind and
its count of distinct scanning people, which SQLite reads from covering
indexes in one ordered pass. :func:`load_link_events` gives the raw rows to
whoever really wants them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from analytics.attribution import DEFAULT_WINDOW, SALE_STATUSES, attribute_orders, order_channels
from catalog.shows import Show, get_show
from catalog.timestamps import to_iso, utc_now

SESSION_COLUMNS = ["id", "viewer_id", "joined_at", "left_at", "transport"]
LINK_EVENT_COLUMNS = ["id", "code", "sku", "at", "kind", "viewer_id"]
# The orders table columns a ShowData loads (attribution adds "attributed_by").
ORDER_FRAME_COLUMNS = [
    "id", "show_id", "sku", "quantity", "unit_price", "total", "at", "source",
    "link_code", "external_id", "status", "buyer_id", "via", "coupon", "list_price",
]
# Frame columns stored under another name: ``via`` is ``orders.channel`` (scan, click,
# shelf, draw, replay: how the buyer came), because ``channel`` in a ShowData is live/replay.
STORED_AS = {"via": "channel"}
COMMENT_COLUMNS = ["id", "at", "viewer_id", "sku", "want"]
DRAW_COLUMNS = ["id", "prize", "rule", "keyword", "start", "end", "status", "winner_name", "entrants"]
LINK_PEOPLE_COLUMNS = ["kind", "people"]
LINK_COUNT_COLUMNS = ["sku", "kind", "events"]
OVERLAY_COLUMNS = ["id", "at", "sku", "layout", "promo"]
STREAM_COLUMNS = ["id", "at", "kind", "bitrate_kbps", "fps", "detail"]
DESTINATION_COLUMNS = ["id", "at", "destination", "state", "detail"]
# A show's buy links; ``destination`` is an own-QR simulcast destination's name, null for the show's own.
LINK_COLUMNS = ["code", "sku", "destination"]
DESTINATION_COUNT_COLUMNS = ["destination", "kind", "events"]
PRODUCT_COLUMNS = ["sku", "name", "name_zh", "price", "currency", "unit"]
POSITION_COLUMNS = ["session_id", "viewer_id", "at", "position_s"]
TIME_COLUMNS = ("joined_at", "left_at", "last_seen_at", "at", "last_visit_at")
REPLAY = "replay"


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})

Frameish = pd.DataFrame | Iterable[Mapping[str, Any]]


def to_utc(values: pd.Series) -> pd.Series:
    """Stored ISO-8601 text, or epoch milliseconds -> tz-aware UTC datetimes (null -> ``NaT``)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = values.dt.tz_convert("UTC")
        return converted
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_datetime(values, utc=True, unit="ms")
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _select(columns: list[str]) -> str:
    """A SELECT list where SQLite turns stored timestamps into epoch milliseconds.

    ``julianday`` in C is about twice as fast as parsing 100,000 ISO strings
    in pandas, and exact to the millisecond at these magnitudes.
    """
    return ", ".join(
        f"CAST(round((julianday({c}) - 2440587.5) * 86400000) AS INTEGER)"
        if c in TIME_COLUMNS
        else (f"{STORED_AS[c]} AS {c}" if c in STORED_AS else c)
        for c in columns
    )


@dataclass(frozen=True)
class ShowData:
    """Everything recorded about one show, as DataFrames with UTC datetimes.

    ``end`` is the show's end, or ``now`` while the show is still live, so a
    live show's figures are "so far". ``orders`` holds only the sales
    attributed to this show (see :mod:`analytics.attribution`), with an
    ``attributed_by`` column (``link``, ``recorded`` or ``window``).
    ``link_counts`` has one row per (sku, kind) with its number of
    ``events``; ``link_viewers`` is the number of distinct viewer ids that
    scanned or clicked, ``link_anonymous`` the events without a viewer id.

    After the show (see docs/replay.md): ``sessions`` are the live audience
    only; replay views (``transport = 'replay'``) are ``replay_sessions``,
    so live figures (concurrency, watch time, retention) never mix in people
    watching days later. ``replay_link_counts`` counts the scans and clicks
    made after the show ended (the live QR is gone: they came from the
    replay), ``replay_positions`` the replay page's heartbeats (where on the
    show clock each replay viewer was), and every order has a ``channel``,
    ``live`` or ``replay``.
    """

    show_id: int
    title: str
    start: pd.Timestamp
    end: pd.Timestamp
    live: bool
    sessions: pd.DataFrame
    link_counts: pd.DataFrame
    link_viewers: int
    link_anonymous: int
    orders: pd.DataFrame
    overlay_events: pd.DataFrame
    stream_events: pd.DataFrame
    products: pd.DataFrame
    replay_sessions: pd.DataFrame = field(default_factory=lambda: _empty(SESSION_COLUMNS))
    replay_link_counts: pd.DataFrame = field(default_factory=lambda: _empty(LINK_COUNT_COLUMNS))
    replay_positions: pd.DataFrame = field(default_factory=lambda: _empty(POSITION_COLUMNS))
    # Simulcast pushes' state changes (idle/connecting/live/retrying/failed) per destination.
    destination_events: pd.DataFrame = field(default_factory=lambda: _frame((), DESTINATION_COLUMNS))
    # The live room: comments still shown (hidden ones left out), with the product on air and
    # whether they asked for it (a want); lucky draws with their entrant counts.
    comments: pd.DataFrame = field(default_factory=lambda: _frame((), COMMENT_COLUMNS))
    draws: pd.DataFrame = field(default_factory=lambda: _frame((), DRAW_COLUMNS))
    # Distinct people per tap kind (scan, click, shelf): viewer ids plus events without one.
    link_people: pd.DataFrame = field(default_factory=lambda: _frame((), LINK_PEOPLE_COLUMNS))
    simulated: bool = False
    # The show's buy links and the scans/clicks per link destination (null: the show's own link).
    links: pd.DataFrame = field(default_factory=lambda: _frame((), LINK_COLUMNS))
    destination_link_counts: pd.DataFrame = field(default_factory=lambda: _frame((), DESTINATION_COUNT_COLUMNS))

    @property
    def duration_s(self) -> float:
        return max((self.end - self.start) / pd.Timedelta(seconds=1), 0.0)

    def seconds(self, times: pd.Series) -> pd.Series:
        """Seconds since the show started (float; ``NaT`` -> ``NaN``)."""
        return (times - self.start) / pd.Timedelta(seconds=1)

    @cached_property
    def spans(self) -> pd.DataFrame:
        """Sessions as seconds since the start, clipped to the show.

        Columns viewer_id, viewer (a dense int code per viewer id, so
        per-viewer sums are ``np.bincount``), start_s, end_s >= start_s. An
        open session runs to ``end``. Computed once: every metric uses it.
        """
        duration = self.duration_s
        start = self.seconds(self.sessions["joined_at"]).clip(0.0, duration).to_numpy()
        end = self.seconds(self.sessions["left_at"]).fillna(duration).clip(0.0, duration).to_numpy()
        codes, _ = pd.factorize(self.sessions["viewer_id"])
        return pd.DataFrame(
            {
                "viewer_id": self.sessions["viewer_id"],
                "viewer": codes,
                "start_s": start,
                "end_s": np.maximum(end, start),
            }
        )

    @cached_property
    def watch_s(self) -> pd.Series:
        """Seconds watched per viewer (sum of their clipped sessions), by viewer_id."""
        spans = self.spans
        codes, viewers = pd.factorize(self.sessions["viewer_id"])
        seconds = np.bincount(
            codes, weights=spans["end_s"] - spans["start_s"], minlength=len(viewers)
        )
        return pd.Series(seconds, index=pd.Index(viewers, name="viewer_id"), name="watch_s", dtype="float64")

    @cached_property
    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """The audience's step function (see :func:`analytics.metrics.concurrency_steps`), swept once.

        The peak, the concurrency curve and the drop-offs all read it; a
        sweep sorts every join and leave, so it is done once per show.
        """
        spans = self.spans
        times = np.concatenate([spans["start_s"].to_numpy(), spans["end_s"].to_numpy()])
        if not len(times):
            return np.zeros(1), np.zeros(1, np.int64)
        deltas = np.concatenate([np.ones(len(spans), np.int64), -np.ones(len(spans), np.int64)])
        distinct, slot = np.unique(times, return_inverse=True)
        counts = np.cumsum(np.bincount(slot, weights=deltas, minlength=len(distinct))).round().astype(np.int64)
        return distinct, counts

    @classmethod
    def build(
        cls,
        show: Show,
        *,
        sessions: Frameish = (),
        link_events: Frameish = (),
        orders: Frameish = (),
        overlay_events: Frameish = (),
        stream_events: Frameish = (),
        products: Frameish = (),
        destination_events: Frameish = (),
        links: Frameish = (),
        now: str | None = None,
        link_counts: tuple[pd.DataFrame, int, int] | None = None,
        destination_link_counts: Frameish | None = None,
        replay_link_counts: Frameish | None = None,
        replay_positions: Frameish = (),
        comments: Frameish = (),
        draws: Frameish = (),
        link_people: Frameish | None = None,
    ) -> ShowData:
        """Normalise rows (dicts or DataFrames of stored text) into a ShowData.

        ``orders`` must already be this show's attributed sales; missing
        columns are filled with nulls so hand-made test rows stay short (an
        order without a ``channel`` is live). ``sessions`` may mix live and
        replay rows: they are split by transport here. Raw ``link_events``
        are summarised here, unless ``link_counts`` (counts, viewers,
        anonymous) and ``replay_link_counts`` were already aggregated by the
        caller; from raw events, those after the show's end are the replay's.
        ``links`` are the show's buy links (code, sku, destination); raw
        events are counted per destination through them unless
        ``destination_link_counts`` is given.
        """
        start = pd.Timestamp(show.started_at).tz_convert("UTC")
        end_text = show.ended_at or now or to_iso(utc_now())
        end = max(pd.Timestamp(end_text).tz_convert("UTC"), start)
        raw_events = _frame(link_events, LINK_EVENT_COLUMNS)
        counts, viewers, anonymous = link_counts or summarise_link_events(raw_events)
        if link_people is None:
            link_people = people_per_kind(raw_events)
        if replay_link_counts is None:
            after = raw_events[raw_events["at"] > end] if show.ended_at else raw_events.iloc[:0]
            replay_link_counts = summarise_link_events(after)[0]
        link_frame = _frame(links, LINK_COLUMNS)
        if destination_link_counts is None:
            destination_link_counts = count_by_destination(raw_events, link_frame)
        all_sessions = _frame(sessions, SESSION_COLUMNS)
        is_replay = all_sessions["transport"] == REPLAY
        order_frame = _frame(orders, [*ORDER_FRAME_COLUMNS, "attributed_by", "channel"])
        order_frame["channel"] = order_frame["channel"].fillna("live")
        return cls(
            show_id=show.id,
            title=show.title,
            start=start,
            end=end,
            live=show.ended_at is None,
            sessions=all_sessions[~is_replay].reset_index(drop=True),
            link_counts=_frame(counts, LINK_COUNT_COLUMNS),
            link_viewers=viewers,
            link_anonymous=anonymous,
            orders=order_frame,
            overlay_events=_frame(overlay_events, OVERLAY_COLUMNS),
            stream_events=_frame(stream_events, STREAM_COLUMNS),
            products=_frame(products, PRODUCT_COLUMNS),
            replay_sessions=all_sessions[is_replay].reset_index(drop=True),
            replay_link_counts=_frame(replay_link_counts, LINK_COUNT_COLUMNS),
            replay_positions=_frame(replay_positions, POSITION_COLUMNS),
            destination_events=_frame(destination_events, DESTINATION_COLUMNS),
            comments=_frame(comments, COMMENT_COLUMNS),
            draws=_frame(draws, DRAW_COLUMNS),
            link_people=_frame(link_people, LINK_PEOPLE_COLUMNS),
            simulated=show.simulated,
            links=link_frame,
            destination_link_counts=_frame(destination_link_counts, DESTINATION_COUNT_COLUMNS),
        )


def people_per_kind(events: pd.DataFrame) -> pd.DataFrame:
    """kind, people: distinct viewer ids per tap kind, plus one person per event without an id."""
    grouped = events.groupby("kind")["viewer_id"]
    people = grouped.nunique() + grouped.apply(lambda ids: int(ids.isna().sum()))
    return people.rename("people").reset_index() if len(events) else _frame((), LINK_PEOPLE_COLUMNS)



def count_by_destination(events: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Events per (link destination, kind); a code not among ``links`` counts as the show's own."""
    destination = events["code"].map(links.set_index("code")["destination"]) if len(links) else None
    tagged = events.assign(destination=destination).astype({"destination": object})
    tagged["destination"] = tagged["destination"].where(tagged["destination"].notna(), None)
    counts = tagged.groupby(["destination", "kind"], dropna=False).size().rename("events").reset_index()
    return counts.astype({"destination": object}).where(counts.notna(), None)


def summarise_link_events(events: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """(counts per sku and kind, distinct viewer ids, events without a viewer id)."""
    counts = events.groupby(["sku", "kind"]).size().rename("events").reset_index()
    viewer = events["viewer_id"]
    return counts, int(viewer.nunique()), int(viewer.isna().sum())


def _frame(rows: Frameish, columns: list[str]) -> pd.DataFrame:
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[columns].reset_index(drop=True)
    for column in TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = to_utc(frame[column])
    for column in ("start", "end"):
        if column in frame.columns:
            frame[column] = to_utc(frame[column])
    for column in ("quantity", "unit_price", "total", "price", "bitrate_kbps", "fps", "position_s", "list_price"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    for column in ("events", "people", "entrants"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column]).astype("int64")
    if "want" in frame.columns:
        frame["want"] = frame["want"].fillna(False).astype(bool)
    return frame


def _read(
    db: sqlite_utils.Database, sql: str, params: list[Any] | dict[str, Any], columns: list[str]
) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(db.execute(sql, params).fetchall(), columns=columns)
    for column in TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = to_utc(pd.to_numeric(frame[column]) if frame.empty else frame[column])
    return frame


def load_show(
    db: sqlite_utils.Database,
    show_id: int,
    *,
    window: timedelta = DEFAULT_WINDOW,
    now: str | None = None,
) -> ShowData:
    """Read one show's sessions, events and attributed orders from SQLite.

    Raises :class:`catalog.shows.UnknownShow` for a show that does not exist.
    ``now`` (ISO text) pins the end of a live show, for reproducible figures.
    """
    show = get_show(db, show_id)
    sessions = _read(
        db,
        f"SELECT {_select(SESSION_COLUMNS)} FROM viewer_sessions WHERE show_id = ?",
        [show_id],
        SESSION_COLUMNS,
    )
    link_counts = _read(
        db,
        "SELECT sku, kind, COUNT(*) FROM link_events WHERE show_id = ? GROUP BY sku, kind",
        [show_id],
        LINK_COUNT_COLUMNS,
    )
    # Distinct tapping people come from the tally the database keeps (link_taps: a row per
    # show x kind x viewer, see catalog/schema.py), not from a pass over every link event.
    viewers, anonymous = db.execute(
        "SELECT COUNT(DISTINCT viewer_id) FILTER (WHERE NOT anonymous), "
        "COALESCE(SUM(events) FILTER (WHERE anonymous), 0) FROM link_taps WHERE show_id = ?",
        [show_id],
    ).fetchone()
    # After the end nothing live is on screen: every scan or click then came from the replay.
    # The (show_id, at) index makes this a short range read.
    replay_link_counts = _read(
        db,
        "SELECT sku, kind, COUNT(*) FROM link_events WHERE show_id = ? AND at > ? GROUP BY sku, kind",
        [show_id, show.ended_at],
        LINK_COUNT_COLUMNS,
    )
    replay_positions = _read(
        db,
        "SELECT p.session_id, s.viewer_id, p.at, p.position_s FROM replay_positions p "
        "JOIN viewer_sessions s ON s.id = p.session_id WHERE p.show_id = ? ORDER BY p.at, p.id",
        [show_id],
        POSITION_COLUMNS,
    )
    overlay_events = _read(
        db,
        f"SELECT {_select(OVERLAY_COLUMNS)} FROM overlay_events WHERE show_id = ? ORDER BY at, id",
        [show_id],
        OVERLAY_COLUMNS,
    )
    stream_events = _read(
        db,
        f"SELECT {_select(STREAM_COLUMNS)} FROM stream_events WHERE show_id = ? ORDER BY at, id",
        [show_id],
        STREAM_COLUMNS,
    )
    destination_events = _read(
        db,
        f"SELECT {_select(DESTINATION_COLUMNS)} FROM destination_events WHERE show_id = ? ORDER BY at, id",
        [show_id],
        DESTINATION_COLUMNS,
    )
    link_people = _read(
        db,
        "SELECT kind, COUNT(*) FILTER (WHERE NOT anonymous) + COALESCE(SUM(events) FILTER (WHERE anonymous), 0) "
        "FROM link_taps WHERE show_id = ? GROUP BY kind",
        [show_id],
        LINK_PEOPLE_COLUMNS,
    )
    comments = _read(
        db,
        f"SELECT {_select(COMMENT_COLUMNS)} FROM comments WHERE show_id = ? AND hidden_at IS NULL ORDER BY at, id",
        [show_id],
        COMMENT_COLUMNS,
    )
    draws = _read(
        db,
        "SELECT id, prize, rule, keyword, started_at, ends_at, status, winner_name, "
        "COALESCE(json_array_length(entrants), 0) FROM draws WHERE show_id = ? AND status != 'cancelled' ORDER BY id",
        [show_id],
        DRAW_COLUMNS,
    )
    links = _read(
        db, f"SELECT {_select(LINK_COLUMNS)} FROM links WHERE show_id = ?", [show_id], LINK_COLUMNS
    )
    destination_link_counts = _destination_link_counts(db, show_id, link_counts, links)
    orders = _show_orders(db, show, window=window, now=now)
    skus = pd.concat([overlay_events["sku"].dropna(), orders["sku"], link_counts["sku"]]).unique()
    products = _read(
        db,
        f"SELECT {', '.join(PRODUCT_COLUMNS)} FROM products WHERE sku IN (SELECT value FROM json_each(?))",
        [json.dumps(pd.Series(skus, dtype=object).tolist())],
        PRODUCT_COLUMNS,
    )
    return ShowData.build(
        show,
        sessions=sessions,
        link_counts=(link_counts, int(viewers), int(anonymous)),
        orders=orders,
        overlay_events=overlay_events,
        stream_events=stream_events,
        products=products,
        destination_events=destination_events,
        links=links,
        destination_link_counts=destination_link_counts,
        now=now,
        replay_link_counts=replay_link_counts,
        replay_positions=replay_positions,
        comments=comments,
        draws=draws,
        link_people=link_people,
    )


def _destination_link_counts(
    db: sqlite_utils.Database, show_id: int, link_counts: pd.DataFrame, links: pd.DataFrame
) -> pd.DataFrame:
    """Scans and clicks per link destination: own-QR links counted, the rest is the show's own.

    Most shows have no own-QR link, and then nothing more is read; otherwise
    only the events of those few codes (a join from the links side).
    """
    totals = link_counts.groupby("kind")["events"].sum()
    own_qr_links = links[links["destination"].notna()]
    own_qr = _frame((), DESTINATION_COUNT_COLUMNS)
    if len(own_qr_links):
        # Counted from the (show_id, code, kind) index: a short range per own-QR code, never the whole
        # show. A literal IN list is one index seek per code (a json_each join made SQLite scan the show).
        codes = own_qr_links["code"].tolist()
        per_code = _read(
            db,
            f"SELECT code, kind, COUNT(*) FROM link_events INDEXED BY link_events_code "
            f"WHERE show_id = ? AND code IN ({', '.join('?' * len(codes))}) GROUP BY code, kind",
            [show_id, *codes],
            ["code", "kind", "events"],
        )
        destination = per_code["code"].map(own_qr_links.set_index("code")["destination"])
        own_qr = (
            per_code.assign(destination=destination)
            .groupby(["destination", "kind"])["events"].sum().reset_index()[DESTINATION_COUNT_COLUMNS]
        )
    own_page = totals.sub(own_qr.groupby("kind")["events"].sum(), fill_value=0).astype("int64")
    rest = pd.DataFrame({"destination": None, "kind": own_page.index, "events": own_page.to_numpy()})
    return pd.concat([own_qr, rest[rest["events"] > 0]], ignore_index=True)


def load_link_events(db: sqlite_utils.Database, show_id: int) -> pd.DataFrame:
    """Every scan and click of a show, oldest first, times as UTC datetimes."""
    return _frame(
        _read(
            db,
            f"SELECT {_select(LINK_EVENT_COLUMNS)} FROM link_events WHERE show_id = ? ORDER BY at, id",
            [show_id],
            LINK_EVENT_COLUMNS,
        ),
        LINK_EVENT_COLUMNS,
    )


def _show_orders(
    db: sqlite_utils.Database, show: Show, *, window: timedelta, now: str | None
) -> pd.DataFrame:
    """Candidate orders (recorded, linked, or unlinked in the window), then attribution.

    Unlinked orders in the window may belong to a later show of the same
    SKU, so the competing shows and their links are loaded too and
    :func:`attribute_orders` decides.
    """
    window_end = to_iso(
        pd.Timestamp(show.ended_at or now or to_iso(utc_now())).to_pydatetime() + window
    )
    # Three index-backed parts instead of one OR (which scans every order
    # ever taken): recorded for the show, using one of its links, unlinked
    # in its time window. Only sales: other statuses never change a figure.
    columns = _select(ORDER_FRAME_COLUMNS)
    sales = f"status IN ({', '.join(repr(s) for s in SALE_STATUSES)})"
    show_codes = "SELECT code FROM links WHERE show_id = :show"
    orders = _read(
        db,
        f"SELECT {columns} FROM orders WHERE show_id = :show AND {sales} "
        f"UNION ALL SELECT {columns} FROM orders WHERE link_code IN ({show_codes}) "
        f"AND (show_id IS NULL OR show_id != :show) AND {sales} "
        f"UNION ALL SELECT {columns} FROM orders WHERE show_id IS NULL AND at >= :start AND at <= :until "
        f"AND (link_code IS NULL OR link_code NOT IN ({show_codes})) AND {sales}",
        {"show": show.id, "start": show.started_at, "until": window_end},
        ORDER_FRAME_COLUMNS,
    )
    shows = _read(
        db,
        "SELECT id, started_at, ended_at, simulated FROM shows WHERE started_at <= ? "
        "AND (ended_at IS NULL OR ended_at >= ?)",
        [window_end, _minus(show.started_at, window)],
        ["id", "started_at", "ended_at", "simulated"],
    )
    # What each competing show featured: its buy links, and products it put
    # on air without one (a null code).
    links = _read(
        db,
        "SELECT code, show_id, sku FROM links WHERE show_id IN (SELECT value FROM json_each(:shows)) "
        "OR code IN (SELECT value FROM json_each(:codes)) "
        "UNION SELECT DISTINCT NULL, show_id, sku FROM overlay_events "
        "WHERE sku IS NOT NULL AND show_id IN (SELECT value FROM json_each(:shows))",
        {"shows": json.dumps(shows["id"].tolist()), "codes": json.dumps(orders["link_code"].dropna().tolist())},
        ["code", "show_id", "sku"],
    )
    attributed = attribute_orders(orders, links, shows, window, now=now)
    mine = attributed[attributed["attributed_show_id"] == show.id]
    mine = mine.drop(columns=["show_id"]).rename(columns={"attributed_show_id": "show_id"})
    # The buyer's last visit of the order's buy link before ordering: after the
    # show's end it was the replay that sold (see order_channels). A visit is never
    # after its order, so only orders placed after the end need the look-up (none
    # while live): the rest are live without reading a single event. INDEXED BY:
    # left alone SQLite picks (show_id, at) and scans every earlier event per order.
    ended = pd.Timestamp(show.ended_at).tz_convert("UTC") if show.ended_at else None
    late = mine.loc[mine["at"] > ended, "id"] if ended is not None else mine["id"].iloc[:0]
    visits = _read(
        db,
        "SELECT o.id, CAST(round((julianday((SELECT MAX(e.at) FROM link_events e INDEXED BY link_events_viewer "
        "WHERE e.show_id = :show "
        "AND e.viewer_id = o.buyer_id AND e.code = o.link_code AND e.at <= o.at)) - 2440587.5) * 86400000) AS INTEGER) "
        "FROM orders o WHERE o.id IN (SELECT value FROM json_each(:ids)) AND o.buyer_id IS NOT NULL "
        "AND o.link_code IS NOT NULL",
        {"show": show.id, "ids": json.dumps([int(i) for i in late])},
        ["id", "last_visit_at"],
    )
    mine = mine.merge(visits.astype({"id": "int64"}), on="id", how="left")
    mine["channel"] = order_channels(mine, ended)
    return mine[[*ORDER_FRAME_COLUMNS, "attributed_by", "channel"]]


def _minus(iso: str, window: timedelta) -> str:
    return to_iso(pd.Timestamp(iso).to_pydatetime() - window)
