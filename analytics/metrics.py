"""Show metrics as pure functions of a :class:`~analytics.frames.ShowData`.

Time is handled as float seconds since the show started (``*_s``), which
keeps every sweep a NumPy operation over sorted arrays instead of a Python
loop over sessions. Definitions (documented in docs/analytics.md):

* a viewer is a distinct ``viewer_id``; a viewer who rejoins is one viewer;
* a session runs from ``joined_at`` to ``left_at``; an open session runs to
  the show's end (``now`` while live); both are clipped to the show;
* watch time of a viewer is the sum of their clipped session lengths;
* concurrency counts sessions open at an instant, over ``[join, leave)``;
* a product is on air from its overlay event until the next overlay event
  (or the show's end); an event with a null SKU puts nothing on air;
* the show is on hold from a ``hold`` stream event (the automatic hold
  slate) until the next ``resume`` (or the show's end), clipped to the show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analytics.frames import ShowData

ENGAGED_S = 30.0


# -- sessions and watch time ---------------------------------------------------
def session_spans(data: ShowData) -> pd.DataFrame:
    """viewer_id, viewer, start_s, end_s per session, clipped to the show (end_s >= start_s)."""
    return data.spans


def watch_times(data: ShowData) -> pd.Series:
    """Seconds watched per viewer (sum over their sessions), indexed by viewer_id."""
    return data.watch_s


# -- concurrency -----------------------------------------------------------------
def concurrency_steps(data: ShowData) -> tuple[np.ndarray, np.ndarray]:
    """The step function of open sessions: at ``times[i]`` the count becomes ``counts[i]``.

    A sweep over joins (+1) and leaves (-1): summing the changes at each
    distinct instant first means a leave and a join at the same moment never
    count the leaving session, and zero-length sessions never count.
    """
    return data.steps


def peak_concurrent(data: ShowData) -> tuple[int, pd.Timestamp | None]:
    """The most sessions open at once and the first moment it happened."""
    times, counts = concurrency_steps(data)
    peak = int(counts.max(initial=0))
    if peak == 0:
        return 0, None
    return peak, data.start + pd.Timedelta(seconds=float(times[int(np.argmax(counts))]))


def concurrency(data: ShowData, freq: str = "10s") -> pd.DataFrame:
    """time, seconds, viewers: sessions open at each tick from the show's start.

    Ticks stop before the end instant, where every session has closed: a
    live show's curve must not dive to zero at "now".
    """
    step = pd.Timedelta(freq) / pd.Timedelta(seconds=1)
    if step <= 0:
        raise ValueError(f"freq must be positive, got {freq!r}")
    ticks = np.arange(0.0, max(data.duration_s, step / 2), step)
    times, counts = concurrency_steps(data)
    index = np.searchsorted(times, ticks, side="right") - 1
    viewers = np.where(index >= 0, counts[np.clip(index, 0, None)], 0)
    return pd.DataFrame(
        {
            "time": data.start + pd.to_timedelta(ticks, unit="s"),
            "seconds": ticks,
            "viewers": viewers.astype("int64"),
        }
    )


def retention_curve(data: ShowData, step_s: float = 60.0) -> pd.DataFrame:
    """seconds, minute, viewers, share: viewers who watched at least that long.

    Measured per viewer from their own arrival (a survival curve of watch
    time), not on the show clock: in a live show people arrive all the time,
    and on the show clock late arrivals would look like retention. ``share``
    at 0 s is 1.0 for any show with viewers.
    """
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    watched = np.sort(watch_times(data).to_numpy())
    longest = watched[-1] if len(watched) else 0.0
    ticks = np.arange(0.0, longest + step_s, step_s) if len(watched) else np.zeros(1)
    still = len(watched) - np.searchsorted(watched, ticks, side="left")
    share = still / len(watched) if len(watched) else np.zeros(len(ticks))
    return pd.DataFrame(
        {"seconds": ticks, "minute": ticks / 60.0, "viewers": still.astype("int64"), "share": share}
    )


# -- products on air -----------------------------------------------------------
def on_air_intervals(data: ShowData) -> pd.DataFrame:
    """sku, start_s, end_s, seconds: each overlay event lasts until the next one."""
    events = data.overlay_events.sort_values("at", kind="stable")
    start = data.seconds(events["at"]).clip(0.0, data.duration_s).to_numpy()
    end = np.append(start[1:], data.duration_s) if len(start) else start
    frame = pd.DataFrame({"sku": events["sku"].to_numpy(), "start_s": start, "end_s": end})
    frame = frame[frame["sku"].notna() & (frame["end_s"] > frame["start_s"])].reset_index(drop=True)
    frame["seconds"] = frame["end_s"] - frame["start_s"]
    return frame


def viewers_present(data: ShowData, intervals: pd.DataFrame | None = None) -> pd.Series:
    """Distinct viewers whose sessions overlap each SKU's on-air time, by SKU.

    One vectorised overlap test per on-air interval (a show has tens of
    them) over all sessions, OR-ed per SKU, instead of a loop per session.
    """
    intervals = on_air_intervals(data) if intervals is None else intervals
    spans = session_spans(data)
    codes = spans["viewer"].to_numpy()
    starts, ends = spans["start_s"].to_numpy(), spans["end_s"].to_numpy()
    present: dict[str, int] = {}
    for sku, group in intervals.groupby("sku", sort=True):
        mask = np.zeros(len(spans), bool)
        for begin, finish in zip(group["start_s"], group["end_s"], strict=True):
            mask |= (starts < finish) & (ends > begin) & (ends > starts)
        seen = np.zeros(codes.max(initial=-1) + 1, bool)
        seen[codes[mask]] = True
        present[str(sku)] = int(seen.sum())
    return pd.Series(present, dtype="int64", name="viewers_present")


def distinct_people(ids: pd.Series) -> int:
    """Distinct non-null ids, plus one person per row without an id.

    A scan from a second phone or a platform order may carry no viewer or
    buyer id; counting each such row as its own person is the upper bound.
    """
    return int(ids.dropna().nunique() + ids.isna().sum())


def product_table(data: ShowData) -> pd.DataFrame:
    """One row per product on air, scanned or sold in the show."""
    intervals = on_air_intervals(data)
    links, orders = data.link_counts, data.orders
    skus = sorted(pd.concat([intervals["sku"], links["sku"], orders["sku"]]).dropna().unique())
    table = pd.DataFrame({"sku": pd.Series(skus, dtype=object)}).set_index("sku")
    names = data.products.drop_duplicates("sku").set_index("sku")
    table["name"] = names["name"].reindex(table.index).fillna("")
    table["name_zh"] = names["name_zh"].reindex(table.index).fillna("")
    table["on_air_s"] = intervals.groupby("sku")["seconds"].sum().reindex(table.index).fillna(0.0)
    table["viewers_present"] = viewers_present(data, intervals).reindex(table.index).fillna(0).astype("int64")
    kinds = links.pivot_table(index="sku", columns="kind", values="events", aggfunc="sum", fill_value=0)
    for kind, column in (("scan", "scans"), ("click", "clicks")):
        counts = kinds[kind] if kind in kinds.columns else pd.Series(dtype="int64")
        table[column] = counts.reindex(table.index).fillna(0).astype("int64")
    by_sku = orders.groupby("sku")
    table["orders"] = by_sku.size().reindex(table.index).fillna(0).astype("int64")
    table["units"] = by_sku["quantity"].sum().reindex(table.index).fillna(0).astype("int64")
    table["revenue"] = by_sku["total"].sum().reindex(table.index).fillna(0.0).astype("float64")
    table["buyers"] = (
        by_sku["buyer_id"].agg(distinct_people).reindex(table.index).fillna(0).astype("int64")
    )
    table["conversion"] = _ratio(table["buyers"], table["viewers_present"])
    table["revenue_per_on_air_min"] = _ratio(table["revenue"], table["on_air_s"] / 60.0)
    comments = data.comments.dropna(subset=["sku"])
    table["comments"] = comments.groupby("sku").size().reindex(table.index).fillna(0).astype("int64")
    wanting = comments[comments["want"]].groupby("sku")["viewer_id"].nunique()
    table["wants"] = wanting.reindex(table.index).fillna(0).astype("int64")
    return table.reset_index()


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, 0.0 where the denominator is 0."""
    safe = denominator.where(denominator != 0)
    return (numerator / safe).fillna(0.0).astype("float64")


