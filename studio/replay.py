"""``/replay/{show_id}``: the show after it ended, still selling.

When a show ends, :class:`ReplayMaker` (a background task of the server)
remuxes its recordings into seekable MP4 files (:mod:`studio.media.replay`)
within seconds. The public replay page plays them with HTTP range requests,
lists one chapter per product on air, and keeps the product card and its
Buy button (``/b/<code>?via=replay``) in step with the playback position.
Its heartbeats make replay viewer sessions (``transport = 'replay'``) and
record where on the show clock each viewer is, which ranks the chapters.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
from aiohttp import web

from analytics import events
from analytics.frames import ShowData
from analytics.replay import BEAT_S, chapters, records
from catalog.products import Product, get_product
from catalog.shows import Show, UnknownShow, get_show
from catalog.timestamps import parse_iso
from studio.bodies import row_id
from studio.errors import Problem
from studio.media.replay import (
    RECORDING_NAME,
    Finalised,
    Part,
    finalise_show,
    needs_replay,
    recordings_of,
    replay_parts,
)
from studio.pages import PAGES_DIR
from studio.shop import IMAGE_NAME, IMAGES_PREFIX, message_page
from studio.state import STUDIO, Studio, studio_of
from studio.viewers import remember_viewer, viewer_id_of

log = logging.getLogger(__name__)

#: How often the maker looks for ended shows whose replay is missing.
SCAN_EVERY_S = 1.0
#: A heartbeat may run this far past the recording's end (clock skew, a last beat).
POSITION_SLACK_S = 60.0
MAX_BEAT_BYTES = 1024


def replays_dir(studio: Studio) -> Path:
    return studio.config.data_dir / "replays"


@dataclass
class ReplayMaker:
    """Makes every ended show's replay files, one at a time, off the event loop.

    Polling the recordings folder (not a hook in "end show") means a replay
    also appears for a show ended from another process, or one whose studio
    was killed and restarted.
    """

    studio: Studio
    _executor: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="farmlive-replay"
        )
    )
    _task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: recordings that held nothing playable, by (path, mtime): not retried until they change
    _unreadable: dict[Path, float] = field(default_factory=dict)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:  # a bad file must not stop replays of the next shows
                log.exception("making replays failed")
            await asyncio.sleep(SCAN_EVERY_S)

    async def scan(self) -> None:
        """Finalise the recordings of every ended show that has new ones."""
        folder = self.studio.config.recordings_dir
        if not folder.is_dir():
            return
        show_ids = set()
        for path in folder.glob("show-*.mp4"):
            match = RECORDING_NAME.match(path.name)
            if match is None or self._unreadable.get(path) == path.stat().st_mtime:
                continue
            if needs_replay(path, replays_dir(self.studio)):
                show_ids.add(int(match["show"]))
        for show_id in sorted(show_ids):
            if show_id == (self.studio.show.id if self.studio.show else None):
                continue
            try:
                show = await self.studio.db(get_show, show_id)
            except UnknownShow:
                continue
            if not show.live:
                await self.finalise(show_id)

    async def finalise(self, show_id: int) -> Finalised:
        """The show's parts, making any that are missing (serialised: one remux at a time)."""
        busy = self.studio.figures.recording
        async with self._lock:
            result = await asyncio.get_running_loop().run_in_executor(
                self._executor,
                lambda: finalise_show(
                    self.studio.config.recordings_dir,
                    replays_dir(self.studio),
                    show_id,
                    busy=Path(busy) if busy else None,
                ),
            )
        for path, reason in result.unreadable:
            log.warning("no replay from %s: %s", path.name, reason)
            self._unreadable[path] = path.stat().st_mtime
        if result.parts and not result.waiting:
            # The end slate, /watch and the phone page point at the replay from now on.
            self.studio.replay_ready(show_id, self.replay_url(show_id))
        return result

    def replay_url(self, show_id: int) -> str:
        return f"{self.studio.config.public_url}/replay/{show_id}"

    def existing_replay_url(self, show_id: int) -> str | None:
        """The show's replay URL when every recording's replay file is made already (a restarted studio).

        A recording still waiting for its replay file is left to :meth:`scan`, which tells the studio
        once it is made. File I/O: runs off the event loop.
        """
        replays = replays_dir(self.studio)
        recordings = recordings_of(self.studio.config.recordings_dir, show_id)
        if any(needs_replay(path, replays) for path in recordings):
            return None
        return self.replay_url(show_id) if replay_parts(replays, show_id) else None


