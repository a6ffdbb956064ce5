"""Pairing the farmer's phone by QR, its publish-only token, and the phone's status route (real HTTP, real WebRTC)."""

from __future__ import annotations

import re

import aiohttp
import numpy as np
import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalog
from analytics import comments as room_store
from studio import cli
from studio.media import PIPELINE
from studio.phone import (
    EXCHANGE_LIMIT,
    PairingRefused,
    create_pairing_code,
    digest,
    exchange_pairing_code,
    pair_url,
    token_is_valid,
)
from tests.conftest import LOOPBACK, ORANGES, TEA, TEST_KEY, RunningStudio
from tests.test_browser_show import decode_qr
from tests.test_whip_whep import SDP, eventually, post_offer, publisher_offer


async def pair(http: aiohttp.ClientSession, studio: RunningStudio) -> str:
    """What the control room does: a new pairing code (from the QR's ``#pair=``)."""
    async with http.post(f"{studio.url}/api/pairing", headers=studio.auth) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
    assert body["pair_url"] == f"{studio.config.public_url}/publish#pair={body['code']}"
    assert body["expires_in"] == 600
    return str(body["code"])


async def exchange(http: aiohttp.ClientSession, studio: RunningStudio, code: object) -> tuple[int, dict]:
    async with http.post(f"{studio.url}/api/pairing/exchange", json={"code": code}) as response:
        return response.status, await response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: segno's compact terminal QR: each character is two modules, top and bottom (1 = dark; blocks are light).
TERMINAL_MODULES = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}
PAIR_LINK = re.compile(r"\S+/publish#pair=[A-Za-z0-9_-]+")


def scan_terminal(output: str) -> str:
    """What a phone's camera reads off the QR printed in the terminal (decoded with OpenCV)."""
    rows: list[list[int]] = []
    for line in output.splitlines():
        if len(line) > 20 and set(line) <= set(TERMINAL_MODULES):
            pairs = [TERMINAL_MODULES[c] for c in line]
            rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    rows = rows[: len(rows[0])] if rows else rows  # the last line's lower half is padding
    light = np.array(rows, dtype=np.uint8) ^ 1
    for scale in (2, 3, 5):  # OpenCV misses some perfectly sharp codes at one size and reads them at another
        if text := decode_qr(np.kron(light, np.ones((scale, scale), dtype=np.uint8)) * 255):
            return text
    return ""


def printed_pair_link(output: str) -> str:
    """The pairing link printed as text, checked against the QR printed under it."""
    links = PAIR_LINK.findall(output)
    assert len(links) == 1, output
    assert scan_terminal(output) == links[0]
    return str(links[0])


async def test_farmlive_pair_prints_a_single_use_qr_without_the_key(
    running_studio: RunningStudio, capsys: pytest.CaptureFixture[str]
) -> None:
    """``farmlive pair`` beside a running studio: its code is the studio's, pairs once, and carries no key."""
    config = running_studio.config
    args = ["pair", "--data-dir", str(config.data_dir), "--host", LOOPBACK, "--port", str(config.port)]
    assert cli.main([*args, "--timezone", "Asia/Shanghai"]) == 0
    output = capsys.readouterr().out
    link = printed_pair_link(output)
    code = link.rpartition("=")[2]
    assert link == pair_url(config.public_url, code)
    assert TEST_KEY not in output and "#key=" not in output
    assert "on this computer only" in output  # no --lan/--base-url: the host is told a phone needs them
    db = catalog.open_db(config.data_dir)
    (expires_at,) = db.execute("SELECT expires_at FROM pairing_codes WHERE hash = ?", [digest(code)]).fetchone()
    db.conn.close()
    until = catalog.to_display(expires_at, "Asia/Shanghai", "%H:%M:%S")
    assert f"valid until {until} (Asia/Shanghai)" in output and f"有效期至 {until}" in output

    async with aiohttp.ClientSession() as http:
        status, body = await exchange(http, running_studio, code)
        assert status == 200, body
        async with http.get(f"{running_studio.url}/api/phone/status", headers=bearer(body["token"])) as response:
            assert response.status == 200
        status, body = await exchange(http, running_studio, code)
        assert (status, body["code"]) == (410, "pairing_code_used")

    # A second run makes a new code; an empty folder is refused and gets no database.
    assert cli.main(args) == 0
    assert printed_pair_link(capsys.readouterr().out) != link
    assert cli.main(["pair", "--data-dir", str(config.data_dir / "nothing")]) == 2
    assert "farmlive up" in capsys.readouterr().err and not (config.data_dir / "nothing").exists()
    damaged = config.data_dir / "damaged"
    damaged.mkdir()
    (damaged / catalog.DB_FILENAME).write_bytes(b"not a database " * 300)
    assert cli.main(["pair", "--data-dir", str(damaged)]) == 2
    assert "could not store a pairing code" in capsys.readouterr().err  # said plainly, no traceback


