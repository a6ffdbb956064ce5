"""The skeleton every area builds on: schema, shows and links, the studio server."""

import aiohttp

import catalog
from catalog.shows import create_show, end_show, link_for, resolve_link


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