REPLAY_MAKER = web.AppKey("replay_maker", ReplayMaker)


# -- what the page needs (database thread) -------------------------------------


@dataclass(frozen=True)
class Listing:
    """One show's chapters' raw material: the show, its on-air log, products and links."""

    show: Show
    overlay_events: list[dict[str, Any]]
    products: dict[str, Product]
    links: dict[str, str]


def show_listing(db: sqlite_utils.Database, show_id: int) -> Listing:
    show = get_show(db, show_id)
    rows = db.execute(
        "SELECT id, at, sku, layout, promo FROM overlay_events WHERE show_id = ? ORDER BY at, id", [show_id]
    ).fetchall()
    overlay = [dict(zip(("id", "at", "sku", "layout", "promo"), row, strict=True)) for row in rows]
    products: dict[str, Product] = {}
    for sku in {row["sku"] for row in overlay if row["sku"]}:
        try:
            products[sku] = get_product(db, sku)
        except LookupError:  # deleted since: its chapter keeps its SKU as name
            continue
    # The show's own links (an own-QR destination's links carry its name).
    own = "SELECT sku, code FROM links WHERE show_id = ? AND destination IS NULL"
    links = dict(db.execute(own, [show_id]).fetchall())
    return Listing(show, overlay, products, links)


def chapter_list(listing: Listing) -> list[dict[str, Any]]:
    """The page's chapters: the pure chapter table plus each product's card and replay buy link."""
    products = [
        {"sku": p.sku, "name": p.name, "name_zh": p.name_zh, "price": p.price, "currency": p.currency, "unit": p.unit}
        for p in listing.products.values()
    ]
    data = ShowData.build(listing.show, overlay_events=listing.overlay_events, products=products)
    result = []
    for row in records(chapters(data)):
        product = listing.products.get(row["sku"])
        code = listing.links.get(row["sku"])
        image = ""
        if (
            product
            and product.image
            and product.image.startswith(IMAGES_PREFIX)
            and IMAGE_NAME.match(product.image[len(IMAGES_PREFIX):])
        ):
            image = f"/{product.image}"
        result.append(
            {
                "chapter": int(row["chapter"]),
                "sku": row["sku"],
                "name": row["name"],
                "name_zh": row["name_zh"],
                "start_s": round(float(row["start_s"]), 3),
                "end_s": round(float(row["end_s"]), 3),
                "price": product.price if product else None,
                "currency": product.currency if product else "CNY",
                "unit": product.unit if product else "",
                "origin": product.origin if product else "",
                "stock": product.stock if product else 0,
                "image": image,
                "buy_href": f"/b/{code}?via=replay" if code and product and product.active else None,
            }
        )
    return result


# -- routes ------------------------------------------------------------------------


def _show_id(request: web.Request) -> int:
    text = request.match_info["show_id"]
    show_id = row_id(text)
    if show_id is None:
        raise Problem(404, "unknown_show", f"no show {text!r}", f"没有这场直播：{text}")
    return show_id


async def _show(request: web.Request) -> Show:
    show_id = _show_id(request)
    try:
        return await studio_of(request).db(get_show, show_id)
    except UnknownShow:
        raise Problem(404, "unknown_show", f"there is no show {show_id}", f"没有第 {show_id} 场直播") from None


def _ended(show: Show) -> None:
    if show.live:
        raise Problem(
            409,
            "show_live",
            "this show is still live: watch it at /watch; the replay appears within a minute of its end",
            "直播还在进行中，请到 /watch 观看；直播结束后一分钟内即可回放",
            watch="/watch",
        )


async def replay_page(request: web.Request) -> web.StreamResponse:
    """The page itself; what it can play comes from the manifest, so it can explain every state."""
    try:
        await _show(request)
    except Problem as problem:
        return message_page(problem.status, "Replay not found 找不到回放", problem.detail, problem.detail_zh)
    response = web.FileResponse(PAGES_DIR / "replay.html", headers={"Cache-Control": "no-cache"})
    return remember_viewer(response, *viewer_id_of(request))