# -- funnel and totals -----------------------------------------------------------
def funnel(data: ShowData) -> pd.DataFrame:
    """stage, viewers, share_of_previous, share_of_viewers.

    viewers -> engaged (watched >= 30 s) -> scanned or clicked -> ordered.
    Each stage counts distinct people on its own: a scan from a second phone
    or a platform order belongs to its stage even without a session, so a
    share can exceed 1 when such people outnumber the previous stage.
    """
    watched = watch_times(data)
    counts = [
        len(watched),
        int((watched >= ENGAGED_S).sum()),
        data.link_viewers + data.link_anonymous,
        distinct_people(data.orders["buyer_id"]),
    ]
    values = pd.Series(counts, dtype="float64")
    return pd.DataFrame(
        {
            "stage": ["viewers", "engaged", "scanned_or_clicked", "ordered"],
            "viewers": counts,
            "share_of_previous": _ratio(values, values.shift(1).fillna(values.iloc[0])),
            "share_of_viewers": _ratio(values, pd.Series([values.iloc[0]] * 4)),
        }
    )


def _distinct_viewers(data: ShowData, transport: str) -> int:
    """Distinct viewer ids among the sessions of one transport, from the spans' integer codes."""
    codes = data.spans["viewer"].to_numpy()[(data.sessions["transport"] == transport).to_numpy(dtype=bool)]
    codes = codes[codes >= 0]  # -1: a session without a viewer id, which nunique never counted
    return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0


