"""Start the Streamlit control room beside the studio server (``farmlive up``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from studio.config import StudioConfig
from studio.tls import ensure_certificate

APP = Path(__file__).with_name("app.py")


def control_room_env(config: StudioConfig) -> dict[str, str]:
    """The variables :class:`~studio.control_room.settings.RoomSettings` reads.

    The control room runs on this machine, so it reaches the server on loopback
    even when the server listens on every interface (``--lan``).
    """
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    scheme = "https" if config.lan else "http"
    return {
        "FARMLIVE_URL": f"{scheme}://{host}:{config.port}",
        "FARMLIVE_KEY": config.key,
        "FARMLIVE_DATA_DIR": str(config.data_dir),
        # On the LAN anyone on the Wi-Fi could open the control room: ask for the key.
        "FARMLIVE_UI_LOCK": "1" if config.lan else "0",
        "FARMLIVE_TIMEZONE": config.timezone,
    }


def control_room_command(config: StudioConfig) -> list[str]:
    """Streamlit on loopback; with ``--lan`` on every interface but over HTTPS with the studio's
    certificate, because the host types the studio key into it. Error details (tracebacks, paths)
    are never shown in the browser. Started through :mod:`studio.control_room.warm` (the page's heavy
    modules load while the server starts, not on the host's first visit), with nothing watched or
    rewritten: no file watcher, no "magic" (the pages call ``st.*`` themselves), no usage statistics."""
    command = [
        sys.executable, "-m", "studio.control_room.warm", "run", str(APP),
        "--server.port", str(config.ui_port),
        "--server.address", "0.0.0.0" if config.lan else "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--runner.magicEnabled", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--client.showErrorDetails", "false",
    ]
    if config.lan:
        cert, key = ensure_certificate(config.data_dir)
        command += ["--server.sslCertFile", str(cert), "--server.sslKeyFile", str(key)]
    return command


def control_room_url(config: StudioConfig) -> str:
    """Where the host opens the control room."""
    if config.lan:
        return f"https://{urlsplit(config.public_url).hostname}:{config.ui_port}"
    return f"http://127.0.0.1:{config.ui_port}"


def start_control_room(config: StudioConfig, **popen: object) -> subprocess.Popen[bytes]:
    """Run the control room as its own process; the caller terminates it."""
    env = {**os.environ, **control_room_env(config)}
    return subprocess.Popen(control_room_command(config), env=env, **popen)  # type: ignore[call-overload]
