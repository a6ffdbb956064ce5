"""The live room: comment rules, rate limits, and real WebSocket clients on a real studio."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import catalog
from analytics import comments as store
from catalog.shows import create_show
from studio.room.rules import (
    DEFAULT_BANNED,
    DEFAULT_WANT,
    MAX_TEXT,
    CommentRefused,
    banned_words,
    check_comment,
    is_want,
)
from tests.conftest import RunningStudio

BANNED = tuple(w for w in DEFAULT_BANNED if not w.startswith("#"))
WANT = tuple(w for w in DEFAULT_WANT if not w.startswith("#"))
ORANGE = catalog.Product(sku="ORANGE-5KG", name="Navel oranges", name_zh="赣南脐橙", price=59.0, stock=40)


# -- rules (pure) ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_comment"),
        ("   ", "empty_comment"),
        ("x" * (MAX_TEXT + 1), "too_long"),
        ("hi\x07there", "bad_comment"),
        ("\ud800 lone surrogate", "bad_comment"),
        ("便宜，加微信 123", "banned_word"),
        ("加 微-信 abc", "banned_word"),  # spaces and punctuation inside do not hide it
        ("ＳＣＡＭ here", "banned_word"),  # full-width letters fold to ASCII
        (42, "bad_comment"),
    ],
)
def test_refused_comments_say_why(text: Any, code: str) -> None:
    with pytest.raises(CommentRefused) as refused:
        check_comment("Li", text, BANNED)
    assert refused.value.code == code and refused.value.detail and refused.value.detail_zh


def test_accepted_comments_are_trimmed_and_keep_their_text() -> None:
    accepted = check_comment("  李 ", "  <script>alert(1)</script> 好甜！ ", BANNED)
    assert accepted == ("李", "<script>alert(1)</script> 好甜！")
    assert check_comment(None, "x" * MAX_TEXT, BANNED)[1] == "x" * MAX_TEXT


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("扣1", True), ("想要！", True), ("想要两箱", True), ("111", True), ("要要要", True),
        ("+1", True), ("Want", True), ("I want 2 boxes", True), ("1", True),
        ("不想要", False), ("要不要买", False), ("don't want", False), ("wanted it yesterday", False),
        ("好吃吗", False), ("12", False), ("", False),
    ],
)
def test_want_signals(text: str, want: bool) -> None:
    assert is_want(text, WANT) is want


@settings(max_examples=300, deadline=None)
@given(nickname=st.one_of(st.none(), st.text(max_size=40)), text=st.text(max_size=260))
def test_check_comment_takes_any_text_or_refuses_it_clearly(nickname: str | None, text: str) -> None:
    refusal = None
    try:
        name, said = check_comment(nickname, text, BANNED)
    except CommentRefused as refused:
        refusal = refused.code
    if refusal is not None:
        assert refusal in {"empty_comment", "too_long", "bad_comment", "banned_word"}
        return
    assert 0 < len(said) <= MAX_TEXT and len(name) <= 24
    said.encode("utf-8")  # storable


def test_the_host_edits_the_word_file_mid_show(tmp_path: Path) -> None:
    words = banned_words(tmp_path)
    assert "加微信" in words.words() and (tmp_path / "banned_words.txt").exists()
    (tmp_path / "banned_words.txt").write_text("# mine\n竞品\n", encoding="utf-8")
    import os

    os.utime(tmp_path / "banned_words.txt", (1, 1))  # a changed mtime, even within one clock tick
    assert words.words() == ("竞品",)


# -- a real studio, real WebSockets -----------------------------------------------------------------
#: Messages a socket received in a batch but a test has not asked for yet.
_unread: dict[int, deque[dict[str, Any]]] = {}


async def receive(socket: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next message of ``kind`` (others are skipped; batches are unpacked), within ``timeout`` seconds."""
    unread = _unread.setdefault(id(socket), deque())
    async with asyncio.timeout(timeout):
        while True:
            while unread:
                message = unread.popleft()
                if message["type"] == kind:
                    return message
            message = json.loads(await socket.receive_str())
            unread.extend(message["messages"] if message["type"] == "batch" else [message])


async def api(studio: RunningStudio, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(
        method, studio.url + path, json=body, headers=studio.auth
    ) as response:
        return response.status, await response.json()


def count_comments(studio: RunningStudio) -> int:
    db = catalog.connect(studio.config.data_dir / "farmlive.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM comments").fetchone()[0])
    finally:
        db.conn.close()


@pytest.fixture
def seeded(db: Any) -> Any:
    catalog.upsert_product(db, ORANGE)
    return db


