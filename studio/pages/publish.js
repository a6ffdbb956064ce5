// /publish: the farmer's phone camera -> WHIP. Reconnects by itself.
// Paired by the control room's QR (/publish#pair=<code>): the code is exchanged once for a
// publish-only token kept on the phone, so nobody types the studio key.
"use strict";

(() => {
  const KEY_STORAGE = "farmlive.studioKey";
  const TOKEN_STORAGE = "farmlive.publishToken";
  // The figures (watching, orders, sales, comments, uplink alert): at most this often, never while hidden.
  // The show itself (phase, title, product on air) is pushed over the room socket (showstate.js).
  const STATUS_EVERY_MS = 5000;
  // Bitrate ceilings for a farm uplink: enough for the studio to decode cleanly.
  const MAX_BITRATE = { 480: 900000, 720: 1800000, 1080: 3500000 };
  const SIZES = { 480: [640, 480], 720: [1280, 720], 1080: [1920, 1080] };

  const $ = (id) => document.getElementById(id);
  const preview = $("preview");
  const statusLine = $("status");
  const statsLine = $("stats");
  const badge = $("badge");
  const keyInput = $("key");
  const goButton = $("golive");
  const stopButton = $("stop");
  const stopConfirm = $("stop-confirm");

  const choice = { facing: "environment", quality: "720", orientation: "portrait" };
  let stream = null;
  let statsTimer = null;
  let wakeLock = null;

  // -- pairing: the credential the phone publishes with ---------------------------------------
  // The publish token from pairing, else the studio key (typed, or #key= from `farmlive up --lan`'s QR).
  const credential = () => localStorage.getItem(TOKEN_STORAGE) || keyInput.value.trim();

  function showPaired() {
    const paired = Boolean(localStorage.getItem(TOKEN_STORAGE));
    $("paired").hidden = !paired;
    $("key-field").hidden = paired;
  }

  function showPairError(text) {
    $("pair-error").textContent = text || "";
    $("pair-error").hidden = !text;
  }

  // #pair=<code> or #key=<key> (a fragment never reaches a server, a log or a Referer):
  // take it out of the address bar at once, then exchange the code once for a publish token.
  async function readFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (!fragment.get("pair") && !fragment.get("key")) return;
    history.replaceState(null, "", location.pathname + location.search);
    if (fragment.get("key")) {
      localStorage.setItem(KEY_STORAGE, fragment.get("key"));
      keyInput.value = fragment.get("key");
    }
    if (fragment.get("pair")) await exchangePairingCode(fragment.get("pair"));
  }

  async function exchangePairingCode(code) {
    try {
      const response = await fetch("/api/pairing/exchange", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code }),
        cache: "no-store",
      });
      const body = await response.json();
      if (!response.ok) {
        showPairError(`配对失败 · Pairing failed: ${body.detail_zh || ""} · ${body.detail || response.status}`);
        return;
      }
      localStorage.setItem(TOKEN_STORAGE, body.token);
      showPairError("");
    } catch (error) {
      showPairError("配对失败：连不上直播间 · Pairing failed: the studio is not reachable");
    }
  }

  function unpair() {
    localStorage.removeItem(TOKEN_STORAGE);
    showPaired();
  }

  // -- the page's state -------------------------------------------------------------------------
  const MESSAGES = {
    stopped: ["未推流", "Camera off"],
    camera: ["正在打开摄像头…", "Starting camera…"],
    connecting: ["正在连接直播间…", "Connecting to the studio…"],
    live: ["推流中 — 观众正在看你的画面", "LIVE — viewers see you now"],
    reconnecting: ["网络中断，正在重连", "Connection lost, reconnecting"],
    replaced: ["其他设备已接管推流", "Another camera took over the show"],
    error: ["无法推流", "Could not start the camera"],
  };

  function show(state, detail) {
    const [zh, en] = MESSAGES[state] || ["", state];
    let text = `${zh} · ${en}`;
    if (state === "reconnecting") text += ` (${Math.round(detail / 1000)} s)`;
    if (state === "error" && detail) text += ` — ${detail}`;
    statusLine.textContent = text;
    statusLine.dataset.state = state;
    const active = !["stopped", "error", "replaced"].includes(state);
    badge.className = "badge " + (state === "live" ? "live" : active ? "wait" : "off");
    badge.textContent = state === "live" ? "推流中 · LIVE" : active ? "连接中 · …" : "未推流 · OFF";
    goButton.hidden = active;
    if (!active) stopConfirm.hidden = true;
    stopButton.hidden = !active || !stopConfirm.hidden;  // a reconnect must not hide the open question
    document.body.classList.toggle("is-live", active);  // a smaller preview: the figures fit on screen
    if (state === "live") keepAwake();
  }

  function constraints() {
    let [width, height] = SIZES[choice.quality];
    if (choice.orientation === "portrait") [width, height] = [height, width];
    return {
      video: {
        facingMode: { ideal: choice.facing },
        width: { ideal: width },
        height: { ideal: height },
        aspectRatio: { ideal: width / height },
        frameRate: { ideal: 30, max: 30 },
      },
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    };
  }

  async function openCamera() {
    const wanted = constraints();
    let next;
    try {
      next = await navigator.mediaDevices.getUserMedia(wanted);
    } catch (error) {
      // No microphone (or it was refused): a silent show is better than no show.
      next = await navigator.mediaDevices.getUserMedia({ video: wanted.video });
    }
    const old = stream;
    stream = next;
    preview.srcObject = stream;
    const settings = stream.getVideoTracks()[0].getSettings();
    preview.classList.toggle("portrait", (settings.height || 0) > (settings.width || 0));
    preview.classList.toggle("mirror", choice.facing === "user");
    if (session.pc) await replaceTracks(session.pc);
    if (old) old.getTracks().forEach((t) => t.stop());
  }

  // Camera switch while live: swap tracks in place, no new WHIP session needed.
  async function replaceTracks(pc) {
    for (const sender of pc.getSenders()) {
      if (!sender.track) continue;
      const track = stream.getTracks().find((t) => t.kind === sender.track.kind);
      if (track) await sender.replaceTrack(track);
    }
    await tuneSender(pc);
  }

  // Weak uplink: keep 30 fps smooth and let resolution drop (the studio redraws the QR sharp anyway).
  async function tuneSender(pc) {
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender) return;
    const parameters = sender.getParameters();
    if (!parameters.encodings || !parameters.encodings.length) return;
    parameters.encodings[0].maxBitrate = MAX_BITRATE[choice.quality];
    parameters.encodings[0].maxFramerate = 30;
    parameters.degradationPreference = "maintain-framerate";
    try {
      await sender.setParameters(parameters);
    } catch (error) {
      delete parameters.degradationPreference;
      await sender.setParameters(parameters).catch(() => {});
    }
  }

  const auth = () => ({ Authorization: "Bearer " + credential() });
  const session = new FarmliveRTC.LiveSession({
    endpoint: "/whip",
    headers: auth,
    // OBS or a second phone took over: do not take the show back from it.
    isReplaced: async (url) => (await fetch(url, { headers: auth(), cache: "no-store" })).status === 410,
    setup: async (pc) => {
      if (!stream || stream.getTracks().some((t) => t.readyState === "ended")) await openCamera();
      for (const track of stream.getTracks()) {
        pc.addTransceiver(track, {
          direction: "sendonly",
          sendEncodings: track.kind === "video" ? [{ maxBitrate: MAX_BITRATE[choice.quality], maxFramerate: 30 }] : undefined,
        });
      }
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "connected") tuneSender(pc);
      });
    },
    onState: (state, detail) => {
      if (state === "error" && detail && detail.includes("no longer paired")) {
        unpair();  // expired or unpaired by the host: scan a new QR
        detail = "配对已失效，请重新扫描控制台的二维码 · pairing expired: scan the control room's QR again";
      } else if (state === "error" && detail && detail.includes("studio key")) {
        detail = "直播间密钥错误 · wrong studio key";
      }
      show(state, detail);
    },
  });

  async function updateStats() {
    const pc = session.pc;
    if (!pc) { statsLine.textContent = ""; return; }
    const report = await pc.getStats();
    report.forEach((r) => {
      if (r.type !== "outbound-rtp" || r.kind !== "video") return;
      const now = r.timestamp;
      const prev = updateStats.prev;
      if (prev && now > prev.timestamp) {
        const kbps = Math.round(((r.bytesSent - prev.bytesSent) * 8) / (now - prev.timestamp));
        const limit = r.qualityLimitationReason && r.qualityLimitationReason !== "none" ? ` · limited by ${r.qualityLimitationReason} 受限` : "";
        statsLine.textContent = `${r.frameWidth || "?"}×${r.frameHeight || "?"} · ${Math.round(r.framesPerSecond || 0)} fps · ${kbps} kbps${limit}`;
      }
      updateStats.prev = r;
    });
  }

  async function keepAwake() {
    try {
      if ("wakeLock" in navigator && !wakeLock) {
        wakeLock = await navigator.wakeLock.request("screen");
        wakeLock.addEventListener("release", () => { wakeLock = null; });
      }
    } catch (error) { /* not allowed here: the hint asks to keep the page open */ }
  }

  for (const group of document.querySelectorAll(".segmented")) {
    group.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      group.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b === button));
      choice[group.dataset.name] = button.dataset.value;
      if (stream) {
        try { await openCamera(); } catch (error) { show("error", error.message); }
      }
    });
  }

  // -- while live: the show, the product on air, viewers, orders, newest comments -----------------
  // The show, its product on air and the host's 下播 come from the one show state (showstate.js) every
  // screen follows, pushed within a second; a new show hides the ended notice again.
  FarmliveShow.subscribe((state) => {
    const ended = state.phase === "ended";
    $("show-ended").hidden = !ended;
    document.body.classList.toggle("show-over", ended);
    $("show-line").textContent = state.phase === "live" && state.show
      ? `直播中 · Live: ${state.show.title}`
      : "等待主播开播 · Waiting for the host to start the show";
    const product = state.on_air;
    const price = product && product.flash_price != null ? product.flash_price : product && product.price;
    $("on-air").textContent = product
      ? `${product.name_zh || product.name} · ${money(price)}${product.unit ? " / " + product.unit : ""}`
      : "—";
  });

  function money(amount) {
    return "¥" + Number(amount || 0).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function renderStatus(status) {
    // The studio's own view of this phone's uplink (amber: weak network; the host sees it too).
    const alert = status.alert || {};
    $("phone-alert").hidden = alert.level !== "amber" || !status.publishing;
    $("phone-alert").textContent = `${alert.reason_zh || ""} · ${alert.reason || ""}`;
    $("watching").textContent = String(status.viewers_now || 0);
    $("orders").textContent = String(status.orders || 0);
    $("gmv").textContent = money(status.revenue);
    const comments = status.comments || [];
    $("comments-box").hidden = comments.length === 0;
    $("phone-comments").replaceChildren(...comments.map((c) => {
      const item = document.createElement("li");
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = c.nickname;
      item.append(who, document.createTextNode(c.text));
      return item;
    }));
  }

  let statusAt = -Infinity;  // when the figures were last asked for (performance.now())
  async function pollStatus() {
    if (!credential() || document.visibilityState === "hidden") return;
    statusAt = performance.now();
    try {
      const response = await fetch("/api/phone/status", { headers: auth(), cache: "no-store" });
      if (response.ok) {
        renderStatus(await response.json());
      } else if (response.status === 401 && localStorage.getItem(TOKEN_STORAGE)) {
        unpair();  // expired or unpaired by the host: say so now, not when the farmer taps Start
        showPairError("配对已失效，请重新扫描控制台的二维码 · This phone is no longer paired: scan the control room's QR again");
      }
    } catch (error) { /* offline for a moment: the next poll catches up */ }
  }

  // -- buttons ----------------------------------------------------------------------------------
  goButton.addEventListener("click", async () => {
    const key = credential();
    if (!key) {
      show("error", "请扫描控制台的二维码，或输入直播间密钥 · scan the control room's QR, or enter the studio key");
      keyInput.focus();
      return;
    }
    if (!localStorage.getItem(TOKEN_STORAGE)) localStorage.setItem(KEY_STORAGE, key);
    show("camera");
    try {
      await openCamera();
    } catch (error) {
      show("error", `camera: ${error.name} · 无法打开摄像头`);
      return;
    }
    session.start();
    clearInterval(statsTimer);
    statsTimer = setInterval(updateStats, 2000);
  });

  // Stop asks first: a mis-tap must not cut the show.
  stopButton.addEventListener("click", () => {
    stopButton.hidden = true;
    stopConfirm.hidden = false;
  });
  $("stop-no").addEventListener("click", () => {
    stopConfirm.hidden = true;
    stopButton.hidden = false;
  });
  $("stop-yes").addEventListener("click", () => {
    stopConfirm.hidden = true;
    session.stop();
    clearInterval(statsTimer);
    statsLine.textContent = "";
    if (wakeLock) wakeLock.release().catch(() => {});
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    if (session.wanted) keepAwake();
    // Back on screen: fresh figures now, unless they were asked for within the last STATUS_EVERY_MS.
    if (performance.now() - statusAt >= STATUS_EVERY_MS) pollStatus();
  });

  $("unpair").addEventListener("click", unpair);

  window.farmlivePublisher = session; // for tests and the curious
  show("stopped");
  keyInput.value = localStorage.getItem(KEY_STORAGE) || "";
  readFragment().then(() => {
    showPaired();
    pollStatus();
  });
  setInterval(() => {
    if (performance.now() - statusAt >= STATUS_EVERY_MS - 100) pollStatus();
  }, STATUS_EVERY_MS);
})();
