"""Reach: simulcast the composed show to the platforms (RTMP/RTMPS destinations).

:class:`Reach` is the one writer of the pushes: while a show is live, every
enabled destination has an :class:`~studio.media.push.RtmpPusher` tapped
into the pipeline; when the show ends, or a destination is disabled,
removed or given a new key, its pusher stops. It re-reads the destinations
every second, so ``farmlive destinations`` run from another terminal takes
effect without a restart. Each state change is stored as a show event
(``destination_events``), so reports can say which platform was live when.

A destination marked own-QR gets a picture of its own
(:class:`~studio.media.own_picture.OwnPicture`): the show's frame with the
same card but a QR of the destination's own buy link (``links.destination``),
made whenever the product on air changes, encoded by its own encoder. Its
scans and orders are therefore counted per platform; the extra encode's CPU
share is in ``GET /api/destinations`` (``encode_cpu_percent``).

Routes (Bearer studio key): ``GET/POST /api/destinations``,
``PATCH/DELETE /api/destinations/{name}``. The stream key goes in once
(``POST``) and never comes out: answers carry ``****abcd``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

import catalog
from analytics import events
from catalog.destinations import (
    Destination,
    DestinationError,
    UnknownDestination,
    add_destination,
    list_destinations,
    parse_destination,
    read_key,
    remove_destination,
    set_enabled,
)
from catalog.shows import link_for
from overlays import OverlaySpec
from studio.bodies import json_object
from studio.control import authorized, bad_request, enabled_flag
from studio.errors import Problem
from studio.media import PIPELINE
from studio.media.hls import PLAYLIST, HlsWriter, hls_dir
from studio.media.own_picture import OwnPicture
from studio.media.pipeline import ShowPipeline
from studio.media.push import PushStatus, RtmpPusher
from studio.state import STUDIO, OnAir, Studio, studio_of
from studio.viewers import remember_viewer, viewer_id_of

log = logging.getLogger(__name__)

#: How often the wanted pushes are compared with the running ones.
RECONCILE_EVERY = 1.0
#: An HLS viewer whose page has not said "still here" for this long has left.
HLS_VIEWER_TIMEOUT = 30.0
#: ... and counts as watching now (the live figure) while heard from within this long (beats every 10 s).
HLS_WATCHING = 15.0


class Reach:
    """The running pushes, one per enabled destination while a show is live."""

    def __init__(self, studio: Studio, pipeline: ShowPipeline) -> None:
        self.studio = studio
        self.pipeline = pipeline
        self.pushers: dict[str, RtmpPusher] = {}
        #: Own-QR destinations' pictures (their pushers are in ``pushers`` too).
        self.pictures: dict[str, OwnPicture] = {}
        #: (show, sku, destination) -> the destination's own buy link URL.
        self._own_links: dict[tuple[int, str, str], str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        #: The live show's HLS (``DATA_DIR/hls/<show id>/``) and the show it belongs to.
        self.hls: HlsWriter | None = None
        self._hls_show: int | None = None
        #: (show, viewer) -> (viewer_sessions id, last heartbeat: monotonic, ISO time).
        self._hls_viewers: dict[tuple[int, str], tuple[int, float, str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Future[Any]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.studio.add_listener(self._on_air_changed)
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        async with self._lock:
            await asyncio.gather(*(self._stop_pusher(name) for name in list(self.pushers)))
            await self._reconcile_hls(None)
            await self._close_hls_viewers(None)
        await asyncio.sleep(0)  # let the last state changes the threads reported be scheduled
        await asyncio.gather(*self._pending, return_exceptions=True)

    def status(self, name: str) -> PushStatus:
        pusher = self.pushers.get(name)
        return pusher.status if pusher is not None else PushStatus(name)

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # a locked database now and then must not end the pushes
                log.exception("reach: reconciling destinations failed")
            await asyncio.sleep(RECONCILE_EVERY)

    async def reconcile(self) -> None:
        """Start the pushes that should run, stop the others."""
        async with self._lock:
            show = self.studio.show
            wanted: dict[str, tuple[Destination, str]] = {}
            if show is not None:
                for destination in await self.studio.db(list_destinations, enabled_only=True):
                    key = await asyncio.to_thread(read_key, self.studio.config.data_dir, destination.name)
                    wanted[destination.name] = (destination, key)
            for name, pusher in list(self.pushers.items()):
                target = wanted.get(name)
                if (
                    target is None
                    or not pusher.same_target(target[0].url, target[1])
                    or target[0].own_qr != (name in self.pictures)
                ):
                    await self._stop_pusher(name)
            for name, (destination, key) in wanted.items():
                if name not in self.pushers and show is not None:
                    await self._start_pusher(destination, key, show.id)
            await self._reconcile_hls(show.id if show is not None else None)
        await self._close_hls_viewers(show.id if show is not None else None)

    async def hls_viewer_seen(self, show_id: int, viewer_id: str, user_agent: str) -> None:
        """An HLS viewer's heartbeat: the first opens a ``transport = 'hls'`` session, the rest keep it open."""
        now = catalog.now_iso()
        known = self._hls_viewers.get((show_id, viewer_id))
        if known is None:
            session = await self.studio.db(events.record_viewer_join, show_id, viewer_id, "hls", user_agent, at=now)
        else:
            session = known[0]
            await self.studio.db(events.record_viewer_seen, session, at=now)
        self._hls_viewers[(show_id, viewer_id)] = (session, time.monotonic(), now)
        self._report_hls_watching()

    @property
    def hls_viewers(self) -> int:
        return len(self._hls_viewers)

    def _report_hls_watching(self) -> None:
        """Tell the pipeline (the one writer of the live figures) how many HLS viewers are watching now."""
        now = time.monotonic()
        watching = sum(1 for _, seen, _ in self._hls_viewers.values() if now - seen <= HLS_WATCHING)
        self.pipeline.report_hls_viewers(watching)

    async def _close_hls_viewers(self, live_show: int | None) -> None:
        """Sessions of HLS viewers gone quiet (or of a show that ended) end at their last heartbeat."""
        now = time.monotonic()
        for key, (session, seen, seen_iso) in list(self._hls_viewers.items()):
            if key[0] != live_show or now - seen > HLS_VIEWER_TIMEOUT:
                del self._hls_viewers[key]
                await self.studio.db(events.record_viewer_leave, session, at=seen_iso)
        self._report_hls_watching()

    async def _reconcile_hls(self, show_id: int | None) -> None:
        """HLS is written while a show is live, into that show's own folder."""
        if self.hls is not None and self._hls_show != show_id:
            writer, self.hls = self.hls, None
            self.pipeline.remove_sink(writer)
            await asyncio.to_thread(writer.stop)
        if show_id is not None and self.hls is None:
            writer = HlsWriter(hls_dir(self.studio.config.data_dir, show_id), self._aac_config)
            await asyncio.to_thread(writer.start)
            self.pipeline.add_sink(writer)
            self.hls, self._hls_show = writer, show_id

    async def _start_pusher(self, destination: Destination, key: str, show_id: int) -> None:
        pusher = RtmpPusher(
            destination.name,
            destination.url,
            key,
            aac_config=self._aac_config,
            # Its events belong to the show it was started for, even the "idle" after that show ended.
            on_change=functools.partial(self._changed_from_thread, show_id),
        )
        if destination.own_qr:
            # Its own picture feeds the pusher's queue; the shared packets do not.
            # A refused push ("failed") waits for the host: its picture stops encoding meanwhile.
            picture = OwnPicture(
                destination.name, pusher.queue, self.pipeline.settings, wanted=lambda: pusher.status.state != "failed"
            )
            picture.set_spec(await self._own_spec(show_id, destination.name, self.studio.on_air))
            self.pictures[destination.name] = picture
            picture.start()
            self.pipeline.add_picture(picture)
        else:
            self.pipeline.add_sink(pusher)
        self.pushers[destination.name] = pusher
        pusher.start()

    async def _stop_pusher(self, name: str) -> None:
        pusher = self.pushers.pop(name)
        picture = self.pictures.pop(name, None)
        if picture is not None:
            self.pipeline.remove_picture(picture)
            await asyncio.to_thread(picture.stop)
        else:
            self.pipeline.remove_sink(pusher)
        await asyncio.to_thread(pusher.stop)

    # -- own-QR pictures: the show's overlay with the destination's own link ----
    async def _own_spec(self, show_id: int, name: str, on_air: OnAir) -> OverlaySpec:
        """What ``name``'s picture shows for ``on_air``: its own link in the QR (made on first use)."""
        url = None
        if on_air.sku is not None and on_air.link_url is not None:
            cached = (show_id, on_air.sku, name)
            if cached not in self._own_links:
                link = await self.studio.db(link_for, show_id, on_air.sku, destination=name)
                self._own_links[cached] = self.studio.link_url(link.code)
            url = self._own_links[cached]
        spec = on_air.overlay_spec(image_root=self.studio.config.data_dir)
        return replace(spec, link_url=url)

    def _on_air_changed(self, on_air: OnAir) -> None:
        """The product, promo or headline changed: each own-QR picture follows with its own link."""
        if self.pictures and self.studio.show is not None:
            future = asyncio.ensure_future(self._follow_on_air(self.studio.show.id))
            self._pending.add(future)
            future.add_done_callback(self._pending.discard)

    async def _follow_on_air(self, show_id: int) -> None:
        for name, picture in list(self.pictures.items()):
            on_air = self.studio.on_air
            try:
                spec = await self._own_spec(show_id, name, on_air)
            except Exception:  # a product deleted meanwhile: keep the picture as it was
                log.exception("own QR for %s: making its link failed", name)
                continue
            # Only if nothing changed while the link was made (a newer change follows on its own).
            if self.studio.on_air.version == on_air.version and self.pictures.get(name) is picture:
                picture.set_spec(spec)

    def picture_json(self, name: str) -> dict[str, Any]:
        """The own-QR figures for the API and panel (``encode_cpu_percent`` is null while not encoding)."""
        picture = self.pictures.get(name)
        if picture is None:
            return {"encode_cpu_percent": 0.0 if name in self.pushers else None}
        spec = picture.spec
        return {
            "encode_cpu_percent": picture.cpu_percent,
            "encode_frames": picture.frames_encoded,
            "encode_dropped": picture.frames_dropped,
            "own_link_url": spec.link_url if spec is not None else None,
        }

    def _aac_config(self) -> bytes | None:
        aac = self.pipeline.aac
        return aac.extradata if aac is not None else None

    def _changed_from_thread(self, show_id: int, status: PushStatus) -> None:
        """A pusher's thread reports a state change: store it as a show event, on the loop."""
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._record, show_id, status)

    def _record(self, show_id: int, status: PushStatus) -> None:
        future = asyncio.ensure_future(
            self.studio.db(events.record_destination_event, show_id, status.name, status.state, status.reason or None)
        )
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)


