"""What the overlay should show: the product on air, its buy link, layout and promo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from catalog.products import Product
from overlays.headline import Headline
from overlays.promo import Promo

LAYOUTS: tuple[str, ...] = ("auto", "landscape", "portrait")
Orientation = Literal["landscape", "portrait"]


@dataclass(frozen=True)
class OverlaySpec:
    """Everything a render depends on besides the frame size and the clock."""

    product: Product | None
    link_url: str | None
    layout: str = "auto"
    promo: Promo | None = None
    image_root: Path | None = None
    headline: Headline | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")

    @property
    def sold_out(self) -> bool:
        """The sold-out banner shows for a sold_out promo or a product with no stock left."""
        if self.promo is not None and self.promo.kind == "sold_out":
            return True
        return self.product is not None and self.product.stock <= 0

    @property
    def banner(self) -> Promo | None:
        """The promo actually shown: sold out wins over a countdown or coupon."""
        if self.sold_out:
            return self.promo if self.promo is not None and self.promo.kind == "sold_out" else Promo("sold_out")
        return self.promo


def resolve_layout(layout: str, width: int, height: int) -> Orientation:
    """"auto" follows the frame: portrait when it is taller than wide (a phone held upright)."""
    if layout == "auto":
        return "portrait" if height > width else "landscape"
    if layout == "portrait":
        return "portrait"
    if layout == "landscape":
        return "landscape"
    raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
