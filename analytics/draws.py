"""Lucky draws (福袋): who entered, and a winner anyone can check.

Entrants come from the show's own records when the draw closes: viewers who
commented the keyword during the draw, or who placed an order during it. The
winner is a pure function of a random seed and the sorted entrant list
(:func:`pick_winner`); both are stored with the draw, so the same seed and
entrants always give the same winner, and a doubting viewer can be shown why.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils

from analytics.comments import normalize_keyword
from catalog import now_iso

DrawRule = Literal["comment", "order"]
DrawStatus = Literal["open", "drawn", "no_entrants", "cancelled"]
DRAW_RULES: tuple[DrawRule, ...] = ("comment", "order")
#: Orders that count as an entry (a cancelled order does not).
ENTRY_ORDER_STATUSES = ("paid", "cod", "pending")


class UnknownDraw(LookupError):
    def __init__(self, draw_id: int) -> None:
        super().__init__(f"unknown draw {draw_id}")
        self.draw_id = draw_id


@dataclass(frozen=True)
class Draw:
    id: int
    show_id: int
    prize: str
    rule: DrawRule
    keyword: str | None
    started_at: str
    ends_at: str
    status: DrawStatus
    drawn_at: str | None = None
    seed: str | None = None
    entrants: tuple[str, ...] = ()
    winner_viewer_id: str | None = None
    winner_name: str | None = None

    def public(self) -> dict[str, Any]:
        """What every viewer sees: never the entrants' ids, only how many there were."""
        return {
            "id": self.id,
            "prize": self.prize,
            "rule": self.rule,
            "keyword": self.keyword,
            "ends_at": self.ends_at,
            "status": self.status,
            "entrants": len(self.entrants),
            "winner": self.winner_name,
        }

    def audit(self) -> dict[str, Any]:
        """The host's record: the seed and entrants that reproduce the winner."""
        return {**self.public(), "seed": self.seed, "entrant_ids": list(self.entrants),
                "winner_viewer_id": self.winner_viewer_id, "started_at": self.started_at, "drawn_at": self.drawn_at}


def pick_winner(seed: str, entrants: tuple[str, ...]) -> str:
    """The winner among ``entrants`` (sorted, distinct) for ``seed``: SHA-256, no hidden state."""
    if not entrants:
        raise ValueError("a draw with no entrants has no winner")
    digest = hashlib.sha256("\n".join((seed, *entrants)).encode()).hexdigest()
    return entrants[int(digest, 16) % len(entrants)]


_COLUMNS = (
    "id, show_id, prize, rule, keyword, started_at, ends_at, status, drawn_at, seed, entrants, "
    "winner_viewer_id, winner_name"
)


def _draw(row: Any) -> Draw:
    (id_, show_id, prize, rule, keyword, started_at, ends_at, status, drawn_at, seed, people, winner, name) = row
    return Draw(
        id_, show_id, prize, rule, keyword, started_at, ends_at, status, drawn_at, seed,
        tuple(json.loads(people)) if people else (), winner, name,
    )


def open_draw(
    db: sqlite_utils.Database,
    show_id: int,
    prize: str,
    rule: DrawRule,
    ends_at: str,
    *,
    keyword: str | None = None,
    at: str | None = None,
) -> Draw:
    cursor = db.execute(
        "INSERT INTO draws (show_id, prize, rule, keyword, started_at, ends_at) VALUES (?, ?, ?, ?, ?, ?)",
        [show_id, prize, rule, keyword, at or now_iso(), ends_at],
    )
    return get_draw(db, int(cursor.lastrowid or 0))


def get_draw(db: sqlite_utils.Database, draw_id: int) -> Draw:
    row = db.execute(f"SELECT {_COLUMNS} FROM draws WHERE id = ?", [draw_id]).fetchone()
    if row is None:
        raise UnknownDraw(draw_id)
    return _draw(row)


