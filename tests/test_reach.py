"""Reach: the live show pushed to RTMP destinations, against a real nginx-rtmp on 127.0.0.1.

NGINX runs the config of ``docs/nginx/rtmp.conf``; the stream is read back
with PyAV and its QR must decode to the show's own buy link.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import av
import cv2
import pytest
import pytest_asyncio

import catalog
from analytics.frames import load_show
from analytics.metrics import OWN_PAGE, platform_sales
from catalog.products import Product, upsert_product
from studio.media import PIPELINE
from studio.media.synthetic import connect_viewer
from studio.reach import REACH
from tests.conftest import LOOPBACK, RunningStudio, free_port, order_token
from tests.nginx import Nginx, render
from tests.test_hardening import ORDER, jar
from tests.test_whip_whep import eventually

ORANGES = Product("ORANGE-5KG", "Navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=40)
TEA = Product("TEA-100G", "Mountain green tea", 88.0, name_zh="高山绿茶", unit="100 g", stock=40)
KEY = "farm-live-Sk3y-7Qx9"


@pytest_asyncio.fixture
async def publish_check() -> AsyncIterator[tuple[str, list[str]]]:
    """The platform's key check that nginx-rtmp's ``on_publish`` asks: it refuses every key (403).

    A bare HTTP/1.0 exchange, as nginx-rtmp speaks it; the test counts the questions.
    """
    asked: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            asked.append(request_line.decode(errors="replace").split(" ")[0])
            writer.write(b"HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(answer, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{LOOPBACK}:{port}/publish", asked
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def rtmp_server(tmp_path: Path, publish_check: tuple[str, list[str]]) -> Iterator[Nginx]:
    port = free_port()
    config = render("rtmp.conf", RTMP_LISTEN=f"{LOOPBACK}:{port}", PUBLISH_CHECK=publish_check[0])
    server = Nginx(tmp_path / "nginx-rtmp", config, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def live_show_with_oranges(running_studio: RunningStudio) -> str:
    """Seed the product, start a show, put the oranges on air; returns their buy link."""
    db = catalog.open_db(running_studio.config.data_dir)
    upsert_product(db, ORANGES)
    db.conn.close()
    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        async with http.post(f"{running_studio.url}/api/shows", json={"title": "Harvest"}) as response:
            assert response.status == 201
        async with http.put(f"{running_studio.url}/api/overlay", json={"sku": ORANGES.sku}) as response:
            assert response.status == 200
            return str((await response.json())["link_url"])


async def add_destination(running_studio: RunningStudio, **body: object) -> dict[str, object]:
    async with (
        aiohttp.ClientSession(headers=running_studio.auth) as http,
        http.post(f"{running_studio.url}/api/destinations", json=body) as response,
    ):
        text = await response.text()
        assert response.status == 201, text
        assert KEY not in text
        return dict(await response.json())


def push_state(running_studio: RunningStudio, name: str) -> str:
    return running_studio.app[REACH].status(name).state


def read_qr_from_rtmp(url: str, expected: str, timeout: float = 20.0) -> tuple[str, list[str]]:
    """Play ``url`` with PyAV until a frame's QR reads ``expected``; returns (QR text, stream codecs)."""
    deadline = time.monotonic() + timeout
    with av.open(url, timeout=10) as player:
        codecs = [stream.codec_context.name for stream in player.streams]
        seen = ""
        for index, frame in enumerate(player.decode(video=0)):
            if index % 5 == 0:
                seen, _, _ = cv2.QRCodeDetector().detectAndDecode(frame.to_ndarray(format="bgr24"))
                if seen == expected:
                    return seen, codecs
            if time.monotonic() > deadline:
                break
    return seen, codecs


def destination_events(running_studio: RunningStudio) -> list[tuple[object, ...]]:
    db = catalog.open_db(running_studio.config.data_dir)
    try:
        return [tuple(row) for row in db.execute(
            "SELECT show_id, destination, state, detail FROM destination_events ORDER BY id"
        ).fetchall()]
    finally:
        db.conn.close()