REACH = web.AppKey("reach", Reach)


def destination_json(reach: Reach, destination: Destination) -> dict[str, Any]:
    return {
        **destination.to_json(),
        "push": reach.status(destination.name).to_json(),
        **reach.picture_json(destination.name),
    }


def _problem(error: DestinationError) -> Problem:
    return bad_request(error.detail, error.detail_zh)


def _unknown(name: str) -> Problem:
    return Problem(404, "unknown_destination", f"unknown destination {name!r}", f"找不到推流目标“{name}”")


@authorized
async def get_destinations(request: web.Request) -> web.Response:
    studio, reach = studio_of(request), request.app[REACH]
    destinations = await studio.db(list_destinations)
    return web.json_response({"destinations": [destination_json(reach, d) for d in destinations]})


@authorized
async def post_destination(request: web.Request) -> web.Response:
    """``{"name", "url", "key", "preset"?, "own_qr"?}``: 201 with the key masked; 400 stores nothing."""
    body = await json_object(request)
    studio = studio_of(request)
    try:
        new = parse_destination(
            body.get("name"), body.get("url"), body.get("key"), body.get("preset", "custom"), body.get("own_qr", False)
        )
        destination = await studio.db(add_destination, studio.config.data_dir, new)
    except DestinationError as error:
        raise _problem(error) from None
    reach = request.app[REACH]
    await reach.reconcile()
    return web.json_response(destination_json(reach, destination), status=201)