def _part_json(show: Show, index: int, part: Part) -> dict[str, Any]:
    offset = (part.started_at - parse_iso(show.started_at)).total_seconds()
    return {
        "part": index,
        "url": f"/replay/{show.id}/parts/{index}.mp4",
        "offset_s": round(offset, 3),
        "duration_s": round(part.duration_s, 3),
        "complete": part.complete,
    }


async def replay_manifest(request: web.Request) -> web.Response:
    """``GET /replay/{id}/manifest``: parts (show-clock offsets), chapters, state and notes.

    200 ready; 202 while the recording is still being written or remuxed
    (``Retry-After``); 404 unknown show or no recording; 409 still live.
    """
    studio = studio_of(request)
    show = await _show(request)
    _ended(show)
    result = await request.app[REPLAY_MAKER].finalise(show.id)
    listing = await studio.db(show_listing, show.id)
    chapters = chapter_list(listing)
    notes = []
    if len(result.parts) > 1:
        notes.append(
            {
                "en": f"This show was recorded in {len(result.parts)} parts "
                "(the phone turned or the studio restarted); they play one after another.",
                "zh": f"本场直播的录像分为 {len(result.parts)} 段（手机转向或服务器重启），将依次播放。",
            }
        )
    for part in result.parts:
        if not part.complete:
            notes.append(
                {
                    "en": "The studio stopped unexpectedly: a part of the recording ends where the studio stopped.",
                    "zh": "直播间意外中断：有一段录像在中断处结束。",
                }
            )
            break
    if not chapters:
        notes.append({"en": "No product was on air in this show.", "zh": "本场直播没有上架商品。"})
    body: dict[str, Any] = {
        "show": {"id": show.id, "title": show.title, "started_at": show.started_at, "ended_at": show.ended_at},
        "parts": [_part_json(show, i, part) for i, part in enumerate(result.parts, start=1)],
        "chapters": chapters,
        "notes": notes,
    }
    if result.waiting:
        body["state"] = "preparing"
        body["message"] = {
            "en": "The recording is still being written. The replay will be ready in a moment.",
            "zh": "录像还在写入，回放马上就好，请稍候。",
        }
        return web.json_response(body, status=202, headers={"Retry-After": "2", "Cache-Control": "no-store"})
    if not result.parts:
        unreadable = bool(result.unreadable) or bool(recordings_of(studio.config.recordings_dir, show.id))
        raise Problem(
            404,
            "no_recording",
            "the recording of this show cannot be read" if unreadable else "this show was not recorded",
            "本场直播的录像无法读取" if unreadable else "本场直播没有录像",
            show=body["show"],
            chapters=chapters,
        )
    body["state"] = "ready"
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def replay_part(request: web.Request) -> web.StreamResponse:
    """One part as a seekable MP4: ``FileResponse`` answers range requests."""
    show = await _show(request)
    _ended(show)
    number = request.match_info["part"]
    # Only the files already made: a range request never waits for a remux.
    parts = await asyncio.to_thread(replay_parts, replays_dir(studio_of(request)), show.id)
    index = row_id(number)  # (str.isdigit lets "²" through to int())
    if index is None or not 1 <= index <= len(parts):
        raise Problem(404, "unknown_part", f"show {show.id} has no part {number[:40]}", f"没有第 {number[:40]} 段录像")
    part = parts[index - 1]
    return web.FileResponse(part.path, headers={"Content-Type": "video/mp4", "Cache-Control": "public, max-age=3600"})


def _open_replay_session(db: sqlite_utils.Database, show_id: int, viewer_id: str, user_agent: str) -> int:
    return events.record_viewer_join(db, show_id, viewer_id, "replay", user_agent)


