"""Simulcast destinations: where the show is pushed (a platform's RTMP URL plus stream key).

Every platform takes a third-party stream the same way: an ``rtmp://`` or
``rtmps://`` server URL (推流地址) and a stream key (推流码). The key is a
secret: anyone holding it can broadcast on the farm's account. So it never
enters the database: it is written to its own file under ``DATA_DIR/secrets/``
with owner-only permissions (0600, folder 0700), and everything else only
ever sees it masked as ``****abcd``. :func:`redact` strips it (and the full
push URL) from error text, because FFmpeg errors quote the URL they failed on.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from catalog.schema import transaction
from catalog.timestamps import now_iso

SECRETS_DIRNAME = "secrets"
NAME_MAX = 40
KEY_MAX = 500
URL_MAX = 500


@dataclass(frozen=True)
class Preset:
    """A platform and where on it the farmer finds the push URL and stream key."""

    id: str
    label: str
    label_zh: str
    where: str
    where_zh: str


PRESETS: dict[str, Preset] = {
    preset.id: preset
    for preset in (
        Preset(
            "wechat", "WeChat Channels", "微信视频号",
            "Channels Assistant (channels.weixin.qq.com) → Live management → Create live → push "
            "with a live streaming tool: copy the push URL and the stream key. They change for every "
            "live room, so paste them again before each show.",
            "视频号助手（channels.weixin.qq.com）→ 直播管理 → 创建直播 → 选择“使用直播工具推流”，"
            "复制“推流地址”和“推流密钥”。每场直播都会变化，开播前请重新粘贴。",
        ),
        Preset(
            "douyin", "Douyin", "抖音",
            "Douyin Live Companion or the creator web console (creator.douyin.com) → Live → "
            "start with third-party push (OBS): copy the server URL and the stream key.",
            "抖音直播伴侣或抖音创作者中心（creator.douyin.com）→ 直播 → 第三方推流（OBS 推流），"
            "复制“推流地址”和“推流码”。",
        ),
        Preset(
            "kuaishou", "Kuaishou", "快手",
            "Kuaishou live companion or the web console (studio.kuaishou.com) → Go live → "
            "push stream (OBS): copy the push URL and the stream key.",
            "快手直播伴侣或快手直播后台（studio.kuaishou.com）→ 开始直播 → 推流直播（OBS），"
            "复制“推流地址”和“推流密钥”。",
        ),
        Preset(
            "taobao", "Taobao Live", "淘宝直播",
            "Taobao Live anchor workbench (liveplatform.taobao.com) → Create live → "
            "push with a streaming tool: copy the push URL and the stream key.",
            "淘宝直播中控台（liveplatform.taobao.com）→ 创建直播 → 选择“推流直播”，"
            "复制“推流地址”和“推流密钥”。",
        ),
        Preset(
            "bilibili", "Bilibili", "哔哩哔哩",
            "Bilibili live centre (link.bilibili.com) → My live room → Start live: copy the "
            "server address (rtmp://…) and the stream key (直播码).",
            "B 站直播中心（link.bilibili.com）→ 我的直播间 → 开始直播，复制“服务器地址”和“串流密钥”。",
        ),
        Preset(
            "youtube", "YouTube", "YouTube",
            "YouTube Studio → Create → Go live → Stream: copy the stream URL (use the "
            "rtmps:// one) and the stream key.",
            "YouTube 工作室 → 创建 → 开始直播 → 直播，复制“直播网址”（选 rtmps://）和“直播密钥”。",
        ),
        Preset(
            "custom", "Custom RTMP server", "自定义 RTMP 服务器",
            "Your own nginx-rtmp, SRS or MediaMTX: rtmp://HOST/APP and any stream name as the key "
            "(see docs/scale-out.md).",
            "自建的 nginx-rtmp、SRS 或 MediaMTX：地址 rtmp://主机/应用名，推流码为任意流名称（见 docs/scale-out.md）。",
        ),
    )
}


class DestinationError(ValueError):
    """Bad destination input, in English (the message) and Chinese (``detail_zh``)."""

    def __init__(self, detail: str, detail_zh: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_zh = detail_zh


class UnknownDestination(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown destination {name!r}")
        self.name = name


@dataclass(frozen=True)
class NewDestination:
    """A destination as parsed at the edge (CLI or API), key included; not stored yet."""

    name: str
    url: str
    key: str
    preset: str = "custom"
    own_qr: bool = False


@dataclass(frozen=True)
class Destination:
    """A stored destination: everything but the key, of which only the last 4 characters."""

    name: str
    preset: str
    url: str
    key_hint: str
    enabled: bool = True
    own_qr: bool = False

    @property
    def masked_key(self) -> str:
        return "****" + self.key_hint

    @property
    def label(self) -> str:
        return PRESETS[self.preset].label if self.preset in PRESETS else self.preset

    def to_json(self) -> dict[str, Any]:
        """What APIs and pages show: never the key itself."""
        return {
            "name": self.name,
            "preset": self.preset,
            "platform": self.label,
            "url": self.url,
            "key": self.masked_key,
            "enabled": self.enabled,
            "own_qr": self.own_qr,
        }


def mask(key: str) -> str:
    """``****abcd``: enough for the host to tell two keys apart, useless to anyone else."""
    return "****" + key[-4:]


def _text(value: object, field: str, field_zh: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DestinationError(f"{field} is required", f"请填写{field_zh}")
    return value.strip()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def parse_destination(
    name: object, url: object, key: object, preset: object = "custom", own_qr: object = False
) -> NewDestination:
    """Check a destination once, at the edge; raises :class:`DestinationError` saying why not."""
    name = _text(name, "name", "名称")
    if len(name) > NAME_MAX or "/" in name or _has_control(name):
        raise DestinationError(
            f"name must be at most {NAME_MAX} characters, without '/'",
            f"名称最多 {NAME_MAX} 个字符，且不能包含“/”",
        )
    url = _text(url, "URL", "推流地址")
    try:
        parts = urlsplit(url)
        hostname, scheme = parts.hostname, parts.scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        hostname, scheme = None, ""
    if not hostname or scheme not in ("rtmp", "rtmps"):
        raise DestinationError(
            "URL must start with rtmp:// or rtmps:// and name a server",
            "推流地址必须以 rtmp:// 或 rtmps:// 开头，并包含服务器地址",
        )
    if len(url) > URL_MAX or any(ch.isspace() for ch in url) or _has_control(url):
        raise DestinationError(
            f"URL must be at most {URL_MAX} characters, without spaces",
            f"推流地址最多 {URL_MAX} 个字符，且不能有空格",
        )
    if not isinstance(key, str) or not key.strip():
        raise DestinationError("stream key is empty", "推流码不能为空")
    key = key.strip()
    if len(key) > KEY_MAX or any(ch.isspace() for ch in key) or _has_control(key):
        raise DestinationError(
            f"stream key must be at most {KEY_MAX} characters, without spaces",
            f"推流码最多 {KEY_MAX} 个字符，且不能有空格",
        )
    if not isinstance(preset, str) or preset not in PRESETS:
        raise DestinationError(
            f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}",
            f"未知平台 {preset!r}：请使用 {'、'.join(PRESETS)} 之一",
        )
    if not isinstance(own_qr, bool):
        raise DestinationError("own_qr must be true or false", "own_qr 只能是 true 或 false")
    return NewDestination(name=name, url=url, key=key, preset=preset, own_qr=own_qr)


# -- storage ------------------------------------------------------------------
def secrets_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / SECRETS_DIRNAME


def _key_file(data_dir: str | Path, name: str) -> Path:
    # Named by a hash: a destination name may hold any characters (抖音主号).
    digest = hashlib.sha256(name.encode()).hexdigest()[:24]
    return secrets_dir(data_dir) / f"destination-{digest}.key"


def _write_secret(path: Path, text: str) -> None:
    """Owner-only from the first byte: the file is created 0600, never chmod-ed afterwards."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    path.chmod(0o600)  # a file left by an older run with looser permissions