async def test_a_pairing_code_is_single_use_and_stored_only_hashed(running_studio: RunningStudio) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{running_studio.url}/api/pairing") as response:
            assert response.status == 401  # only the host makes codes
        code = await pair(http, running_studio)
        assert len(code) >= 16  # 128 random bits, url-safe

        status, body = await exchange(http, running_studio, code)
        assert status == 200, body
        token = body["token"]
        assert token.startswith("flpub_") and body["expires_at"]

        status, body = await exchange(http, running_studio, code)  # scanned twice, or stolen afterwards
        assert (status, body["code"]) == (410, "pairing_code_used")
        assert body["detail_zh"]

        status, body = await exchange(http, running_studio, code[:-2] + "xx")
        assert (status, body["code"]) == (404, "pairing_code_unknown")
        for bad in (None, 7, "x" * 65, "", [code]):  # not a code: no guess spent
            status, body = await exchange(http, running_studio, bad)
            assert (status, body["code"]) == (400, "bad_request")

    studio = running_studio.studio
    rows = await studio.db(lambda db: db.execute("SELECT hash, used_at FROM pairing_codes").fetchall())
    assert rows == [(digest(code), rows[0][1])] and rows[0][1]  # the hash, never the code
    tokens = await studio.db(lambda db: [r[0] for r in db.execute("SELECT hash FROM publish_tokens")])
    assert tokens == [digest(token)]


async def test_an_expired_pairing_code_is_refused(running_studio: RunningStudio) -> None:
    async with aiohttp.ClientSession() as http:
        code = await pair(http, running_studio)
        # Eleven minutes later (the code lives ten).
        await running_studio.studio.db(
            lambda db: db.execute(
                "UPDATE pairing_codes SET expires_at = '2020-01-01T00:00:00.000Z' WHERE hash = ?", [digest(code)]
            )
        )
        status, body = await exchange(http, running_studio, code)
        assert (status, body["code"]) == (410, "pairing_code_expired")


async def test_the_exchange_is_rate_limited(running_studio: RunningStudio) -> None:
    per_client = running_studio.app[EXCHANGE_LIMIT]
    async with aiohttp.ClientSession() as http:
        statuses = [(await exchange(http, running_studio, f"guess-{n}"))[0] for n in range(per_client.rate.burst + 2)]
        assert statuses[: per_client.rate.burst] == [404] * per_client.rate.burst
        async with http.post(f"{running_studio.url}/api/pairing/exchange", json={"code": "guess"}) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) >= 1