def _beat(
    db: sqlite_utils.Database, show_id: int, session_id: int, viewer_id: str, *, position_s: float | None, leave: bool
) -> str:
    """Heartbeat one replay session; returns '' or why it was refused ('unknown', 'ended')."""
    row = db.execute(
        "SELECT viewer_id, left_at FROM viewer_sessions WHERE id = ? AND show_id = ? AND transport = 'replay'",
        [session_id, show_id],
    ).fetchone()
    if row is None or row[0] != viewer_id:
        return "unknown"
    if row[1] is not None:
        return "ended"
    if position_s is not None:
        events.record_replay_position(db, show_id, session_id, position_s)
    if leave:
        events.record_viewer_leave(db, session_id)
    else:
        events.record_viewer_seen(db, session_id)
    return ""


async def start_session(request: web.Request) -> web.StreamResponse:
    """``POST /replay/{id}/sessions``: a replay viewer starts watching; ``201 {"session": id}``."""
    studio = studio_of(request)
    show = await _show(request)
    _ended(show)
    viewer_id, is_new = viewer_id_of(request)
    session = await studio.db(_open_replay_session, show.id, viewer_id, request.headers.get("User-Agent", ""))
    response = web.json_response({"session": session, "beat_s": BEAT_S}, status=201)
    return remember_viewer(response, viewer_id, is_new)


async def beat_session(request: web.Request) -> web.StreamResponse:
    """``POST /replay/{id}/sessions/{sid}`` ``{"position_s": 12.5, "leave": false}``: ``204``."""
    studio = studio_of(request)
    show = await _show(request)
    sid = row_id(request.match_info["session"])
    if sid is None:
        raise Problem(404, "unknown_session", "no such replay session", "没有这个回放会话")
    position, leave = await _read_beat(request)
    if position is not None and position > _duration_s(show) + POSITION_SLACK_S:
        raise Problem(400, "bad_position", "position_s is past the end of the show", "播放位置超出了直播时长")
    viewer_id, _ = viewer_id_of(request)
    refused = await studio.db(_beat, show.id, sid, viewer_id, position_s=position, leave=leave)
    if refused == "unknown":
        raise Problem(404, "unknown_session", "no such replay session for this viewer", "没有这个回放会话")
    if refused == "ended":
        raise Problem(
            410, "session_ended", "this replay session has ended: start a new one", "该回放会话已结束，请重新开始"
        )
    return web.Response(status=204)


def _duration_s(show: Show) -> float:
    end = parse_iso(show.ended_at) if show.ended_at else None
    return (end - parse_iso(show.started_at)).total_seconds() if end else 0.0


async def _read_beat(request: web.Request) -> tuple[float | None, bool]:
    """``position_s`` (finite, >= 0, or absent/null) and ``leave`` (bool) from a small JSON body."""
    raw = await request.read()  # cached by the body-deadline middleware, within the app's 1 MiB cap
    if len(raw) > MAX_BEAT_BYTES:
        raise Problem(413, "body_too_large", "a heartbeat is a few bytes of JSON", "心跳请求内容过大")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "bad_json", "body must be JSON like {\"position_s\": 12.5}", "请求内容必须是 JSON") from None
    if not isinstance(body, dict):
        raise Problem(400, "bad_json", "body must be a JSON object", "请求内容必须是 JSON 对象")
    position = body.get("position_s")
    leave = body.get("leave", False)
    if position is not None and (
        isinstance(position, bool)
        or not isinstance(position, (int, float))
        or not math.isfinite(position)
        or position < 0
    ):
        raise Problem(
            400, "bad_position", "position_s must be a number of seconds >= 0", "position_s 必须是不小于 0 的秒数"
        )
    if not isinstance(leave, bool):
        raise Problem(400, "bad_leave", "leave must be true or false", "leave 必须是 true 或 false")
    return (float(position) if position is not None else None), leave


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/replay/{show_id}", replay_page)
    app.router.add_get("/replay/{show_id}/manifest", replay_manifest)
    app.router.add_get("/replay/{show_id}/parts/{part}.mp4", replay_part)
    app.router.add_post("/replay/{show_id}/sessions", start_session)
    app.router.add_post("/replay/{show_id}/sessions/{session}", beat_session)

    maker = ReplayMaker(app[STUDIO])
    app[REPLAY_MAKER] = maker
    app[STUDIO].find_replays_with(maker.existing_replay_url)

    async def _start(app: web.Application) -> None:
        maker.start()

    async def _stop(app: web.Application) -> None:
        await maker.stop()

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