def show_summary(data: ShowData) -> dict[str, Any]:
    """Headline figures of a show (so far, while it is live)."""
    watched = watch_times(data)
    peak, peak_at = peak_concurrent(data)
    orders = data.orders
    viewers = len(watched)
    gmv = float(orders["total"].sum())
    buyers = distinct_people(orders["buyer_id"])
    events = data.link_counts.groupby("kind")["events"].sum()
    return {
        "show_id": data.show_id,
        "title": data.title,
        "started_at": data.start,
        "ended_at": None if data.live else data.end,
        "live": data.live,
        "duration_s": data.duration_s,
        "unique_viewers": viewers,
        # The same people by how they watched (one may have used both: they are one viewer above).
        "viewers_webrtc": _distinct_viewers(data, "webrtc"),
        "viewers_hls": _distinct_viewers(data, "hls"),
        "sessions": len(data.sessions),
        "peak_concurrent": peak,
        "peak_at": peak_at,
        "avg_watch_s": float(watched.mean()) if viewers else 0.0,
        "median_watch_s": float(watched.median()) if viewers else 0.0,
        "engaged_viewers": int((watched >= ENGAGED_S).sum()),
        "scans": int(events.get("scan", 0)),
        "clicks": int(events.get("click", 0)),
        "orders": len(orders),
        "units": int(orders["quantity"].sum()),
        "gmv": gmv,
        "buyers": buyers,
        "revenue_per_viewer": gmv / viewers if viewers else 0.0,
        "gpm": gmv / viewers * 1000 if viewers else 0.0,
        "conversion": buyers / viewers if viewers else 0.0,
        "reconnects": int((data.stream_events["kind"] == "disconnect").sum()),
        "held_s": float(hold_spans(data)["held_s"].sum()),
        "coupon_orders": int(orders["coupon"].notna().sum()),
        "discount_given": float(discounts(orders).sum()),
        "comments": len(data.comments),
        "wants": int(data.comments.loc[data.comments["want"], "viewer_id"].nunique()),
        "draws": len(data.draws),
        "simulated": data.simulated,
    }


HOLD_COLUMNS = ["start", "end", "held_s"]


def hold_spans(data: ShowData) -> pd.DataFrame:
    """When viewers saw the automatic hold slate: one row per ``hold`` until the next ``resume``.

    Columns ``start``, ``end`` (UTC) and ``held_s``, clipped to the show.
    A hold with no resume ends at the show's end (``now`` while live); a
    second ``hold`` before the ``resume`` and a ``resume`` without a hold
    change nothing. So spans never overlap, and their sum is never
    negative and never longer than the show.
    """
    events = data.stream_events
    marks = events[events["kind"].isin(("hold", "resume")) & events["at"].notna()]
    marks = marks.sort_values(["at", "id"], kind="stable")
    rows: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    since: pd.Timestamp | None = None
    for at, kind in zip(marks["at"], marks["kind"], strict=True):
        if kind == "hold" and since is None:
            since = at
        elif kind == "resume" and since is not None:
            rows.append((since, at))
            since = None
    if since is not None:
        rows.append((since, data.end))
    spans = [(max(start, data.start), min(end, data.end)) for start, end in rows]
    spans = [(start, end) for start, end in spans if end > start]
    starts = pd.to_datetime([start for start, _ in spans], utc=True)
    ends = pd.to_datetime([end for _, end in spans], utc=True)
    held = np.asarray((ends - starts).total_seconds(), dtype="float64")
    return pd.DataFrame({"start": starts, "end": ends, "held_s": held})


