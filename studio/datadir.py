"""The data folder as one studio's private property: owner-only, locked while a studio runs.

The folder holds buyers' names, phones and addresses (``farmlive.db``) and the
studio key, so it is ``0700`` and the files that matter are ``0600``. A second
``farmlive up`` on the same folder would close the first one's viewer sessions
and record the show twice, so a running studio holds an exclusive ``flock`` on
``DATA_DIR/.farmlive.lock`` and a second one refuses to start. The kernel
drops the lock when the process dies, even by ``kill -9``: a stale lock file
never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_FILENAME = ".farmlive.lock"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: Files in the data folder only their owner may read (the database with its WAL, the key).
PRIVATE_FILES = ("farmlive.db", "farmlive.db-wal", "farmlive.db-shm", "studio.key")
#: What a studio leaves behind on its first start: a folder with either has been used.
STATE_FILES = ("farmlive.db", "studio.key")


class DataFolderBusy(RuntimeError):
    """Another studio holds the data folder: the message is bilingual, for the person at the terminal."""

    def __init__(self, folder: Path, holder: str) -> None:
        who = f" (process {holder})" if holder else ""
        super().__init__(
            f"another farmlive studio is already running on {folder}{who}: stop it first, "
            f"or give this one its own --data-dir / 另一个 farmlive 工作室正在使用数据文件夹 {folder}{who}，"
            "请先关闭它，或用 --data-dir 指定另一个文件夹"
        )
        self.folder = folder


@dataclass
class DataFolder:
    """An opened data folder: ``fresh`` when this run created it (or found it empty)."""

    path: Path
    fresh: bool
    _lock_fd: int | None = None

    def lock(self) -> None:
        """Take the folder for this process or raise :class:`DataFolderBusy`; held until :meth:`unlock` or exit."""
        fd = os.open(self.path / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise DataFolderBusy(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def open_data_folder(path: Path) -> DataFolder:
    """Create (``0700``) or tighten the folder and its private files; says whether it is new.

    A folder that already holds a studio's state (its database or its key) is
    never "fresh": if the database is missing there, it was lost, and the
    studio must not quietly seed a demo shop over the loss.
    """
    path = Path(path)
    fresh = not any((path / name).exists() for name in STATE_FILES)
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    path.chmod(FOLDER_MODE)
    for name in PRIVATE_FILES:
        if (path / name).exists():
            (path / name).chmod(FILE_MODE)
    return DataFolder(path, fresh)
