"""The one owner of farmlive's SQLite schema and its migrations.

Every table lives in one file, ``DATA_DIR/farmlive.db``, in WAL mode so the
studio server can write while the control room and reports read. Other modules
never issue ``CREATE``/``ALTER``: they call :func:`open_db`, which migrates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

DB_FILENAME = "farmlive.db"

# Each entry migrates from version i to i + 1. Append only: released
# databases replay the tail they have not seen yet.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE products (
        sku TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_zh TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        price REAL NOT NULL CHECK (price >= 0),
        currency TEXT NOT NULL DEFAULT 'CNY',
        unit TEXT NOT NULL DEFAULT '',
        stock INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
        origin TEXT NOT NULL DEFAULT '',
        image TEXT,
        buy_url TEXT,
        active INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE shows (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE TABLE links (
        code TEXT PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        sku TEXT NOT NULL REFERENCES products(sku),
        target_url TEXT,
        UNIQUE (show_id, sku)
    );
    CREATE TABLE viewer_sessions (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        viewer_id TEXT NOT NULL,
        joined_at TEXT NOT NULL,
        left_at TEXT,
        last_seen_at TEXT,
        transport TEXT NOT NULL DEFAULT 'webrtc'
            CHECK (transport IN ('webrtc', 'hls', 'external')),
        user_agent TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX viewer_sessions_show ON viewer_sessions (show_id, joined_at);
    CREATE TABLE overlay_events (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        at TEXT NOT NULL,
        sku TEXT,
        layout TEXT NOT NULL DEFAULT 'auto',
        promo TEXT
    );
    CREATE INDEX overlay_events_show ON overlay_events (show_id, at);
    CREATE TABLE link_events (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        code TEXT NOT NULL,
        sku TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('scan', 'click')),
        viewer_id TEXT
    );
    CREATE INDEX link_events_show ON link_events (show_id, at);
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        show_id INTEGER REFERENCES shows(id),
        sku TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        unit_price REAL NOT NULL CHECK (unit_price >= 0),
        total REAL NOT NULL CHECK (total >= 0),
        at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'builtin' CHECK (source IN ('builtin', 'import')),
        link_code TEXT,
        external_id TEXT,
        status TEXT NOT NULL DEFAULT 'paid',
        buyer_id TEXT,
        customer_name TEXT,
        phone TEXT,
        address TEXT,
        UNIQUE (source, external_id)
    );
    CREATE INDEX orders_show ON orders (show_id, at);
    CREATE INDEX orders_sku ON orders (sku, at);
    CREATE TABLE stream_events (
        id INTEGER PRIMARY KEY,
        show_id INTEGER REFERENCES shows(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('connect', 'disconnect', 'stats')),
        bitrate_kbps REAL,
        fps REAL,
        detail TEXT
    );
    CREATE INDEX stream_events_show ON stream_events (show_id, at);
    """,
    # analytics: a show's scans/clicks per product and its distinct scanning
    # viewers are read from these covering indexes in one ordered pass, so a
    # report over a million link events never loads them row by row.
    """
    CREATE INDEX link_events_product ON link_events (show_id, sku, kind);
    CREATE INDEX link_events_viewer ON link_events (show_id, viewer_id);
    """,
    # catalog: the built-in order form carries a one-time request id, so a buyer
    # on a weak uplink who taps again or reloads after a lost answer gets the same
    # order back instead of paying twice.
    """
    ALTER TABLE orders ADD COLUMN request_id TEXT;
    CREATE UNIQUE INDEX orders_request ON orders (request_id);
    """,
    # analytics: orders that used one of a show's buy links, found without
    # scanning every order ever taken.
    """
    CREATE INDEX orders_link ON orders (link_code);
    """,
    # reach: simulcast destinations (the stream key is NOT here: it lives in
    # DATA_DIR/secrets/, 0600) and each push's state changes as show events,
    # so a report can tell which platform was live when.
    """
    CREATE TABLE destinations (
        name TEXT PRIMARY KEY,
        preset TEXT NOT NULL DEFAULT 'custom',
        url TEXT NOT NULL,
        key_hint TEXT NOT NULL DEFAULT '',
        enabled INTEGER NOT NULL DEFAULT 1,
        own_qr INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE destination_events (
        id INTEGER PRIMARY KEY,
        show_id INTEGER REFERENCES shows(id),
        destination TEXT NOT NULL,
        at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('idle', 'connecting', 'live', 'retrying', 'failed')),
        detail TEXT
    );
    CREATE INDEX destination_events_show ON destination_events (show_id, at);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def db_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DB_FILENAME


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating and migrating) the database at ``path``.

    Autocommit mode (``isolation_level=None``) so that :func:`transaction`
    owns every multi-statement write explicitly; a 30 s busy timeout lets the
    control room and the server share the file without ``database is locked``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL survives a killed process; only an OS crash can drop the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    db = sqlite_utils.Database(conn)
    migrate(db)
    return db


def open_db(data_dir: str | Path) -> sqlite_utils.Database:
    """The studio database inside ``data_dir``."""
    return connect(db_path(data_dir))


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations atomically; returns the schema version."""
    with transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:]:
            for statement in _statements(step):
                db.execute(statement)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return SCHEMA_VERSION


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: take the write lock up front.

    Taking the lock before the first read is what makes read-check-write
    sequences such as stock decrements safe against concurrent writers.
    """
    conn = db.conn
    if conn.in_transaction:  # nested use joins the outer transaction
        yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (DDL here holds no ';' in strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