def timeline_figure_data(data: ShowData, freq: str = "10s") -> dict[str, pd.DataFrame]:
    """The frames of one show timeline chart, all on the same UTC time axis.

    ``concurrency`` (time, viewers), ``pins`` (sku, name, start, end: what
    was on air), ``orders`` (time, sku, quantity, total), ``stream``
    (time, kind, bitrate_kbps, fps; disconnects marked by kind),
    ``comments`` (time: each minute, comments, wants), ``draws`` (start,
    end, prize, entrants), ``holds`` (start, end, held_s: the automatic
    hold slate, see :func:`hold_spans`) and ``drops`` (see :func:`drop_offs`).
    """
    intervals = on_air_intervals(data)
    names = data.products.drop_duplicates("sku").set_index("sku")["name"]
    pins = pd.DataFrame(
        {
            "sku": intervals["sku"],
            "name": intervals["sku"].map(names).fillna(intervals["sku"]),
            "start": data.start + pd.to_timedelta(intervals["start_s"], unit="s"),
            "end": data.start + pd.to_timedelta(intervals["end_s"], unit="s"),
        }
    )
    orders = data.orders.sort_values("at", kind="stable")
    stream = data.stream_events.sort_values("at", kind="stable")
    viewers = concurrency(data, freq)
    return {
        "comments": comments_per_minute(data),
        "draws": data.draws[["start", "end", "prize", "entrants"]].reset_index(drop=True),
        "holds": hold_spans(data),
        "drops": drop_offs(data, viewers),
        "concurrency": viewers[["time", "viewers"]],
        "pins": pins,
        "orders": pd.DataFrame(
            {
                "time": orders["at"],
                "sku": orders["sku"],
                "quantity": orders["quantity"],
                "total": orders["total"],
            }
        ).reset_index(drop=True),
        "stream": pd.DataFrame(
            {
                "time": stream["at"],
                "kind": stream["kind"],
                "bitrate_kbps": stream["bitrate_kbps"],
                "fps": stream["fps"],
            }
        ).reset_index(drop=True),
    }


def platform_spans(data: ShowData) -> pd.DataFrame:
    """Which platform was live when: one row per unbroken ``live`` stretch of each simulcast push.

    Columns ``destination``, ``start``, ``end`` (UTC), ``live_s`` and
    ``ended_by`` (the state that ended it: ``retrying``, ``idle``… or
    ``live`` for a stretch still running at the end of the data).
    """
    rows: list[dict[str, Any]] = []
    events = data.destination_events.sort_values(["at", "id"], kind="stable")
    for destination, pushes in events.groupby("destination", sort=True):
        since: pd.Timestamp | None = None
        for at, state in zip(pushes["at"], pushes["state"], strict=True):
            if state == "live" and since is None:
                since = at
            elif state != "live" and since is not None:
                rows.append({"destination": destination, "start": since, "end": at, "ended_by": state})
                since = None
        if since is not None:
            rows.append({"destination": destination, "start": since, "end": max(data.end, since), "ended_by": "live"})
    spans = pd.DataFrame(rows, columns=["destination", "start", "end", "ended_by"])
    live_s = (spans["end"] - spans["start"]).dt.total_seconds() if rows else pd.Series(dtype="float64")
    spans.insert(3, "live_s", live_s)
    return spans.reset_index(drop=True)


# -- the live room: channels, coupons, comments, drop-offs ----------------------------
#: How a buyer came to an order (``orders.channel``, ``via`` in a ShowData); null: imported / unknown.
CHANNELS = ("scan", "click", "shelf", "draw", "replay")
TAP_CHANNELS = ("scan", "click", "shelf")


