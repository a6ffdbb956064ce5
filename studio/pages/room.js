// /watch: the live room. Comments arrive over one WebSocket; everything a viewer wrote is
// shown with textContent only, so no comment can ever become markup or script.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const list = $("comments");
  const form = $("comment-form");
  const nickname = $("nickname");
  const text = $("comment-text");
  const status = $("room-status");
  const pinned = $("pinned");
  const KEEP = 100; // comments kept on the page
  const NICK_KEY = "farmlive.nickname";
  let socket = null;
  let retryMs = 1000;

  nickname.value = localStorage.getItem(NICK_KEY) || "";

  function say(en, zh) {
    status.textContent = en ? `${zh} · ${en}` : "";
  }

  function addComment(comment) {
    if (document.querySelector(`[data-comment-id="${Number(comment.id)}"]`)) return;
    const item = document.createElement("li");
    item.dataset.commentId = String(Number(comment.id));
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = comment.nickname;
    const body = document.createElement("span");
    body.textContent = comment.text;
    if (comment.want) body.className = "want";
    item.append(who, body);
    list.append(item);
    while (list.children.length > KEEP) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  // The lucky draw: what to do to enter, a countdown, then the winner for everyone.
  let drawTimer = null;
  let drawKeyword = null;
  function showDraw(draw) {
    const box = $("draw");
    clearInterval(drawTimer);
    box.hidden = !draw || draw.status === "cancelled";
    if (box.hidden) return;
    $("draw-prize").textContent = draw.prize;
    drawKeyword = draw.status === "open" && draw.rule === "comment" ? draw.keyword : null;
    $("draw-join").hidden = !drawKeyword;
    if (draw.status === "open") {
      $("draw-how").textContent = draw.rule === "comment"
        ? `评论“${draw.keyword}”参与 · Comment "${draw.keyword}" to enter`
        : "期间下单即参与 · Order during the draw to enter";
      const tick = () => {
        const left = Math.max(0, Math.ceil((Date.parse(draw.ends_at) - Date.now()) / 1000));
        $("draw-clock").textContent = `${String(Math.floor(left / 60)).padStart(2, "0")}:${String(left % 60).padStart(2, "0")}`;
      };
      tick();
      drawTimer = setInterval(tick, 500);
    } else if (draw.status === "drawn") {
      $("draw-how").textContent = `${draw.entrants} 人参与 · ${draw.entrants} entered`;
      $("draw-clock").textContent = `中奖 Winner: ${draw.winner}`;
    } else {
      $("draw-how").textContent = "无人参与 · Nobody entered";
      $("draw-clock").textContent = "";
    }
  }

  $("draw-join").addEventListener("click", () => {
    if (!drawKeyword || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "comment", nickname: nickname.value.trim(), text: drawKeyword }));
  });

  function showPin(pin) {
    pinned.hidden = !pin;
    pinned.textContent = pin ? pin.text : "";
  }

  const handlers = {
    hello: (message) => {
      list.replaceChildren();
      message.comments.forEach(addComment);
      showPin(message.pinned);
      showDraw(message.draw);
      if (window.FarmliveShow) window.FarmliveShow.update(message.show);
    },
    // The show state (phase, card, stock) pushed by the studio: showstate.js shows it everywhere.
    show: (message) => window.FarmliveShow && window.FarmliveShow.update(message.state),
    draw: (message) => showDraw(message.draw),
    // What happened within 100 ms comes as one message.
    batch: (message) => message.messages.forEach(handle),
    comment: (message) => addComment(message.comment),
    hide: (message) => {
      const item = document.querySelector(`[data-comment-id="${Number(message.id)}"]`);
      if (item) item.remove();
    },
    pin: (message) => showPin(message.pinned),
    error: (message) => say(message.detail, message.detail_zh),
  };

  function handle(message) {
    const handler = handlers[message && message.type];
    if (handler) handler(message);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/room/ws`);
    socket.addEventListener("open", () => { retryMs = 1000; say("", ""); });
    socket.addEventListener("message", (event) => {
      let message = null;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      handle(message);
    });
    socket.addEventListener("close", () => {
      // Reconnect with backoff (a restarting studio, a phone switching networks).
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const said = text.value.trim();
    if (!said) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      say("Not connected yet, try again in a moment", "还没连上，请稍后再试");
      return;
    }
    localStorage.setItem(NICK_KEY, nickname.value.trim());
    socket.send(JSON.stringify({ type: "comment", nickname: nickname.value.trim(), text: said }));
    text.value = "";
    say("", "");
  });

  window.farmliveRoom = { get socket() { return socket; } }; // for tests and the curious
  connect();
})();