def show_draws(db: sqlite_utils.Database, show_id: int) -> list[Draw]:
    return [_draw(r) for r in db.execute(f"SELECT {_COLUMNS} FROM draws WHERE show_id = ? ORDER BY id", [show_id])]


def open_draws(db: sqlite_utils.Database) -> list[Draw]:
    """Draws still open (e.g. after a restart: the room closes them when their time is up)."""
    return [_draw(r) for r in db.execute(f"SELECT {_COLUMNS} FROM draws WHERE status = 'open' ORDER BY id")]


def entrants(db: sqlite_utils.Database, draw: Draw) -> tuple[str, ...]:
    """Distinct viewer ids that entered during the draw, sorted (the order the winner is picked from)."""
    if draw.rule == "order":
        placeholders = ", ".join("?" for _ in ENTRY_ORDER_STATUSES)
        rows = db.execute(
            "SELECT DISTINCT buyer_id FROM orders WHERE show_id = ? AND at >= ? AND at <= ? "
            f"AND buyer_id IS NOT NULL AND status IN ({placeholders})",
            [draw.show_id, draw.started_at, draw.ends_at, *ENTRY_ORDER_STATUSES],
        )
        return tuple(sorted(str(r[0]) for r in rows))
    keyword = normalize_keyword(draw.keyword or "")
    rows = db.execute(
        "SELECT viewer_id, text FROM comments WHERE show_id = ? AND at >= ? AND at <= ? AND hidden_at IS NULL "
        "AND viewer_id NOT IN (SELECT viewer_id FROM muted_viewers WHERE show_id = ?)",
        [draw.show_id, draw.started_at, draw.ends_at, draw.show_id],
    )
    return tuple(sorted({str(viewer) for viewer, text in rows if keyword and keyword in normalize_keyword(text)}))


def winner_name(db: sqlite_utils.Database, draw: Draw, viewer_id: str) -> str:
    """How the room knows the winner: their latest nickname, else the buyer's name with the rest masked."""
    row = db.execute(
        "SELECT nickname FROM comments WHERE show_id = ? AND viewer_id = ? ORDER BY id DESC LIMIT 1",
        [draw.show_id, viewer_id],
    ).fetchone()
    if row is not None:
        return str(row[0])
    row = db.execute(
        "SELECT customer_name FROM orders WHERE show_id = ? AND buyer_id = ? AND customer_name IS NOT NULL "
        "ORDER BY id DESC LIMIT 1",
        [draw.show_id, viewer_id],
    ).fetchone()
    name = str(row[0]) if row is not None else ""
    return (name[:1] + "*" * max(len(name) - 1, 1)) if name else f"观众{viewer_id[-4:]}"


def close_draw(db: sqlite_utils.Database, draw_id: int, *, seed: str | None = None, at: str | None = None) -> Draw:
    """Draw the winner (or record that nobody entered); closing a closed draw returns it unchanged."""
    draw = get_draw(db, draw_id)
    if draw.status != "open":
        return draw
    seed = seed or secrets.token_hex(16)
    people = entrants(db, draw)
    winner = pick_winner(seed, people) if people else None
    db.execute(
        "UPDATE draws SET status = ?, drawn_at = ?, seed = ?, entrants = ?, winner_viewer_id = ?, winner_name = ? "
        "WHERE id = ? AND status = 'open'",
        [
            "drawn" if winner else "no_entrants",
            at or now_iso(),
            seed,
            json.dumps(people),
            winner,
            winner_name(db, draw, winner) if winner else None,
            draw_id,
        ],
    )
    return get_draw(db, draw_id)


def cancel_draw(db: sqlite_utils.Database, draw_id: int, *, at: str | None = None) -> Draw:
    db.execute(
        "UPDATE draws SET status = 'cancelled', drawn_at = ? WHERE id = ? AND status = 'open'",
        [at or now_iso(), draw_id],
    )
    return get_draw(db, draw_id)
