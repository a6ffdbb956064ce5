"""Shared fixtures: real SQLite files, a real studio on 127.0.0.1, real Chromium."""

from __future__ import annotations

import os
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import sqlite_utils
from aiohttp import web

import catalog
from catalog.products import Product, upsert_product
from studio.config import StudioConfig
from studio.media.pipeline import ShowPipeline
from studio.state import Studio

TEST_KEY = "test-studio-key"
ORANGES = Product("ORANGE-5KG", "Navel oranges", 59.0, name_zh="赣南脐橙", unit="5 kg box", stock=40)
TEA = Product("TEA-250G", "Mountain green tea", 88.0, name_zh="高山绿茶", unit="250 g tin", stock=12)
LOOPBACK = "127.0.0.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Keep WebRTC host candidates on loopback and unobfuscated (no mDNS names).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--enforce-webrtc-ip-permission-check=false",
    # Offer 127.0.0.1 as a host candidate: tests stay on loopback.
    "--allow-loopback-in-peer-connection",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def database_before(path: Path, marker: str) -> tuple[sqlite3.Connection, int]:
    """A database file at the schema just before the first migration containing ``marker``.

    For upgrade tests: write rows as an older release did, close, then ``catalog.connect`` migrates.
    """
    from catalog.schema import MIGRATIONS, _statements

    before = MIGRATIONS.index(next(step for step in MIGRATIONS if marker in step))
    old = sqlite3.connect(path)
    for step in MIGRATIONS[:before]:
        for statement in _statements(step):
            old.execute(statement)
    old.execute(f"PRAGMA user_version = {before}")
    return old, before


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def db(data_dir: Path) -> Iterator[sqlite_utils.Database]:
    database = catalog.open_db(data_dir)
    yield database
    database.conn.close()


@pytest.fixture
def studio_config(data_dir: Path) -> StudioConfig:
    port = free_port()
    # Tests stay on 127.0.0.1 (the default studio would also use this machine's interfaces).
    return StudioConfig(data_dir=data_dir, key=TEST_KEY, host=LOOPBACK, port=port, ice_loopback_only=True)


@dataclass
class RunningStudio:
    url: str
    app: web.Application
    config: StudioConfig

    @property
    def studio(self):  # type: ignore[no-untyped-def]
        from studio.state import STUDIO

        return self.app[STUDIO]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.key}"}


@pytest_asyncio.fixture
async def running_studio(studio_config: StudioConfig) -> AsyncIterator[RunningStudio]:
    """The full aiohttp app on a real 127.0.0.1 port, inside the test's event loop."""
    from studio.app import create_app

    app = create_app(studio_config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, studio_config.port)
    await site.start()
    try:
        yield RunningStudio(f"http://{LOOPBACK}:{studio_config.port}", app, studio_config)
    finally:
        await runner.cleanup()


@dataclass
class StudioProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    key: str = TEST_KEY

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def start_studio_process(data_dir: Path, port: int | None = None, *extra: str) -> StudioProcess:
    """``farmlive up --no-ui`` as a real process; waits for /healthz."""
    port = port or free_port()
    # The child writes to its own copy of the log's descriptor; ours closes at once.
    with open(data_dir / f"server-{port}.log", "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "studio.cli", "up", "--no-ui",
                "--data-dir", str(data_dir), "--host", LOOPBACK, "--port", str(port),
                "--key", TEST_KEY, "--ice-loopback-only", *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # --lan serves HTTPS with the studio's self-signed certificate.
    scheme = "https" if "--lan" in extra else "http"
    url = f"{scheme}://{LOOPBACK}:{port}"
    tls = ssl._create_unverified_context() if scheme == "https" else None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log_text = (data_dir / f"server-{port}.log").read_text()
            raise RuntimeError(f"studio exited with {process.returncode}: {log_text}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1, context=tls) as response:
                if response.status == 200:
                    return StudioProcess(url, data_dir, process)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("studio did not answer /healthz within 60 s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_studio_process(server: StudioProcess) -> None:
    stop_process(server.process)


def start_control_room_process(
    data_dir: Path, studio_url: str, ui_port: int, key: str = TEST_KEY
) -> tuple[subprocess.Popen[bytes], str]:
    """The Streamlit control room as ``farmlive up`` starts it, beside a running studio; waits for its health."""
    from studio.control_room.launch import start_control_room

    port = int(studio_url.rsplit(":", 1)[1])
    config = StudioConfig(data_dir=data_dir, key=key, host=LOOPBACK, port=port, ui_port=ui_port)
    # The child writes to its own copy of the log's descriptor; ours closes at once.
    with open(data_dir / "control-room.log", "ab") as log:
        process = start_control_room(config, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{LOOPBACK}:{ui_port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the control room exited: {(data_dir / 'control-room.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return process, url
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError("the control room did not start within 90 s") from None
            time.sleep(0.3)


@pytest.fixture
def studio_process(data_dir: Path) -> Iterator[StudioProcess]:
    server = start_studio_process(data_dir)
    try:
        yield server
    finally:
        stop_studio_process(server)


# Module scope: a sync Playwright session keeps its event loop running, which would
# break every pytest-asyncio test that runs after it in the same session.
@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Headless Debian Chromium with a fake camera; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


# -- an open studio and its show pipeline, in the test's event loop (pipeline and recorder tests) --
async def open_studio(config: StudioConfig) -> Studio:
    """A studio with two products, a live show and the oranges on air."""
    db = catalog.open_db(config.data_dir)
    upsert_product(db, ORANGES)
    upsert_product(db, TEA)
    db.conn.close()
    studio = Studio(config)
    await studio.open()
    await studio.start_show("Harvest live")
    await studio.put_on_air(ORANGES.sku)
    return studio


@pytest_asyncio.fixture
async def studio(studio_config: StudioConfig) -> AsyncIterator[Studio]:
    studio = await open_studio(studio_config)
    yield studio
    await studio.close()


@pytest_asyncio.fixture
async def pipeline(studio: Studio) -> AsyncIterator[ShowPipeline]:
    pipeline = ShowPipeline(studio)
    await pipeline.start()
    yield pipeline
    await pipeline.stop()
def buyer_cookie(n: int) -> dict[str, str]:
    """The ``Cookie`` header of buyer ``n`` for a session without a cookie jar (many buyers, one session)."""
    return {"Cookie": f"fl_viewer=test-buyer-{n:06d}"}


async def order_token(http, base_url: str, code: str, headers: dict[str, str] | None = None) -> str:  # type: ignore[no-untyped-def]
    """What a browser gets with the order form: a token bound to this session's ``fl_viewer`` cookie."""
    headers = {"Accept": "application/json", **(headers or {})}
    async with http.get(f"{base_url}/order/{code}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["order_token"])
