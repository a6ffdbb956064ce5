"""Finding the CJK font and loading it at the sizes the overlays need.

Chinese text must render as real glyphs, never tofu boxes, so the studio
uses one font that covers both Simplified Chinese and Latin text and says
which one. ``FARMLIVE_CJK_FONT`` overrides the search.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from PIL import ImageFont

ENV_VAR = "FARMLIVE_CJK_FONT"

# Known locations, in order of preference: WenQuanYi Micro Hei is what
# scripts/setup.sh installs (Debian package fonts-wqy-microhei), Noto Sans CJK
# (fonts-noto-cjk) is the common alternative.
KNOWN_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/System/Library/Fonts/PingFang.ttc"),
    Path("C:/Windows/Fonts/msyh.ttc"),
)

INSTALL_HINT = (
    "no CJK font found for the zh-CN overlays: install one, e.g. "
    "`sudo apt-get install fonts-wqy-microhei` (or fonts-noto-cjk), "
    f"or point {ENV_VAR} at a .ttf/.ttc/.otf file that has Chinese glyphs"
)


class FontNotFound(FileNotFoundError):
    """No usable CJK font: the message says which Debian package to install."""


def find_cjk_font(candidates: Iterable[Path], *, use_fontconfig: bool = True) -> Path:
    """The first existing candidate, else what fontconfig matches for zh-CN."""
    for path in candidates:
        if path.is_file():
            return path
    if use_fontconfig:
        found = _fontconfig_match()
        if found is not None:
            return found
    raise FontNotFound(INSTALL_HINT)


def _fontconfig_match() -> Path | None:
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.strip().rstrip(":") for line in out.splitlines() if line.strip())
    # Prefer sans-serif faces: they stay legible when small on a phone.
    files.sort(key=lambda f: ("Serif" in f or "serif" in f, f))
    return Path(files[0]) if files else None


@functools.cache
def cjk_font_path() -> Path:
    """The font file every overlay text is drawn with (CJK and Latin alike)."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FontNotFound(f"{ENV_VAR}={override} is not a font file")
        return path
    return find_cjk_font(KNOWN_FONTS)


@functools.cache
def _face_index(path: Path) -> int:
    """In a collection (.ttc) pick the Simplified Chinese face (e.g. "Noto Sans CJK SC")."""
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(16):
        try:
            family = ImageFont.truetype(str(path), 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC") or "Micro Hei" in family or "Zen Hei" in family:
            return index
    return 0


@functools.lru_cache(maxsize=64)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``size`` px, cached: overlays re-render on every change."""
    path = cjk_font_path()
    return ImageFont.truetype(str(path), max(int(size), 6), index=_face_index(path))


def font_description() -> str:
    """Human-readable "family (file)" for logs and the docs."""
    font = cjk_font(12)
    family, style = font.getname()
    return f"{family} {style} ({cjk_font_path()})"


# A code point in a private-use plane no font covers: how the font draws "missing".
_MISSING = "\U000F0000"


@functools.lru_cache(maxsize=4096)
def has_glyph(char: str) -> bool:
    """False when the font would draw ``char`` as a tofu box (e.g. emoji in WenQuanYi)."""
    if char.isascii() or char.isspace():
        return True
    font = cjk_font(32)
    drawn, missing = font.getmask(char), font.getmask(_MISSING)
    return drawn.size != missing.size or bytes(drawn) != bytes(missing)


def printable(text: str) -> str:
    """``text`` without the characters the font cannot draw ("🔥爆款 赣南脐橙" -> "爆款 赣南脐橙")."""
    return " ".join("".join(c for c in text if has_glyph(c)).split())
