"""``farmlive up``: seed on first start, serve, and start the control room beside it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import ssl
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import catalog
from catalog import to_display
from studio.config import DEFAULT_HOST, StudioConfig, load_or_create_key, public_url
from studio.control_room.launch import control_room_url
from studio.datadir import DataFolderBusy, open_data_folder
from studio.order_guard import OrderLimits
from studio.serve import quiet_logging, raise_open_file_limit, serve
from studio.turn import SERVER_TTL, is_turn, with_rest_credentials

log = logging.getLogger("farmlive")


def parse_ice_server(url: str) -> dict[str, str]:
    """``turn:user:secret@host:3478`` -> RTCIceServer dict; plain ``stun:host:port`` too."""
    scheme, _, rest = url.partition(":")
    if scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise ValueError(f"ICE server must look like stun:host:port or turn:user:pass@host:port, got {url!r}")
    if "@" in rest:
        credentials, _, address = rest.rpartition("@")
        username, _, credential = credentials.partition(":")
        return {"urls": f"{scheme}:{address}", "username": username, "credential": credential}
    return {"urls": url}


def ice_servers_from_args(args: argparse.Namespace) -> list[dict[str, str]]:
    """``--ice-server`` entries; with ``--turn-secret`` the studio's own TURN credentials come from the secret."""
    servers = [parse_ice_server(u) for u in args.ice_server]
    secret = args.turn_secret or os.environ.get("FARMLIVE_TURN_SECRET", "")
    if secret:
        return with_rest_credentials(servers, secret, ttl=SERVER_TTL)
    if any(is_turn(s) for s in servers):
        log.warning(
            "a TURN server with a static password is used by the studio only, never handed to browsers: "
            "give coturn use-auth-secret and farmlive --turn-secret so viewers get short-lived credentials"
        )
    return servers


