"""Recording what happens during a show: one committed row per event.

Each call commits on its own (autocommit connection), so a killed server
loses nothing that was recorded before it died.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import sqlite_utils

from catalog import now_iso
from catalog.schema import inserted_id

Transport = Literal["webrtc", "hls", "external", "replay"]
LinkEventKind = Literal["scan", "click", "shelf"]
StreamEventKind = Literal["connect", "disconnect", "stats", "hold", "resume"]


def record_overlay(
    db: sqlite_utils.Database,
    show_id: int,
    sku: str | None,
    layout: str = "auto",
    promo: dict[str, Any] | None = None,
    *,
    at: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO overlay_events (show_id, at, sku, layout, promo) VALUES (?, ?, ?, ?, ?)",
        [show_id, at or now_iso(), sku, layout, json.dumps(promo, ensure_ascii=False) if promo else None],
    )


def record_viewer_join(
    db: sqlite_utils.Database,
    show_id: int,
    viewer_id: str,
    transport: Transport = "webrtc",
    user_agent: str = "",
    *,
    at: str | None = None,
) -> int:
    """Open a viewer session; returns its id for :func:`record_viewer_leave`."""
    at = at or now_iso()
    cursor = db.execute(
        "INSERT INTO viewer_sessions (show_id, viewer_id, joined_at, last_seen_at, transport, user_agent) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [show_id, viewer_id, at, at, transport, user_agent[:500]],
    )
    return inserted_id(cursor)


def record_viewer_seen(db: sqlite_utils.Database, session_id: int, *, at: str | None = None) -> None:
    """Heartbeat: if the server is killed, the session still ends at its last sign of life."""
    db.execute(
        "UPDATE viewer_sessions SET last_seen_at = ? WHERE id = ? AND left_at IS NULL",
        [at or now_iso(), session_id],
    )


def record_viewer_leave(db: sqlite_utils.Database, session_id: int, *, at: str | None = None) -> None:
    """Close a session once; a second leave (e.g. DELETE then ICE failure) is ignored."""
    at = at or now_iso()
    db.execute(
        "UPDATE viewer_sessions SET left_at = ?, last_seen_at = ? WHERE id = ? AND left_at IS NULL",
        [at, at, session_id],
    )


def record_replay_position(
    db: sqlite_utils.Database, show_id: int, session_id: int, position_s: float, *, at: str | None = None
) -> None:
    """Where on the show clock a replay viewer is (seconds since the show started)."""
    db.execute(
        "INSERT INTO replay_positions (show_id, session_id, at, position_s) VALUES (?, ?, ?, ?)",
        [show_id, session_id, at or now_iso(), position_s],
    )


def close_stale_sessions(db: sqlite_utils.Database) -> int:
    """After a crash, end every open session at its last heartbeat; returns how many."""
    cursor = db.execute(
        "UPDATE viewer_sessions SET left_at = COALESCE(last_seen_at, joined_at) WHERE left_at IS NULL"
    )
    return cursor.rowcount


def record_link_event(  # noqa: PLR0917 - studio/shop.py passes viewer_id by position; keyword-only after the refactor
    db: sqlite_utils.Database,
    show_id: int,
    code: str,
    sku: str,
    kind: LinkEventKind,
    viewer_id: str | None = None,
    *,
    at: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) VALUES (?, ?, ?, ?, ?, ?)",
        [show_id, code, sku, at or now_iso(), kind, viewer_id],
    )


def record_stream_event(
    db: sqlite_utils.Database,
    show_id: int | None,
    kind: StreamEventKind,
    *,
    bitrate_kbps: float | None = None,
    fps: float | None = None,
    detail: str | None = None,
    at: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO stream_events (show_id, at, kind, bitrate_kbps, fps, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [show_id, at or now_iso(), kind, bitrate_kbps, fps, detail],
    )


def record_destination_event(
    db: sqlite_utils.Database,
    show_id: int | None,
    destination: str,
    state: str,
    detail: str | None = None,
    *,
    at: str | None = None,
) -> None:
    """A simulcast push changed state (idle/connecting/live/retrying/failed); ``detail`` is already redacted."""
    db.execute(
        "INSERT INTO destination_events (show_id, destination, at, state, detail) VALUES (?, ?, ?, ?, ?)",
        [show_id, destination, at or now_iso(), state, detail],
    )
