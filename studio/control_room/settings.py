"""Where the control room finds the studio: environment variables.

``farmlive up`` sets them when it starts the control room beside the server;
set them yourself to run ``streamlit run studio/control_room/app.py`` alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from catalog.timestamps import DEFAULT_DISPLAY_TIMEZONE, UnknownTimezone, display_timezone
from studio.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, KEY_FILENAME


@dataclass(frozen=True)
class RoomSettings:
    url: str  # the studio server as the control room process reaches it
    key: str
    data_dir: Path
    # Served beyond this machine (`farmlive up --lan`): each browser session enters the key once.
    locked: bool = False
    # Every time on every page is shown on this clock (``FARMLIVE_TIMEZONE``, default Asia/Shanghai).
    timezone: str = DEFAULT_DISPLAY_TIMEZONE

    @classmethod
    def from_env(cls) -> RoomSettings:
        data_dir = Path(os.environ.get("FARMLIVE_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
        key = os.environ.get("FARMLIVE_KEY", "")
        key_file = data_dir / KEY_FILENAME
        if not key and key_file.exists():
            key = key_file.read_text(encoding="utf-8").strip()
        url = os.environ.get("FARMLIVE_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
        locked = os.environ.get("FARMLIVE_UI_LOCK", "").strip().lower() in ("1", "true", "yes")
        try:
            zone = display_timezone()
        except UnknownTimezone:  # `farmlive up` checks the zone; a hand-set bad one must not break every page
            zone = DEFAULT_DISPLAY_TIMEZONE
        return cls(url=url.rstrip("/"), key=key, data_dir=data_dir, locked=locked, timezone=zone)