def _row(row: tuple[Any, ...]) -> Destination:
    name, preset, url, key_hint, enabled, own_qr = row
    return Destination(name, preset, url, key_hint, bool(enabled), bool(own_qr))


_COLUMNS = "name, preset, url, key_hint, enabled, own_qr"


def list_destinations(db: sqlite_utils.Database, *, enabled_only: bool = False) -> list[Destination]:
    where = " WHERE enabled = 1" if enabled_only else ""
    rows = db.execute(f"SELECT {_COLUMNS} FROM destinations{where} ORDER BY created_at, name").fetchall()
    return [_row(row) for row in rows]


def get_destination(db: sqlite_utils.Database, name: str) -> Destination:
    row = db.execute(f"SELECT {_COLUMNS} FROM destinations WHERE name = ?", [name]).fetchone()
    if row is None:
        raise UnknownDestination(name)
    return _row(row)


def add_destination(db: sqlite_utils.Database, data_dir: str | Path, new: NewDestination) -> Destination:
    """Store ``new``: its row and its key file, or neither (a duplicate name stores nothing)."""
    with transaction(db):
        if db.execute("SELECT 1 FROM destinations WHERE name = ?", [new.name]).fetchone():
            raise DestinationError(
                f"a destination named {new.name!r} exists already", f"已有名为“{new.name}”的推流目标"
            )
        db.execute(
            "INSERT INTO destinations (name, preset, url, key_hint, enabled, own_qr, created_at) "
            "VALUES (?, ?, ?, ?, 1, ?, ?)",
            [new.name, new.preset, new.url, new.key[-4:], int(new.own_qr), now_iso()],
        )
        # Inside the transaction: if the key cannot be written, the row is rolled back.
        _write_secret(_key_file(data_dir, new.name), new.key)
    return get_destination(db, new.name)


def remove_destination(db: sqlite_utils.Database, data_dir: str | Path, name: str) -> None:
    with transaction(db):
        get_destination(db, name)
        db.execute("DELETE FROM destinations WHERE name = ?", [name])
    _key_file(data_dir, name).unlink(missing_ok=True)


def set_enabled(db: sqlite_utils.Database, name: str, enabled: bool) -> Destination:
    with transaction(db):
        get_destination(db, name)
        db.execute("UPDATE destinations SET enabled = ? WHERE name = ?", [int(enabled), name])
    return get_destination(db, name)


def read_key(data_dir: str | Path, name: str) -> str:
    return _key_file(data_dir, name).read_text(encoding="utf-8").strip()


# -- never show the key ---------------------------------------------------------
# Up to whitespace or a quote, not taking the punctuation that ends a sentence.
_URL = re.compile(r"rtmps?://[^\s'\"]*[^\s'\":,.;)]", re.IGNORECASE)


def redact(text: str, *secrets: str) -> str:
    """``text`` without any of ``secrets`` and with every RTMP URL cut to its server.

    FFmpeg errors name the URL they failed on, and a push URL ends with the
    stream key; some platforms also put signed tokens in the URL's query.
    """
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        # Not even the last four characters: next to other text they could rebuild the key.
        text = text.replace(secret, "****")
    return _URL.sub(_server_only, text)


def _server_only(match: re.Match[str]) -> str:
    try:
        parts = urlsplit(match.group(0))
    except ValueError:
        return "rtmp://****"
    return f"{parts.scheme}://{parts.hostname}/****"
