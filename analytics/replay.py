"""After the show: chapters, live-versus-replay figures and the clip plan, as pure functions.

Everything here is on the **show clock**: float seconds since the show
started, the same axis as :func:`analytics.metrics.on_air_intervals`. The
media side (:mod:`studio.media.replay`) maps it onto recording files.

* A chapter is one product on-air interval (an overlay event until the next).
* Replay viewers are sessions with ``transport = 'replay'``; scans and
  clicks after the show's end and orders whose buyer last visited the link
  after the end are replay's (see :func:`analytics.attribution.order_channels`).
* A replayed chapter is counted from the replay page's heartbeats
  (``replay_positions``): every beat says where the viewer was.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analytics.frames import ShowData
from analytics.metrics import distinct_people, on_air_intervals, product_table

CHANNELS = ("live", "replay")
#: The replay page reports its position this often while it plays.
BEAT_S = 5.0


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as plain dicts, for the code that acts on them one by one (few rows)."""
    return [{str(key): value for key, value in row.items()} for row in frame.to_dict("records")]


def chapters(data: ShowData) -> pd.DataFrame:
    """chapter (1-based), sku, name, name_zh, start_s, end_s, seconds: one row per on-air interval."""
    intervals = on_air_intervals(data)
    names = data.products.drop_duplicates("sku").set_index("sku")
    frame = intervals.assign(
        chapter=np.arange(1, len(intervals) + 1),
        name=intervals["sku"].map(names["name"]).fillna(intervals["sku"]),
        name_zh=intervals["sku"].map(names["name_zh"]).fillna(""),
    )
    return frame[["chapter", "sku", "name", "name_zh", "start_s", "end_s", "seconds"]]


def channel_split(data: ShowData) -> pd.DataFrame:
    """channel (live, replay), viewers, sessions, scans, clicks, orders, units, gmv."""
    rows = []
    for channel in CHANNELS:
        sessions = data.sessions if channel == "live" else data.replay_sessions
        links = _live_link_counts(data) if channel == "live" else data.replay_link_counts
        kinds = links.groupby("kind")["events"].sum()
        orders = data.orders[data.orders["channel"] == channel]
        rows.append(
            {
                "channel": channel,
                "viewers": int(sessions["viewer_id"].nunique()),
                "sessions": len(sessions),
                "scans": int(kinds.get("scan", 0)),
                "clicks": int(kinds.get("click", 0)),
                "orders": len(orders),
                "units": int(orders["quantity"].sum()),
                "gmv": float(orders["total"].sum()),
                "buyers": distinct_people(orders["buyer_id"]),
            }
        )
    return pd.DataFrame(rows)


def _live_link_counts(data: ShowData) -> pd.DataFrame:
    """All scans and clicks minus the replay's, per sku and kind."""
    replay = data.replay_link_counts.set_index(["sku", "kind"])["events"]
    total = data.link_counts.set_index(["sku", "kind"])["events"]
    live = total.sub(replay.reindex(total.index).fillna(0)).astype("int64")
    return live.rename("events").reset_index()


