"""The live studio: the one show on air, what product is on screen, and the database.

Every route (media, shop, control API) shares one :class:`Studio`, found with
:func:`studio_of`. Database work runs on a single dedicated thread with its own
connection, so SQLite writes are serialised and never stall the asyncio loop
that carries video.

Live facts and their one writer each: the show's phase (:class:`ShowPhase`),
the sales the host closed and :class:`OnAir` are written here;
:class:`~studio.figures.LiveFigures` only by the media pipeline (read
through :attr:`Studio.figures`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlite_utils
from aiohttp import web

import catalog
from analytics import events
from catalog.shows import Show, create_show, end_show, link_for, live_show, newest_real_show
from overlays import LAYOUTS, Headline, OverlaySpec, Promo
from studio.config import StudioConfig
from studio.figures import LiveFigures
from studio.health import DbHealth

log = logging.getLogger(__name__)

T = TypeVar("T")

PhaseKind = Literal["pending", "live", "ended"]


@dataclass(frozen=True)
class ShowPhase:
    """Where the show is, the one answer every screen follows (video, /watch, /publish, control room).

    ``pending``: no show started since the studio started (viewers see "starting soon").
    ``live``: ``show`` is on air. ``ended``: ``show`` has ended; ``replay_url`` once its replay exists.
    """

    kind: PhaseKind = "pending"
    show: Show | None = None
    replay_url: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "pending") != (self.show is None):
            raise ValueError("a pending phase has no show; a live or ended phase has one")
        if self.replay_url is not None and self.kind != "ended":
            raise ValueError("only an ended show has a replay")

    @property
    def live(self) -> bool:
        return self.kind == "live"


@dataclass(frozen=True)
class OnAir:
    """What the overlay shows now, with the promo already checked (parsed once, at the API edge).

    ``product`` is read once per change here, so the pipeline and the watch
    page share one fresh copy instead of each querying the catalog.
    """

    sku: str | None = None
    product: catalog.Product | None = None
    layout: str = "auto"
    promo: Promo | None = None
    link_code: str | None = None
    link_url: str | None = None
    changed_at: str = field(default_factory=catalog.now_iso)
    # Bumped on every change, including stock/price refreshes of the same product.
    version: int = 0
    # Across the top of the picture: the live room's lucky draw or pinned message (set by the room).
    headline: Headline | None = None

    def overlay_spec(self, image_root: Path | None = None) -> OverlaySpec:
        """What the compositor draws for this moment of the show."""
        return OverlaySpec(
            product=self.product,
            link_url=self.link_url,
            layout=self.layout,
            promo=self.promo,
            image_root=image_root,
            headline=self.headline,
        )

    @property
    def sold_out(self) -> bool:
        """The sold-out banner is up: the host's sold-out promo, or no stock left."""
        return self.overlay_spec().sold_out


OnAirListener = Callable[[OnAir], None]
FiguresSource = Callable[[], LiveFigures]
#: An ended show's replay URL when its replay files are already made, else None (file I/O: run off the loop).
ReplayFinder = Callable[[int], str | None]


def _no_replays(show_id: int) -> str | None:
    return None


class NoLiveShow(RuntimeError):
    def __init__(self) -> None:
        super().__init__("no show is live: start one first (POST /api/shows)")


