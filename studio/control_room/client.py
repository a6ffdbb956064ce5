"""A small synchronous client for the control API (Streamlit scripts are sync).

Plain ``urllib`` so the control room needs nothing beyond the standard library
to talk to the server; every failure becomes one :class:`ControlError` that
carries the server's English and Chinese message.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ControlError(Exception):
    """The studio refused or could not be reached; ``status`` 0 means unreachable."""

    def __init__(self, status: int, error: str, error_zh: str, details: Any = None) -> None:
        super().__init__(f"{status}: {error}" if status else error)
        self.status = status
        self.error = error
        self.error_zh = error_zh
        self.details = details

    def message(self, lang: str) -> str:
        return self.error_zh if lang == "zh" and self.error_zh else self.error


class ControlClient:
    def __init__(self, url: str, key: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        # `farmlive up --lan` serves HTTPS with a self-signed certificate made for
        # the LAN address; on loopback we are talking to our own server.
        self._ssl = None
        if urlsplit(self.url).hostname in LOOPBACK_HOSTS:
            self._ssl = ssl.create_default_context()
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE

    # -- API --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return self._call("GET", "/api/state")

    def start_show(self, title: str) -> dict[str, Any]:
        return self._call("POST", "/api/shows", {"title": title})

    def end_show(self, show_id: int) -> dict[str, Any]:
        return self._call("POST", f"/api/shows/{show_id}/end")

    def put_overlay(
        self, sku: str | None, layout: str = "auto", promo: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._call("PUT", "/api/overlay", {"sku": sku, "layout": layout, "promo": promo})

    def stats(self, show_id: int, *, summary: bool = False) -> dict[str, Any]:
        return self._call("GET", f"/api/shows/{show_id}/stats" + ("?summary=1" if summary else ""))

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        return self._call("POST", f"/api/orders/{int(order_id)}/cancel")

    def save_products(self, products: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("PUT", "/api/products", {"products": products})

    # -- the farmer's phone ------------------------------------------------------
    def new_pairing(self) -> dict[str, Any]:
        """A single-use pairing code and its ``pair_url`` for the phone QR (no key in it)."""
        return self._call("POST", "/api/pairing")

    def unpair_phones(self) -> dict[str, Any]:
        return self._call("DELETE", "/api/pairing/tokens")

    def set_auto_hold(self, enabled: bool) -> dict[str, Any]:
        return self._call("PUT", "/api/auto-hold", {"enabled": enabled})

    # -- the live room ----------------------------------------------------------
    def comments(self, after: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._call("GET", f"/api/comments?after={after}&limit={limit}")

    def hide_comment(self, comment_id: int) -> dict[str, Any]:
        return self._call("POST", f"/api/comments/{comment_id}/hide")

    def mute(self, viewer_id: str, muted: bool = True) -> dict[str, Any]:
        return self._call("POST", "/api/mutes", {"viewer_id": viewer_id, "muted": muted})

    def pin(self, text: str, on_video: bool = False) -> dict[str, Any]:
        return self._call("PUT", "/api/pin", {"text": text, "on_video": on_video})

    def unpin(self) -> dict[str, Any]:
        return self._call("DELETE", "/api/pin")

    def start_draw(self, prize: str, rule: str, keyword: str | None, seconds: int) -> dict[str, Any]:
        return self._call("POST", "/api/draws", {"prize": prize, "rule": rule, "keyword": keyword, "seconds": seconds})

    def draws(self) -> dict[str, Any]:
        return self._call("GET", "/api/draws")
    def destinations(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/destinations")["destinations"])

    def add_destination(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/destinations", body)

    def set_destination_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return self._call("PATCH", f"/api/destinations/{quote(name, safe='')}", {"enabled": enabled})

    def remove_destination(self, name: str) -> None:
        self._call("DELETE", f"/api/destinations/{quote(name, safe='')}")

    # -- transport ----------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise _error_from(error) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ControlError(
                0,
                f"studio not reachable at {self.url} ({reason})",
                f"无法连接工作室服务器 {self.url}（{reason}）",
            ) from None


def _error_from(error: urllib.error.HTTPError) -> ControlError:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    # application/problem+json (RFC 9457) with farmlive's Chinese member beside the English one.
    text = body.get("detail") or f"HTTP {error.code} {error.reason}"
    return ControlError(error.code, text, body.get("detail_zh") or text, body.get("errors"))
