"""The replay and the clips, from a real recording of a real show pipeline.

One show is recorded once per module (a synthetic camera through the real
ShowPipeline, products switched with ``studio.put_on_air``, ~10 s at 720p);
every test works on its own copy of that data folder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import av
import cv2
import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalog
from catalog.orders import place_order
from catalog.shows import create_show, end_show, get_show
from catalog.timestamps import parse_iso
from studio.clips import ClipsRefused, make_clips
from studio.config import StudioConfig
from studio.media.pipeline import ShowPipeline
from studio.media.replay import closed_cleanly, finalise_show, read_part
from studio.media.synthetic import MovingPattern
from tests.conftest import ORANGES, TEA, RunningStudio, open_studio, start_studio_process, stop_studio_process
from tests.test_recorder import record_then_kill

ROOT = Path(__file__).resolve().parent.parent
#: (seconds into the show, product put on air); the oranges are on air from the start.
SWITCHES = [(5.0, TEA.sku), (10.0, ORANGES.sku)]
SHOW_S = 14.0


async def record_show(data_dir: Path) -> None:
    config = StudioConfig(data_dir=data_dir, key="k", host="127.0.0.1", port=9)
    studio = await open_studio(config)
    pipeline = ShowPipeline(studio)
    await pipeline.start()
    try:
        pipeline.attach_publisher(MovingPattern())
        began = time.monotonic()
        for moment, sku in [*SWITCHES, (SHOW_S, None)]:
            await asyncio.sleep(max(0.0, began + moment - time.monotonic()))
            if sku is not None:
                await studio.put_on_air(sku)
        await studio.end_show()
        deadline = time.monotonic() + 10
        while pipeline.stats()["recording"] is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await pipeline.stop()
        await studio.close()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recorded") / "data"
    folder.mkdir()
    # On a thread of its own: a sync Playwright session may already run a loop on this one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, record_show(folder)).result()
    assert len(list((folder / "recordings").glob("show-1-*.mp4"))) == 1
    return folder


@pytest.fixture
def data_dir(recorded: Path, tmp_path: Path) -> Path:
    """A fresh copy of the recorded show's data folder for each test."""
    copy = tmp_path / "data"
    shutil.copytree(recorded, copy)
    return copy


def on_air_log(db: sqlite_utils.Database, show_id: int) -> list[tuple[float, str]]:
    """(seconds since the show started, sku) straight from overlay_events."""
    show = get_show(db, show_id)
    start = parse_iso(show.started_at)
    rows = db.execute("SELECT at, sku FROM overlay_events WHERE show_id = ? ORDER BY at, id", [show_id]).fetchall()
    return [((parse_iso(at) - start).total_seconds(), sku) for at, sku in rows]


def link_of(db: sqlite_utils.Database, show_id: int, sku: str) -> str:
    (code,) = db.execute("SELECT code FROM links WHERE show_id = ? AND sku = ?", [show_id, sku]).fetchone()
    return f"http://127.0.0.1:9/b/{code}"  # the recording's studio, as encoded in its QR codes


def qr(image) -> str:  # type: ignore[no-untyped-def]
    return cv2.QRCodeDetector().detectAndDecode(image)[0]


def packet_times(path: Path, *, keyframes: bool = False) -> list[float]:
    """Seconds of each video packet (or only the keyframes) of ``path``."""
    with av.open(str(path)) as container:
        return [
            float(p.pts * p.time_base)
            for p in container.demux(video=0)
            if p.pts is not None and p.size and (p.is_keyframe or not keyframes)
        ]


def keyframe_times(path: Path) -> list[float]:
    return packet_times(path, keyframes=True)


def decode_all(path: Path) -> list[av.VideoFrame]:
    """Every frame; any packet the decoder refuses fails the test."""
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


# -- the replay over HTTP ------------------------------------------------------------