class Studio:
    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.db_file: Path = catalog.db_path(config.data_dir)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="farmlive-db"
        )
        self._db: sqlite_utils.Database | None = None
        self.health = DbHealth(self.db_file)
        self.phase = ShowPhase()
        # SKUs whose sale the host closed in the live show (put on air with the sold-out promo).
        self.closed_sales: frozenset[str] = frozenset()
        self.on_air = OnAir()
        # Bumped on every change any screen shows: pages drop a polled state older than a pushed one.
        self.state_version = 0
        self._listeners: list[OnAirListener] = []
        self._figures: FiguresSource = LiveFigures
        self._find_replay: ReplayFinder = _no_replays
        # The host's setting (one writer: set_auto_hold); the pipeline reads it every second.
        self.auto_hold = config.auto_hold

    @property
    def show(self) -> Show | None:
        """The live show, if any (the phase says more: before the first start, or which show ended)."""
        return self.phase.show if self.phase.live else None

    # -- live figures (written by the pipeline only) ------------------------
    @property
    def figures(self) -> LiveFigures:
        """The newest snapshot of the show's live figures."""
        return self._figures()

    def read_figures_from(self, source: FiguresSource) -> None:
        """The pipeline names itself the one source of :attr:`figures`."""
        self._figures = source

    def find_replays_with(self, finder: ReplayFinder) -> None:
        """The replay maker names itself the one that knows whether an ended show's replay exists."""
        self._find_replay = finder

    def set_auto_hold(self, enabled: bool) -> None:
        """May the pipeline hold the slate by itself while the phone's uplink is unusable?"""
        self.auto_hold = enabled

    # -- database -------------------------------------------------------
    def _connection(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = catalog.connect(self.db_file)
            self.health.remember_opened()
        return self._db

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(db, *args, **kwargs)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: fn(self._connection(), *args, **kwargs)
        )

    async def db_acknowledged(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A write whose answer promises it is kept (an order): refused with ``DatabaseLost``
        unless the open file is still the file at the data path, both before and after it."""

        def guarded(db: sqlite_utils.Database) -> T:
            self.health.require_same_file()
            result = fn(db, *args, **kwargs)
            self.health.require_same_file()
            return result

        return await self.db(guarded)

    async def open(self) -> None:
        """Recover after a restart: close sessions a crash left open, resume a live show.

        With no live show, the newest real show that ended stays ended (with its replay once
        that exists), so viewers keep seeing the end and 观看回放, never "starting soon".
        A show left open by a killed studio is still live: it resumes (the host ends it).
        """
        closed = await self.db(events.close_stale_sessions)
        if closed:
            log.info("closed %d viewer sessions left open by a previous run", closed)
        show = await self.db(live_show)
        if show:
            self.phase = ShowPhase("live", show)
            self.closed_sales = await self.db(_closed_sales, show.id)
            last = await self.db(_last_overlay, show.id)
            if last is not None:
                sku, layout, promo = last
                try:
                    await self.put_on_air(sku, layout, promo, record=False)
                except (catalog.UnknownProduct, ValueError) as error:
                    log.warning("not restoring the overlay on air before the restart: %s", error)
            return
        ended = await self.db(newest_real_show)
        if ended is not None and not ended.live:
            replay_url = await asyncio.get_running_loop().run_in_executor(None, self._find_replay, ended.id)
            self.phase = ShowPhase("ended", ended, replay_url)
            self._notify()

    async def close(self) -> None:
        def _close(db: sqlite_utils.Database) -> None:
            db.conn.close()

        if self._db is not None:
            await self.db(_close)
            self._db = None
        self._executor.shutdown(wait=True)

    # -- shows ----------------------------------------------------------
    async def start_show(self, title: str) -> Show:
        """Start a show; a show already live is ended in the same transaction (one show at a time),
        so a start that fails leaves the live show on air."""
        show = await self.db(_replace_show, self.show.id if self.show else None, title)
        self.phase = ShowPhase("live", show)
        self.closed_sales = frozenset()  # a new show opens every sale again
        if self.on_air.sku is not None:
            await self.put_on_air(self.on_air.sku, self.on_air.layout, self.on_air.promo)
        else:
            self._notify()
        return show

    async def end_show(self) -> Show | None:
        if self.show is None:
            return None
        ended = await self.db(end_show, self.show.id)
        self.phase = ShowPhase("ended", ended)
        self.closed_sales = frozenset()
        if self.on_air.headline is not None:
            self.on_air = replace(self.on_air, headline=None, version=self.on_air.version + 1)
        self._notify()  # a draw or pin belonged to the show that ended; viewers get the end slate
        return ended

    def replay_ready(self, show_id: int, replay_url: str) -> None:
        """The replay maker made the ended show's replay: the end slate and pages point at it."""
        phase = self.phase
        if phase.kind == "ended" and phase.show is not None and phase.show.id == show_id and phase.replay_url is None:
            self.phase = replace(phase, replay_url=replay_url)
            self._notify()

    def sale_closed(self, show_id: int | None, sku: str) -> bool:
        """The host closed ``sku``'s sale in the live show ``show_id`` (its buy links answer 409 sold out)."""
        show = self.show
        return show is not None and show.id == show_id and sku in self.closed_sales

    def require_show(self) -> Show:
        if self.show is None:
            raise NoLiveShow()
        return self.show

    # -- what is on air -------------------------------------------------
    def link_url(self, code: str) -> str:
        return f"{self.config.public_url}/b/{code}"

    async def put_on_air(
        self,
        sku: str | None,
        layout: str = "auto",
        promo: Promo | None = None,
        *,
        record: bool = True,
    ) -> OnAir:
        """Switch the overlay; raises ``UnknownProduct`` or ``ValueError`` on bad input."""
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
        code = url = None
        product = None
        if sku is not None:
            product = await self.db(catalog.get_product, sku)  # raises UnknownProduct
            if self.show is not None:
                link = await self.db(link_for, self.show.id, sku)
                code, url = link.code, self.link_url(link.code)
        if record and self.show is not None:
            await self.db(events.record_overlay, self.show.id, sku, layout, promo.to_dict() if promo else None)
        if sku is not None and self.show is not None:
            # The promo of a product's latest time on air decides: sold out closes its sale, anything else reopens it.
            closing = promo is not None and promo.kind == "sold_out"
            self.closed_sales = self.closed_sales | {sku} if closing else self.closed_sales - {sku}
        self.on_air = OnAir(
            sku=sku,
            product=product,
            layout=layout,
            promo=promo,
            link_code=code,
            link_url=url,
            version=self.on_air.version + 1,
            headline=self.on_air.headline,
        )
        self._notify()
        return self.on_air

    def set_headline(self, headline: Headline | None) -> None:
        """Put a line across the top of the picture (or take it away); the product on air stays."""
        self.on_air = replace(self.on_air, headline=headline, version=self.on_air.version + 1)
        self._notify()

    async def refresh_on_air(self) -> None:
        """Re-read the product on air and re-render, e.g. after an order changed the stock shown."""
        before = self.on_air
        if before.sku is None:
            return
        try:
            product = await self.db(catalog.get_product, before.sku)
        except catalog.UnknownProduct:
            log.warning("product %s on air is no longer in the catalog", before.sku)
            product = None
        if self.on_air.version != before.version:
            return  # switched meanwhile: the newer change read its own product
        self.on_air = replace(before, product=product, version=before.version + 1)
        self._notify()

    def add_listener(self, listener: OnAirListener) -> Callable[[], None]:
        """Call ``listener(on_air)`` on every change of what is on air or of the show's phase;
        returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        self.state_version += 1
        for listener in list(self._listeners):
            try:
                listener(self.on_air)
            except Exception:  # one broken listener must not stop the others
                log.exception("on-air listener failed")


STUDIO = web.AppKey("studio", Studio)


def studio_of(request: web.Request) -> Studio:
    """The studio a route serves: handed in by the app, never imported from it."""
    return request.app[STUDIO]


def _replace_show(db: sqlite_utils.Database, live_id: int | None, title: str) -> Show:
    with catalog.transaction(db):
        if live_id is not None:
            end_show(db, live_id)
        return create_show(db, title)


def _closed_sales(db: sqlite_utils.Database, show_id: int) -> frozenset[str]:
    """After a restart: the products whose latest time on air in the show carried the sold-out promo."""
    rows = db.execute(
        "SELECT sku, promo FROM overlay_events WHERE show_id = ? AND sku IS NOT NULL ORDER BY at, id", [show_id]
    ).fetchall()
    latest = dict(rows)
    closed = set()
    for sku, promo_json in latest.items():
        try:
            kind = json.loads(promo_json).get("kind") if promo_json else None
        except (ValueError, AttributeError):
            kind = None
        if kind == "sold_out":
            closed.add(sku)
    return frozenset(closed)


def _last_overlay(db: sqlite_utils.Database, show_id: int) -> tuple[str | None, str, Promo | None] | None:
    row = db.execute(
        "SELECT sku, layout, promo FROM overlay_events WHERE show_id = ? ORDER BY at DESC, id DESC LIMIT 1",
        [show_id],
    ).fetchone()
    if row is None:
        return None
    sku, layout, promo_json = row
    promo = None
    if promo_json:
        try:
            promo = Promo.from_dict(json.loads(promo_json))
        except ValueError as error:  # written by an older version with looser checks
            log.warning("not restoring the stored promo %r: %s", promo_json, error)
    return sku, layout, promo