async def test_comments_reach_every_viewer_and_the_host_moderates(seeded: Any, running_studio: RunningStudio) -> None:
    url = running_studio.url
    async with aiohttp.ClientSession(cookies={"fl_viewer": "viewer-aaaa-1"}) as alice_http, aiohttp.ClientSession(
        cookies={"fl_viewer": "viewer-bbbb-2"}
    ) as bob_http:
        # Before the show: the room is closed, and says so.
        async with alice_http.post(f"{url}/room/comments", json={"text": "hello"}) as early:
            assert early.status == 409 and (await early.json())["code"] == "show_not_live"
        await running_studio.studio.start_show("Orange harvest 橙子丰收")
        await running_studio.studio.put_on_air(ORANGE.sku)
        alice = await alice_http.ws_connect(f"{url.replace('http', 'ws')}/room/ws")
        bob = await bob_http.ws_connect(f"{url.replace('http', 'ws')}/room/ws")
        hello = await receive(bob, "hello")
        assert hello["live"] and hello["comments"] == []

        await alice.send_json({"type": "comment", "nickname": "阿丽", "text": "扣1"})
        for socket in (alice, bob):
            got = (await receive(socket, "comment", 2.0))["comment"]
            assert (got["nickname"], got["text"], got["want"]) == ("阿丽", "扣1", True)
            assert "viewer_id" not in got  # viewers never see each other's ids
        comment_id = got["id"]

        status, listing = await api(running_studio, "GET", "/api/comments")
        assert status == 200 and listing["wants"] == {ORANGE.sku: 1} and listing["connected"] == 2
        assert listing["comments"][0]["viewer_id"] == "viewer-aaaa-1" and listing["comments"][0]["sku"] == ORANGE.sku

        # Refusals change nothing and tell only the sender.
        before = count_comments(running_studio)
        for text, code in (("加 微 信 送礼", "banned_word"), ("x" * 201, "too_long"), ("", "empty_comment")):
            await bob.send_json({"type": "comment", "nickname": "Bob", "text": text})
            assert (await receive(bob, "error"))["code"] == code
        await bob.send_str("not json")
        assert (await receive(bob, "error"))["code"] == "bad_message"
        assert count_comments(running_studio) == before

        # The host hides a comment, pins a message, mutes a viewer.
        status, _ = await api(running_studio, "POST", f"/api/comments/{comment_id}/hide")
        assert status == 200
        assert (await receive(bob, "hide"))["id"] == comment_id
        status, _ = await api(running_studio, "PUT", "/api/pin", {"text": "今晚包邮 Free shipping tonight"})
        assert status == 200
        assert (await receive(bob, "pin"))["pinned"]["text"] == "今晚包邮 Free shipping tonight"
        status, _ = await api(running_studio, "POST", "/api/mutes", {"viewer_id": "viewer-aaaa-1"})
        assert status == 200
        await alice.send_json({"type": "comment", "nickname": "阿丽", "text": "还在吗"})
        assert (await receive(alice, "error"))["code"] == "muted"
        status, listing = await api(running_studio, "GET", "/api/comments")
        assert listing["wants"] == {} and listing["comments"][0]["hidden"]  # a hidden want no longer counts
        assert listing["muted"] == ["viewer-aaaa-1"] and listing["pinned"]["text"].startswith("今晚包邮")

        # A page that reconnects gets the pinned message and no hidden comment.
        late = await bob_http.ws_connect(f"{url.replace('http', 'ws')}/room/ws")
        hello = await receive(late, "hello")
        assert hello["pinned"]["text"].startswith("今晚包邮") and hello["comments"] == []
        for socket in (alice, bob, late):
            await socket.close()


async def test_a_flood_from_one_viewer_is_refused_and_others_still_post(
    seeded: Any, running_studio: RunningStudio
) -> None:
    await running_studio.studio.start_show("Flood")
    url = running_studio.url
    statuses = []
    async with aiohttp.ClientSession(cookies={"fl_viewer": "flooder-0001"}) as http:
        for index in range(8):
            async with http.post(f"{url}/room/comments", json={"text": f"spam {index}"}) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert int(response.headers["Retry-After"]) >= 1
    assert statuses[:3] == [201, 201, 201] and set(statuses[3:]) == {429}
    async with aiohttp.ClientSession(cookies={"fl_viewer": "patient-0002"}) as http, http.post(
        f"{url}/room/comments", json={"text": "好吃吗？"}
    ) as response:
        assert response.status == 201
    assert count_comments(running_studio) == 4


