"""Which show sold an order: by buy-link code first, else by time window.

A link code names one show and one product, so it is the strongest
evidence. Orders without a (known) code, typically platform exports, fall
back to time: an order for a SKU the show featured, placed during the show
or within ``window`` after it ends, but never at or after the start of the
next show (a window never reaches into another show's time). When several
shows qualify, the most recently started one wins: it is the one the buyer
most likely just watched.

Simulated shows (``shows.simulated``) take no part in the time window: they
neither take orders by time nor bound a real show's window, so simulated data
never changes a real show's figures (their own orders name them).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

# 24 h: platform buyers often pay the evening after a show, but a day later
# the show is no longer the likely reason. Pass another window to change it.
DEFAULT_WINDOW = timedelta(hours=24)

# Statuses that count as sales; refunded, cancelled and unpaid orders do not.
# "cod" (pay on delivery) is how the built-in order form sells.
SALE_STATUSES = ("paid", "cod", "shipped", "delivered", "completed")

_FAR_FUTURE = pd.Timestamp("2262-01-01", tz="UTC")


def attribute_orders(
    orders: pd.DataFrame,
    links: pd.DataFrame,
    shows: pd.DataFrame,
    window: timedelta = DEFAULT_WINDOW,
    *,
    now: str | None = None,
) -> pd.DataFrame:
    """``orders`` plus ``attributed_show_id`` (nullable int) and ``attributed_by``.

    ``orders``: id, sku, at, link_code, show_id (the show recorded at
    purchase, may be null). ``links``: code, show_id, sku: the products each
    show featured (a row with a null code: on air without a buy link). ``shows``: id,
    started_at, ended_at (null while live: such a show has no end yet, or
    ends at ``now`` if given), optionally ``simulated`` (true: skipped by the
    window). ``attributed_by`` is ``link``, ``recorded``, ``window`` or null
    when no show qualifies. Pure: no I/O, inputs untouched.
    """
    result = orders.copy().reset_index(drop=True)
    result["attributed_show_id"] = pd.Series(pd.NA, index=result.index, dtype="Int64")
    result["attributed_by"] = pd.Series(None, index=result.index, dtype=object)

    coded = links.dropna(subset=["code"])
    by_code = coded.set_index("code")["show_id"] if len(coded) else pd.Series(dtype="Int64")
    linked = result["link_code"].map(by_code)
    has_link = linked.notna()
    result.loc[has_link, "attributed_show_id"] = linked[has_link].astype("int64")
    result.loc[has_link, "attributed_by"] = "link"

    recorded = ~has_link & result["show_id"].notna()
    result.loc[recorded, "attributed_show_id"] = result.loc[recorded, "show_id"].astype("int64")
    result.loc[recorded, "attributed_by"] = "recorded"

    pending = result[~has_link & ~recorded]
    if len(pending) and len(links) and len(shows):
        matched = _match_window(pending, links, shows, window, now)
        result.loc[matched.index, "attributed_show_id"] = matched.astype("int64")
        result.loc[matched.index, "attributed_by"] = "window"
    return result


def _match_window(
    pending: pd.DataFrame,
    links: pd.DataFrame,
    shows: pd.DataFrame,
    window: timedelta,
    now: str | None,
) -> pd.Series:
    """Order index -> show id for unlinked orders, the latest qualifying show."""
    featured = links[["show_id", "sku"]].drop_duplicates()
    show_times = window_bounds(shows, window, now)
    candidates = (
        pending[["sku", "at"]]
        .assign(order_index=pending.index, at=pd.to_datetime(pending["at"], utc=True, format="ISO8601"))
        .merge(featured, on="sku")
        .merge(show_times, on="show_id")
    )
    inside = candidates[(candidates["at"] >= candidates["started"]) & (candidates["at"] < candidates["until"])]
    latest = inside.sort_values("started", kind="stable").drop_duplicates("order_index", keep="last")
    return latest.set_index("order_index")["show_id"]


def window_bounds(shows: pd.DataFrame, window: timedelta, now: str | None = None) -> pd.DataFrame:
    """show_id, started, ended, until: the time each real show can take unlinked orders in.

    ``[started, until)`` where ``until`` is the show's end (``now`` or open
    while live) plus ``window``, cut at the next real show's start. Simulated
    shows are left out. Pure.
    """
    simulated = shows["simulated"].fillna(0).astype(bool) if "simulated" in shows else pd.Series(False, shows.index)
    real = shows[~simulated.to_numpy()]
    times = pd.DataFrame(
        {
            "show_id": real["id"].astype("int64"),
            "started": pd.to_datetime(real["started_at"], utc=True, format="ISO8601"),
            "ended": pd.to_datetime(real["ended_at"], utc=True, format="ISO8601"),
        }
    ).sort_values(["started", "show_id"], kind="stable")
    open_end = pd.Timestamp(now).tz_convert("UTC") if now else _FAR_FUTURE
    # The end itself is inside the show (an order at the last millisecond), so the cut is one past it.
    until = times["ended"].fillna(open_end) + pd.Timedelta(window) + pd.Timedelta(milliseconds=1)
    # The next strictly later start: two shows starting at once do not cut each other.
    starts = pd.DatetimeIndex(times["started"].drop_duplicates()).sort_values()
    after = np.searchsorted(starts.asi8, pd.DatetimeIndex(times["started"]).asi8, side="right")
    following = pd.Series(
        [starts[i] if i < len(starts) else _FAR_FUTURE for i in after], index=times.index, dtype="datetime64[ns, UTC]"
    )
    times["until"] = until.where(until < following, following)
    return times.reset_index(drop=True)


def order_channels(orders: pd.DataFrame, show_end: pd.Timestamp | None) -> pd.Series:
    """``live`` or ``replay`` per order, aligned with ``orders``.

    ``orders`` carries ``last_visit_at``: when the buyer last opened the
    order's buy link (scan or click, same viewer cookie) before ordering, or
    null. An order is ``replay`` when that visit came after the show ended:
    the live QR was gone, so the buyer came from the replay page or a scan of
    the replayed video. A buyer who scanned live and paid after the end is
    live; an order without a known visit (platform imports) is live. Pure.
    """
    channel = pd.Series("live", index=orders.index, dtype=object)
    if show_end is None or not len(orders):
        return channel
    visits = pd.to_datetime(orders["last_visit_at"], utc=True)
    channel[visits > show_end] = "replay"
    return channel