async def test_the_show_reaches_nginx_rtmp_with_its_own_qr(
    running_studio: RunningStudio, rtmp_server: Nginx
) -> None:
    link = await live_show_with_oranges(running_studio)
    url = f"rtmp://{LOOPBACK}:{rtmp_server.port}/live"
    added = await add_destination(running_studio, name="relay", url=url, key=KEY, preset="custom")
    assert added["key"] == "****" + KEY[-4:]
    key_files = list((running_studio.config.data_dir / "secrets").iterdir())
    assert len(key_files) == 1 and key_files[0].read_text() == KEY
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(key_files[0].parent.stat().st_mode) == 0o700

    await eventually(lambda: push_state(running_studio, "relay") == "live", timeout=15)
    seen, codecs = await asyncio.to_thread(read_qr_from_rtmp, f"{url}/{KEY}", link)
    assert seen == link
    assert sorted(codecs) == ["aac", "h264"]  # the show's own H.264, and AAC encoded once

    # The same packets as the viewers: the push costs no encode.
    pipeline = running_studio.app[PIPELINE]
    assert pipeline.figures.frames_encoded == pipeline.figures.frames_out
    async with (
        aiohttp.ClientSession(headers=running_studio.auth) as http,
        http.get(f"{running_studio.url}/api/destinations") as response,
    ):
        assert KEY not in await response.text()
        [listed] = (await response.json())["destinations"]
    assert listed["push"]["state"] == "live" and listed["push"]["kbps"] > 0

    # The host switches it off and on again mid-show: the push stops, then comes back.
    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        async with http.patch(f"{running_studio.url}/api/destinations/relay", json={"enabled": False}) as response:
            assert response.status == 200 and (await response.json())["push"]["state"] == "idle"
        assert "relay" not in running_studio.app[REACH].pushers
        async with http.patch(f"{running_studio.url}/api/destinations/relay", json={"enabled": True}) as response:
            assert response.status == 200
    await eventually(lambda: push_state(running_studio, "relay") == "live", timeout=15)

    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        show_id = running_studio.studio.show.id
        async with http.post(f"{running_studio.url}/api/shows/{show_id}/end") as response:
            assert response.status == 200
    await eventually(lambda: "relay" not in running_studio.app[REACH].pushers, timeout=10)
    await eventually(lambda: [e[2] for e in destination_events(running_studio)][-1:] == ["idle"], timeout=5)
    states = [(e[0], e[1], e[2]) for e in destination_events(running_studio)]
    assert states[:2] == [(show_id, "relay", "connecting"), (show_id, "relay", "live")]
    assert states[-1] == (show_id, "relay", "idle")


async def test_three_platforms_at_once_the_own_qr_one_counts_its_scans_apart(
    running_studio: RunningStudio, rtmp_server: Nginx
) -> None:
    """视频号 and YouTube share the show's QR (remux); 抖音 is own-QR: its picture carries its own link."""
    shared = await live_show_with_oranges(running_studio)
    url = f"rtmp://{LOOPBACK}:{rtmp_server.port}/live"
    keys = {"视频号": "wx-key-0001", "抖音": "dy-key-0002", "YouTube": "yt-key-0003"}
    for name, key in keys.items():
        await add_destination(running_studio, name=name, url=url, key=key, own_qr=name == "抖音")
    reach = running_studio.app[REACH]
    for name in keys:
        await eventually(lambda name=name: push_state(running_studio, name) == "live", timeout=20)
    own = reach.picture_json("抖音")["own_link_url"]
    assert own is not None and own != shared and own.startswith(f"{running_studio.config.public_url}/b/")

    # Each platform's readback carries its own QR.
    for name, key in keys.items():
        expected = own if name == "抖音" else shared
        seen, codecs = await asyncio.to_thread(read_qr_from_rtmp, f"{url}/{key}", expected)
        assert (name, seen) == (name, expected)
        assert sorted(codecs) == ["aac", "h264"]

    # The product changes: the own-QR picture follows with a new link of its own.
    db = catalog.open_db(running_studio.config.data_dir)
    upsert_product(db, TEA)
    db.conn.close()
    async with (
        aiohttp.ClientSession(headers=running_studio.auth) as http,
        http.put(f"{running_studio.url}/api/overlay", json={"sku": TEA.sku}) as response,
    ):
        tea_shared = str((await response.json())["link_url"])
    await eventually(lambda: reach.picture_json("抖音")["own_link_url"] not in (own, None), timeout=5)
    tea_own = reach.picture_json("抖音")["own_link_url"]
    seen, _ = await asyncio.to_thread(read_qr_from_rtmp, f"{url}/{keys['抖音']}", tea_own)
    assert seen == tea_own != tea_shared

    # One encode for the show, one more for 抖音 only; its cost is measured and served.
    pipeline = running_studio.app[PIPELINE]
    assert pipeline.figures.frames_encoded == pipeline.figures.frames_out
    assert reach.pictures["抖音"].frames_encoded > 0 and set(reach.pictures) == {"抖音"}
    async with (
        aiohttp.ClientSession(headers=running_studio.auth) as http,
        http.get(f"{running_studio.url}/api/destinations") as response,
    ):
        listed = {d["name"]: d for d in (await response.json())["destinations"]}
    assert listed["抖音"]["own_qr"] and listed["抖音"]["encode_cpu_percent"] > 0
    assert listed["视频号"]["encode_cpu_percent"] == listed["YouTube"]["encode_cpu_percent"] == 0.0

    # Scans of each QR, and an order through 抖音's: the per-platform table tells them apart.
    async with jar() as http:
        for link in (shared, own, own, tea_own, tea_shared):
            async with http.get(link, allow_redirects=False) as response:
                assert response.status == 302
        own_code = own.rsplit("/", 1)[1]
        token = await order_token(http, running_studio.url, own_code)
        async with http.post(
            f"{running_studio.url}/order/{own_code}",
            data={**ORDER, "quantity": "2", "request_id": token},
            headers={"Origin": running_studio.url},
        ) as response:
            assert response.status == 201, await response.text()
    db = catalog.open_db(running_studio.config.data_dir, readonly=True)
    try:
        table = platform_sales(load_show(db, running_studio.studio.show.id)).set_index("destination")
    finally:
        db.conn.close()
    assert list(table.index) == ["抖音", OWN_PAGE]
    assert table.loc["抖音", ["scans", "orders", "units"]].tolist() == [3, 1, 2]
    assert table.loc["抖音", "gmv"] == 2 * ORANGES.price
    assert table.loc[OWN_PAGE, ["scans", "orders"]].tolist() == [2, 0]


