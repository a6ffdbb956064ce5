"""Shows and their tracked buy links: one short code per show x product.

The QR on air encodes ``BASE_URL/b/<code>``; because the code names both the
show and the product, a scan is attributable on any player or platform.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlite_utils

from catalog.products import get_product
from catalog.schema import inserted_id, transaction
from catalog.timestamps import now_iso

# Crockford-style alphabet: no 0/O, 1/I/L confusion when a code is read aloud or typed.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 6
_LINK_COLUMNS = "code, show_id, sku, target_url, destination"


@dataclass(frozen=True)
class Show:
    id: int
    title: str
    started_at: str
    ended_at: str | None = None
    # Written by ``farmlive simulate``: left out of real shows' attribution and cross-show totals.
    simulated: bool = False

    @property
    def live(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class Link:
    code: str
    show_id: int
    sku: str
    target_url: str | None
    #: The simulcast destination whose own QR carries this link; None for the show's own link.
    destination: str | None = None


class UnknownShow(LookupError):
    def __init__(self, show_id: int) -> None:
        super().__init__(f"unknown show {show_id}")
        self.show_id = show_id


class UnknownLink(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown buy link {code!r}")
        self.code = code


_SHOW_COLUMNS = "id, title, started_at, ended_at, simulated"


def _show(row: tuple[int, str, str, str | None, int]) -> Show:
    return Show(row[0], row[1], row[2], row[3], bool(row[4]))


def create_show(
    db: sqlite_utils.Database, title: str, *, started_at: str | None = None, simulated: bool = False
) -> Show:
    started_at = started_at or now_iso()
    cursor = db.execute(
        "INSERT INTO shows (title, started_at, simulated) VALUES (?, ?, ?)", [title, started_at, int(simulated)]
    )
    return Show(id=inserted_id(cursor), title=title, started_at=started_at, simulated=simulated)


def get_show(db: sqlite_utils.Database, show_id: int) -> Show:
    row = db.execute(f"SELECT {_SHOW_COLUMNS} FROM shows WHERE id = ?", [show_id]).fetchone()
    if row is None:
        raise UnknownShow(show_id)
    return _show(row)


def list_shows(db: sqlite_utils.Database, *, include_simulated: bool = True) -> list[Show]:
    """Every show, oldest first; ``include_simulated=False`` for totals across real shows."""
    real_only = "" if include_simulated else "WHERE simulated = 0 "
    rows = db.execute(f"SELECT {_SHOW_COLUMNS} FROM shows {real_only}ORDER BY id").fetchall()
    return [_show(row) for row in rows]


def live_show(db: sqlite_utils.Database) -> Show | None:
    """The most recent show that has not ended (the studio runs one at a time)."""
    row = db.execute(
        f"SELECT {_SHOW_COLUMNS} FROM shows WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return _show(row) if row else None


def newest_real_show(db: sqlite_utils.Database) -> Show | None:
    """The most recent show that is not simulated (what a restarted studio shows its viewers)."""
    row = db.execute(f"SELECT {_SHOW_COLUMNS} FROM shows WHERE simulated = 0 ORDER BY id DESC LIMIT 1").fetchone()
    return _show(row) if row else None


def end_show(db: sqlite_utils.Database, show_id: int, *, ended_at: str | None = None) -> Show:
    """End a show; ending an ended show keeps its first end time."""
    with transaction(db):
        show = get_show(db, show_id)
        if show.ended_at is None:
            db.execute(
                "UPDATE shows SET ended_at = ? WHERE id = ?", [ended_at or now_iso(), show_id]
            )
    return get_show(db, show_id)


def link_for(db: sqlite_utils.Database, show_id: int, sku: str, *, destination: str | None = None) -> Link:
    """The show's buy link for ``sku``, created on first use.

    ``destination`` names an own-QR simulcast destination: its viewers get a
    link of their own, so their scans and orders are counted apart.
    """
    with transaction(db):
        row = db.execute(
            f"SELECT {_LINK_COLUMNS} FROM links WHERE show_id = ? AND sku = ? AND destination IS ?",
            [show_id, sku, destination],
        ).fetchone()
        if row:
            return Link(*row)
        get_show(db, show_id)
        product = get_product(db, sku)
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if db.execute("SELECT 1 FROM links WHERE code = ?", [code]).fetchone() is None:
                break
        db.execute(
            "INSERT INTO links (code, show_id, sku, target_url, destination) VALUES (?, ?, ?, ?, ?)",
            [code, show_id, sku, product.buy_url, destination],
        )
        return Link(code, show_id, sku, product.buy_url, destination)


def resolve_link(db: sqlite_utils.Database, code: str) -> Link:
    row = db.execute(f"SELECT {_LINK_COLUMNS} FROM links WHERE code = ?", [code]).fetchone()
    if row is None:
        raise UnknownLink(code)
    return Link(*row)