async def manifest_when_ready(client: aiohttp.ClientSession, url: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        async with client.get(url) as response:
            body = await response.json(content_type=None)
            if response.status == 200:
                return body
            assert response.status == 202, body
            assert body["message"]["en"] and body["message"]["zh"]
        assert time.monotonic() < deadline, "the replay was not ready within a minute of the end"
        await asyncio.sleep(0.5)


async def test_replay_chapters_match_the_on_air_log_and_the_video(running_studio: RunningStudio, db) -> None:  # type: ignore[no-untyped-def]
    log = on_air_log(db, 1)
    async with aiohttp.ClientSession() as client:
        manifest = await manifest_when_ready(client, f"{running_studio.url}/replay/1/manifest")
        # One chapter per on-air interval, to the millisecond of the log.
        chapters = manifest["chapters"]
        assert [c["sku"] for c in chapters] == [sku for _, sku in log] == [ORANGES.sku, TEA.sku, ORANGES.sku]
        assert [c["start_s"] for c in chapters] == pytest.approx([t for t, _ in log], abs=0.001)
        assert [c["end_s"] for c in chapters[:-1]] == pytest.approx([t for t, _ in log[1:]], abs=0.001)
        assert all(c["buy_href"].endswith("?via=replay") for c in chapters)
        assert chapters[1]["name_zh"] == TEA.name_zh and chapters[1]["price"] == TEA.price
        [part] = manifest["parts"]
        assert part["complete"] is True and part["duration_s"] > SHOW_S - 2
        # Range requests: a player seeks without downloading the file.
        async with client.get(f"{running_studio.url}{part['url']}", headers={"Range": "bytes=100-199"}) as response:
            assert response.status == 206 and len(await response.read()) == 100
            assert response.headers["Content-Range"].startswith("bytes 100-199/")
    # The faststart replay file: the index up front, so a seek reads a few KB.
    data_dir = running_studio.config.data_dir
    replay = data_dir / "replays" / next((data_dir / "recordings").iterdir()).name
    head = replay.read_bytes()[:64]
    assert head.find(b"moov") < 64 and replay.read_bytes().find(b"mdat") > head.find(b"moov")
    # The card follows the log: at each chapter's middle the picture's QR is that chapter's product.
    with av.open(str(replay)) as container:
        stream = container.streams.video[0]
        for chapter in chapters:
            middle = (chapter["start_s"] + chapter["end_s"]) / 2 - part["offset_s"]
            container.seek(int(middle / stream.time_base), stream=stream)
            frame = next(f for f in container.decode(stream) if f.time >= middle)
            assert qr(frame.to_ndarray(format="bgr24")) == link_of(db, 1, chapter["sku"])


async def test_replay_states_are_explained(running_studio: RunningStudio, db) -> None:  # type: ignore[no-untyped-def]
    url = running_studio.url
    live = create_show(db, "Evening show")  # not ended
    silent = create_show(db, "No camera")
    end_show(db, silent.id)
    async with aiohttp.ClientSession() as client:
        for show_id, status, code in (
            (99, 404, "unknown_show"), (live.id, 409, "show_live"), (silent.id, 404, "no_recording")
        ):
            async with client.get(f"{url}/replay/{show_id}/manifest") as response:
                body = await response.json(content_type=None)
                assert (response.status, body["code"]) == (status, code)
                assert body["detail"] and body["detail_zh"]
        async with client.get(f"{url}/replay/99") as response:  # the page itself: bilingual HTML
            assert response.status == 404 and "找不到回放" in await response.text()
        async with client.get(f"{url}/replay/abc/manifest") as response:
            assert response.status == 404
        # A recording still being written (no closing index, written a moment ago): 202, try again.
        source = next((running_studio.config.data_dir / "recordings").glob("show-1-*.mp4"))
        growing = source.with_name(f"show-{silent.id}-20990101T000000Z.mp4")
        growing.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
        async with client.get(f"{url}/replay/{silent.id}/manifest") as response:
            body = await response.json(content_type=None)
            assert response.status == 202 and response.headers["Retry-After"]
            assert "still being written" in body["message"]["en"] and body["message"]["zh"]


async def test_a_replay_viewer_makes_a_replay_session(running_studio: RunningStudio, db) -> None:  # type: ignore[no-untyped-def]
    url = running_studio.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.post(f"{url}/replay/1/sessions") as response:
            assert response.status == 201
            session = (await response.json())["session"]
        beat = f"{url}/replay/1/sessions/{session}"
        for body, status in (
            ({"position_s": 4.0}, 204),
            ({"position_s": -1}, 400),
            ({"position_s": "4"}, 400),
            ({"position_s": 1e9}, 400),
            ({"leave": "yes"}, 400),
            ([1, 2], 400),
            ({"position_s": 5.0, "leave": True}, 204),
            ({"position_s": 6.0}, 410),  # left: a new session is needed
        ):
            async with client.post(beat, json=body) as response:
                assert response.status == status, (body, await response.text())
        async with client.post(f"{url}/replay/1/sessions/999999", json={}) as response:
            assert response.status == 404
    # Another viewer (no cookie) cannot beat someone else's session.
    async with aiohttp.ClientSession() as stranger, stranger.post(beat, json={"position_s": 1.0}) as response:
        assert response.status == 404
    rows = db.execute("SELECT transport, left_at FROM viewer_sessions WHERE id = ?", [session]).fetchall()
    assert rows[0][0] == "replay" and rows[0][1] is not None
    positions = db.execute(
        "SELECT position_s FROM replay_positions WHERE session_id = ? ORDER BY id", [session]
    ).fetchall()
    assert positions == [(4.0,), (5.0,)]


# -- clips ----------------------------------------------------------------------------


def test_clips_are_cut_per_chapter_on_keyframes_with_covers_and_captions(data_dir: Path, db) -> None:  # type: ignore[no-untyped-def]
    place_order(
        db, sku=TEA.sku, quantity=2, show_id=1, link_code=link_of(db, 1, TEA.sku).rsplit("/", 1)[1],
        customer_name="Li Wei", phone="13800138000", address="Ganzhou",
    )
    log = on_air_log(db, 1)
    ended = parse_iso(get_show(db, 1).ended_at)  # type: ignore[arg-type]
    ends = [t for t, _ in log[1:]] + [(ended - parse_iso(get_show(db, 1).started_at)).total_seconds()]
    started = time.monotonic()
    result = make_clips(db, data_dir, 1, data_dir / "out", min_s=1.5, max_s=90)
    took = time.monotonic() - started
    assert took < 30
    assert [c.sku for c in result.clips] == [TEA.sku, ORANGES.sku, ORANGES.sku], result.skipped  # the tea sold
    [replay] = finalise_show(data_dir / "recordings", data_dir / "replays", 1).parts
    offset = (replay.started_at - parse_iso(get_show(db, 1).started_at)).total_seconds()
    keyframes = [offset + t for t in keyframe_times(replay.path)]
    frame_times = [offset + t for t in packet_times(replay.path)]
    for clip in result.clips:
        chapter = next(i for i, (t, sku) in enumerate(log) if sku == clip.sku and abs(t - clip.start_s) < 3)
        begin, finish = log[chapter][0], ends[chapter]
        # Starts on the first keyframe at or after the product went on air (one GOP at most)...
        first_key = min(k for k in keyframes if k >= begin - 0.001)
        assert clip.start_s == pytest.approx(first_key, abs=0.002)
        assert 0 <= clip.start_s - begin <= 1.0 + 0.7  # 30-frame GOP; a loaded machine stretches it a little
        # ...and runs until the first recorded frame of the next product (or the end of the recording).
        later = [t for t in frame_times if t >= finish - 0.001]
        if later:
            assert clip.end_s == pytest.approx(later[0], abs=0.002)
        else:
            assert frame_times[-1] < clip.end_s <= frame_times[-1] + 0.05  # the last frame, one frame long
        path = result.folder / clip.clip
        frames = decode_all(path)
        assert frames and frames[0].key_frame
        # Every frame the recording holds in that window, none lost or added by the cut.
        assert len(frames) == sum(clip.start_s - 0.001 <= t < clip.end_s - 0.001 for t in frame_times)
        link = link_of(db, 1, clip.sku)
        assert clip.link == link
        assert qr(cv2.imread(str(result.folder / clip.cover))) == link
        assert qr(frames[len(frames) // 2].to_ndarray(format="bgr24")) == link
        caption = (result.folder / clip.caption).read_text(encoding="utf-8")
        product = catalog.get_product(db, clip.sku)
        assert product.name_zh in caption and product.name in caption and f"¥{product.price:.2f}" in caption
        assert link in caption
    with (result.folder / "clips.csv").open(encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert [r["clip"] for r in rows] == [c.clip for c in result.clips]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3] and rows[0]["orders"] == "1"
    # Made again: the folder is replaced whole, nothing stale or half-made beside it.
    # The last chapter (oranges again, 4 s until the end) is shorter than 4.6 s: skipped, not an error.
    again = make_clips(db, data_dir, 1, data_dir / "out", min_s=4.6, max_s=90)
    assert [c.sku for c in again.clips] == [TEA.sku, ORANGES.sku] and again.skipped == []
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith(".")) == []
    assert len(list((data_dir / "out").glob("*.mp4"))) == len(again.clips)


def test_long_chapters_are_trimmed_to_max_seconds(data_dir: Path, db) -> None:  # type: ignore[no-untyped-def]
    result = make_clips(db, data_dir, 1, data_dir / "out", min_s=1.0, max_s=2.0)
    for clip in result.clips:
        assert clip.seconds <= 2.0 + 0.2  # to the next frame after the window: one frame interval
        assert decode_all(result.folder / clip.clip)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_clips_refuse_bad_input_clearly_and_leave_nothing(data_dir: Path, db) -> None:  # type: ignore[no-untyped-def]
    live = create_show(db, "Still on")
    unrecorded = create_show(db, "No camera")
    end_show(db, unrecorded.id)
    blank = create_show(db, "Nothing on air")
    end_show(db, blank.id)
    source = next((data_dir / "recordings").glob("show-1-*.mp4"))
    shutil.copy(source, source.with_name(f"show-{blank.id}-20990101T000000Z.mp4"))
    broken = create_show(db, "Broken file")
    end_show(db, broken.id)
    garbage = data_dir / "recordings" / f"show-{broken.id}-20990101T000000Z.mp4"
    garbage.write_bytes(b"\0" * 2000)
    os.utime(garbage, (time.time() - 60, time.time() - 60))  # long since written: not still growing
    out = data_dir / "clips-out"
    for show_id, english, chinese in (
        (42, "There is no show 42", "没有第 42 场直播"),
        (live.id, "still live", "还在进行"),
        (unrecorded.id, "was not recorded", "没有录像"),
        (blank.id, "No product was on air", "没有上架任何商品"),
        (broken.id, "cannot be read", "无法读取"),
    ):
        done = run_cli("clips", str(show_id), "--data-dir", str(data_dir), "--out", str(out))
        assert done.returncode == 1, done.stderr
        assert english in done.stderr and chinese in done.stderr
        assert "Traceback" not in done.stderr
    for limits in (["--min-seconds", "60"], ["--min-seconds", "600"], ["--min-seconds", "0"]):
        done = run_cli("clips", "1", "--data-dir", str(data_dir), "--out", str(out), *limits)
        assert done.returncode == 1 and "--min-seconds" in done.stderr and "秒" in done.stderr
    assert not out.exists()
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(ClipsRefused):
        make_clips(db, data_dir, 1, out, min_s=600)
    done = run_cli("clips", "1", "--data-dir", str(data_dir), "--out", str(out), "--min-seconds", "1.5")
    assert done.returncode == 0, done.stderr
    assert "3 clips" in done.stdout and len(list(out.glob("*.jpg"))) == 3


# -- a studio killed mid-show ------------------------------------------------------------


@pytest.fixture
def killed_show(tmp_path: Path) -> tuple[Path, Path, str]:
    data_dir = tmp_path / "killed"
    data_dir.mkdir()
    return (data_dir, *record_then_kill(data_dir, 4.0))


def test_a_recording_cut_short_by_kill_9_still_gives_a_replay_and_clips(killed_show) -> None:  # type: ignore[no-untyped-def]
    data_dir, source, link = killed_show
    assert not closed_cleanly(source)
    # The host ends the show later, from the restarted studio: the file has been quiet for a while.
    os.utime(source, (time.time() - 60, time.time() - 60))
    db = catalog.open_db(data_dir)
    try:
        end_show(db, 1)
        finalised = finalise_show(data_dir / "recordings", data_dir / "replays", 1)
        [part] = finalised.parts
        assert part.complete is False and part.duration_s >= 2.0
        assert read_part(part.path).complete is False
        frames = decode_all(part.path)  # the torn tail is gone: every packet decodes
        assert len(frames) >= 60
        result = make_clips(db, data_dir, 1, min_s=1.0)
        [clip] = result.clips
        assert clip.link == link and qr(cv2.imread(str(result.folder / clip.cover))) == link
        assert decode_all(result.folder / clip.clip)
        assert any("stopped" in note for note in result.notes)
    finally:
        db.conn.close()


# -- fuzzing the public replay routes ---------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
BEATS = st.one_of(
    st.binary(max_size=2000),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"position_s": JSON, "leave": JSON}).map(lambda value: json.dumps(value).encode()),
)


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_replay_routes_answer_any_input_with_a_clear_4xx(data_dir: Path) -> None:
    server = start_studio_process(data_dir)
    try:
        status, body = http("POST", f"{server.url}/replay/1/sessions")
        assert status == 201
        session = json.loads(body)["session"]
        # The session is this viewer's: every beat below carries its cookie.
        cookie = {"Cookie": "fl_viewer=" + db_viewer(data_dir, session)}

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(body=BEATS)
        def beats(body: bytes) -> None:
            status, answer = http("POST", f"{server.url}/replay/1/sessions/{session}", body,
                                  {"Content-Type": "application/json", **cookie})
            assert status in (204, 400, 410, 413), (status, answer)
            if status != 204:
                problem = json.loads(answer)
                assert problem["detail"] and problem["detail_zh"]

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(segment=st.text(min_size=1, max_size=30))
        def show_ids(segment: str) -> None:
            quoted = urllib.parse.quote(segment, safe="")
            for path in (f"/replay/{quoted}/manifest", f"/replay/{quoted}", f"/replay/1/parts/{quoted}.mp4"):
                status, _ = http("GET", f"{server.url}{path}")
                assert status in (200, 202, 404), (path, status)

        beats()
        show_ids()
    finally:
        stop_studio_process(server)
    db = catalog.open_db(data_dir)
    try:
        positions = [p for (p,) in db.execute("SELECT position_s FROM replay_positions").fetchall()]
        assert all(0 <= p < 1e6 for p in positions)  # nothing odd was stored
    finally:
        db.conn.close()