def replayed_chapters(data: ShowData) -> pd.DataFrame:
    """The chapters replay viewers watched, most-watched first.

    chapter, sku, name, name_zh, start_s, end_s, replay_viewers (distinct
    viewers with a heartbeat inside the chapter), replay_s (heartbeats x
    :data:`BEAT_S`). Ties: more replay seconds first, then the earlier chapter.
    """
    table = chapters(data)
    positions = data.replay_positions
    starts = table["start_s"].to_numpy()
    slot = np.searchsorted(starts, positions["position_s"].to_numpy(dtype="float64"), side="right") - 1
    inside = (slot >= 0) & (slot < len(table))
    if len(table):
        inside &= positions["position_s"].to_numpy(dtype="float64") < table["end_s"].to_numpy()[np.clip(slot, 0, None)]
    beats = pd.DataFrame({"chapter": slot[inside] + 1, "viewer_id": positions["viewer_id"].to_numpy()[inside]})
    grouped = beats.groupby("chapter")
    table["replay_viewers"] = table["chapter"].map(grouped["viewer_id"].nunique()).fillna(0).astype("int64")
    table["replay_s"] = table["chapter"].map(grouped.size()).fillna(0).astype("float64") * BEAT_S
    table = table.drop(columns=["seconds"])
    return table.sort_values(
        ["replay_viewers", "replay_s", "chapter"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def clip_plan(
    data: ShowData,
    link_events: pd.DataFrame,
    *,
    min_s: float = 20.0,
    max_s: float = 90.0,
) -> pd.DataFrame:
    """Which stretch of the show becomes a clip, in rank order.

    One candidate per chapter. Chapters shorter than ``min_s`` are skipped;
    longer than ``max_s`` are trimmed to the ``max_s`` window holding the
    most of that product's scans, clicks and orders (the earliest such
    window; the chapter's start when it has none). Ranked by the product's
    orders, then its GPM (revenue per 1,000 viewers present), then the
    window's own activity, then time. ``link_events``: sku, at (raw rows,
    e.g. :func:`analytics.frames.load_link_events`).

    Columns: rank, chapter, sku, name, name_zh, start_s, end_s, seconds,
    activity, orders, revenue, gpm.
    """
    if min_s <= 0 or max_s < min_s:
        raise ValueError(f"need 0 < min-seconds <= max-seconds, got {min_s:g} and {max_s:g}")
    table = chapters(data)
    table = table[table["seconds"] >= min_s].reset_index(drop=True)
    products = product_table(data).set_index("sku")
    moments = pd.concat(
        [
            pd.DataFrame({"sku": link_events["sku"], "t": data.seconds(link_events["at"])}),
            pd.DataFrame({"sku": data.orders["sku"], "t": data.seconds(data.orders["at"])}),
        ],
        ignore_index=True,
    )
    starts, activity = [], []
    for sku, begin, finish in zip(table["sku"], table["start_s"], table["end_s"], strict=True):
        times = np.sort(moments.loc[moments["sku"] == sku, "t"].to_numpy(dtype="float64"))
        start, count = strongest_window(times, begin, finish, max_s)
        starts.append(start)
        activity.append(count)
    table["start_s"] = np.asarray(starts, dtype="float64")
    table["end_s"] = np.minimum(table["start_s"] + max_s, table["end_s"])
    table["seconds"] = table["end_s"] - table["start_s"]
    table["activity"] = np.asarray(activity, dtype="int64")
    table["orders"] = table["sku"].map(products["orders"]).fillna(0).astype("int64")
    table["revenue"] = table["sku"].map(products["revenue"]).fillna(0.0).astype("float64")
    present = table["sku"].map(products["viewers_present"]).fillna(0).astype("float64")
    table["gpm"] = (table["revenue"] / present.where(present > 0) * 1000).fillna(0.0)
    table = table.sort_values(
        ["orders", "gpm", "activity", "start_s"], ascending=[False, False, False, True], kind="stable"
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def strongest_window(times: np.ndarray, begin: float, finish: float, length: float) -> tuple[float, int]:
    """(start, events) of the ``length``-second window inside ``[begin, finish)`` with the most ``times``.

    ``times`` sorted. A window that holds the most events can always be slid
    to start at one of them (or at ``begin``), so only those starts are tried.
    """
    inside = times[(times >= begin) & (times < finish)]
    if finish - begin <= length:
        return begin, len(inside)
    latest = finish - length
    candidates = np.unique(np.clip(np.concatenate([[begin], inside]), begin, latest))
    counts = np.searchsorted(inside, candidates + length, side="left") - np.searchsorted(
        inside, candidates, side="left"
    )
    best = int(np.argmax(counts))  # first maximum: the earliest window
    return float(candidates[best]), int(counts[best])
