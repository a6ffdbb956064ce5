// WHIP/WHEP client shared by /publish and /watch: one POST with a complete
// offer (no trickle ICE), DELETE to end, bounded exponential backoff.
"use strict";

const FarmliveRTC = (() => {
  const GATHER_TIMEOUT_MS = 3000;
  // No ICE + DTLS by then: the studio cannot reach this device; say what to try.
  const UNREACHABLE_AFTER_MS = 10000;
  const UNREACHABLE_HINT = [
    "Still not connected after 10 s: the studio computer cannot reach this device. Try: the same Wi-Fi as " +
      "the studio computer; start the studio with farmlive up --lan; on mobile data, a TURN server " +
      "(farmlive up --ice-server turn:…).",
    "10 秒后仍未连接：直播电脑连不上这台设备。请试试：连接与直播电脑相同的 Wi-Fi；用 farmlive up --lan 启动直播间；" +
      "使用移动数据时，添加 TURN 服务器（farmlive up --ice-server turn:…）。",
  ];

  // The page's <p id="ice-hint">: shown while a session stays unconnected.
  function showUnreachable(visible) {
    const hint = document.getElementById("ice-hint");
    if (!hint) return;
    hint.textContent = visible ? UNREACHABLE_HINT.join(" ") : "";
    hint.hidden = !visible;
  }

  async function iceServers() {
    try {
      const response = await fetch("/media/config", { cache: "no-store" });
      const body = await response.json();
      return body.ice_servers || [];
    } catch (error) {
      return [];
    }
  }

  // Wait until every local candidate is in the SDP (the server does not trickle).
  function gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        pc.removeEventListener("icegatheringstatechange", check);
        clearTimeout(timer);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  class SignallingError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // The studio refuses with application/problem+json: show both languages of its detail.
  function problemText(text) {
    try {
      const problem = JSON.parse(text);
      return [problem.detail_zh, problem.detail].filter(Boolean).join(" · ") || text.trim();
    } catch (_) {
      return text.trim();
    }
  }

  // POST the offer; returns the session URL. Throws SignallingError on HTTP errors.
  async function negotiate(pc, endpoint, headers) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch(endpoint, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/sdp" }, headers || {}),
      body: pc.localDescription.sdp,
    });
    const text = await response.text();
    if (response.status !== 201) throw new SignallingError(response.status, problemText(text));
    await pc.setRemoteDescription({ type: "answer", sdp: text });
    return new URL(response.headers.get("Location"), location.href).href;
  }

  // Best effort, also while the page unloads (keepalive lets it outlive the page).
  function hangUp(sessionUrl, headers) {
    if (!sessionUrl) return;
    fetch(sessionUrl, { method: "DELETE", headers: headers || {}, keepalive: true }).catch(() => {});
  }

  // 1 s, 2 s, 4 s ... capped: a phone on a weak network keeps trying, gently.
  class Backoff {
    constructor(firstMs = 1000, maxMs = 15000) {
      this.firstMs = firstMs;
      this.maxMs = maxMs;
      this.attempt = 0;
    }
    next() {
      const delay = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
      this.attempt += 1;
      return delay;
    }
    reset() { this.attempt = 0; }
  }

  // One WHIP or WHEP session that keeps itself up until stop():
  // states are connecting, live, reconnecting (detail: delay ms), stopped, error (detail: message).
  class LiveSession {
    // isReplaced(sessionUrl) -> Promise<bool>: asked before reconnecting a dropped session.
    constructor({ endpoint, headers, setup, onState, isReplaced }) {
      this.endpoint = endpoint;
      this.isReplaced = isReplaced || null;
      this.headers = headers || (() => ({}));
      this.setup = setup;
      this.onState = onState || (() => {});
      this.backoff = new Backoff();
      this.pc = null;
      this.sessionUrl = null;
      this.wanted = false;
      this.timer = null;
      this.generation = 0;
      this.unreachableTimer = null;
      addEventListener("pagehide", () => this.hangUp());
    }

    start() {
      this.wanted = true;
      this.backoff.reset();
      this.connect();
    }

    // Counted from the first attempt and kept through retries, until a session connects.
    watchReachability() {
      if (this.unreachableTimer) return;
      this.unreachableTimer = setTimeout(() => {
        if (this.wanted && !(this.pc && this.pc.connectionState === "connected")) showUnreachable(true);
      }, UNREACHABLE_AFTER_MS);
    }

    stop() {
      this.wanted = false;
      clearTimeout(this.timer);
      clearTimeout(this.unreachableTimer);
      this.unreachableTimer = null;
      showUnreachable(false);
      this.hangUp();
      this.onState("stopped");
    }

    hangUp() {
      this.generation += 1;
      hangUp(this.sessionUrl, this.headers());
      this.sessionUrl = null;
      if (this.pc) this.pc.close();
      this.pc = null;
    }

    async connect() {
      clearTimeout(this.timer);
      this.hangUp();
      const generation = this.generation;
      this.onState("connecting");
      this.watchReachability();
      try {
        const pc = new RTCPeerConnection({ iceServers: await iceServers(), bundlePolicy: "max-bundle" });
        this.pc = pc;
        await this.setup(pc);
        pc.addEventListener("connectionstatechange", () => this.changed(pc, generation));
        this.sessionUrl = await negotiate(pc, this.endpoint, this.headers());
        if (generation !== this.generation) hangUp(this.sessionUrl, this.headers());
      } catch (error) {
        if (generation !== this.generation || !this.wanted) return;
        if (error instanceof SignallingError && [400, 401, 403, 415].includes(error.status)) {
          this.wanted = false;
          this.hangUp();
          this.onState("error", error.message);
          return;
        }
        // 503: the server is full. A caller may switch to another transport (the watch page: HLS).
        if (error instanceof SignallingError && error.status === 503) this.onState("full", error.message);
        this.retry();
      }
    }

    changed(pc, generation) {
      if (generation !== this.generation || !this.wanted) return;
      const state = pc.connectionState;
      if (state === "connected") {
        this.backoff.reset();
        clearTimeout(this.unreachableTimer);
        this.unreachableTimer = null;
        showUnreachable(false);
        this.onState("live");
      } else if (state === "failed" || state === "closed") {
        this.retry();
      } else if (state === "disconnected") {
        // Often recovers by itself (a Wi-Fi blip); give it a moment first.
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          if (generation === this.generation && pc.connectionState === "disconnected") this.retry();
        }, 4000);
      }
    }

    async retry() {
      if (!this.wanted) return;
      const generation = this.generation;
      if (this.sessionUrl && this.isReplaced && (await this.isReplaced(this.sessionUrl).catch(() => false))) {
        if (generation !== this.generation) return;
        this.wanted = false;
        this.hangUp();
        this.onState("replaced");
        return;
      }
      if (generation !== this.generation || !this.wanted) return;
      this.hangUp();
      const delay = this.backoff.next();
      this.onState("reconnecting", delay);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    }
  }

  return { iceServers, negotiate, hangUp, Backoff, SignallingError, LiveSession, UNREACHABLE_HINT };
})();
