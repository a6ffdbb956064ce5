"""The demo farm shop: seven products and their pictures, so a first start has something to sell.

The products live in ``demo_catalog.csv`` (shipped with the package, and the
example of the import format); the pictures are drawn here with Pillow rather
than downloaded, so a studio with no internet still gets a complete shop.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path

import sqlite_utils
from PIL import Image, ImageDraw, ImageFont

from catalog.csvio import parse_catalog_csv, save_products
from catalog.products import Product

IMAGE_SIZE = 320
IMAGES_DIR = "images"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)

Color = tuple[int, int, int]
Painter = Callable[[ImageDraw.ImageDraw, random.Random], None]


def demo_catalog_csv() -> bytes:
    """The shipped demo catalog file: also the example of the import format."""
    return resources.files("catalog").joinpath("demo_catalog.csv").read_bytes()


def demo_products() -> list[Product]:
    products, _, errors = parse_catalog_csv(demo_catalog_csv())
    if errors:  # the shipped file is part of the package: a bad one is a packaging bug
        raise RuntimeError("demo_catalog.csv is invalid: " + "; ".join(map(str, errors)))
    return products


def seed_demo_catalog(db: sqlite_utils.Database, data_dir: str | Path) -> int:
    """Add the demo products and draw their pictures into ``DATA_DIR/images``; returns how many."""
    (Path(data_dir) / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    products = []
    for product in demo_products():
        image = image_path_for(product.sku)
        draw_product_image(product).save(Path(data_dir) / image)
        products.append(replace(product, image=image))
    created, updated = save_products(db, products)
    return created + updated


def image_path_for(sku: str) -> str:
    """Where a product's picture lives, relative to the data folder (as stored in ``Product.image``)."""
    return f"{IMAGES_DIR}/{sku}.png"


def draw_product_image(product: Product, size: int = IMAGE_SIZE) -> Image.Image:
    """A small flat illustration of the product with its Chinese name as a label."""
    painter, background = PAINTERS.get(product.sku.split("-")[0], (_paint_bag, (236, 226, 206)))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    draw = ImageDraw.Draw(image)
    painter(draw, random.Random(product.sku))
    label = product.name_zh or product.name
    font = _font(34)
    box = draw.textbbox((0, 0), label, font=font)
    width = box[2] - box[0]
    draw.rounded_rectangle((14, 252, 306, 306), radius=14, fill=(255, 255, 255))
    draw.text(((IMAGE_SIZE - width) / 2, 258 - box[1] + 4), label, fill=(60, 40, 20), font=font)
    if size != IMAGE_SIZE:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def _fruit(draw: ImageDraw.ImageDraw, rng: random.Random, fill: Color, radius: int, count: int) -> None:
    """A heap of round fruit with a highlight and a leaf on some."""
    for _ in range(count):
        x, y = rng.randint(50, 270), rng.randint(60, 220)
        r = radius + rng.randint(-6, 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=_darker(fill), width=3)
        draw.ellipse((x - r // 2, y - r // 2, x - r // 6, y - r // 6), fill=_lighter(fill))
        if rng.random() < 0.5:
            draw.ellipse((x, y - r - 8, x + 24, y - r + 6), fill=(70, 140, 60))


def _paint_oranges(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    draw.rectangle((30, 160, 290, 245), fill=(196, 150, 96), outline=(140, 100, 60), width=4)
    _fruit(draw, rng, (245, 140, 30), 38, 7)


def _paint_apricots(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    draw.ellipse((25, 150, 295, 250), fill=(210, 180, 120))
    _fruit(draw, rng, (246, 196, 80), 28, 11)


def _paint_tea(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for _ in range(14):
        x, y = rng.randint(40, 280), rng.randint(40, 150)
        angle = rng.uniform(0, math.pi)
        dx, dy = 26 * math.cos(angle), 26 * math.sin(angle)
        draw.polygon(
            [(x - dx, y - dy), (x - dy / 2, y + dx / 2), (x + dx, y + dy), (x + dy / 2, y - dx / 2)],
            fill=(60 + rng.randint(0, 40), 120 + rng.randint(0, 50), 60),
        )
    draw.chord((90, 140, 230, 250), 0, 180, fill=(250, 250, 245), outline=(120, 120, 110), width=3)
    draw.ellipse((96, 168, 224, 200), fill=(200, 190, 110))


def _paint_sugar(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for row in range(3):
        for col in range(4):
            x, y = 40 + col * 62 + rng.randint(-4, 4), 60 + row * 60 + rng.randint(-4, 4)
            draw.rounded_rectangle((x, y, x + 52, y + 50), radius=8, fill=(120 + rng.randint(0, 30), 62, 30))


def _paint_shiitake(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for _ in range(6):
        x, y = rng.randint(60, 260), rng.randint(70, 200)
        draw.rectangle((x - 8, y, x + 8, y + 40), fill=(235, 220, 190))
        draw.pieslice((x - 46, y - 36, x + 46, y + 30), 180, 360, fill=(110, 70, 40), outline=(70, 45, 25), width=3)
        for _ in range(4):
            cx, cy = x + rng.randint(-30, 30), y - rng.randint(6, 24)
            draw.line((cx - 6, cy, cx + 6, cy - 3), fill=(220, 200, 170), width=2)


def _paint_mooncake(draw: ImageDraw.ImageDraw, _rng: random.Random) -> None:
    draw.ellipse((70, 40, 250, 220), fill=(205, 140, 60), outline=(150, 95, 35), width=6)
    draw.ellipse((100, 70, 220, 190), outline=(160, 100, 40), width=4)
    for k in range(8):
        angle = k * math.pi / 4
        x, y = 160 + 75 * math.cos(angle), 130 + 75 * math.sin(angle)
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=(175, 110, 45))
    draw.text((135, 100), "福", fill=(150, 90, 30), font=_font(52))


def _paint_noodles(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for k in range(40):
        x = 70 + k * 4.5
        draw.line((x, 40, x + rng.randint(-6, 6), 230), fill=(150 + rng.randint(0, 30), 120, 120), width=3)
    draw.rectangle((60, 120, 260, 145), fill=(200, 40, 40))


def _paint_bag(draw: ImageDraw.ImageDraw, _rng: random.Random) -> None:
    draw.rounded_rectangle((80, 40, 240, 240), radius=20, fill=(190, 160, 110), outline=(130, 100, 60), width=4)


def _darker(color: Color) -> Color:
    return (color[0] * 3 // 4, color[1] * 3 // 4, color[2] * 3 // 4)


def _lighter(color: Color) -> Color:
    return (min(255, color[0] + 40), min(255, color[1] + 60), min(255, color[2] + 60))


# SKU prefix -> (painter, background colour).
PAINTERS: dict[str, tuple[Painter, Color]] = {
    "ORANGE": (_paint_oranges, (255, 236, 200)),
    "APRICOT": (_paint_apricots, (255, 246, 214)),
    "TEA": (_paint_tea, (226, 240, 214)),
    "SUGAR": (_paint_sugar, (245, 228, 205)),
    "SHIITAKE": (_paint_shiitake, (236, 228, 214)),
    "MOONCAKE": (_paint_mooncake, (252, 226, 214)),
    "SWEETPOTATO": (_paint_noodles, (242, 232, 226)),
}
