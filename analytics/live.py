"""Cheap live figures for the control room, refreshed every few seconds.

Plain SQL aggregates over indexed columns, no DataFrames: the control room
polls this while the show runs, so it must stay in milliseconds however
long the show gets. The full attribution (time windows, platform imports)
is for reports; live, an order belongs to the show it was placed in or
whose buy link it used.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from analytics.attribution import SALE_STATUSES
from catalog.shows import get_show

RECENT_ORDERS = 20

_SHOW_ORDERS = (
    "FROM orders o LEFT JOIN products p ON p.sku = o.sku "
    "WHERE (o.show_id = :show OR o.link_code IN (SELECT code FROM links WHERE show_id = :show)) "
    f"AND o.status IN ({', '.join(repr(s) for s in SALE_STATUSES)})"
)


def live_stats(db: sqlite_utils.Database, show_id: int) -> dict[str, Any]:
    """viewers_now, viewers_total, orders, units, revenue, buyers, recent_orders.

    ``recent_orders`` is the last 20 sales, newest first, as dicts with id,
    at, sku, name, name_zh, quantity, total, source, buyer_id, number.
    Raises :class:`catalog.shows.UnknownShow` for an unknown show.
    """
    get_show(db, show_id)
    viewers_now, viewers_total = db.execute(
        "SELECT COUNT(*) FILTER (WHERE left_at IS NULL), COUNT(DISTINCT viewer_id) "
        "FROM viewer_sessions WHERE show_id = ?",
        [show_id],
    ).fetchone()
    orders, units, revenue, buyers = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(o.quantity), 0), COALESCE(SUM(o.total), 0.0), "
        "COUNT(DISTINCT o.buyer_id) + COUNT(*) FILTER (WHERE o.buyer_id IS NULL) " + _SHOW_ORDERS,
        {"show": show_id},
    ).fetchone()
    columns = ["id", "at", "sku", "name", "name_zh", "quantity", "total", "source", "buyer_id", "number"]
    recent = db.execute(
        "SELECT o.id, o.at, o.sku, COALESCE(p.name, o.sku), COALESCE(p.name_zh, ''), o.quantity, "
        "o.total, o.source, o.buyer_id, COALESCE(o.number, printf('FL-%06d', o.id)) "
        f"{_SHOW_ORDERS} ORDER BY o.at DESC, o.id DESC LIMIT {RECENT_ORDERS}",
        {"show": show_id},
    ).fetchall()
    return {
        "show_id": show_id,
        "viewers_now": int(viewers_now),
        "viewers_total": int(viewers_total),
        "orders": int(orders),
        "units": int(units),
        "revenue": float(revenue),
        "buyers": int(buyers),
        "recent_orders": [dict(zip(columns, row, strict=True)) for row in recent],
    }