def parse_origin(value: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin`` (lower case, no path, no default port)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise SystemExit(f"farmlive: --ui-origin {value!r} is not an origin like https://studio.example:8501")
    try:
        port = parts.port
    except ValueError:
        raise SystemExit(f"farmlive: --ui-origin {value!r} has a bad port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def ui_origins_from_args(args: argparse.Namespace) -> tuple[str, ...]:
    """``--ui-origin`` (repeatable), else ``FARMLIVE_UI_ORIGIN`` (comma-separated)."""
    given = list(getattr(args, "ui_origin", None) or []) or os.environ.get("FARMLIVE_UI_ORIGIN", "").split(",")
    return tuple(dict.fromkeys(parse_origin(value) for value in given if value.strip()))


def address_from_args(args: argparse.Namespace) -> tuple[str, str]:
    """``(host, base_url)`` from ``--host``/``--lan``/``--port``/``--base-url``: ``up`` listens there and
    ``pair`` links there, so a pairing QR printed by either opens the same studio."""
    host = args.host or ("0.0.0.0" if args.lan else DEFAULT_HOST)
    base_url = args.base_url
    if args.lan and not base_url:
        from studio.tls import lan_address

        base_url = f"https://{lan_address()}:{args.port}"
    return host, base_url


def config_from_args(args: argparse.Namespace) -> tuple[StudioConfig, bool]:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    key, created = load_or_create_key(data_dir, args.key)
    host, base_url = address_from_args(args)
    config = StudioConfig(
        data_dir=data_dir,
        key=key,
        host=host,
        port=args.port,
        base_url=base_url,
        lan=args.lan,
        ice_servers=ice_servers_from_args(args),
        ui_port=args.ui_port,
        ui_origins=ui_origins_from_args(args),
        turn_secret=args.turn_secret or os.environ.get("FARMLIVE_TURN_SECRET", ""),
        order_limits=replace(OrderLimits(), per_ip=replace(OrderLimits().per_ip, burst=args.orders_per_ip)),
        ice_loopback_only=args.ice_loopback_only,
        auto_hold=getattr(args, "auto_hold", True),
        timezone=catalog.display_timezone(getattr(args, "timezone", None)),
    )
    return config, created


def seed_if_new(config: StudioConfig) -> int:
    """First start: fill an empty catalog with the demo farm products."""
    from catalog.demo import seed_demo_catalog

    db = catalog.open_db(config.data_dir)
    try:
        if db.execute("SELECT COUNT(*) FROM products").fetchone()[0] == 0:
            return seed_demo_catalog(db, config.data_dir)
        return 0
    finally:
        db.conn.close()


def catalog_has_products(config: StudioConfig) -> bool:
    db = catalog.open_db(config.data_dir)
    try:
        return bool(db.execute("SELECT EXISTS (SELECT 1 FROM products)").fetchone()[0])
    finally:
        db.conn.close()


def run_from_args(args: argparse.Namespace) -> int:
    handler = logging.StreamHandler()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", handlers=[handler])
    quiet_logging(handler)
    os.umask(0o077)  # everything the studio writes (database, key, recordings) is the owner's alone
    folder = open_data_folder(Path(args.data_dir).resolve())
    try:
        folder.lock()
    except DataFolderBusy as busy:
        print(f"farmlive: {busy}", file=sys.stderr)
        return 3
    before, after = raise_open_file_limit()
    if after > before:
        log.info("open-file limit raised from %d to %d", before, after)
    config, key_created = config_from_args(args)
    if folder.fresh:
        if seeded := seed_if_new(config):
            print(f"seeded the demo catalog with {seeded} farm products / 已载入 {seeded} 个示例农产品")
    elif not catalog_has_products(config):
        print(
            f"the data folder {config.data_dir} already existed but its catalog is empty: no demo shop is seeded "
            "over it. If farmlive.db was lost, stop now and restore it from your backup. / "
            "数据文件夹已存在但商品目录为空，不会自动载入示例商品；如数据库丢失，请先从备份恢复。",
            file=sys.stderr,
        )
    if key_created:
        print(f"studio key (saved in {config.data_dir / 'studio.key'}): {config.key}")
    ssl_context = None
    if config.lan:
        from studio.tls import ensure_certificate

        cert, private_key = ensure_certificate(config.data_dir)
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(cert, private_key)
    print_banner(config)
    ui_process: subprocess.Popen[bytes] | None = None
    if not args.no_ui:
        from studio.control_room.launch import start_control_room

        ui_process = start_control_room(config)
    try:
        from studio.app import create_app

        asyncio.run(
            serve(
                create_app(config),
                config.host,
                config.port,
                ssl_context=ssl_context,
                per_ip=args.max_connections_per_ip,
            )
        )
    finally:
        folder.unlock()
        if ui_process is not None:
            ui_process.terminate()
            try:
                ui_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ui_process.kill()
    return 0


#: What the studio's ICE scope means to the person starting it (docs/media-http.md).
ICE_SCOPE_TEXT = {
    "machine": "clients on this computer (phones: add --lan) / 本机上的客户端（手机请加 --lan）",
    "loopback": "127.0.0.1 only (--ice-loopback-only) / 仅限 127.0.0.1",
    "any": "any network address / 任何网络地址",
}


def print_banner(config: StudioConfig) -> None:
    url = config.public_url
    print(f"farmlive studio: {url}")
    print(f"  phone camera / 手机开播: {url}/publish")
    print(f"  viewers / 观众观看:      {url}/watch")
    print(f"  control room / 控制台:   {control_room_url(config)}")
    print(f"  WebRTC / 连接范围:       {ICE_SCOPE_TEXT[config.ice_scope]}")
    if config.lan:
        print_pairing(config.data_dir, url, config.timezone)


def pairing_lines(link: str, expires_at: str, timezone: str) -> list[str]:
    """What is printed above a pairing QR: how to use it, the link, and when it stops working (local clock)."""
    until = to_display(expires_at, timezone, "%H:%M:%S")
    return [
        (
            "Scan with the phone to pair and go live (single use, no studio key in it) / "
            "用手机扫码配对开播（仅限一次，不含直播间密钥）:"
        ),
        f"  {link}",
        (
            f"  valid until {until} ({timezone}); then run `farmlive pair` or use the control room's QR / "
            f"有效期至 {until}（{timezone}），过期后运行 farmlive pair 或扫描控制台的二维码"
        ),
    ]


def print_pairing(data_dir: Path, public_url: str, timezone: str) -> str:
    """A fresh single-use pairing code (``POST /api/pairing``'s code path, stored hashed in the data folder's
    database) printed as text and as a terminal QR; returns the link."""
    import segno

    from studio.phone import create_pairing_code, pair_url

    db = catalog.open_db(data_dir)
    try:
        code, expires_at = create_pairing_code(db)
    finally:
        db.conn.close()
    link = pair_url(public_url, code)
    print("\n".join(pairing_lines(link, expires_at, timezone)))
    segno.make(link, error="m").terminal(compact=True)
    sys.stdout.flush()
    return link


def pair_from_args(args: argparse.Namespace) -> int:
    """``farmlive pair``: a new pairing QR for the studio of ``--data-dir``, running or not."""
    data_dir = Path(args.data_dir).resolve()
    if not catalog.db_path(data_dir).exists():
        print(
            f"farmlive pair: {data_dir} holds no studio ({catalog.DB_FILENAME} is missing): "
            "start it once with farmlive up / 该文件夹中没有直播间数据，请先运行 farmlive up",
            file=sys.stderr,
        )
        return 2
    host, base_url = address_from_args(args)
    url = public_url(base_url, host, args.port, args.lan)
    if not base_url:
        print(
            f"note: {url} opens on this computer only; for a phone give the same --lan or --base-url as "
            "farmlive up / 注意：该链接仅限本机打开，手机配对请加上与 farmlive up 相同的 --lan 或 --base-url"
        )
    umask = os.umask(0o077)  # as `up`: the database's journal files are the owner's alone
    try:
        print_pairing(data_dir, url, catalog.display_timezone(args.timezone))
    except sqlite3.Error as error:  # a read-only or damaged database: say so, no traceback
        print(
            f"farmlive pair: could not store a pairing code in {catalog.db_path(data_dir)}: {error} / "
            "无法在数据库中保存配对码",
            file=sys.stderr,
        )
        return 2
    finally:
        os.umask(umask)
    return 0
