"""Reading a JSON request body once, at the edge, into plain values the rest can trust.

Every route that takes JSON reads it here, so malformed input is one clear
``400`` everywhere instead of a ``500`` deep inside: invalid JSON or UTF-8,
nesting deep enough to exhaust the parser's recursion, and lone surrogates
(``"\\ud800"``) that Python accepts but SQLite and UTF-8 cannot store.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from studio.errors import Problem

#: Largest row id a route accepts: SQLite's INTEGER is signed 64-bit.
MAX_ROW_ID = 2**63 - 1


def bad_json(detail: str, detail_zh: str) -> Problem:
    return Problem(400, "bad_json", detail, detail_zh)


async def json_body(request: web.Request) -> Any:
    """The parsed body, or a ``400`` problem saying what is wrong with it."""
    raw = await request.read()
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad_json("body is not UTF-8 text", "请求内容不是 UTF-8 文本") from None
    except json.JSONDecodeError as error:
        raise bad_json(f"body is not valid JSON: {error}", "请求内容不是有效的 JSON") from None
    except ValueError:  # an integer of thousands of digits (Python's int conversion limit)
        raise bad_json("body holds a number too long to read", "请求内容中的数字过长") from None
    except RecursionError:
        raise bad_json("body is nested too deeply", "请求内容嵌套过深") from None
    if _has_lone_surrogate(value):
        raise bad_json("body holds broken text (a lone UTF-16 surrogate)", "请求内容含有无效字符")
    return value


async def json_object(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_json("request body must be a JSON object", "请求内容必须是 JSON 对象")
    return body


def row_id(text: str) -> int | None:
    """A path segment as a database row id (1 .. 2^63-1), or None."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