def discounts(orders: pd.DataFrame) -> pd.Series:
    """Per order, what the buyer did not pay: (list price - unit price) x quantity; 0 without a list price."""
    given = (orders["list_price"] - orders["unit_price"]) * orders["quantity"]
    return given.fillna(0.0).clip(lower=0.0).astype("float64")


def orders_by_channel(data: ShowData) -> pd.DataFrame:
    """channel, orders, units, revenue, buyers, share_of_revenue: one row per way buyers came.

    Channels in :data:`CHANNELS` order, then ``unknown`` (platform imports
    and orders from before channels were recorded). Amounts are what was charged.
    """
    orders = data.orders.assign(channel_key=data.orders["via"].fillna("unknown"))
    grouped = orders.groupby("channel_key")
    keys = [c for c in (*CHANNELS, "unknown") if c in grouped.groups]
    table = pd.DataFrame(index=pd.Index(keys, name="channel"))
    table["orders"] = grouped.size().reindex(keys).fillna(0).astype("int64")
    table["units"] = grouped["quantity"].sum().reindex(keys).fillna(0).astype("int64")
    table["revenue"] = grouped["total"].sum().reindex(keys).fillna(0.0).astype("float64")
    table["buyers"] = grouped["buyer_id"].agg(distinct_people).reindex(keys).fillna(0).astype("int64")
    total = float(table["revenue"].sum())
    table["share_of_revenue"] = table["revenue"] / total if total else 0.0
    return table.reset_index()


def channel_funnel(data: ShowData) -> pd.DataFrame:
    """channel, people, buyers, orders, revenue, conversion: the funnel split by how people came.

    ``people`` are those who took the channel's first step: tapped a buy link
    by QR scan, the Buy button or the shelf (distinct viewer ids plus one per
    anonymous tap), or entered a lucky draw; ``buyers`` bought through it.
    ``conversion`` = buyers ÷ people (0 when nobody took the step).
    """
    people = data.link_people.set_index("kind")["people"]
    entrants = int(data.draws["entrants"].sum()) if len(data.draws) else 0
    sold = orders_by_channel(data).set_index("channel").to_dict("index")
    rows = []
    for channel in (*TAP_CHANNELS, "draw"):
        took = entrants if channel == "draw" else int(people.get(channel, 0))
        figures = sold.get(channel, {"buyers": 0, "orders": 0, "revenue": 0.0})
        buyers = int(figures["buyers"])
        rows.append(
            {
                "channel": channel,
                "people": took,
                "buyers": buyers,
                "orders": int(figures["orders"]),
                "revenue": float(figures["revenue"]),
                "conversion": buyers / took if took else 0.0,
            }
        )
    return pd.DataFrame(rows)


def coupon_use(data: ShowData) -> pd.DataFrame:
    """coupon, orders, units, revenue, discount: per coupon code, then promo prices without one.

    ``discount`` is the sum of (list price - unit price) x quantity: what
    buyers were given off (a flash-sale price counts under ``(none)``).
    """
    orders = data.orders.assign(discount=discounts(data.orders), code=data.orders["coupon"].fillna("(none)"))
    orders = orders[(orders["coupon"].notna()) | (orders["discount"] > 0)]
    table = orders.groupby("code").agg(
        orders=("id", "size"), units=("quantity", "sum"), revenue=("total", "sum"), discount=("discount", "sum")
    )
    table = table.reset_index().rename(columns={"code": "coupon"})
    table["units"] = table["units"].astype("int64")
    return table.sort_values(["discount", "coupon"], ascending=[False, True], kind="stable").reset_index(drop=True)


def comments_per_minute(data: ShowData) -> pd.DataFrame:
    """time (each minute from the start), comments, wants: the room's pulse on the show clock."""
    minutes = int(np.ceil(data.duration_s / 60.0)) or 1
    at = data.seconds(data.comments["at"]).to_numpy(dtype=float)
    slot = np.clip(np.floor(at / 60.0), 0, minutes - 1).astype(np.int64) if len(at) else np.zeros(0, np.int64)
    wants = data.comments["want"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "time": data.start + pd.to_timedelta(np.arange(minutes) * 60.0, unit="s"),
            "comments": np.bincount(slot, minlength=minutes).astype("int64"),
            "wants": np.bincount(slot[wants], minlength=minutes).astype("int64"),
        }
    )


DROP_WINDOW_S = 60.0
DROP_GAP_S = 180.0


