"""The live room around the video: viewers' comments, the host's moderation and pinned message.

Routes:

- ``GET /room/ws`` (public WebSocket): the page gets ``hello`` (recent comments,
  the pinned message), then ``comment``, ``hide`` and ``pin`` messages as they
  happen; it sends ``{"type": "comment", "nickname": ..., "text": ...}``.
  ``GET /room/ws?only=show`` (the phone page): ``hello`` with the show state,
  then ``show`` messages only; read-only, no viewer cookie, not counted.
- ``POST /room/comments`` (public JSON): the same comment without a WebSocket.
- ``/api/comments``, ``/api/comments/{id}/hide``, ``/api/mutes``, ``/api/pin``,
  ``/api/draws`` (studio key): what the control room reads and does.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from analytics import comments as store
from analytics import draws
from studio.auth import require_key
from studio.bodies import row_id
from studio.errors import Problem, dumps
from studio.room.hub import MAX_MESSAGE, Client, Room
from studio.state import STUDIO, studio_of
from studio.viewers import remember_viewer, viewer_id_of

ROOM = web.AppKey("room", Room)


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


async def room_socket(request: web.Request) -> web.StreamResponse:
    room = request.app[ROOM]
    ip = client_ip(request)
    room.admit(ip)
    # No per-message deflate: a comment is a few hundred bytes, and compressing it once per page
    # (20,000 times a second in a busy room) would cost more CPU than the bytes it saves.
    socket = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE, compress=False)
    if request.query.get("only") == "show":
        # The farmer's phone follows the show: the same public state as /watch/state, pushed instead of polled.
        await socket.prepare(request)
        await room.serve(Client("", ip, socket, show_only=True))
        return socket
    viewer_id, is_new = viewer_id_of(request)
    remember_viewer(socket, viewer_id, is_new)
    await socket.prepare(request)
    await room.serve(Client(viewer_id, ip, socket))
    return socket


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise Problem(400, "bad_json", "the body must be a JSON object", "请求内容必须是 JSON 对象")
    return body


async def post_comment(request: web.Request) -> web.Response:
    body = await _json_object(request)
    viewer_id, is_new = viewer_id_of(request)
    comment = await request.app[ROOM].post(viewer_id, client_ip(request), body.get("nickname"), body.get("text"))
    response = web.json_response(comment.public(), status=201, dumps=dumps)
    remember_viewer(response, viewer_id, is_new)
    return response


def _path_id(request: web.Request, code: str, what: str, what_zh: str) -> int:
    """The ``{id}`` of the path; anything that is not a row id is simply not found (404, never a 500)."""
    text = request.match_info["id"]
    row = row_id(text)
    if row is None:
        raise Problem(404, code, f"unknown {what} {text}", f"找不到{what_zh} {text}")
    return row


def _int_query(request: web.Request, name: str, default: int, limit: int) -> int:
    text = request.query.get(name, str(default))
    if not text.isdigit() or len(text) > 12:
        raise Problem(400, "bad_request", f"{name} must be a whole number", f"{name} 必须是整数")
    return min(int(text), limit)


async def list_comments(request: web.Request) -> web.Response:
    """The host's view: every comment (hidden ones marked), who posted it, and the live want counts."""
    studio = studio_of(request)
    require_key(request, studio.config.key)
    after = _int_query(request, "after", 0, 2**62)
    limit = _int_query(request, "limit", 100, 500)
    show = studio.show
    if show is None:
        return web.json_response({"show_id": None, "comments": [], "wants": {}, "pinned": None, "muted": []})
    rows = await studio.db(store.recent_comments, show.id, after_id=after, limit=limit, include_hidden=True)
    wants = await studio.db(store.want_counts, show.id)
    muted = await studio.db(store.muted_viewers, show.id)
    pinned = await studio.db(store.current_pin, show.id)
    return web.json_response(
        {
            "show_id": show.id,
            "comments": [{**c.public(), "viewer_id": c.viewer_id, "sku": c.sku, "hidden": c.hidden} for c in rows],
            "wants": wants,
            "pinned": pinned.public() if pinned else None,
            "muted": sorted(muted),
            "connected": request.app[ROOM].clients,
        },
        dumps=dumps,
    )


async def hide_comment(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    comment = await request.app[ROOM].hide(_path_id(request, "unknown_comment", "comment", "评论"))
    return web.json_response({"id": comment.id, "hidden": True})


async def mute(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    body = await _json_object(request)
    viewer_id = body.get("viewer_id")
    if not isinstance(viewer_id, str) or not 0 < len(viewer_id) <= 64:
        raise Problem(400, "bad_request", "viewer_id is required", "请提供 viewer_id")
    muted = body.get("muted", True)
    if not isinstance(muted, bool):
        raise Problem(400, "bad_request", "muted must be true or false", "muted 必须是 true 或 false")
    await request.app[ROOM].mute(viewer_id, muted)
    return web.json_response({"viewer_id": viewer_id, "muted": muted})


async def put_pin(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    body = await _json_object(request)
    on_video = body.get("on_video", False)
    if not isinstance(on_video, bool):
        raise Problem(400, "bad_request", "on_video must be true or false", "on_video 必须是 true 或 false")
    pin = await request.app[ROOM].pin(body.get("text"), on_video)
    return web.json_response(pin.public(), dumps=dumps)


async def delete_pin(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    await request.app[ROOM].unpin()
    return web.json_response({"pinned": None})


async def start_draw(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    body = await _json_object(request)
    room = request.app[ROOM]
    draw = await room.start_draw(body.get("prize"), body.get("rule"), body.get("keyword"), body.get("seconds"))
    return web.json_response(draw.audit(), status=201, dumps=dumps)


async def list_draws(request: web.Request) -> web.Response:
    """The live show's draws (or ``?show=ID``), each with the seed and entrants that reproduce its winner."""
    studio = studio_of(request)
    require_key(request, studio.config.key)
    show_id = _int_query(request, "show", studio.show.id if studio.show else 0, 2**62)
    past = await studio.db(draws.show_draws, show_id)
    return web.json_response({"show_id": show_id, "draws": [d.audit() for d in past]}, dumps=dumps)


async def cancel_draw(request: web.Request) -> web.Response:
    require_key(request, studio_of(request).config.key)
    draw = await request.app[ROOM].cancel_draw(_path_id(request, "unknown_draw", "draw", "福袋"))
    return web.json_response(draw.audit(), dumps=dumps)


def setup_routes(app: web.Application) -> None:
    room = Room(app[STUDIO])
    app[ROOM] = room
    app.router.add_get("/room/ws", room_socket)
    app.router.add_post("/room/comments", post_comment)
    app.router.add_get("/api/comments", list_comments)
    app.router.add_post("/api/comments/{id}/hide", hide_comment)
    app.router.add_post("/api/mutes", mute)
    app.router.add_put("/api/pin", put_pin)
    app.router.add_delete("/api/pin", delete_pin)
    app.router.add_post("/api/draws", start_draw)
    app.router.add_get("/api/draws", list_draws)
    app.router.add_delete("/api/draws/{id}", cancel_draw)

    async def _resume(app: web.Application) -> None:
        await room.resume_draws()

    async def _close(app: web.Application) -> None:
        await room.close()

    app.on_startup.append(_resume)
    app.on_shutdown.append(_close)
