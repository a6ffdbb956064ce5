"""Studio settings: where data lives, where the server listens, the studio key."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from catalog.timestamps import DEFAULT_DISPLAY_TIMEZONE
from studio.order_guard import OrderLimits

IceScope = Literal["loopback", "machine", "any"]

KEY_FILENAME = "studio.key"
DEFAULT_DATA_DIR = "data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class StudioConfig:
    data_dir: Path
    key: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Public origin viewers reach the studio on; the QR buy codes encode it.
    base_url: str = ""
    lan: bool = False
    # RTCIceServer dicts (urls, username, credential); empty means host candidates only.
    ice_servers: list[dict[str, str]] = field(default_factory=list)
    ui_port: int = 8501
    # ``--ui-origin``: where the control room is opened when not on ``ui_port`` of this host (a reverse
    # proxy, another host name); its page may frame /watch and call ``PUT /api/overlay`` from the browser.
    ui_origins: tuple[str, ...] = ()
    # Shared secret of a coturn ``use-auth-secret`` server: browsers get short-lived TURN credentials.
    turn_secret: str = ""
    order_limits: OrderLimits = field(default_factory=OrderLimits)
    # ``--ice-loopback-only``: WebRTC on 127.0.0.1 alone (tests, benchmarks).
    ice_loopback_only: bool = False
    # The studio may switch to the hold slate by itself while the phone's uplink is unusable
    # (``--no-auto-hold`` turns it off; the host can also toggle it in the control room).
    auto_hold: bool = True
    # The one clock every screen and report shows times on (``--timezone``/``FARMLIVE_TIMEZONE``); UTC is stored.
    timezone: str = DEFAULT_DISPLAY_TIMEZONE

    @property
    def public_url(self) -> str:
        return public_url(self.base_url, self.host, self.port, self.lan)

    @property
    def ice_scope(self) -> IceScope:
        """Which addresses WebRTC may use (``studio.media.ice`` explains each scope).

        A studio bound to loopback talks WebRTC with this machine's own
        addresses only, so every client on the computer works and nothing
        leaves it; ``--lan`` or another host opens it to the network.
        """
        if self.ice_loopback_only:
            return "loopback"
        if self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127."):
            return "machine"
        return "any"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"


def public_url(base_url: str, host: str, port: int, lan: bool) -> str:
    """The origin phones and viewers reach the studio on: ``--base-url``, else the listen address.

    A function too, so ``farmlive pair`` builds the same link as ``farmlive up`` without a studio key.
    """
    if base_url:
        return base_url.rstrip("/")
    scheme = "https" if lan else "http"
    return f"{scheme}://{host}:{port}"


def load_or_create_key(data_dir: Path, explicit: str | None = None) -> tuple[str, bool]:
    """The studio key: ``--key``, else ``FARMLIVE_KEY``, else ``DATA_DIR/studio.key``.

    Returns ``(key, created)`` so the CLI can print a newly generated key once.
    """
    if explicit:
        return explicit, False
    if os.environ.get("FARMLIVE_KEY"):
        return os.environ["FARMLIVE_KEY"], False
    key_file = Path(data_dir) / KEY_FILENAME
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip(), False
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(18)
    key_file.write_text(key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    return key, True
