"""Per-product clips of an ended show, ranked by sales, ready to post.

:func:`make_clips` is the API; ``farmlive clips`` and the Analytics page's
button are thin layers over it. The plan (which stretch of which chapter,
in what order) is pure analytics (:func:`analytics.replay.clip_plan`); the
cutting is stream copy (:func:`studio.media.replay.cut`), so a clip is the
recorded picture itself, card and QR code burned in, made in a fraction of
a second. Everything is written into a scratch folder next to the target
and moved into place at the end: a failure leaves nothing half-made.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import pandas as pd
import sqlite_utils

from analytics.frames import load_link_events, load_show
from analytics.replay import clip_plan, records
from catalog.products import Product, UnknownProduct, get_product
from catalog.shows import UnknownShow, get_show
from catalog.timestamps import parse_iso
from studio.media.replay import BadRecording, Part, cut, finalise_show, find_qr_frame, recordings_of

CSV_COLUMNS = [
    "rank", "clip", "cover", "caption", "sku", "name", "name_zh", "price", "currency", "unit", "link",
    "orders", "revenue", "gpm", "activity", "start_s", "end_s", "seconds", "part",
]


class ClipsRefused(Exception):
    """Why no clips were made, in English and Chinese (the CLI prints both, exit 1)."""

    def __init__(self, code: str, detail: str, detail_zh: str) -> None:
        super().__init__(detail)
        self.code, self.detail, self.detail_zh = code, detail, detail_zh

    def bilingual(self) -> str:
        return f"{self.detail}\n{self.detail_zh}"


@dataclass(frozen=True)
class Clip:
    rank: int
    clip: str
    cover: str
    caption: str
    sku: str
    name: str
    name_zh: str
    price: float
    currency: str
    unit: str
    link: str
    orders: int
    revenue: float
    gpm: float
    activity: int
    start_s: float  # show clock: seconds since the show started
    end_s: float
    seconds: float
    part: int


@dataclass(frozen=True)
class ClipsResult:
    folder: Path
    clips: list[Clip]
    skipped: list[str] = field(default_factory=list)  # one bilingual line per chapter left out
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.clips)} clips in {self.folder} · 已生成 {len(self.clips)} 个短视频"]
        lines += [
            f"  {c.rank:>2}. {c.clip}  {c.name_zh} {c.name}  {c.seconds:.0f} s  orders {c.orders}" for c in self.clips
        ]
        lines += [f"  skipped · 跳过: {line}" for line in self.skipped]
        lines += [f"  note · 说明: {line}" for line in self.notes]
        return "\n".join(lines)


def default_folder(data_dir: Path, show_id: int) -> Path:
    return data_dir / "clips" / f"show-{show_id}"


def make_clips(
    db: sqlite_utils.Database,
    data_dir: Path,
    show_id: int,
    out: Path | None = None,
    *,
    min_s: float = 20.0,
    max_s: float = 90.0,
) -> ClipsResult:
    """Cut one MP4 per product on-air interval of an ended show into ``out`` (replaced whole).

    Each clip gets a cover JPEG (a frame whose QR decodes to the product's
    buy link: the card is fully drawn) and a caption text file. Raises
    :class:`ClipsRefused` for an unknown or live show, no readable
    recording, an empty on-air log or nothing long enough, before writing.
    """
    out = out or default_folder(data_dir, show_id)
    if not 0 < min_s <= max_s:
        raise ClipsRefused(
            "bad_limits",
            f"--min-seconds must be above 0 and at most --max-seconds (got {min_s:g} and {max_s:g}).",
            f"--min-seconds 必须大于 0 且不大于 --max-seconds（现在是 {min_s:g} 秒和 {max_s:g} 秒）。",
        )
    try:
        show = get_show(db, show_id)
    except UnknownShow:
        raise ClipsRefused("unknown_show", f"There is no show {show_id}.", f"没有第 {show_id} 场直播。") from None
    if show.live:
        raise ClipsRefused(
            "show_live", f"Show {show_id} is still live: end it first.", f"第 {show_id} 场直播还在进行，请先结束直播。"
        )
    recordings = data_dir / "recordings"
    finalised = finalise_show(recordings, data_dir / "replays", show_id)
    if finalised.waiting:
        raise ClipsRefused(
            "recording_busy",
            f"The recording of show {show_id} is still being written: try again in a few seconds.",
            f"第 {show_id} 场直播的录像还在写入，请几秒后再试。",
        )
    if not finalised.parts:
        if recordings_of(recordings, show_id):
            raise ClipsRefused(
                "no_recording",
                f"The recording of show {show_id} cannot be read (empty or damaged).",
                f"第 {show_id} 场直播的录像无法读取（为空或已损坏）。",
            )
        raise ClipsRefused("no_recording", f"Show {show_id} was not recorded.", f"第 {show_id} 场直播没有录像。")
    data = load_show(db, show_id)
    plan = clip_plan(data, load_link_events(db, show_id), min_s=min_s, max_s=max_s)
    if data.overlay_events["sku"].notna().sum() == 0:
        raise ClipsRefused(
            "no_products", f"No product was on air in show {show_id}.", f"第 {show_id} 场直播没有上架任何商品。"
        )
    if plan.empty:
        raise ClipsRefused(
            "too_short",
            f"No product was on air for {min_s:g} s or more: lower --min-seconds.",
            f"没有商品连续上架 {min_s:g} 秒以上，请调小 --min-seconds。",
        )
    offsets = [(part.started_at - parse_iso(show.started_at)).total_seconds() for part in finalised.parts]
    notes = [f"{part.path.name}: the studio stopped mid-show; clips use the recording up to there"
             " · 直播间意外中断，短视频只用到中断处的录像"
             for part in finalised.parts if not part.complete]
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        clips, skipped = _cut_all(
            db, show_id, plan, parts=finalised.parts, offsets=offsets, folder=scratch, min_s=min_s
        )
        _refuse_if_none(clips, skipped)
        _write_csv(scratch / "clips.csv", clips)
        _replace(out, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return ClipsResult(out, clips, skipped, notes)


def _refuse_if_none(clips: list[Clip], skipped: list[str]) -> None:
    """No clip at all: say why, with the reason each product was skipped."""
    if not clips:
        raise ClipsRefused(
            "not_recorded",
            "None of the products' on-air time is in the recording. " + " ".join(skipped),
            "商品上架的时段都没有录像。",
        )


def _cut_all(
    db: sqlite_utils.Database,
    show_id: int,
    plan: pd.DataFrame,
    *,
    parts: list[Part],
    offsets: list[float],
    folder: Path,
    min_s: float,
) -> tuple[list[Clip], list[str]]:
    clips: list[Clip] = []
    skipped: list[str] = []
    # The show's own links (an own-QR destination's links carry its name).
    own = "SELECT sku, code FROM links WHERE show_id = ? AND destination IS NULL"
    links = dict(db.execute(own, [show_id]).fetchall())
    for row in records(plan):
        label = f"chapter {row['chapter']} {row['sku']} ({row['start_s']:.0f}–{row['end_s']:.0f} s)"
        found = _part_for(parts, offsets, row["start_s"], row["end_s"])
        code = links.get(row["sku"])
        if found is None or code is None:
            skipped.append(f"{label}: not in the recording · 无录像")
            continue
        index, start, end = found
        if end - start < min_s:
            skipped.append(f"{label}: only {end - start:.0f} s recorded · 录像不足 {min_s:g} 秒")
            continue
        rank = len(clips) + 1
        stem = f"{rank:02d}-{_safe(row['sku'])}"
        clip_path = folder / f"{stem}.mp4"
        try:
            span = cut(parts[index].path, clip_path, start - offsets[index], end - offsets[index],
                       metadata={"title": f"{row['name_zh']} {row['name']}".strip(), "comment": f"/b/{code}"})
        except BadRecording as error:
            skipped.append(f"{label}: {error}")
            continue
        cover = find_qr_frame(clip_path, code)
        if cover is None:  # the card never showed whole: not a clip to post
            clip_path.unlink(missing_ok=True)
            skipped.append(f"{label}: no frame shows the product's QR code · 画面中没有清晰的商品二维码")
            continue
        image, link = cover
        cv2.imwrite(str(folder / f"{stem}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        product = _product(db, row["sku"])
        caption = caption_text(product, row["name"], row["name_zh"], link)
        (folder / f"{stem}.txt").write_text(caption, encoding="utf-8")
        clip_start = offsets[index] + span.start_s
        clip_end = offsets[index] + span.end_s
        clips.append(
            Clip(
                rank=rank, clip=clip_path.name, cover=f"{stem}.jpg", caption=f"{stem}.txt", sku=row["sku"],
                name=row["name"], name_zh=row["name_zh"], price=product.price if product else 0.0,
                currency=product.currency if product else "CNY", unit=product.unit if product else "",
                link=link, orders=int(row["orders"]), revenue=float(row["revenue"]), gpm=float(row["gpm"]),
                activity=int(row["activity"]), start_s=round(clip_start, 3), end_s=round(clip_end, 3),
                seconds=round(clip_end - clip_start, 3), part=index + 1,
            )
        )
    return clips, skipped


def _part_for(parts: list[Part], offsets: list[float], start: float, end: float) -> tuple[int, float, float] | None:
    """The part holding most of ``[start, end)`` (show clock) and the span inside it."""
    best = None
    for index, (part, offset) in enumerate(zip(parts, offsets, strict=True)):
        lo, hi = max(start, offset), min(end, offset + part.duration_s)
        if hi > lo and (best is None or hi - lo > best[2] - best[1]):
            best = (index, lo, hi)
    return best


def _product(db: sqlite_utils.Database, sku: str) -> Product | None:
    try:
        return get_product(db, sku)
    except UnknownProduct:
        return None


def caption_text(product: Product | None, name: str, name_zh: str, link: str) -> str:
    """A post's text: bilingual name, price and the tracked buy link (the one in the QR code)."""
    lines = [f"{name_zh} {name}".strip()]
    if product is not None:
        symbol = "¥" if product.currency == "CNY" else f"{product.currency} "
        unit = f" / {product.unit}" if product.unit else ""
        lines.append(f"{symbol}{product.price:.2f}{unit}")
        if product.origin:
            lines.append(f"产地 Origin: {product.origin}")
    lines.append(f"立即购买 Buy now: {link}")
    return "\n".join(lines) + "\n"


def _safe(sku: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in sku)[:60]


def _write_csv(path: Path, clips: list[Clip]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as file:  # BOM: Excel shows the Chinese
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for clip in clips:
            writer.writerow({column: getattr(clip, column) for column in CSV_COLUMNS})


def _replace(out: Path, scratch: Path) -> None:
    """Move the finished folder into place; an older set of clips is swapped out, then removed."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    scratch.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
