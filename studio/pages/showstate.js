// One show state for every page (docs/live-room.md, "One show state"). The studio pushes it over
// the room WebSocket (room.js hands each "show" message to FarmliveShow.update) and /watch/state is
// the poll fallback with the same JSON. A polled state older than one already shown is ignored
// (state.version only grows). Pages subscribe; /watch and /publish get their own small renderers here.
// The phone page has no room of its own: follow() opens a read-only /room/ws?only=show (the show state
// alone, not counted as a viewer) and polls /watch/state slowly only while that socket is down, so on a
// weak uplink nothing competes with the camera's video.
"use strict";

window.FarmliveShow = (() => {
  const listeners = [];
  let current = null;

  function update(state) {
    if (!state || typeof state.version !== "number") return;
    if (current && state.version < current.version) return;
    current = state;
    for (const listener of listeners) {
      try { listener(state); } catch (error) { console.error(error); }
    }
  }

  function subscribe(listener) {
    listeners.push(listener);
    if (current) listener(current);
  }

  async function fetchState() {
    try {
      const response = await fetch("/watch/state", { cache: "no-store" });
      if (response.ok) update(await response.json());
    } catch (error) { /* the studio is restarting: the next poll will tell */ }
  }

  function poll(everyMs) {
    const tick = async () => {
      await fetchState();
      setTimeout(tick, everyMs);
    };
    tick();
  }

  // The show state pushed over a read-only room socket; /watch/state every fallbackMs while it is down.
  let followed = null;
  function follow(fallbackMs) {
    let retryMs = 1000;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      followed = new WebSocket(`${scheme}//${location.host}/room/ws?only=show`);
      followed.addEventListener("open", () => { retryMs = 1000; });
      followed.addEventListener("message", (event) => {
        let message = null;
        try { message = JSON.parse(event.data); } catch (_) { return; }
        if (message && message.type === "hello") update(message.show);
        if (message && message.type === "show") update(message.state);
      });
      followed.addEventListener("close", () => {
        // A restarting studio or a phone switching networks: back with backoff, polling meanwhile.
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      });
    };
    const fallback = async () => {
      if (followed.readyState !== WebSocket.OPEN) await fetchState();
      setTimeout(fallback, fallbackMs);
    };
    connect();
    setTimeout(fallback, fallbackMs);
  }

  const $ = (id) => document.getElementById(id);

  // /watch: before Start and after End there is no card, QR or Buy; a message says why, then the replay.
  function renderWatch(state) {
    const box = $("show-phase");
    if (!box) return;
    box.hidden = state.phase === "live";
    box.dataset.phase = state.phase;
    const title = state.show ? ` · ${state.show.title}` : "";
    $("show-phase-text").textContent = {
      pending: "即将开播 · Starting soon",
      ended: `直播已结束 · The show has ended${title}`,
    }[state.phase] || "";
    const note = $("show-phase-note");
    const replay = $("replay-link");
    const hasReplay = state.phase === "ended" && !!state.replay_url;
    note.textContent = state.phase === "pending"
      ? "主播正在准备，开播后即可观看 · The farmer is getting ready: the show starts here"
      : hasReplay ? "" : state.phase === "ended" ? "回放即将上线 · The replay is coming soon" : "";
    replay.hidden = !hasReplay;
    if (hasReplay) replay.href = state.replay_url;
  }

  // /publish: the farmer sees what viewers see, and is told clearly when the show has ended.
  function renderPhone(state) {
    const line = $("show-phase");
    if (!line) return;
    line.dataset.phase = state.phase;
    const title = state.show ? ` · ${state.show.title}` : "";
    line.textContent = {
      pending: "未开播：观众看到“即将开播”，主播开播后才会看到您的画面 · Not started: viewers see “Starting soon” until the host starts the show",
      live: `直播中${title} · The show is live: viewers see your camera`,
      ended: `直播已结束${title}，可以停止推流了 · The show has ended: you can stop the camera`,
    }[state.phase] || "";
  }

  if (document.body.classList.contains("watch")) subscribe(renderWatch);
  if (document.body.classList.contains("publish")) {
    subscribe(renderPhone);
    follow(3000); // pushed within the room's 100 ms batch; a slow poll only while the socket is down
  }

  return { update, subscribe, poll, follow, get current() { return current; }, get socket() { return followed; } };
})();
