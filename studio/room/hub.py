"""The live room: comments, mutes and the pinned message, pushed to every viewer over one WebSocket each.

:class:`Room` is the one writer of the room's live state (connected clients,
muted viewers, the pinned message). What happens in the room is gathered for
:data:`BATCH_S` and sent to every page as one message, serialised once: a page
gets at most ten sends a second however fast the comments come, so a busy
room never crowds the studio's event loop (which also runs the show's output
clock). A client that cannot keep up is disconnected instead of slowing the
others (its page reconnects and gets the recent comments again).

The room also carries the show state (:mod:`studio.showstate`): whenever the
studio's phase, product on air, promo or stock changes, the next batch holds a
``show`` message with the state as it is at send time (one per batch however
many changes came), and ``hello`` carries it for a page that (re)connects.

A *show follower* (the farmer's phone page, ``/room/ws?only=show``) gets that
show state and nothing else: no comments to download on a weak uplink, nothing
it may post, and it is not counted among the room's connected viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import WSMsgType, web

from analytics import comments as store
from analytics import draws
from catalog import parse_iso, to_iso, utc_now
from overlays import Headline
from studio.errors import Problem
from studio.limits import Rate, RateLimiter
from studio.room.rules import CommentRefused, banned_words, check_comment, is_want, want_keywords
from studio.showstate import show_state
from studio.state import OnAir, Studio

log = logging.getLogger(__name__)

#: Comments a newly connected page starts with.
BACKLOG = 30
#: Messages waiting for one slow client before it is dropped.
CLIENT_QUEUE = 256
#: One WebSocket message from a viewer: a comment and its JSON, with room to spare.
MAX_MESSAGE = 4096
MAX_CLIENTS = 5000
#: How long the room gathers what happened before sending it to every page in one message.
BATCH_S = 0.1
MAX_CLIENTS_PER_IP = 1000  # rural carriers put whole villages behind one address (CGNAT)
#: How long the winner's name stays across the top of the picture.
WINNER_SHOWN_S = 20.0
MAX_PRIZE = 40
MAX_KEYWORD = 20
DRAW_SECONDS = (10, 1800)


@dataclass(eq=False)
class Client:
    viewer_id: str
    ip: str
    socket: web.WebSocketResponse
    #: Only the show state, read-only, not a viewer (the phone page); it still counts towards the room's caps.
    show_only: bool = False
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))


def refused(error: CommentRefused, status: int = 400) -> Problem:
    return Problem(status, error.code, error.detail, error.detail_zh)


class Room:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self._banned = banned_words(studio.config.data_dir)
        self._want = want_keywords(studio.config.data_dir)
        # A person types a comment every few seconds at most; a script does not.
        self._per_viewer = RateLimiter(Rate(burst=3, every=2.0))
        # Loose per address: rural carriers put whole villages behind one (CGNAT).
        self._per_ip = RateLimiter(Rate(burst=60, every=1 / 30))
        self._clients: set[Client] = set()
        self._show_id: int | None = None
        self._muted: set[str] = set()
        self.pinned: store.Pin | None = None
        self.delivered = 0  # messages queued to clients, for the benchmark
        self.draw: draws.Draw | None = None  # the draw running now
        self._timers: set[asyncio.Task[None]] = set()
        self._closing: set[asyncio.Future[bool]] = set()  # slow clients being disconnected
        self._outbox: list[dict[str, Any]] = []  # gathered for the next batch
        self._flush_timer: asyncio.TimerHandle | None = None
        self._show_due = False  # the show state changed since the last batch
        self._unsubscribe = studio.add_listener(self._show_changed)

    @property
    def clients(self) -> int:
        """Connected viewers' pages; show followers (the farmer's phone) are not viewers."""
        return sum(1 for client in self._clients if not client.show_only)

    # -- the show the room belongs to ---------------------------------------
    async def _sync_show(self) -> int:
        """The live show's id; the room's mutes and pin follow a change of show."""
        show = self.studio.show
        if show is None:
            raise Problem(
                409, "show_not_live", "comments open when the show starts", "直播开始后才能评论"
            )
        if show.id != self._show_id:
            self._muted = await self.studio.db(store.muted_viewers, show.id)
            self.pinned = await self.studio.db(store.current_pin, show.id)
            self._show_id = show.id
        return show.id

    # -- what viewers do -------------------------------------------------
    async def post(self, viewer_id: str, ip: str, nickname: object, text: object) -> store.Comment:
        """Check, store, then show a comment to everyone; a :class:`Problem` says why not."""
        show_id = await self._sync_show()
        try:
            name, said = check_comment(nickname, text, self._banned.words())
        except CommentRefused as error:
            raise refused(error) from None
        if viewer_id in self._muted:
            raise Problem(403, "muted", "the host has muted you for this show", "主播已将你禁言")
        wait = self._per_ip.take(ip)
        if not wait:
            wait = self._per_viewer.take(viewer_id)
            if wait:
                self._per_ip.give_back(ip)  # the address's allowance is not spent on a refused comment
        if wait:
            wait = max(wait, 1.0)
            raise Problem(
                429,
                "too_many_comments",
                f"slow down: try again in {wait:.0f} s",
                f"评论太快了，请 {wait:.0f} 秒后再试",
                headers={"Retry-After": f"{wait:.0f}"},
            )
        name = name or f"观众{viewer_id[-4:]}"
        comment = await self.studio.db(
            store.record_comment,
            show_id,
            viewer_id,
            name,
            said,
            sku=self.studio.on_air.sku,
            want=is_want(said, self._want.words()),
        )
        self.broadcast({"type": "comment", "comment": comment.public()})
        return comment

    async def backlog(self, show_only: bool = False) -> dict[str, Any]:
        """What a page shows when it (re)connects: recent comments and the pinned message."""
        if show_only:
            return {"type": "hello", "live": self.studio.show is not None, "show": show_state(self.studio)}
        if self.studio.show is None:
            return {"type": "hello", "live": False, "comments": [], "pinned": None, "show": show_state(self.studio)}
        show_id = await self._sync_show()
        recent = await self.studio.db(store.recent_comments, show_id, limit=BACKLOG)
        return {
            "type": "hello",
            "live": True,
            "show": show_state(self.studio),
            "comments": [c.public() for c in recent],
            "pinned": self.pinned.public() if self.pinned else None,
            "draw": self.draw.public() if self.draw and self.draw.show_id == show_id else None,
        }

    # -- what the host does ------------------------------------------------
    async def hide(self, comment_id: int) -> store.Comment:
        try:
            comment = await self.studio.db(store.hide_comment, comment_id)
        except store.UnknownComment:
            raise Problem(404, "unknown_comment", f"unknown comment {comment_id}", f"找不到评论 {comment_id}") from None
        self.broadcast({"type": "hide", "id": comment.id})
        return comment

    async def mute(self, viewer_id: str, muted: bool = True) -> None:
        show_id = await self._sync_show()
        if muted:
            await self.studio.db(store.mute_viewer, show_id, viewer_id)
            self._muted.add(viewer_id)
        else:
            await self.studio.db(store.unmute_viewer, show_id, viewer_id)
            self._muted.discard(viewer_id)

    async def pin(self, text: object, on_video: bool = False) -> store.Pin:
        show_id = await self._sync_show()
        try:
            _, message = check_comment("", text, ())
        except CommentRefused as error:
            raise refused(error) from None
        self.pinned = await self.studio.db(store.record_pin, show_id, message, on_video=on_video)
        self.broadcast({"type": "pin", "pinned": self.pinned.public()})
        self._show_headline()
        return self.pinned

    async def unpin(self) -> None:
        show_id = await self._sync_show()
        await self.studio.db(store.unpin, show_id)
        self.pinned = None
        self.broadcast({"type": "pin", "pinned": None})
        self._show_headline()

    # -- lucky draws ---------------------------------------------------------------
    async def start_draw(self, prize: object, rule: object, keyword: object, seconds: object) -> draws.Draw:
        """Open a draw for the live show; the studio draws the winner by itself when time is up."""
        show_id = await self._sync_show()
        if self.draw is not None and self.draw.status == "open":
            raise Problem(409, "draw_running", "a lucky draw is already running", "已有福袋正在进行")
        checked = _check_draw(prize, rule, keyword, seconds)
        ends_at = to_iso(utc_now() + _seconds(checked["seconds"]))
        self.draw = await self.studio.db(
            draws.open_draw, show_id, checked["prize"], checked["rule"], ends_at, keyword=checked["keyword"]
        )
        self.broadcast({"type": "draw", "draw": self.draw.public()})
        self._show_headline()
        self._schedule(self.draw)
        return self.draw

    async def cancel_draw(self, draw_id: int) -> draws.Draw:
        try:
            draw = await self.studio.db(draws.cancel_draw, draw_id)
        except draws.UnknownDraw:
            raise Problem(404, "unknown_draw", f"unknown draw {draw_id}", f"找不到福袋 {draw_id}") from None
        if self.draw is not None and self.draw.id == draw.id:
            self.draw = draw
            self.broadcast({"type": "draw", "draw": draw.public()})
            self._show_headline()
        return draw

    async def resume_draws(self) -> None:
        """After a restart: a draw left open is drawn when its time is up (or at once if it is past)."""
        for draw in await self.studio.db(draws.open_draws):
            self.draw = draw
            self._schedule(draw)

    def _schedule(self, draw: draws.Draw) -> None:
        task = asyncio.ensure_future(self._finish(draw))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _finish(self, draw: draws.Draw) -> None:
        delay = (parse_iso(draw.ends_at) - utc_now()).total_seconds()
        await asyncio.sleep(max(delay, 0.0))
        try:
            closed = await self.studio.db(draws.close_draw, draw.id)
        except Exception:
            log.exception("drawing lucky draw %d failed", draw.id)
            return
        if closed.status == "cancelled":
            return
        if self.draw is not None and self.draw.id == closed.id:
            self.draw = closed
        self.broadcast({"type": "draw", "draw": closed.public()})
        self._show_headline()
        await asyncio.sleep(WINNER_SHOWN_S)
        if self.draw is not None and self.draw.id == closed.id:
            self.draw = None
            self._show_headline()

    def _show_headline(self) -> None:
        """The one line across the picture: a running draw, then its winner, else a pin the host put on video."""
        headline = None
        draw = self.draw
        if draw is not None and draw.show_id == (self.studio.show.id if self.studio.show else None):
            if draw.status == "open":
                join = f"评论“{draw.keyword}”参与" if draw.rule == "comment" else "下单即参与 order to enter"
                headline = Headline(_fit(f"福袋 Lucky draw · {draw.prize} · {join}"), kind="draw", ends_at=draw.ends_at)
            elif draw.status == "drawn" and draw.winner_name:
                headline = Headline(_fit(f"福袋中奖 Winner: {draw.winner_name} · {draw.prize}"), kind="draw")
            elif draw.status == "no_entrants":
                headline = Headline(_fit(f"福袋无人参与 No entrants · {draw.prize}"), kind="draw")
        if headline is None and self.pinned is not None and self.pinned.on_video:
            headline = Headline(_fit(self.pinned.text), kind="pinned")
        if headline != self.studio.on_air.headline:
            self.studio.set_headline(headline)

    # -- delivery ------------------------------------------------------------
    def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every page with whatever else happens within :data:`BATCH_S`."""
        self._outbox.append(message)
        self._flush_soon()

    def _show_changed(self, _on_air: OnAir) -> None:
        """The studio changed something every screen shows: the new show state goes with the next batch."""
        self._show_due = True
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a change made before the server runs): pages read it in hello
            self._flush_timer = loop.call_later(BATCH_S, self._flush)

    def _flush(self) -> None:
        """One message for everything gathered (a ``batch`` when more than one), serialised once.

        A full queue drops that client, not the message for the others.
        """
        self._flush_timer = None
        messages, self._outbox = self._outbox, []
        show: dict[str, Any] | None = None
        if self._show_due:
            self._show_due = False
            show = {"type": "show", "state": show_state(self.studio)}
            messages.append(show)
        if not messages or not self._clients:
            return
        batch = messages[0] if len(messages) == 1 else {"type": "batch", "messages": messages}
        text = json.dumps(batch, ensure_ascii=False)
        # Show followers get the show message alone (serialised once too), and nothing when it did not change.
        show_text = None if show is None else text if batch is show else json.dumps(show, ensure_ascii=False)
        for client in list(self._clients):
            payload = show_text if client.show_only else text
            if payload is None:
                continue
            try:
                client.queue.put_nowait(payload)
                self.delivered += 1
            except asyncio.QueueFull:
                log.info("room: dropping a client that fell %d messages behind", CLIENT_QUEUE)
                self._clients.discard(client)
                self._closing.add(asyncio.ensure_future(client.socket.close(code=1013, message=b"too slow")))
                self._closing = {task for task in self._closing if not task.done()}

    def admit(self, ip: str) -> None:
        if len(self._clients) >= MAX_CLIENTS:
            raise Problem(503, "room_full", "the room is full: try again soon", "直播间评论区已满，请稍后再试",
                          headers={"Retry-After": "10"})
        if sum(1 for c in self._clients if c.ip == ip) >= MAX_CLIENTS_PER_IP:
            raise Problem(429, "too_many_connections", "too many connections from your network",
                          "你所在网络的连接过多，请稍后再试", headers={"Retry-After": "10"})

    async def serve(self, client: Client) -> None:
        """Run one connected page: its writer, and its reader until it goes."""
        self._clients.add(client)
        writer = asyncio.ensure_future(self._write(client))
        try:
            await client.queue.put(json.dumps(await self.backlog(client.show_only), ensure_ascii=False))
            async for message in client.socket:
                if message.type != WSMsgType.TEXT:
                    break
                await self._receive(client, message.data)
        finally:
            self._clients.discard(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _receive(self, client: Client, data: str) -> None:
        if client.show_only:
            await client.queue.put(_error("read_only", "this connection only follows the show state",
                                          "此连接只接收直播状态"))
            return
        try:
            request = json.loads(data)
        except ValueError:
            request = None
        if not isinstance(request, dict) or request.get("type") != "comment":
            await client.queue.put(_error("bad_message", 'send {"type": "comment", "nickname": ..., "text": ...}',
                                          "消息格式错误"))
            return
        try:
            await self.post(client.viewer_id, client.ip, request.get("nickname"), request.get("text"))
        except Problem as problem:
            await client.queue.put(_error(problem.code, problem.detail, problem.detail_zh))

    async def _write(self, client: Client) -> None:
        while not client.socket.closed:
            text = await client.queue.get()
            try:
                await client.socket.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def close(self) -> None:
        self._unsubscribe()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush()  # what was said just before shutdown still goes out
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        for client in list(self._clients):
            await client.socket.close(code=1001, message=b"studio shutting down")
        self._clients.clear()


def _error(code: str, detail: str, detail_zh: str) -> str:
    return json.dumps({"type": "error", "code": code, "detail": detail, "detail_zh": detail_zh}, ensure_ascii=False)


def _fit(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def _check_draw(prize: object, rule: object, keyword: object, seconds: object) -> dict[str, Any]:
    """The draw as the room runs it, or a 400 problem naming the field to fix."""
    if not isinstance(prize, str) or not prize.strip() or len(prize.strip()) > MAX_PRIZE:
        raise Problem(
            400, "bad_draw", f"prize: 1 to {MAX_PRIZE} characters", f"奖品：1 到 {MAX_PRIZE} 个字", field="prize"
        )
    if rule not in draws.DRAW_RULES:
        raise Problem(
            400, "bad_draw", "rule must be comment or order", "参与方式须为 comment（评论）或 order（下单）",
            field="rule",
        )
    clean_keyword = keyword.strip() if isinstance(keyword, str) else ""
    if rule == "comment" and not (0 < len(clean_keyword) <= MAX_KEYWORD):
        raise Problem(400, "bad_draw", f"keyword: 1 to {MAX_KEYWORD} characters for a comment draw",
                      f"评论参与的福袋需要口令（1 到 {MAX_KEYWORD} 个字）", field="keyword")
    low, high = DRAW_SECONDS
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise Problem(400, "bad_draw", f"seconds: a whole number from {low} to {high}",
                      f"时长：{low} 到 {high} 之间的整数秒", field="seconds")
    return {"prize": prize.strip(), "rule": rule, "keyword": clean_keyword or None, "seconds": seconds}
