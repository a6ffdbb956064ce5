"""Product cards, QR buy codes and promo banners drawn onto the show's video.

Everything is rendered to RGBA once per change (:func:`render_overlay`); the
:class:`Compositor` blends only those regions onto each frame, in the
pipeline's own pixel format (I420 from PyAV, or BGR). Text uses one CJK font
(:func:`cjk_font_path`) so zh-CN renders as real glyphs.
"""

from catalog.money import currency_symbol
from overlays.compositor import Compositor
from overlays.fonts import FontNotFound, cjk_font_path, font_description
from overlays.headline import Headline
from overlays.promo import PROMO_KINDS, Promo
from overlays.render import OverlayRegion, RenderedOverlay, render_overlay
from overlays.slate import SLATE_KINDS, SlateKind, render_show_ended, render_slate, render_starting_soon
from overlays.spec import LAYOUTS, OverlaySpec, resolve_layout
from overlays.text import format_price, short_url

__all__ = [
    "LAYOUTS",
    "PROMO_KINDS",
    "SLATE_KINDS",
    "Compositor",
    "FontNotFound",
    "Headline",
    "OverlayRegion",
    "OverlaySpec",
    "Promo",
    "RenderedOverlay",
    "SlateKind",
    "cjk_font_path",
    "currency_symbol",
    "font_description",
    "format_price",
    "render_overlay",
    "render_show_ended",
    "render_slate",
    "render_starting_soon",
    "resolve_layout",
    "short_url",
]
