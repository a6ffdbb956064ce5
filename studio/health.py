"""Is the database the studio writes to still the one on disk, and still readable?

SQLite keeps writing happily into a file that was deleted (or replaced) under
it, and a connection's page cache can hide a file corrupted behind its back:
orders would be acknowledged into a file nobody will ever read again. So the
studio remembers which file it opened (device and inode) and checks:

* ``same_file`` — a ``stat`` of the data path against the opened file; cheap
  (microseconds), so every order does it on the database thread before and
  after its write;
* ``check`` — that plus ``PRAGMA quick_check`` on a fresh read-only connection
  (no cache to hide behind), run off the event loop and the database thread,
  cached for a second (longer when the check itself is slow), and shared by
  concurrent callers. ``/healthz`` and the order path read it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Seconds a health result is reused; a slow check is reused for 10x its own duration.
HEALTH_TTL = 1.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = "ok"
    detail_zh: str = "正常"


class DatabaseLost(RuntimeError):
    """The open database is no longer the file at the data path (deleted, moved or replaced)."""

    def __init__(self, health: Health) -> None:
        super().__init__(health.detail)
        self.health = health


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = os.stat(path)
        return cls(st.st_dev, st.st_ino)


class DbHealth:
    def __init__(self, db_file: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db_file = db_file
        self.clock = clock
        self.opened: FileIdentity | None = None
        self._cached: tuple[float, Health] | None = None
        self._running: asyncio.Future[Health] | None = None

    def remember_opened(self) -> None:
        """Called right after the studio's connection opened the file."""
        self.opened = FileIdentity.of(self.db_file)

    def same_file(self) -> Health:
        """Cheap: is the file at the data path the one the studio has open?"""
        if self.opened is None:
            return Health(True)
        try:
            now = FileIdentity.of(self.db_file)
        except OSError:
            return Health(
                False,
                f"the database file {self.db_file.name} is gone from the data folder: restore the folder "
                "from a backup and restart the studio",
                "数据文件夹中的数据库文件已不存在：请从备份恢复数据文件夹并重启工作室",
            )
        if now != self.opened:
            return Health(
                False,
                f"the database file {self.db_file.name} was replaced while the studio ran: restart the studio",
                "运行中的数据库文件被替换：请重启工作室",
            )
        return Health(True)

    def require_same_file(self) -> None:
        """Raise :class:`DatabaseLost` unless :meth:`same_file` is fine (for the database thread)."""
        health = self.same_file()
        if not health.ok:
            raise DatabaseLost(health)

    def full_check(self) -> Health:
        """``same_file`` plus ``PRAGMA quick_check`` on a fresh read-only connection (blocking)."""
        health = self.same_file()
        if not health.ok:
            return health
        try:
            conn = sqlite3.connect(f"{self.db_file.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
            try:
                result = conn.execute("PRAGMA quick_check").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as error:
            return _corrupt(str(error))
        if not result or result[0] != "ok":
            return _corrupt(str(result[0]) if result else "no answer")
        return Health(True)

    async def check(self) -> Health:
        """:meth:`full_check`, cached and shared: many callers at once cost one check."""
        now = self.clock()
        if self._cached is not None and now < self._cached[0]:
            return self._cached[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._check_now())
        return await asyncio.shield(self._running)

    def recent(self) -> Health | None:
        """The last known result without waiting (None before the first); starts a refresh when stale.

        The order path reads this: an order never waits for an integrity check,
        but a failed one refuses orders from then on.
        """
        if (self._cached is None or self.clock() >= self._cached[0]) and self._running is None:
            self._running = asyncio.ensure_future(self._check_now())
        return self._cached[1] if self._cached is not None else None

    async def _check_now(self) -> Health:
        started = self.clock()
        try:
            health = await asyncio.get_running_loop().run_in_executor(None, self.full_check)
        finally:
            self._running = None
        took = self.clock() - started
        self._cached = (self.clock() + max(HEALTH_TTL, 10 * took), health)
        return health


def _corrupt(reason: str) -> Health:
    return Health(
        False,
        f"the database failed its integrity check ({reason[:200]}): stop the studio and restore the data folder "
        "from a backup",
        "数据库完整性检查失败：请停止工作室并从备份恢复数据文件夹",
    )
