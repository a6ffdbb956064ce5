"""One error shape at every HTTP edge: application/problem+json (RFC 9457), English and Chinese."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from studio.errors import PROBLEM_TYPE, Problem, problem_middleware
from tests.conftest import LOOPBACK, RunningStudio, free_port

pytestmark = pytest.mark.asyncio
SDP = "application/sdp"


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kwargs) as response:
        assert response.content_type == PROBLEM_TYPE, await response.text()
        return response.status, await response.json(), response.headers


def assert_problem(body: dict[str, Any], status: int, code: str) -> None:
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["detail"] and body["detail_zh"]
    assert body["detail"] != body["detail_zh"]  # both languages, not one copied


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/no-such-page", {}, 404, "not_found"),
        ("DELETE", "/healthz", {}, 405, "method_not_allowed"),
        ("GET", "/api/state", {}, 401, "studio_key_required"),
        ("GET", "/api/state", {"headers": {"Authorization": "Bearer wrong"}}, 401, "studio_key_required"),
        ("PUT", "/api/overlay", {"data": b"{", "auth": True}, 400, "bad_json"),
        ("PUT", "/api/overlay", {"json": {"sku": "NOPE"}, "auth": True}, 404, "unknown_sku"),
        ("POST", "/api/shows/abc/end", {"auth": True}, 404, "unknown_show"),
        ("PUT", "/api/products", {"data": b"x" * (1024**2 + 1), "auth": True}, 413, "request_entity_too_large"),
        ("POST", "/whip", {"data": "hello", "headers": {"Content-Type": SDP}, "auth": True}, 400, "bad_offer"),
        ("POST", "/whep", {"data": "v=0", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ("PATCH", "/whep/abc", {}, 405, "trickle_not_supported"),
        ("DELETE", "/whep/abc", {}, 404, "unknown_session"),
        ("GET", "/live/../../pyproject.toml", {}, 404, "not_found"),
        ("GET", "/live/nothing.js", {}, 404, "unknown_asset"),
        ("GET", "/images/missing.png", {}, 404, "unknown_image"),
        ("POST", "/order/nope", {"json": {"quantity": 1}}, 404, "unknown_link"),
    ],
)
async def test_every_edge_refuses_with_one_problem_shape(
    running_studio: RunningStudio, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    if kwargs.pop("auth", False):
        kwargs["headers"] = {**running_studio.auth, **kwargs.get("headers", {})}
    got, body, headers = await fetch(method, running_studio.url + path, **kwargs)
    assert got == status
    assert_problem(body, status, code)
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")
    if path.startswith(("/whip", "/whep")):  # a WHEP player on another origin can read why
        assert headers["Access-Control-Allow-Origin"] == "*"
    assert running_studio.studio.show is None  # no refusal changed the studio


async def test_an_unexpected_failure_is_a_500_problem_without_internals() -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret path /root/data/farmlive.db")

    async def refused(request: web.Request) -> web.Response:
        raise Problem(409, "busy", "try later", "请稍后再试", retry_in=3)

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/broken", broken)
    app.router.add_get("/refused", refused)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOOPBACK, port).start()
    try:
        status, body, _ = await fetch("GET", f"http://{LOOPBACK}:{port}/broken")
        assert status == 500
        assert_problem(body, 500, "internal_error")
        assert "secret" not in str(body) and "Traceback" not in str(body)
        status, body, _ = await fetch("GET", f"http://{LOOPBACK}:{port}/refused")
        assert (status, body["retry_in"]) == (409, 3)  # extension members travel with the problem
        assert_problem(body, 409, "busy")
    finally:
        await runner.cleanup()
