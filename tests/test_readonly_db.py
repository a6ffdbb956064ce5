"""Readers' connections (control room, reports): they read, cannot write, never migrate or lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import sqlite_utils

import catalog
from catalog.schema import MIGRATIONS, SchemaOutOfDate, connect_readonly

ORANGE = catalog.Product(sku="ORANGE-5KG", name="Navel oranges", price=59.9, stock=10)


def test_a_reader_sees_what_the_writer_committed(db: sqlite_utils.Database, data_dir: Path) -> None:
    reader = catalog.open_db(data_dir, readonly=True)
    assert catalog.list_products(reader) == []
    catalog.upsert_product(db, ORANGE)
    assert [p.sku for p in catalog.list_products(reader)] == ["ORANGE-5KG"]  # a later commit, same connection


def test_a_reader_cannot_write(db: sqlite_utils.Database, data_dir: Path) -> None:
    reader = catalog.open_db(data_dir, readonly=True)
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
        catalog.upsert_product(reader, ORANGE)
    reader.execute("PRAGMA query_only=OFF")
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
        reader.execute("INSERT INTO shows (title, started_at) VALUES ('x', 'y')")  # mode=ro still refuses
    assert db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0


def test_a_reader_does_not_wait_for_a_writer_holding_the_lock(db: sqlite_utils.Database, data_dir: Path) -> None:
    catalog.upsert_product(db, ORANGE)
    db.conn.execute("BEGIN IMMEDIATE")  # the studio in the middle of a write
    db.execute("UPDATE products SET stock = 0")
    try:
        started = time.monotonic()
        reader = catalog.open_db(data_dir, readonly=True)
        stock = reader.execute("SELECT stock FROM products").fetchone()[0]
        assert time.monotonic() - started < 1.0  # a writer's connect() would wait for the lock (30 s)
        assert stock == 10  # the last committed state, not the write in progress
    finally:
        db.conn.execute("ROLLBACK")


def test_a_reader_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="farmlive up"):
        catalog.open_db(tmp_path, readonly=True)
    assert not catalog.db_path(tmp_path).exists()


def test_a_reader_never_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("PRAGMA user_version = 1")
    old.close()
    with pytest.raises(SchemaOutOfDate, match="schema version 1"):
        connect_readonly(path)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    assert catalog.connect(path).execute("PRAGMA user_version").fetchone()[0] == catalog.SCHEMA_VERSION
    assert connect_readonly(path).execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0
