"""Rendering: card content, CJK glyphs, promos, layouts and safe margins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from catalog import Product
from overlays import (
    FontNotFound,
    OverlaySpec,
    Promo,
    cjk_font_path,
    currency_symbol,
    fonts,
    format_price,
    render_overlay,
    resolve_layout,
    short_url,
)
from overlays.card import render_card
from overlays.render import Frame, module_px

LINK = "http://127.0.0.1:8080/b/k3m9qx"
NOW = datetime(2026, 11, 23, 19, 0, 0, tzinfo=UTC)
SIZES = [(854, 480), (1280, 720), (1920, 1080), (720, 1280)]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

ORANGES = Product(
    sku="ORANGE-5KG", name="Gannan navel oranges", name_zh="赣南脐橙", price=59.0,
    unit="5 kg box", stock=120, origin="江西赣州 Ganzhou, Jiangxi", image="images/ORANGE-5KG.png",
)


def spec(product: Product | None = ORANGES, **kw) -> OverlaySpec:  # type: ignore[no-untyped-def]
    return OverlaySpec(product, kw.pop("link_url", LINK), **kw)


def card_pixels(product: Product, root: Path | None = None) -> np.ndarray:
    return np.asarray(render_card(product, 1.0, 900, root))


# -- card content ------------------------------------------------------------
def test_card_is_deterministic() -> None:
    assert np.array_equal(card_pixels(ORANGES), card_pixels(ORANGES))


def test_card_changes_with_price() -> None:
    assert not np.array_equal(card_pixels(ORANGES), card_pixels(replace(ORANGES, price=49.0)))


def test_card_changes_with_stock() -> None:
    before = card_pixels(ORANGES)
    assert not np.array_equal(before, card_pixels(replace(ORANGES, stock=119)))
    assert not np.array_equal(before, card_pixels(replace(ORANGES, stock=0)))


def test_card_shows_product_photo_and_survives_bad_images(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    placeholder = card_pixels(ORANGES, tmp_path)  # file missing: placeholder
    Image.new("RGB", (300, 200), (250, 140, 20)).save(tmp_path / "images" / "ORANGE-5KG.png")
    photo = card_pixels(ORANGES, tmp_path)
    assert not np.array_equal(placeholder, photo)
    (tmp_path / "images" / "ORANGE-5KG.png").write_bytes(b"not a png at all")
    assert np.array_equal(card_pixels(ORANGES, tmp_path), placeholder)


def test_long_names_fit_the_card() -> None:
    long = replace(ORANGES, name_zh="赣南脐橙" * 12, name="Gannan navel oranges " * 8)
    card = render_card(long, 1.0, 500)
    assert card.width <= 500


def test_price_and_text_formatting() -> None:
    assert format_price(ORANGES) == "¥59.00 / 5 kg box"
    assert format_price(replace(ORANGES, currency="USD", unit="")) == "$59.00"
    assert currency_symbol("eur") == "€"
    assert currency_symbol("HKD") == "HKD "
    assert short_url("http://127.0.0.1:8080/b/k3m9qx") == "127.0.0.1:8080/b/k3m9qx"
    assert short_url("https://shop.example/b/x/?a=1") == "shop.example/b/x?a=1"


# -- CJK glyphs ----------------------------------------------------------------
def glyph(text: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    image = Image.new("L", (400, 80), 0)
    ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
    return np.asarray(image)


def test_chinese_renders_as_real_glyphs_not_tofu() -> None:
    cjk = fonts.cjk_font(48)
    tofu_font = ImageFont.truetype(str(DEJAVU), 48)
    # Control: a font without CJK draws every Chinese character as the same box,
    # so this comparison really can tell tofu from glyphs.
    assert np.array_equal(glyph("赣", tofu_font), glyph("橙", tofu_font))
    chars = "赣南脐橙产地库存"
    renders = [glyph(c, cjk) for c in chars]
    assert all(r.any() for r in renders)
    assert len({r.tobytes() for r in renders}) == len(chars)
    assert not np.array_equal(glyph("赣南脐橙", cjk), glyph("赣南脐橙", tofu_font))
    # And the box a CJK font draws for a code point it lacks is not what we print.
    assert not np.array_equal(glyph("赣", cjk), glyph("\U000F0000", cjk))


def test_characters_the_font_lacks_are_left_out_not_drawn_as_tofu() -> None:
    assert not fonts.has_glyph("🍊") and fonts.has_glyph("橙") and fonts.has_glyph("¥")
    assert fonts.printable("🔥爆款 🍊赣南脐橙") == "爆款 赣南脐橙"
    emoji = replace(ORANGES, name_zh="🍊赣南脐橙🔥")
    assert np.array_equal(card_pixels(emoji), card_pixels(ORANGES))


def test_font_is_named_and_missing_font_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cjk_font_path().is_file()
    assert "Hei" in fonts.font_description() or "CJK" in fonts.font_description()
    with pytest.raises(FontNotFound, match="fonts-wqy-microhei"):
        fonts.find_cjk_font([Path("/nonexistent/font.ttc")], use_fontconfig=False)
    monkeypatch.setenv(fonts.ENV_VAR, "/nonexistent/font.ttc")
    fonts.cjk_font_path.cache_clear()
    try:
        with pytest.raises(FontNotFound, match="FARMLIVE_CJK_FONT"):
            cjk_font_path()
    finally:
        monkeypatch.delenv(fonts.ENV_VAR)
        fonts.cjk_font_path.cache_clear()


# -- promos --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "discount"}, "promo kind must be one of"),
        ({}, "promo needs a kind"),
        ({"kind": "countdown"}, "needs ends_at"),
        ({"kind": "countdown", "ends_at": "tomorrow at noon"}, "not an ISO-8601"),
        ({"kind": "countdown", "ends_at": 1700000000}, "ISO-8601 text"),
        ({"kind": "coupon"}, "needs a code"),
        ({"kind": "coupon", "code": "   "}, "needs a code"),
        ({"kind": "coupon", "code": "X" * 40}, "longer than"),
        ({"kind": "sold_out", "colour": "red"}, "unknown promo field"),
        ({"kind": "sold_out", "text": 5}, "must be text"),
        (["countdown"], "must be an object"),
    ],
)
def test_promo_from_dict_rejects_bad_input(data, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Promo.from_dict(data)


def test_promo_round_trip_and_defaults() -> None:
    promo = Promo.from_dict({"kind": "countdown", "ends_at": "2026-11-23T19:05:00+00:00"})
    assert promo.ends_at == "2026-11-23T19:05:00.000Z"
    assert Promo.from_dict(promo.to_dict()) == promo
    assert promo.banner_text(NOW) == "限时秒杀 Flash sale 05:00"
    assert promo.banner_text(NOW.replace(tzinfo=None)) == "限时秒杀 Flash sale 05:00"  # naive = UTC
    assert promo.banner_text(NOW + timedelta(seconds=0.5)) == "限时秒杀 Flash sale 05:00"
    assert promo.banner_text(NOW + timedelta(seconds=1)) == "限时秒杀 Flash sale 04:59"
    assert promo.banner_text(NOW + timedelta(minutes=5)) == "限时秒杀 Flash sale 已结束 ended"
    assert promo.next_change(NOW + timedelta(seconds=0.25)) == NOW + timedelta(seconds=1)
    assert promo.next_change(NOW + timedelta(minutes=6)) is None
    coupon = Promo.from_dict({"kind": "coupon", "code": " FARM10 ", "text": "10% off"})
    assert coupon.banner_text(NOW) == "优惠券 10% off: FARM10"
    assert Promo("sold_out").banner_text(NOW) == "已售罄 Sold out"


def test_countdown_banner_pixels_tick() -> None:
    s = spec(promo=Promo("countdown", ends_at="2026-11-23T19:05:00Z"))
    first = render_overlay(s, 1280, 720, NOW).region("promo")
    later = render_overlay(s, 1280, 720, NOW + timedelta(seconds=1)).region("promo")
    assert first is not None and later is not None
    assert first.rgba.shape == later.rgba.shape  # the pill does not jump while ticking
    assert not np.array_equal(first.rgba, later.rgba)


def test_sold_out_banner_for_zero_stock_or_promo() -> None:
    assert render_overlay(spec(), 1280, 720, NOW).region("promo") is None
    by_stock = render_overlay(spec(replace(ORANGES, stock=0)), 1280, 720, NOW).region("promo")
    by_promo = render_overlay(spec(promo=Promo("sold_out")), 1280, 720, NOW).region("promo")
    assert by_stock is not None and by_promo is not None
    assert np.array_equal(by_stock.rgba, by_promo.rgba)
    # Sold out wins over a running countdown.
    s = spec(replace(ORANGES, stock=0), promo=Promo("countdown", ends_at="2026-11-23T19:05:00Z"))
    assert np.array_equal(render_overlay(s, 1280, 720, NOW).region("promo").rgba, by_promo.rgba)


# -- layout ------------------------------------------------------------------------
def test_layout_follows_the_frame_unless_forced() -> None:
    assert resolve_layout("auto", 720, 1280) == "portrait"
    assert resolve_layout("auto", 1280, 720) == "landscape"
    assert render_overlay(spec(), 720, 1280, NOW).layout == "portrait"
    assert render_overlay(spec(layout="portrait"), 1280, 720, NOW).layout == "portrait"
    with pytest.raises(ValueError, match="layout must be one of"):
        spec(layout="sideways")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_regions_stay_in_safe_margins(width: int, height: int) -> None:
    promo = Promo("coupon", code="FARM10")
    rendered = render_overlay(spec(promo=promo), width, height, NOW)
    assert {r.name for r in rendered.regions} == {"card", "qr", "promo"}
    bottom = 0.85 if height > width else 0.95
    boxes = []
    for r in rendered.regions:
        assert r.x % 2 == r.y % 2 == r.width % 2 == r.height % 2 == 0
        assert r.x >= 0.05 * width and r.x + r.width <= 0.95 * width, r.name
        assert r.y >= 0.05 * height and r.y + r.height <= bottom * height, r.name
        boxes.append((r.x, r.y, r.x + r.width, r.y + r.height))
    for i, a in enumerate(boxes):  # nothing covers anything else
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    if height > width:  # portrait: stacked in the lower part, above the phone UI band
        assert all(r.y >= 0.3 * height for r in rendered.regions)


def test_qr_modules_are_at_least_4px_at_480p() -> None:
    assert module_px(LINK, Frame(854, 480, "landscape")) >= 4
    assert module_px(LINK, Frame(480, 854, "portrait")) >= 4
    qr = render_overlay(spec(), 854, 480, NOW).region("qr")
    assert qr is not None and qr.opaque


def test_tiny_and_bad_frame_sizes() -> None:
    rendered = render_overlay(spec(promo=Promo("sold_out")), 320, 180, NOW)
    for r in rendered.regions:
        assert r.x + r.width <= 320 and r.y + r.height <= 180
    with pytest.raises(ValueError, match="even"):
        render_overlay(spec(), 855, 480, NOW)
    assert render_overlay(None, 1280, 720, NOW).regions == ()
    assert [r.name for r in render_overlay(spec(None), 1280, 720, NOW).regions] == ["qr"]
    assert [r.name for r in render_overlay(spec(link_url=None), 1280, 720, NOW).regions] == ["card"]
