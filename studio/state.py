"""The live studio: the one show on air, what product is on screen, and the database.

Every route (media, shop, control API) shares one :class:`Studio`, found with
:func:`studio_of`. Database work runs on a single dedicated thread with its own
connection, so SQLite writes are serialised and never stall the asyncio loop
that carries video.

Live facts and their one writer each: the show and :class:`OnAir` are written
here; :class:`~studio.figures.LiveFigures` only by the media pipeline (read
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
from typing import Any, TypeVar

import sqlite_utils
from aiohttp import web

import catalog
from analytics import events
from catalog.shows import Show, create_show, end_show, link_for, live_show
from overlays import LAYOUTS, Headline, OverlaySpec, Promo
from studio.config import StudioConfig
from studio.figures import LiveFigures
from studio.health import DbHealth

log = logging.getLogger(__name__)

T = TypeVar("T")

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


OnAirListener = Callable[[OnAir], None]
FiguresSource = Callable[[], LiveFigures]


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
        self.show: Show | None = None
        self.on_air = OnAir()
        self._listeners: list[OnAirListener] = []
        self._figures: FiguresSource = LiveFigures
        # The host's setting (one writer: set_auto_hold); the pipeline reads it every second.
        self.auto_hold = config.auto_hold

    # -- live figures (written by the pipeline only) ------------------------
    @property
    def figures(self) -> LiveFigures:
        """The newest snapshot of the show's live figures."""
        return self._figures()

    def read_figures_from(self, source: FiguresSource) -> None:
        """The pipeline names itself the one source of :attr:`figures`."""
        self._figures = source

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
        """Recover after a restart: close sessions a crash left open, resume a live show."""
        closed = await self.db(events.close_stale_sessions)
        if closed:
            log.info("closed %d viewer sessions left open by a previous run", closed)
        self.show = await self.db(live_show)
        if self.show:
            last = await self.db(_last_overlay, self.show.id)
            if last is not None:
                sku, layout, promo = last
                try:
                    await self.put_on_air(sku, layout, promo, record=False)
                except (catalog.UnknownProduct, ValueError) as error:
                    log.warning("not restoring the overlay on air before the restart: %s", error)

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
        self.show = await self.db(_replace_show, self.show.id if self.show else None, title)
        if self.on_air.sku is not None:
            await self.put_on_air(self.on_air.sku, self.on_air.layout, self.on_air.promo)
        return self.show

    async def end_show(self) -> Show | None:
        if self.show is None:
            return None
        ended = await self.db(end_show, self.show.id)
        self.show = None
        if self.on_air.headline is not None:
            self.set_headline(None)  # a draw or pin belonged to the show that ended
        return ended

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
        """Call ``listener(on_air)`` on every change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
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
