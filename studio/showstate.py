"""The one public show state every screen follows, built in one place.

``GET /watch/state`` (polled by /watch and /publish) and the room WebSocket's
``show`` message (pushed within the room's 100 ms batch whenever the phase,
the product on air, its promo or its stock changes) carry the very same JSON,
built here from the studio's memory: no database read per poll or push.
It carries no secrets.
"""

from __future__ import annotations

from typing import Any

from catalog.shows import Show
from catalog.timestamps import now_iso, utc_now
from studio.promos import shelf_price
from studio.shop import image_url
from studio.state import OnAir, ShowPhase, Studio


def on_air_card(on_air: OnAir) -> dict[str, Any] | None:
    """The product card the watch page shows beside the video; None when nothing is on air."""
    product = on_air.product
    if product is None:
        return None
    promo = on_air.promo
    price = shelf_price(product, promo.offer() if promo else None, utc_now())
    return {
        "sku": product.sku,
        "name": product.name,
        "name_zh": product.name_zh,
        "description": product.description,
        "price": product.price,
        # A running flash sale's price (null otherwise); the sale's end is the promo's ends_at.
        "flash_price": price.unit_price if price.flash else None,
        "external": bool(product.buy_url),
        "image": image_url(product),
        "currency": product.currency,
        "unit": product.unit,
        "stock": product.stock,
        "origin": product.origin,
        "link_url": on_air.link_url,
        "buy_href": f"/b/{on_air.link_code}?via=click" if on_air.link_code else None,
        "promo": on_air.promo.to_dict() if on_air.promo else None,
        # The sale is closed (the host's sold-out promo, or no stock): the card says 已售罄 and Buy is off.
        "sold_out": on_air.sold_out,
    }


def _show_json(show: Show | None) -> dict[str, Any] | None:
    if show is None:
        return None
    return {"id": show.id, "title": show.title, "started_at": show.started_at, "ended_at": show.ended_at}


def phase_json(phase: ShowPhase) -> dict[str, Any]:
    """``phase``: pending | live | ended; the show it is about; the replay once it exists."""
    return {"phase": phase.kind, "live": phase.live, "show": _show_json(phase.show), "replay_url": phase.replay_url}


def show_state(studio: Studio) -> dict[str, Any]:
    """What /watch, /publish and the control room show about the show right now.

    The card is there only while the show is live: before Start and after End
    viewers get a slate, never a card, a QR or Buy.
    """
    figures = studio.figures
    return {
        **phase_json(studio.phase),
        "version": studio.state_version,
        "publishing": figures.publishing,
        "viewers_now": figures.viewers_now,
        "on_air": on_air_card(studio.on_air) if studio.phase.live else None,
        # The studio's clock: the page's countdown runs on it, not on the phone's.
        "now": now_iso(),
    }
