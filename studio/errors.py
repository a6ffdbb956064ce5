"""One error shape at every HTTP edge: ``application/problem+json`` (RFC 9457).

Routes raise :class:`Problem`; :func:`problem_middleware` renders it, and
turns aiohttp's own errors (unknown route, wrong method, body too large) and
any unexpected exception into the same shape, so a client (the control room,
a WHIP encoder, a script) reads every refusal the same way. Every problem
carries English (``detail``) and Chinese (``detail_zh``) text for the person
in front of the screen, and a stable ``code`` for programs. Browser pages
that are forms (the order page) answer with their own bilingual HTML instead
of raising.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: aiohttp's own refusals, in both languages.
_STATUS_TEXT: dict[int, tuple[str, str]] = {
    404: ("no such page or route", "找不到该页面或接口"),
    405: ("method not allowed on this route", "该接口不支持此请求方法"),
    413: ("request body too large", "请求内容过大"),
    400: ("bad request", "请求有误"),
}


class Problem(Exception):
    """An error the caller can understand: HTTP status, a code, English and Chinese text.

    ``extra`` members are added to the JSON body (RFC 9457 extension members),
    e.g. the list of row errors of a catalog edit.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        detail_zh: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "detail_zh": self.detail_zh,
            **self.extra,
        }

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=dumps(self.body()),
            content_type=PROBLEM_TYPE,
            headers={"Cache-Control": "no-store", **self.headers},
        )


def dumps(value: Any) -> str:
    """JSON with Chinese left readable (not ``\\u`` escaped) for people reading API answers."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def from_http_exception(error: web.HTTPException) -> Problem:
    """aiohttp's refusal (404, 405, 413...) as a problem, keeping its headers (``Allow``...)."""
    detail, detail_zh = _STATUS_TEXT.get(error.status, (error.reason.lower(), error.reason))
    headers = {k: v for k, v in error.headers.items() if k.lower() not in ("content-type", "content-length")}
    return Problem(error.status, HTTPStatus(error.status).name.lower(), detail, detail_zh, headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every refusal as a problem; an unexpected exception is a logged 500, never a traceback."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise  # redirects and other non-errors pass through
        return from_http_exception(error).response()
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return Problem(
            500, "internal_error", "the studio failed to answer: see its log", "服务器处理出错，请查看日志"
        ).response()
