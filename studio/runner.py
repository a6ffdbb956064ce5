"""``farmlive up``: seed on first start, serve, and start the control room beside it."""

from __future__ import annotations

import argparse
import logging
import ssl
import subprocess
from pathlib import Path

from aiohttp import web

import catalog
from studio.config import DEFAULT_HOST, StudioConfig, load_or_create_key

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


def config_from_args(args: argparse.Namespace) -> tuple[StudioConfig, bool]:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    key, created = load_or_create_key(data_dir, args.key)
    host = args.host or ("0.0.0.0" if args.lan else DEFAULT_HOST)
    base_url = args.base_url
    if args.lan and not base_url:
        from studio.tls import lan_address

        base_url = f"https://{lan_address()}:{args.port}"
    config = StudioConfig(
        data_dir=data_dir,
        key=key,
        host=host,
        port=args.port,
        base_url=base_url,
        lan=args.lan,
        ice_servers=[parse_ice_server(u) for u in args.ice_server],
        ui_port=args.ui_port,
        ice_loopback_only=args.ice_loopback_only,
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


def run_from_args(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config, key_created = config_from_args(args)
    seeded = seed_if_new(config)
    if seeded:
        print(f"seeded the demo catalog with {seeded} farm products / 已载入 {seeded} 个示例农产品")
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

        web.run_app(
            create_app(config),
            host=config.host,
            port=config.port,
            ssl_context=ssl_context,
            print=None,
            handle_signals=True,
        )
    finally:
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
    import segno

    url = config.public_url
    publish = f"{url}/publish"
    print(f"farmlive studio: {url}")
    print(f"  phone camera / 手机开播: {publish}")
    print(f"  viewers / 观众观看:      {url}/watch")
    print(f"  control room / 控制台:   http://127.0.0.1:{config.ui_port}")
    print(f"  WebRTC / 连接范围:       {ICE_SCOPE_TEXT[config.ice_scope]}")
    if config.lan:
        from urllib.parse import quote

        print("Scan with the phone to go live (the code carries the studio key) / 用手机扫码开播（含直播密钥）:")
        # The /publish page takes ?key=, remembers it on the phone and removes it from the address bar.
        segno.make(f"{publish}?key={quote(config.key)}", error="m").terminal(compact=True)