async def test_a_refused_key_fails_once_and_never_shows_the_key(
    running_studio: RunningStudio,
    rtmp_server: Nginx,
    publish_check: tuple[str, list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "expired-key-Zz81-q0"
    await live_show_with_oranges(running_studio)
    url = f"rtmp://{LOOPBACK}:{rtmp_server.port}/keyed"
    async with aiohttp.ClientSession(headers=running_studio.auth) as http, http.post(
        f"{running_studio.url}/api/destinations", json={"name": "douyin", "url": url, "key": wrong, "preset": "douyin"}
    ) as response:
        assert response.status == 201
    await eventually(lambda: push_state(running_studio, "douyin") == "failed", timeout=25)
    status = running_studio.app[REACH].status("douyin")
    assert "refused the stream" in status.reason and "stream key" in status.reason
    publishes = rtmp_server.error_log.read_text().count("publish: name=")
    assert publishes == 1 and len(publish_check[1]) <= 1  # the platform was asked once ...
    await asyncio.sleep(4)  # ... and not again: longer than the first three backoffs together
    assert rtmp_server.error_log.read_text().count("publish: name=") == 1
    assert push_state(running_studio, "douyin") == "failed"
    states = [e[2] for e in destination_events(running_studio)]
    assert states == ["connecting", "failed"]
    # Nowhere in what the studio logged, stored or answered.
    assert wrong not in caplog.text
    assert all(wrong not in str(event) for event in destination_events(running_studio))
    async with (
        aiohttp.ClientSession(headers=running_studio.auth) as http,
        http.get(f"{running_studio.url}/api/destinations") as response,
    ):
        assert wrong not in await response.text()


async def test_nginx_killed_mid_show_viewers_and_recording_keep_going(  # noqa: PLR0915 -- one story, kill to recovery
    running_studio: RunningStudio, rtmp_server: Nginx
) -> None:
    await live_show_with_oranges(running_studio)
    recording_from = time.monotonic()  # the recording starts with the show (give or take a frame)
    pipeline = running_studio.app[PIPELINE]
    viewer = await connect_viewer(pipeline.add_viewer())
    received: list[tuple[float, float]] = []  # (arrival, frame time)
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(viewer.video.recv(), timeout=1)
            except TimeoutError:
                continue
            received.append((time.monotonic(), float(frame.time)))

    try:
        await eventually(lambda: "video" in viewer.tracks, timeout=10)
        watcher = asyncio.ensure_future(watch())
        await add_destination(
            running_studio, name="relay", url=f"rtmp://{LOOPBACK}:{rtmp_server.port}/live", key=KEY
        )
        await eventually(lambda: push_state(running_studio, "relay") == "live", timeout=15)
        await asyncio.sleep(1)
        watched_from = time.monotonic()

        killed_at = time.monotonic()
        rtmp_server.kill()
        await eventually(lambda: push_state(running_studio, "relay") == "retrying", timeout=10)
        assert "connection lost" in running_studio.app[REACH].status("relay").reason
        await asyncio.sleep(1.5)
        await asyncio.to_thread(rtmp_server.start)  # returns once NGINX accepts connections
        accepting = time.monotonic()
        await eventually(lambda: push_state(running_studio, "relay") == "live", timeout=10)
        back_after = time.monotonic() - accepting
        await asyncio.sleep(1)
        stop.set()
        await watcher
    finally:
        await viewer.close()

    assert back_after <= 5.0, f"live again {back_after:.1f} s after NGINX accepted"
    assert running_studio.app[REACH].status("relay").reconnects == 1
    during = [t for arrival, t in received if arrival >= watched_from]
    assert len(during) > 60
    frame_gaps = [b - a for a, b in itertools.pairwise(during)]
    arrivals = [arrival for arrival, _ in received if arrival >= watched_from]
    worst = frame_gaps.index(max(frame_gaps))
    assert max(frame_gaps) <= 0.1, (
        f"viewer frame gap {max(frame_gaps) * 1000:.0f} ms, {arrivals[worst] - killed_at:.2f} s after the kill, "
        f"NGINX accepting again {accepting - killed_at:.2f} s after it; dropped ticks {pipeline.dropped_frames}"
    )

    show_id = running_studio.studio.show.id
    await running_studio.studio.end_show()
    await eventually(lambda: pipeline.figures.recording is None, timeout=10)
    [recording] = sorted(running_studio.config.recordings_dir.glob(f"show-{show_id}-*.mp4"))
    with av.open(str(recording)) as file:
        times = sorted(float(p.pts * p.time_base) for p in file.demux(video=0) if p.pts is not None)
    # From a little before the kill to the end: the push's loss and return are in there.
    window = [t for t in times if t - times[0] >= watched_from - recording_from - 0.5]
    recorded_gaps = [b - a for a, b in itertools.pairwise(window)]
    assert window[-1] - window[0] > 3 and max(recorded_gaps) <= 0.1, f"recording gap {max(recorded_gaps):.3f} s"
    states = [e[2] for e in destination_events(running_studio)]
    assert states[:2] == ["connecting", "live"] and "retrying" in states
    assert states[states.index("retrying"):].count("live") == 1


# -- bad input: a clear 400 or CLI error, nothing stored ------------------------------------------
BAD_BODIES = [
    ({"name": "x", "url": "http://live.example/app", "key": "k1234"}, "rtmp://"),
    ({"name": "x", "url": "rtmp:///app", "key": "k1234"}, "rtmp://"),
    ({"name": "x", "url": "rtmp://push.example/app", "key": "  "}, "stream key is empty"),
    ({"name": "x", "url": "rtmp://push.example/app"}, "stream key is empty"),
    ({"name": "x", "url": "rtmp://push.example/app", "key": "k1234", "preset": "tiktok"}, "unknown preset"),
    ({"name": "", "url": "rtmp://push.example/app", "key": "k1234"}, "name is required"),
    ({"name": "a/b", "url": "rtmp://push.example/app", "key": "k1234"}, "'/'"),
    ({"name": "x", "url": "rtmp://push.example/app", "key": "k1234", "own_qr": "yes"}, "own_qr"),
]


@pytest.mark.parametrize(("body", "says"), BAD_BODIES)
async def test_bad_destinations_are_400_and_store_nothing(
    running_studio: RunningStudio, body: dict[str, object], says: str
) -> None:
    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        async with http.post(f"{running_studio.url}/api/destinations", json=body) as response:
            problem = await response.json()
            assert response.status == 400
            assert response.content_type == "application/problem+json"
            assert says in problem["detail"] and problem["detail_zh"]
        async with http.get(f"{running_studio.url}/api/destinations") as response:
            assert (await response.json())["destinations"] == []
    assert not (running_studio.config.data_dir / "secrets").exists()


async def test_duplicate_unknown_and_unauthorized(running_studio: RunningStudio) -> None:
    body = {"name": "抖音", "url": "rtmp://push.example/third", "key": KEY, "preset": "douyin"}
    await add_destination(running_studio, **body)
    async with aiohttp.ClientSession(headers=running_studio.auth) as http:
        async with http.post(f"{running_studio.url}/api/destinations", json={**body, "key": "other-key-1"}) as response:
            assert response.status == 400
            assert "exists already" in (await response.json())["detail"]
        assert (running_studio.config.data_dir / "secrets").exists()
        assert [p.read_text() for p in (running_studio.config.data_dir / "secrets").iterdir()] == [KEY]
        async with http.patch(f"{running_studio.url}/api/destinations/nope", json={"enabled": False}) as response:
            assert response.status == 404
        async with http.patch(f"{running_studio.url}/api/destinations/抖音", json={"enabled": "no"}) as response:
            assert response.status == 400
        async with http.patch(f"{running_studio.url}/api/destinations/抖音", json={"enabled": False}) as response:
            assert response.status == 200 and (await response.json())["enabled"] is False
        async with http.delete(f"{running_studio.url}/api/destinations/抖音") as response:
            assert response.status == 204
        async with http.delete(f"{running_studio.url}/api/destinations/抖音") as response:
            assert response.status == 404
    assert list((running_studio.config.data_dir / "secrets").iterdir()) == []
    async with aiohttp.ClientSession() as http, http.get(f"{running_studio.url}/api/destinations") as response:
        assert response.status == 401