async def test_hostile_http_input_gets_a_clear_400(seeded: Any, running_studio: RunningStudio) -> None:
    await running_studio.studio.start_show("Bad input")
    url = running_studio.url
    async with aiohttp.ClientSession() as http:
        for body in (b"{", b"[]", b'"text"', json.dumps({"text": "\ud800"}).encode()):
            async with http.post(f"{url}/room/comments", data=body, headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400, body
        for path in ("/api/comments?after=-1", "/api/comments?limit=1e9"):
            async with http.get(url + path, headers=running_studio.auth) as response:
                assert response.status == 400
        async with http.post(f"{url}/api/comments/99999999999999999999999/hide", headers=running_studio.auth) as r:
            assert r.status == 404
        async with http.get(f"{url}/api/comments") as response:
            assert response.status == 401
    assert count_comments(running_studio) == 0


def test_comments_export_is_safe_to_open_in_a_spreadsheet(db: Any, tmp_path: Path, data_dir: Path) -> None:
    show_id = create_show(db, "Export").id
    store.record_comment(db, show_id, "v1", "=HYPERLINK(\"x\")", "@SUM(A1) 想要", want=True)
    hidden = store.record_comment(db, show_id, "v2", "Li", "-1+1")
    store.hide_comment(db, hidden.id)
    out = tmp_path / "comments.csv"
    result = subprocess.run(
        [sys.executable, "-m", "studio.cli", "comments", "export", str(show_id), "--out", str(out),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["nickname"] for r in rows] == ["'=HYPERLINK(\"x\")", "Li"]
    assert [r["text"] for r in rows] == ["'@SUM(A1) 想要", "'-1+1"]
    assert [r["hidden"] for r in rows] == ["0", "1"] and rows[0]["want"] == "1"
    missing = subprocess.run(
        [sys.executable, "-m", "studio.cli", "comments", "export", "999", "--out", str(tmp_path / "none.csv"),
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=False,
    )
    assert missing.returncode == 2 and "999" in missing.stderr and not (tmp_path / "none.csv").exists()


async def test_a_burst_of_comments_reaches_a_page_in_few_messages(seeded: Any, running_studio: RunningStudio) -> None:
    """What happens within 100 ms goes out as one message: a busy room costs each page few sends."""
    await running_studio.studio.start_show("Burst")
    url = running_studio.url
    async with aiohttp.ClientSession() as http:
        page = await http.ws_connect(f"{url.replace('http', 'ws')}/room/ws")
        await receive(page, "hello")

        async def post(n: int) -> int:
            headers = {"Cookie": f"fl_viewer=burst-viewer-{n:04d}"}
            async with http.post(f"{url}/room/comments", json={"text": f"扣1 #{n}"}, headers=headers) as response:
                return response.status

        assert await asyncio.gather(*(post(n) for n in range(8))) == [201] * 8
        raw: list[dict[str, Any]] = []
        texts: list[str] = []
        while len(texts) < 8:
            message = json.loads(await asyncio.wait_for(page.receive_str(), 5))
            raw.append(message)
            items = message["messages"] if message["type"] == "batch" else [message]
            # (A "show" message may come along too: the show state changed as the page connected.)
            texts.extend(item["comment"]["text"] for item in items if item["type"] == "comment")
        assert sorted(texts) == sorted(f"扣1 #{n}" for n in range(8))  # every comment, once
        assert len(raw) < 8 and any(m["type"] == "batch" for m in raw)
        await page.close()


async def test_the_phone_follows_the_show_read_only_and_is_not_a_viewer(
    seeded: Any, running_studio: RunningStudio
) -> None:
    """``/room/ws?only=show``: the show state pushed, no comments, nothing posted, no cookie, not counted."""
    url = running_studio.url.replace("http", "ws")
    async with aiohttp.ClientSession() as phone_http, aiohttp.ClientSession(
        cookies={"fl_viewer": "viewer-cccc-3"}
    ) as viewer_http:
        phone = await phone_http.ws_connect(f"{url}/room/ws?only=show")
        hello = await receive(phone, "hello")
        assert hello["show"]["phase"] == "pending" and "comments" not in hello
        assert "fl_viewer" not in {cookie.key for cookie in phone_http.cookie_jar}  # no viewer id for the phone
        viewer = await viewer_http.ws_connect(f"{url}/room/ws")
        await receive(viewer, "hello")

        await running_studio.studio.start_show("Orange harvest 橙子丰收")
        assert (await receive(phone, "show"))["state"]["phase"] == "live"
        status, listing = await api(running_studio, "GET", "/api/comments")
        assert status == 200 and listing["connected"] == 1  # the viewer; the farmer's phone is not one

        # A viewer's comment and the product going on air come in one batch to the viewer;
        # the phone gets the show state alone, unbatched.
        await viewer.send_json({"type": "comment", "nickname": "阿丽", "text": "扣1"})
        await running_studio.studio.put_on_air(ORANGE.sku)
        assert (await receive(viewer, "comment"))["comment"]["text"] == "扣1"
        message = json.loads(await phone.receive_str(timeout=5))
        assert message["type"] == "show" and message["state"]["on_air"]["sku"] == ORANGE.sku

        # The phone cannot post: told so, nothing stored, and the viewer hears nothing of it.
        before = count_comments(running_studio)
        await phone.send_json({"type": "comment", "nickname": "农场", "text": "hello"})
        assert json.loads(await phone.receive_str(timeout=5))["code"] == "read_only"
        assert count_comments(running_studio) == before
        await running_studio.studio.end_show()
        message = json.loads(await phone.receive_str(timeout=5))  # the next thing the phone hears
        assert message["type"] == "show" and message["state"]["phase"] == "ended"
        for socket in (phone, viewer):
            await socket.close()
