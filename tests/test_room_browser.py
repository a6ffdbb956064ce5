"""The live room in a phone-sized Chromium: post, see it, see the host's pin; no comment can run script."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import StudioProcess

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "javascript:alert(4)",
)


def api(server: StudioProcess, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={**server.auth, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_viewer_comments_and_no_payload_ever_runs(browser: Any, studio_process: StudioProcess) -> None:
    api(studio_process, "POST", "/api/shows", {"title": "Tea tasting 品茶"})
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    dialogs: list[str] = []
    try:
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{studio_process.url}/watch")
        page.wait_for_function("window.farmliveRoom.socket && window.farmliveRoom.socket.readyState === 1")
        page.fill("#nickname", "<b>茶友</b>")
        for index, payload in enumerate(PAYLOADS):
            page.fill("#comment-text", payload)
            page.click("#comment-form button[type=submit]")
            page.wait_for_function(f"document.querySelectorAll('#comments li').length === {index + 1}")
            if index == 2:  # a person types slower than a script: stay inside the per-viewer limit
                page.wait_for_timeout(2100)
        texts = page.eval_on_selector_all("#comments li span:last-child", "nodes => nodes.map(n => n.textContent)")
        assert texts == list(PAYLOADS)  # shown literally
        markup = "#comments img, #comments script, #comments svg, #comments b"
        assert page.eval_on_selector_all(markup, "nodes => nodes.length") == 0
        assert page.inner_text("#comments li .who") == "<b>茶友</b>"
        # The host pins a message: it reaches the open page without a reload.
        api(studio_process, "PUT", "/api/pin", {"text": "<i>今晚包邮</i> free shipping"})
        page.wait_for_selector("#pinned:not([hidden])")
        assert page.inner_text("#pinned") == "<i>今晚包邮</i> free shipping"
        # A refused comment explains itself next to the box, in Chinese first.
        page.fill("#comment-text", "加微信 便宜")
        page.click("#comment-form button[type=submit]")
        page.wait_for_function("document.getElementById('room-status').textContent.length > 0")
        assert "不允许" in page.inner_text("#room-status")
        page.screenshot(path=str(studio_process.data_dir / "room.png"))
    finally:
        context.close()
    assert dialogs == []
    listing = api(studio_process, "GET", "/api/comments")
    assert [c["text"] for c in listing["comments"]] == list(PAYLOADS)


def test_a_viewer_joins_a_lucky_draw_with_one_tap_and_sees_the_winner(
    browser: Any, studio_process: StudioProcess
) -> None:
    api(studio_process, "POST", "/api/shows", {"title": "Draw 福袋"})
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{studio_process.url}/watch")
        page.wait_for_function("window.farmliveRoom.socket && window.farmliveRoom.socket.readyState === 1")
        page.fill("#nickname", "小明")
        draw = {"prize": "一箱橙子", "rule": "comment", "keyword": "扣1", "seconds": 10}
        api(studio_process, "POST", "/api/draws", draw)
        page.wait_for_selector("#draw:not([hidden])")
        assert "扣1" in page.inner_text("#draw-how")
        assert page.inner_text("#draw-clock").startswith("00:")
        page.click("#draw-join")  # sends the keyword as a comment
        page.wait_for_function("document.querySelectorAll('#comments li').length === 1")
        page.wait_for_function("document.getElementById('draw-clock').textContent.includes('小明')", timeout=20000)
        assert "1 人参与" in page.inner_text("#draw-how")
    finally:
        context.close()
