"""Real NGINX for the tests: the config files of docs/nginx/, rendered into a temp dir.

NGINX runs in the foreground as one process (``master_process off``), so a
test can kill it outright (SIGKILL) to play a dead server, and start it again.
It only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import socket
import string
import subprocess
import time
from pathlib import Path

from tests.conftest import stop_process

NGINX = "/usr/sbin/nginx"
CONFIGS = Path(__file__).resolve().parent.parent / "docs" / "nginx"


def render(name: str, **values: str) -> str:
    """``docs/nginx/<name>`` with ``${NAME}`` placeholders filled in, as envsubst would."""
    return string.Template((CONFIGS / name).read_text(encoding="utf-8")).safe_substitute(values)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Nginx:
    """One NGINX process on a rendered config; ``start``/``kill``/``stop`` as a test needs."""

    def __init__(self, directory: Path, config_text: str, port: int) -> None:
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "nginx.conf"
        self.config.write_text(config_text, encoding="utf-8")
        self.error_log = directory / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                NGINX, "-p", str(self.directory), "-c", str(self.config), "-e", str(self.error_log),
                "-g",
                f"daemon off; master_process off; pid {self.directory / 'nginx.pid'}; error_log {self.error_log} info;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {self.error_log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-stream, as a crashed relay or a lost route would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=5)
