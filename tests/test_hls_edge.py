"""The studio as HLS origin behind a real NGINX caching edge (docs/nginx/hls-edge.conf) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import LOOPBACK, RunningStudio, free_port
from tests.nginx import Nginx, render
from tests.test_hls import segments_in, wait_for_segments
from tests.test_reach import live_show_with_oranges


def edge_for(origin_port: int, directory: Path) -> Nginx:
    port = free_port()
    directory.mkdir(parents=True)
    config = render(
        "hls-edge.conf",
        EDGE_LISTEN=f"{LOOPBACK}:{port}",
        ORIGIN_HOST=f"{LOOPBACK}:{origin_port}",
        EDGE_DIR=str(directory),
    )
    return Nginx(directory, config, port)


@pytest.fixture
def edge(tmp_path: Path, studio_config) -> Iterator[Nginx]:  # type: ignore[no-untyped-def]
    server = edge_for(studio_config.port, tmp_path / "edge")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def origin_fetches(edge: Nginx, uri: str) -> int:
    """How many times the edge went to the origin for ``uri`` (its access log)."""
    lines = (edge.directory / "access.log").read_text().splitlines()
    return sum(1 for line in lines if line.endswith(" " + uri) and line.split()[0] in ("MISS", "EXPIRED", "UPDATING"))


async def test_an_edge_fetches_each_segment_once_for_many_viewers(running_studio: RunningStudio, edge: Nginx) -> None:
    await live_show_with_oranges(running_studio)
    show_id = running_studio.studio.show.id
    edge_url = f"http://{LOOPBACK}:{edge.port}/hls/{show_id}/index.m3u8"
    async with aiohttp.ClientSession() as http:
        playlist = await wait_for_segments(http, edge_url, 2)
        # 30 viewers refreshing the playlist together: the edge asks the origin at most
        # once for them (twice if the playlist's 1 s lifetime ends in between).
        playlist_path = f"/hls/{show_id}/index.m3u8"
        await asyncio.sleep(0.2)
        before = origin_fetches(edge, playlist_path)

        async def refresh() -> str:
            async with http.get(edge_url) as response:
                return response.headers["X-Cache-Status"]

        refreshed = await asyncio.gather(*(refresh() for _ in range(30)))
        await asyncio.sleep(0.2)
        assert origin_fetches(edge, playlist_path) - before <= 2
        assert refreshed.count("HIT") + refreshed.count("UPDATING") + refreshed.count("STALE") >= 28

        _, uri = segments_in(playlist)[-1]
        segment_path = f"/hls/{show_id}/{uri}"

        async def watch() -> bytes:
            async with http.get(f"http://{LOOPBACK}:{edge.port}{segment_path}") as response:
                assert response.status == 200 and "Set-Cookie" not in response.headers
                return await response.read()

        # 40 viewers ask for the same new segment at once: the origin is asked once.
        bodies = await asyncio.gather(*(watch() for _ in range(40)))
        async with http.get(f"{running_studio.url}{segment_path}") as response:
            from_origin = await response.read()
    assert all(body == from_origin for body in bodies) and len(from_origin) > 10_000
    await asyncio.sleep(0.2)  # the access log line of the last request
    assert origin_fetches(edge, segment_path) == 1
    statuses = [line.split()[0] for line in (edge.directory / "access.log").read_text().splitlines()
                if line.endswith(" " + segment_path)]
    assert statuses.count("HIT") >= 39


async def test_the_edge_passes_a_404_for_a_show_that_is_not_live(running_studio: RunningStudio, edge: Nginx) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{LOOPBACK}:{edge.port}/hls/42/index.m3u8") as response:
            assert response.status == 404
        async with http.get(f"http://{LOOPBACK}:{edge.port}/farmlive.db") as response:
            assert response.status == 404  # the edge serves /hls/ only