async def test_a_publish_token_publishes_through_whip_and_does_nothing_else(running_studio: RunningStudio) -> None:
    studio = running_studio.studio
    pipeline = running_studio.app[PIPELINE]
    pc = await publisher_offer()
    async with aiohttp.ClientSession() as http:
        _, body = await exchange(http, running_studio, await pair(http, running_studio))
        token = bearer(body["token"])

        # The one thing it is for: a real aiortc publish, with the token instead of the studio key.
        location, _ = await post_offer(http, f"{running_studio.url}/whip", pc, token)
        await eventually(lambda: pc.connectionState == "connected")
        await eventually(lambda: pipeline.stats()["publishing"] and pipeline.stats()["ingest_fps"] > 0)
        async with http.get(running_studio.url + location, headers=token) as response:
            assert (response.status, (await response.json())["state"]) == (200, "live")

        # Everything else that needs the studio key refuses it with 403, not a vague 401.
        refused = [
            ("GET", "/api/state", None),
            ("PUT", "/api/overlay", {"sku": ORANGES.sku}),
            ("POST", "/api/shows", {"title": "taken over"}),
            ("POST", "/api/pairing", None),
            ("DELETE", "/api/pairing/tokens", None),
            ("GET", "/api/comments", None),
            ("PUT", "/api/pin", {"text": "hi"}),
            ("GET", "/api/destinations", None),
            ("PUT", "/api/auto-hold", {"enabled": False}),
        ]
        for method, path, json in refused:
            async with http.request(method, running_studio.url + path, json=json, headers=token) as response:
                assert response.status == 403, (path, await response.text())
                assert (await response.json())["code"] == "publish_token_not_allowed"
        # Nor may it watch as the studio's uncounted monitor.
        async with http.post(f"{running_studio.url}/whep", data="v=0\r\n", headers={**SDP, **token}) as response:
            assert response.status == 403
        assert studio.on_air.sku is None and studio.show is None and studio.auto_hold

        # Unpairing (the host's button) ends the token: the next publish is told to pair again.
        async with http.delete(f"{running_studio.url}/api/pairing/tokens", headers=running_studio.auth) as response:
            assert (await response.json())["revoked"] == 1
        second = await publisher_offer()
        offer = second.localDescription.sdp
        async with http.post(f"{running_studio.url}/whip", data=offer, headers={**SDP, **token}) as response:
            assert response.status == 401
            assert (await response.json())["code"] == "publish_token_invalid"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        await second.close()
        async with http.delete(running_studio.url + location, headers=running_studio.auth) as response:
            assert response.status == 200
    await pc.close()


async def test_the_phone_status_shows_the_farmer_the_show(running_studio: RunningStudio) -> None:
    studio = running_studio.studio
    db = catalog.open_db(running_studio.config.data_dir)
    catalog.upsert_product(db, ORANGES)
    catalog.upsert_product(db, TEA)
    db.conn.close()
    async with aiohttp.ClientSession() as http:
        _, body = await exchange(http, running_studio, await pair(http, running_studio))
        token = bearer(body["token"])
        async with http.get(f"{running_studio.url}/api/phone/status") as response:
            assert response.status == 401
        async with http.get(f"{running_studio.url}/api/phone/status", headers=token) as response:
            before = await response.json()
        assert before["show"] is None and before["on_air"] is None and before["comments"] == []

        show = await studio.start_show("Harvest live 丰收直播")
        await studio.put_on_air(TEA.sku)
        for n in range(7):
            await studio.db(room_store.record_comment, show.id, f"viewer-{n}", f"阿{n}", f"comment {n}")
        async with http.get(f"{running_studio.url}/api/phone/status", headers=token) as response:
            assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
            live = await response.json()
        assert live["show"]["id"] == show.id and live["show"]["title"] == "Harvest live 丰收直播"
        assert (live["on_air"]["name_zh"], live["on_air"]["price"]) == ("高山绿茶", 88.0)
        assert (live["orders"], live["revenue"], live["viewers_now"]) == (0, 0.0, 0)
        assert [c["text"] for c in live["comments"]] == [f"comment {n}" for n in (6, 5, 4, 3, 2)]  # newest first
        assert "viewer_id" not in live["comments"][0]
        assert live["alert"]["level"] == "ok"

        await studio.end_show()  # the host's 下播
        async with http.get(f"{running_studio.url}/api/phone/status", headers=token) as response:
            assert (await response.json())["show"] is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(guess=st.text(max_size=80))
def test_a_guess_never_pairs_and_never_spends_the_real_code(db: sqlite_utils.Database, guess: str) -> None:
    code, _ = create_pairing_code(db)
    with pytest.raises(PairingRefused) as refused:
        exchange_pairing_code(db, guess)
    assert refused.value.reason == "unknown"
    assert token_is_valid(db, guess) is False
    token, _ = exchange_pairing_code(db, code)  # the real one still works, once
    assert token_is_valid(db, token)