@authorized
async def patch_destination(request: web.Request) -> web.Response:
    """``{"enabled": bool}``: start or stop pushing to it."""
    enabled = await enabled_flag(request)
    name = request.match_info["name"]
    studio, reach = studio_of(request), request.app[REACH]
    try:
        destination = await studio.db(set_enabled, name, enabled)
    except UnknownDestination:
        raise _unknown(name) from None
    await reach.reconcile()
    return web.json_response(destination_json(reach, destination))


@authorized
async def delete_destination(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    studio = studio_of(request)
    try:
        await studio.db(remove_destination, studio.config.data_dir, name)
    except UnknownDestination:
        raise _unknown(name) from None
    await request.app[REACH].reconcile()
    return web.Response(status=204)


HLS_SHOW = re.compile(r"\A[0-9]{1,9}\Z")
HLS_FILE = re.compile(r"\A(index\.m3u8|seg-[0-9]{5,9}\.ts)\Z")
#: The playlist changes every segment: caches may keep it a second. Segments never change.
PLAYLIST_CACHE = "public, max-age=1"
SEGMENT_CACHE = "public, max-age=31536000, immutable"


async def get_hls(request: web.Request) -> web.StreamResponse:
    """``GET /hls/<show id>/index.m3u8`` and its segments: public, cacheable, no cookies."""
    show_id, name = request.match_info["show_id"], request.match_info["name"]
    path = None
    if HLS_SHOW.match(show_id) and HLS_FILE.match(name):
        path = hls_dir(studio_of(request).config.data_dir, int(show_id)) / name
    if path is None or not path.is_file():
        raise Problem(
            404,
            "no_such_hls",
            f"no HLS file {show_id}/{name} (is that show live?)",
            f"找不到 HLS 文件 {show_id}/{name}（该场直播是否在播？）",
        )
    headers = {"Access-Control-Allow-Origin": "*"}
    if name == PLAYLIST:
        body = await asyncio.to_thread(path.read_bytes)
        playlist_headers = {**headers, "Cache-Control": PLAYLIST_CACHE}
        return web.Response(body=body, content_type="application/vnd.apple.mpegurl", headers=playlist_headers)
    return web.FileResponse(path, headers={**headers, "Cache-Control": SEGMENT_CACHE, "Content-Type": "video/mp2t"})


async def post_hls_seen(request: web.Request) -> web.StreamResponse:
    """``POST /hls/<show id>/seen``: the watch page playing HLS says "still watching" (every 10 s)."""
    studio = studio_of(request)
    show_id = request.match_info["show_id"]
    if studio.show is None or not HLS_SHOW.match(show_id) or int(show_id) != studio.show.id:
        raise Problem(404, "show_not_live", f"show {show_id} is not live", f"第 {show_id} 场直播不在播")
    viewer_id, is_new = viewer_id_of(request)
    await request.app[REACH].hls_viewer_seen(studio.show.id, viewer_id, request.headers.get("User-Agent", ""))
    response = web.json_response({"ok": True}, headers={"Cache-Control": "no-store"})
    return remember_viewer(response, viewer_id, is_new)


def setup_routes(app: web.Application) -> None:
    """Call after ``media.setup_routes``: the pushes tap its pipeline."""
    reach = Reach(app[STUDIO], app[PIPELINE])
    app[REACH] = reach
    app.router.add_get("/api/destinations", get_destinations)
    app.router.add_post("/api/destinations", post_destination)
    app.router.add_patch("/api/destinations/{name}", patch_destination)
    app.router.add_delete("/api/destinations/{name}", delete_destination)
    app.router.add_post("/hls/{show_id}/seen", post_hls_seen)
    app.router.add_get("/hls/{show_id}/{name}", get_hls)

    async def _start(app: web.Application) -> None:
        await reach.start()

    async def _stop(app: web.Application) -> None:
        await reach.stop()

    app.on_startup.append(_start)
    # Before media's own shutdown stops the pipeline the pushes tap.
    app.on_shutdown.insert(0, _stop)
