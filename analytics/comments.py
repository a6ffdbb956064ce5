"""The live room's comments, mutes and pinned messages: recorded like every other show event.

Each call commits on its own (the studio's autocommit connection), so a comment
the room has shown to everyone is on disk even if the server dies next.
Comments keep the product that was on air when they were posted and whether
they asked for it (a "want" signal such as 扣1 or 想要), so the host's live
"37 people want this" and the after-show analytics read the same rows.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from catalog import now_iso
from catalog.csvio import safe_cell

EXPORT_COLUMNS = ("id", "at", "nickname", "viewer_id", "text", "sku", "want", "hidden")


class UnknownComment(LookupError):
    def __init__(self, comment_id: int) -> None:
        super().__init__(f"unknown comment {comment_id}")
        self.comment_id = comment_id


@dataclass(frozen=True)
class Comment:
    id: int
    show_id: int
    at: str
    viewer_id: str
    nickname: str
    text: str
    sku: str | None
    want: bool
    hidden: bool

    def public(self) -> dict[str, object]:
        """What every viewer may see: no viewer id (that is the host's, for muting)."""
        return {"id": self.id, "at": self.at, "nickname": self.nickname, "text": self.text, "want": self.want}


@dataclass(frozen=True)
class Pin:
    id: int
    show_id: int
    at: str
    text: str
    on_video: bool

    def public(self) -> dict[str, object]:
        return {"id": self.id, "at": self.at, "text": self.text, "on_video": self.on_video}


_COMMENT_COLUMNS = "id, show_id, at, viewer_id, nickname, text, sku, want, hidden_at IS NOT NULL"


def _comment(row: Any) -> Comment:
    id_, show_id, at, viewer_id, nickname, text, sku, want, hidden = row
    return Comment(id_, show_id, at, viewer_id, nickname, text, sku, bool(want), bool(hidden))


def record_comment(
    db: sqlite_utils.Database,
    show_id: int,
    viewer_id: str,
    nickname: str,
    text: str,
    *,
    sku: str | None = None,
    want: bool = False,
    at: str | None = None,
) -> Comment:
    at = at or now_iso()
    cursor = db.execute(
        "INSERT INTO comments (show_id, at, viewer_id, nickname, text, sku, want) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [show_id, at, viewer_id, nickname, text, sku, int(want)],
    )
    return Comment(int(cursor.lastrowid or 0), show_id, at, viewer_id, nickname, text, sku, want, False)


def recent_comments(
    db: sqlite_utils.Database, show_id: int, *, after_id: int = 0, limit: int = 50, include_hidden: bool = False
) -> list[Comment]:
    """The newest ``limit`` comments after ``after_id``, oldest first (the order a room shows them)."""
    hidden = "" if include_hidden else "AND hidden_at IS NULL"
    rows = db.execute(
        f"SELECT {_COMMENT_COLUMNS} FROM comments WHERE show_id = ? AND id > ? {hidden} ORDER BY id DESC LIMIT ?",
        [show_id, after_id, limit],
    ).fetchall()
    return [_comment(row) for row in reversed(rows)]


def hide_comment(db: sqlite_utils.Database, comment_id: int, *, at: str | None = None) -> Comment:
    """Hide a comment from the room (kept for the record); hiding twice keeps the first time."""
    db.execute(
        "UPDATE comments SET hidden_at = COALESCE(hidden_at, ?) WHERE id = ?", [at or now_iso(), comment_id]
    )
    row = db.execute(f"SELECT {_COMMENT_COLUMNS} FROM comments WHERE id = ?", [comment_id]).fetchone()
    if row is None:
        raise UnknownComment(comment_id)
    return _comment(row)


def mute_viewer(db: sqlite_utils.Database, show_id: int, viewer_id: str, *, at: str | None = None) -> None:
    db.execute(
        "INSERT OR IGNORE INTO muted_viewers (show_id, viewer_id, at) VALUES (?, ?, ?)",
        [show_id, viewer_id, at or now_iso()],
    )


def unmute_viewer(db: sqlite_utils.Database, show_id: int, viewer_id: str) -> None:
    db.execute("DELETE FROM muted_viewers WHERE show_id = ? AND viewer_id = ?", [show_id, viewer_id])


def muted_viewers(db: sqlite_utils.Database, show_id: int) -> set[str]:
    return {row[0] for row in db.execute("SELECT viewer_id FROM muted_viewers WHERE show_id = ?", [show_id])}


def record_pin(
    db: sqlite_utils.Database, show_id: int, text: str, *, on_video: bool = False, at: str | None = None
) -> Pin:
    """Pin a message; the previous pin of the show is unpinned at the same moment."""
    at = at or now_iso()
    unpin(db, show_id, at=at)
    cursor = db.execute(
        "INSERT INTO pins (show_id, at, text, on_video) VALUES (?, ?, ?, ?)", [show_id, at, text, int(on_video)]
    )
    return Pin(int(cursor.lastrowid or 0), show_id, at, text, on_video)


def unpin(db: sqlite_utils.Database, show_id: int, *, at: str | None = None) -> None:
    db.execute(
        "UPDATE pins SET unpinned_at = ? WHERE show_id = ? AND unpinned_at IS NULL", [at or now_iso(), show_id]
    )


def current_pin(db: sqlite_utils.Database, show_id: int) -> Pin | None:
    row = db.execute(
        "SELECT id, show_id, at, text, on_video FROM pins WHERE show_id = ? AND unpinned_at IS NULL "
        "ORDER BY id DESC LIMIT 1",
        [show_id],
    ).fetchone()
    if row is None:
        return None
    pin_id, pin_show, at, text, on_video = row
    return Pin(pin_id, pin_show, at, text, bool(on_video))


def want_counts(db: sqlite_utils.Database, show_id: int) -> dict[str, int]:
    """Per product: how many different viewers asked for it while it was on air (hidden comments excluded)."""
    rows = db.execute(
        "SELECT sku, COUNT(DISTINCT viewer_id) FROM comments "
        "WHERE show_id = ? AND want = 1 AND hidden_at IS NULL AND sku IS NOT NULL GROUP BY sku",
        [show_id],
    ).fetchall()
    return {str(sku): int(count) for sku, count in rows}


def normalize_keyword(text: str) -> str:
    """Case-folded, full-width folded, letters and digits only: how a draw keyword is matched."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def comment_rows(db: sqlite_utils.Database, show_id: int) -> Iterator[dict[str, object]]:
    """Every comment of a show, hidden ones included and marked, in posting order."""
    for row in db.execute(f"SELECT {_COMMENT_COLUMNS} FROM comments WHERE show_id = ? ORDER BY id", [show_id]):
        comment = _comment(row)
        yield {
            "id": comment.id,
            "at": comment.at,
            "nickname": comment.nickname,
            "viewer_id": comment.viewer_id,
            "text": comment.text,
            "sku": comment.sku or "",
            "want": int(comment.want),
            "hidden": int(comment.hidden),
        }


def export_comments_csv(db: sqlite_utils.Database, show_id: int, path: str | Path) -> int:
    """Write a show's comments as UTF-8 CSV with BOM (Excel keeps the Chinese); returns the row count.

    Written to a temporary file first, so a failed export never leaves half a file behind.
    """
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in comment_rows(db, show_id):
            writer.writerow({key: safe_cell(value) for key, value in row.items()})
            count += 1
    partial.replace(target)
    return count
