"""The one owner of farmlive's SQLite schema and its migrations.

Every table lives in one file, ``DATA_DIR/farmlive.db``, in WAL mode so the
studio server can write while the control room and reports read. Other modules
never issue ``CREATE``/``ALTER``: they call :func:`open_db`, which migrates.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

DB_FILENAME = "farmlive.db"
#: SQLite gives the WAL and shared-memory files the database file's mode.
DB_FILE_MODE = 0o600

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
    # catalog (hardening, #9): a per-order quantity limit per product (NULL: the
    # default limit), and public order numbers that are random, not the row id,
    # so an order number says nothing about sales volume and cannot be guessed.
    """
    ALTER TABLE products ADD COLUMN max_per_order INTEGER CHECK (max_per_order IS NULL OR max_per_order >= 1);
    ALTER TABLE orders ADD COLUMN number TEXT;
    CREATE UNIQUE INDEX orders_number ON orders (number);
    """,
    # the live room: viewers' comments (with the product on air when each was
    # posted, and whether it asked for it: a "want" signal), viewers the host
    # muted for a show, and the host's pinned messages.
    """
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        at TEXT NOT NULL,
        viewer_id TEXT NOT NULL,
        nickname TEXT NOT NULL,
        text TEXT NOT NULL,
        sku TEXT,
        want INTEGER NOT NULL DEFAULT 0,
        hidden_at TEXT
    );
    CREATE INDEX comments_show ON comments (show_id, id);
    CREATE TABLE muted_viewers (
        show_id INTEGER NOT NULL REFERENCES shows(id),
        viewer_id TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (show_id, viewer_id)
    );
    CREATE TABLE pins (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        at TEXT NOT NULL,
        text TEXT NOT NULL,
        on_video INTEGER NOT NULL DEFAULT 0,
        unpinned_at TEXT
    );
    CREATE INDEX pins_show ON pins (show_id, id);
    """,
    # the live room's lucky draws (福袋): the rule, the window, and once drawn the
    # seed and the sorted entrant list, so anyone can recompute the winner.
    """
    CREATE TABLE draws (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        prize TEXT NOT NULL,
        rule TEXT NOT NULL CHECK (rule IN ('comment', 'order')),
        keyword TEXT,
        started_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'drawn', 'no_entrants', 'cancelled')),
        drawn_at TEXT,
        seed TEXT,
        entrants TEXT,
        winner_viewer_id TEXT,
        winner_name TEXT
    );
    CREATE INDEX draws_show ON draws (show_id, id);
    """,
    # replay: people watching the recording after the show are viewer sessions
    # with transport 'replay' (SQLite cannot widen a CHECK in place, so the
    # table is rebuilt with the same columns), and the replay page's
    # heartbeats say where on the show clock they were, which ranks chapters.
    """
    CREATE TABLE viewer_sessions_replay (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        viewer_id TEXT NOT NULL,
        joined_at TEXT NOT NULL,
        left_at TEXT,
        last_seen_at TEXT,
        transport TEXT NOT NULL DEFAULT 'webrtc'
            CHECK (transport IN ('webrtc', 'hls', 'external', 'replay')),
        user_agent TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO viewer_sessions_replay (id, show_id, viewer_id, joined_at, left_at, last_seen_at, transport, user_agent)
        SELECT id, show_id, viewer_id, joined_at, left_at, last_seen_at, transport, user_agent FROM viewer_sessions;
    DROP TABLE viewer_sessions;
    ALTER TABLE viewer_sessions_replay RENAME TO viewer_sessions;
    CREATE INDEX viewer_sessions_show ON viewer_sessions (show_id, joined_at);
    CREATE TABLE replay_positions (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        session_id INTEGER NOT NULL REFERENCES viewer_sessions(id),
        at TEXT NOT NULL,
        position_s REAL NOT NULL CHECK (position_s >= 0)
    );
    CREATE INDEX replay_positions_show ON replay_positions (show_id, at);
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
    # the live room sells: an order remembers how the buyer came (the QR
    # scan, the Buy button, the shelf 小黄车, a draw, the replay page), the
    # coupon it used and the list price before any promo, so analytics can
    # show orders by channel and the discounts given. Shelf taps are link
    # events of their own (the CHECK cannot widen in place: rebuild). A
    # simulated show is marked, so analytics of real shows can leave it out.
    """
    ALTER TABLE orders ADD COLUMN channel TEXT
        CHECK (channel IS NULL OR channel IN ('scan', 'click', 'shelf', 'draw', 'replay'));
    ALTER TABLE orders ADD COLUMN coupon TEXT;
    ALTER TABLE orders ADD COLUMN list_price REAL CHECK (list_price IS NULL OR list_price >= 0);
    CREATE TABLE link_events_shelf (
        id INTEGER PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        code TEXT NOT NULL,
        sku TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('scan', 'click', 'shelf')),
        viewer_id TEXT
    );
    INSERT INTO link_events_shelf (id, show_id, code, sku, at, kind, viewer_id)
        SELECT id, show_id, code, sku, at, kind, viewer_id FROM link_events;
    DROP TABLE link_events;
    ALTER TABLE link_events_shelf RENAME TO link_events;
    CREATE INDEX link_events_show ON link_events (show_id, at);
    CREATE INDEX link_events_product ON link_events (show_id, sku, kind);
    CREATE INDEX link_events_viewer ON link_events (show_id, viewer_id);
    ALTER TABLE shows ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1));
    """,
    # pairing the farmer's phone without typing: the control room shows a
    # short-lived single-use pairing code (only its SHA-256 is kept, so the
    # database never holds a usable secret), the phone exchanges it once for
    # a publish-only token (also kept hashed) that may publish through WHIP
    # and read the phone's status, nothing else. In SQLite, not memory, so a
    # restart does not break the code on screen or unpair the phone. The
    # studio's automatic hold slate (uplink unusable) and its end are stream
    # events of their own (the CHECK cannot widen in place: rebuild).
    """
    CREATE TABLE pairing_codes (
        hash TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    );
    CREATE TABLE publish_tokens (
        hash TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        user_agent TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE stream_events_hold (
        id INTEGER PRIMARY KEY,
        show_id INTEGER REFERENCES shows(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('connect', 'disconnect', 'stats', 'hold', 'resume')),
        bitrate_kbps REAL,
        fps REAL,
        detail TEXT
    );
    INSERT INTO stream_events_hold (id, show_id, at, kind, bitrate_kbps, fps, detail)
        SELECT id, show_id, at, kind, bitrate_kbps, fps, detail FROM stream_events;
    DROP TABLE stream_events;
    ALTER TABLE stream_events_hold RENAME TO stream_events;
    CREATE INDEX stream_events_show ON stream_events (show_id, at);
    """,
    # shows `farmlive simulate` wrote before shows were marked: their viewers
    # carry the simulator's user agent, their platform orders an external id
    # SIM<show>-…. Mark them, and give those orders their show, so no real
    # show's time window takes them (issue #12: 8 orders counted, 3 placed).
    """
    UPDATE shows SET simulated = 1 WHERE simulated = 0 AND (
        EXISTS (SELECT 1 FROM viewer_sessions v WHERE v.show_id = shows.id AND v.user_agent = 'farmlive-simulator')
        OR EXISTS (SELECT 1 FROM orders o WHERE o.source = 'import' AND o.external_id LIKE 'SIM' || shows.id || '-%')
    );
    UPDATE orders SET show_id = CAST(substr(external_id, 4, instr(external_id, '-') - 4) AS INTEGER)
        WHERE show_id IS NULL AND source = 'import' AND external_id GLOB 'SIM[0-9]*-[0-9]*'
        AND CAST(substr(external_id, 4, instr(external_id, '-') - 4) AS INTEGER)
            IN (SELECT id FROM shows WHERE simulated = 1);
    """,
    # the funnel by channel counts distinct people per tap kind (scan, click,
    # shelf): one ordered pass over this covering index instead of a temporary
    # B-tree over every event of the show (5x less CPU at a million events).
    """
    CREATE INDEX link_events_kind ON link_events (show_id, kind, viewer_id);
    """,
    # reach: a simulcast destination marked own-QR gets buy links of its own,
    # so scans and orders from Douyin viewers are told apart from WeChat
    # Channels viewers. NULL is the show's own link (/watch and every
    # shared-QR destination). One link per show x product x destination: the
    # table-level UNIQUE (show_id, sku) cannot widen in place (rebuild), and a
    # plain UNIQUE would let NULLs repeat, hence the COALESCE index. Scans
    # per link code are counted from their own index (a show may have a
    # million link events; the per-platform table needs a few codes' counts).
    """
    CREATE TABLE links_destination (
        code TEXT PRIMARY KEY,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        sku TEXT NOT NULL REFERENCES products(sku),
        target_url TEXT,
        destination TEXT
    );
    INSERT INTO links_destination (code, show_id, sku, target_url)
        SELECT code, show_id, sku, target_url FROM links;
    DROP TABLE links;
    ALTER TABLE links_destination RENAME TO links;
    CREATE UNIQUE INDEX links_show_sku_destination ON links (show_id, sku, COALESCE(destination, ''));
    CREATE INDEX link_events_code ON link_events (show_id, code, kind);
    """,
    # the report's tap figures (distinct people per tap kind, distinct tapping
    # viewers, taps without a viewer id) from a tally the database keeps: one
    # row per show x kind x viewer with its number of taps (anonymous taps in
    # one row per kind, anonymous = 1). Counting them read every one of a
    # show's million link events twice per report; the tally has a row per
    # person instead. Triggers are its one writer, so it cannot drift from
    # link_events. It replaces the link_events_kind index (its only reader):
    # a tap still writes one entry of that size.
    """
    CREATE TABLE link_taps (
        show_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        anonymous INTEGER NOT NULL,
        viewer_id TEXT NOT NULL,
        events INTEGER NOT NULL,
        PRIMARY KEY (show_id, kind, anonymous, viewer_id)
    ) WITHOUT ROWID;
    INSERT INTO link_taps (show_id, kind, anonymous, viewer_id, events)
        SELECT show_id, kind, viewer_id IS NULL, COALESCE(viewer_id, ''), COUNT(*)
        FROM link_events GROUP BY show_id, kind, viewer_id IS NULL, COALESCE(viewer_id, '');
    CREATE TRIGGER link_taps_insert AFTER INSERT ON link_events BEGIN
        INSERT INTO link_taps (show_id, kind, anonymous, viewer_id, events)
            VALUES (NEW.show_id, NEW.kind, NEW.viewer_id IS NULL, COALESCE(NEW.viewer_id, ''), 1)
            ON CONFLICT DO UPDATE SET events = events + 1;
    END;
    CREATE TRIGGER link_taps_delete AFTER DELETE ON link_events BEGIN
        UPDATE link_taps SET events = events - 1 WHERE show_id = OLD.show_id AND kind = OLD.kind
            AND anonymous = (OLD.viewer_id IS NULL) AND viewer_id = COALESCE(OLD.viewer_id, '');
        DELETE FROM link_taps WHERE events <= 0 AND show_id = OLD.show_id AND kind = OLD.kind
            AND anonymous = (OLD.viewer_id IS NULL) AND viewer_id = COALESCE(OLD.viewer_id, '');
    END;
    CREATE TRIGGER link_taps_update AFTER UPDATE OF show_id, kind, viewer_id ON link_events BEGIN
        UPDATE link_taps SET events = events - 1 WHERE show_id = OLD.show_id AND kind = OLD.kind
            AND anonymous = (OLD.viewer_id IS NULL) AND viewer_id = COALESCE(OLD.viewer_id, '');
        DELETE FROM link_taps WHERE events <= 0 AND show_id = OLD.show_id AND kind = OLD.kind
            AND anonymous = (OLD.viewer_id IS NULL) AND viewer_id = COALESCE(OLD.viewer_id, '');
        INSERT INTO link_taps (show_id, kind, anonymous, viewer_id, events)
            VALUES (NEW.show_id, NEW.kind, NEW.viewer_id IS NULL, COALESCE(NEW.viewer_id, ''), 1)
            ON CONFLICT DO UPDATE SET events = events + 1;
    END;
    DROP INDEX link_events_kind;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def db_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DB_FILENAME


class SchemaOutOfDate(RuntimeError):
    """A read-only connection met a database older than this code: only a writer may migrate it."""


def connect(path: str | Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """Open (creating and migrating) the database at ``path``; see :func:`connect_readonly` for readers.

    Autocommit mode (``isolation_level=None``) so that :func:`transaction`
    owns every multi-statement write explicitly; a 30 s busy timeout lets the
    control room and the server share the file without ``database is locked``.
    """
    if readonly:
        return connect_readonly(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    if path.exists():
        os.chmod(path, DB_FILE_MODE)  # buyers' names, phones and addresses: the owner's eyes only
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL survives a killed process; only an OS crash can drop the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    db = sqlite_utils.Database(conn)
    migrate(db)
    return db


def connect_readonly(path: str | Path) -> sqlite_utils.Database:
    """A reader's connection: it cannot write, never migrates and never takes the write lock.

    For the control room and reports, which read while the studio writes: in WAL mode
    a reader sees the last committed state and neither waits for nor blocks the writer.
    The file is opened with ``mode=ro`` and ``PRAGMA query_only``, so any write raises
    ``sqlite3.OperationalError``. A missing file raises ``FileNotFoundError`` (a reader
    never creates the database) and one older than this code :class:`SchemaOutOfDate`.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no farmlive database at {path}: start the studio once (farmlive up) to create it")
    uri = f"{path.as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except BaseException:
        conn.close()
        raise
    if version < SCHEMA_VERSION:
        conn.close()
        raise SchemaOutOfDate(
            f"{path} has schema version {version}, this farmlive needs {SCHEMA_VERSION}: "
            "start the studio (farmlive up) once to migrate it"
        )
    return sqlite_utils.Database(conn)


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an ``INSERT`` just made (``lastrowid`` is typed optional; after an insert it is set)."""
    rowid = cursor.lastrowid
    if rowid is None:
        raise RuntimeError("the statement inserted no row")
    return rowid


def open_db(data_dir: str | Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """The studio database inside ``data_dir`` (a reader's connection with ``readonly=True``)."""
    return connect(db_path(data_dir), readonly=readonly)


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
    """Split a migration into statements (DDL here holds no ';' in strings).

    A trigger's body holds ';' of its own: pieces are joined until SQLite
    says the statement is complete.
    """
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
