"""The skeleton every area builds on: schema, shows and links, the studio server."""

import sqlite3

import aiohttp

import catalog
from catalog.shows import create_show, end_show, link_for, resolve_link
from tests.conftest import database_before


def test_schema_is_wal_and_migrates_once(data_dir):
    first = catalog.open_db(data_dir)
    assert first.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = first.execute("PRAGMA user_version").fetchone()[0]
    second = catalog.open_db(data_dir)
    assert second.execute("PRAGMA user_version").fetchone()[0] == version == catalog.SCHEMA_VERSION
    assert {"products", "shows", "links", "viewer_sessions", "overlay_events", "link_events", "orders"} <= set(
        second.table_names()
    )


def test_one_link_code_per_show_and_product(db):
    catalog.upsert_product(db, catalog.Product(sku="ORANGE-5KG", name="Navel oranges", price=59.0))
    show = create_show(db, "Harvest")
    first = link_for(db, show.id, "ORANGE-5KG")
    assert link_for(db, show.id, "ORANGE-5KG") == first
    assert resolve_link(db, first.code).sku == "ORANGE-5KG"
    other = link_for(db, create_show(db, "Next day").id, "ORANGE-5KG")
    assert other.code != first.code


def test_an_own_qr_destination_gets_its_own_link_per_show_and_product(db):
    """Douyin's QR carries a code of its own; the show's own link (NULL destination) stays one."""
    import sqlite3

    catalog.upsert_product(db, catalog.Product(sku="ORANGE-5KG", name="Navel oranges", price=59.0))
    show = create_show(db, "Harvest")
    own = link_for(db, show.id, "ORANGE-5KG")
    douyin = link_for(db, show.id, "ORANGE-5KG", destination="抖音")
    assert own.destination is None and douyin.destination == "抖音" and douyin.code != own.code
    assert link_for(db, show.id, "ORANGE-5KG", destination="抖音") == douyin
    assert link_for(db, show.id, "ORANGE-5KG") == own
    assert resolve_link(db, douyin.code) == douyin
    for destination in (None, "抖音"):  # the unique index holds for the NULL destination too
        try:
            db.execute(
                "INSERT INTO links (code, show_id, sku, destination) VALUES ('zzzzzz', ?, 'ORANGE-5KG', ?)",
                [show.id, destination],
            )
        except sqlite3.IntegrityError:
            pass
        else:
            raise AssertionError(f"a second link for destination {destination!r} was stored")


def test_destination_migration_keeps_every_link(tmp_path):
    """Links written before own-QR destinations migrate as the show's own links, codes unchanged."""
    path = tmp_path / catalog.schema.DB_FILENAME
    old, _ = database_before(path, "links_destination")
    old.execute("INSERT INTO shows (id, title, started_at) VALUES (1, 'Harvest', '2026-01-01T10:00:00.000Z')")
    old.execute("INSERT INTO products (sku, name, price) VALUES ('ORANGE-5KG', 'Navel oranges', 59.0)")
    old.execute("INSERT INTO links (code, show_id, sku) VALUES ('abc234', 1, 'ORANGE-5KG')")
    old.commit()
    old.close()
    db = catalog.connect(path)
    assert resolve_link(db, "abc234").destination is None
    assert link_for(db, 1, "ORANGE-5KG").code == "abc234"
    assert link_for(db, 1, "ORANGE-5KG", destination="视频号").code != "abc234"


def test_ending_a_show_keeps_its_first_end_time(db):
    show = create_show(db, "Harvest")
    ended = end_show(db, show.id, ended_at="2026-01-01T10:00:00.000Z")
    assert end_show(db, show.id).ended_at == ended.ended_at == "2026-01-01T10:00:00.000Z"


def test_timestamps_are_utc_with_milliseconds():
    text = catalog.now_iso()
    assert text.endswith("Z") and len(text) == len("2026-11-23T18:28:49.123Z")
    assert catalog.to_iso(catalog.parse_iso(text)) == text


async def test_healthz_on_loopback(running_studio):
    async with aiohttp.ClientSession() as http, http.get(f"{running_studio.url}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["ok"] is True


def test_live_room_migration_keeps_link_events_and_admits_shelf_taps(tmp_path):
    """A database written by the release before the live room migrates without losing a scan."""
    path = tmp_path / catalog.schema.DB_FILENAME
    old, _ = database_before(path, "link_events_shelf")
    old.execute("INSERT INTO shows (id, title, started_at) VALUES (1, 'Harvest', '2026-01-01T10:00:00.000Z')")
    old.execute(
        "INSERT INTO link_events (show_id, code, sku, at, kind, viewer_id) "
        "VALUES (1, 'abc', 'ORANGE-5KG', '2026-01-01T10:01:00.000Z', 'scan', 'v1')"
    )
    old.commit()
    old.close()
    db = catalog.connect(path)
    assert [row["kind"] for row in db["link_events"].rows] == ["scan"]
    db.execute(
        "INSERT INTO link_events (show_id, code, sku, at, kind) "
        "VALUES (1, 'abc', 'ORANGE-5KG', '2026-01-01T10:02:00.000Z', 'shelf')"
    )
    assert {"link_events_show", "link_events_product", "link_events_viewer"} <= {
        index.name for index in db["link_events"].indexes
    }
    assert db["shows"].get(1)["simulated"] == 0
    assert {"channel", "coupon", "list_price"} <= set(db["orders"].columns_dict)
    try:
        db.execute("INSERT INTO link_events (show_id, code, sku, at, kind) VALUES (1, 'abc', 'X', 'now', 'bogus')")
    except sqlite3.IntegrityError:
        pass
    else:
        raise AssertionError("an unknown link event kind was stored")