def drop_offs(data: ShowData, viewers: pd.DataFrame | None = None, *, most: int = 3) -> pd.DataFrame:
    """time, lost, before, after, sku, name: the steepest audience drops and what was on air.

    ``lost`` = viewers a minute earlier - viewers at ``time`` (10 s ticks).
    A drop is marked when at least 3 people and 10 % of the peak left within
    the minute; at most ``most`` of them, 3 minutes apart, steepest first.
    ``sku``/``name`` name the product on air halfway through the drop (null: none).
    """
    viewers = concurrency(data) if viewers is None else viewers
    columns = ["time", "lost", "before", "after", "sku", "name"]
    if len(viewers) < 2:
        return pd.DataFrame(columns=columns)
    seconds = viewers["seconds"].to_numpy(dtype=float)
    counts = viewers["viewers"].to_numpy(dtype=np.int64)
    earlier = np.searchsorted(seconds, seconds - DROP_WINDOW_S, side="left")
    lost = counts[earlier] - counts
    floor = max(3, int(np.ceil(0.1 * counts.max(initial=0))))
    chosen: list[int] = []
    for index in np.argsort(-lost, kind="stable"):
        if lost[index] < floor or len(chosen) == most:
            break
        if all(abs(seconds[index] - seconds[other]) >= DROP_GAP_S for other in chosen):
            chosen.append(int(index))
    chosen.sort()
    intervals = on_air_intervals(data)
    names = data.products.drop_duplicates("sku").set_index("sku")["name"]
    rows = []
    for index in chosen:
        middle = seconds[index] - DROP_WINDOW_S / 2
        on = intervals[(intervals["start_s"] <= middle) & (intervals["end_s"] > middle)]
        sku = str(on["sku"].iloc[0]) if len(on) else None
        rows.append(
            {
                "time": data.start + pd.Timedelta(seconds=float(seconds[index])),
                "lost": int(lost[index]),
                "before": int(counts[earlier[index]]),
                "after": int(counts[index]),
                "sku": sku,
                "name": (str(names.get(sku, sku)) if sku else None),
            }
        )
    return pd.DataFrame(rows, columns=columns)


OWN_PAGE = "own page · 自有页面"
NO_LINK = "no buy link · 无购买链接"


def platform_sales(data: ShowData) -> pd.DataFrame:
    """Scans, clicks, orders, units and GMV by where the buyer came from: the per-platform table.

    One row per own-QR destination (its own buy links, ``links.destination``),
    then ``own page · 自有页面`` for the show's own link (the /watch page, the
    replay and every destination sharing the show's QR), then, only if there
    are such orders, ``no buy link · 无购买链接`` for sales that used no link
    (platform imports, orders matched by time window). GMV is what the show's
    GMV counts (``total`` of its sales, cancelled excluded), so the rows add
    up to the show's totals.
    """
    links, counts, orders = data.links, data.destination_link_counts, data.orders
    destination_of = links.dropna(subset=["destination"]).set_index("code")["destination"]
    own_qr = sorted(set(destination_of) | set(counts["destination"].dropna()))
    came_from = orders["link_code"].map(destination_of).astype(object)
    came_from = came_from.where(came_from.notna(), OWN_PAGE)
    came_from = came_from.where(orders["link_code"].notna(), NO_LINK)
    rows = [*own_qr, OWN_PAGE, *([NO_LINK] if (came_from == NO_LINK).any() else [])]
    table = pd.DataFrame(index=pd.Index(rows, name="destination"))
    place = counts["destination"].astype(object).where(counts["destination"].notna(), OWN_PAGE)
    kinds = counts.assign(destination=place).pivot_table(
        index="destination", columns="kind", values="events", aggfunc="sum", fill_value=0
    )
    for kind, column in (("scan", "scans"), ("click", "clicks")):
        found = kinds[kind] if kind in kinds.columns else pd.Series(dtype="int64")
        table[column] = found.reindex(table.index).fillna(0).astype("int64")
    by_place = orders.assign(came_from=came_from).groupby("came_from")
    table["orders"] = by_place.size().reindex(table.index).fillna(0).astype("int64")
    table["units"] = by_place["quantity"].sum().reindex(table.index).fillna(0).astype("int64")
    table["gmv"] = by_place["total"].sum().reindex(table.index).fillna(0.0).astype("float64")
    return table.reset_index()