def db_viewer(data_dir: Path, session: int) -> str:
    db = catalog.open_db(data_dir)
    try:
        return db.execute("SELECT viewer_id FROM viewer_sessions WHERE id = ?", [session]).fetchone()[0]
    finally:
        db.conn.close()


async def test_end_show_gives_a_replay_within_a_minute_in_parts(running_studio: RunningStudio, db) -> None:  # type: ignore[no-untyped-def]
    """The studio restarted mid-show: the show goes on in a second file; End show -> both play as parts."""
    db.execute("UPDATE shows SET ended_at = NULL WHERE id = 1")  # the recorded show, live again
    studio = running_studio.studio
    await studio.open()  # what a restart does: resume the live show (the pipeline records on)
    await studio.put_on_air(TEA.sku)
    recordings = running_studio.config.data_dir / "recordings"
    deadline = time.monotonic() + 20
    while len(list(recordings.glob("show-1-*.mp4"))) < 2:
        assert time.monotonic() < deadline, "the resumed show was not recorded"
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.5)
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{running_studio.url}/api/shows/1/end", headers=running_studio.auth) as response:
            assert response.status == 200
        ended = time.monotonic()
        manifest = await manifest_when_ready(client, f"{running_studio.url}/replay/1/manifest")
        assert time.monotonic() - ended < 60
    first, second = manifest["parts"]
    assert first["offset_s"] < first["offset_s"] + first["duration_s"] <= second["offset_s"]
    assert second["duration_s"] > 1.5 and second["url"].endswith("/parts/2.mp4")
    assert any("2 parts" in note["en"] and "2 段" in note["zh"] for note in manifest["notes"])
    tea = manifest["chapters"][-1]
    assert tea["sku"] == TEA.sku and second["offset_s"] <= tea["start_s"] + 1.0
    # The second part's picture at the tea chapter carries the tea's QR.
    replay = running_studio.config.data_dir / "replays" / max(recordings.glob("show-1-*.mp4")).name
    with av.open(str(replay)) as container:
        frames = [f for f in container.decode(video=0) if f.time >= tea["start_s"] - second["offset_s"] + 0.5]
    assert qr(frames[0].to_ndarray(format="bgr24")) == link_of(db, 1, TEA.sku).replace(
        "http://127.0.0.1:9", running_studio.url
    )
