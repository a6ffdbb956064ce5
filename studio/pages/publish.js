// /publish: the farmer's phone camera -> WHIP. Reconnects by itself.
"use strict";

(() => {
  const KEY_STORAGE = "farmlive.studioKey";
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

  const choice = { facing: "environment", quality: "720", orientation: "portrait" };
  let stream = null;
  let statsTimer = null;
  let wakeLock = null;

  // #key= from the LAN or control-room QR code (a fragment never reaches a server, a log or a
  // Referer): remember it on the phone, then take it out of the address bar.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("key")) {
    localStorage.setItem(KEY_STORAGE, fragment.get("key"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  keyInput.value = localStorage.getItem(KEY_STORAGE) || "";

  const MESSAGES = {
    stopped: ["Off air", "未开播"],
    camera: ["Starting camera…", "正在打开摄像头…"],
    connecting: ["Connecting to the studio…", "正在连接直播间…"],
    live: ["LIVE — viewers see you now", "直播中 — 观众正在观看"],
    reconnecting: ["Connection lost, reconnecting", "网络中断，正在重连"],
    replaced: ["Another camera took over the show", "其他设备已接管直播"],
    error: ["Could not go live", "无法开播"],
  };

  function show(state, detail) {
    const [en, zh] = MESSAGES[state] || [state, ""];
    let text = `${en} · ${zh}`;
    if (state === "reconnecting") text += ` (${Math.round(detail / 1000)} s)`;
    if (state === "error" && detail) text += ` — ${detail}`;
    statusLine.textContent = text;
    statusLine.dataset.state = state;
    const active = !["stopped", "error", "replaced"].includes(state);
    badge.className = "badge " + (state === "live" ? "live" : active ? "wait" : "off");
    badge.textContent = state === "live" ? "LIVE · 直播中" : active ? "… · 连接中" : "OFF AIR · 未开播";
    goButton.hidden = active;
    stopButton.hidden = !active;
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

  const auth = () => ({ Authorization: "Bearer " + keyInput.value.trim() });
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
      if (state === "error" && detail && detail.includes("studio key")) detail = "wrong studio key · 直播密钥错误";
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

  goButton.addEventListener("click", async () => {
    const key = keyInput.value.trim();
    if (!key) { show("error", "enter the studio key · 请输入直播密钥"); keyInput.focus(); return; }
    localStorage.setItem(KEY_STORAGE, key);
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

  stopButton.addEventListener("click", () => {
    session.stop();
    clearInterval(statsTimer);
    statsLine.textContent = "";
    if (wakeLock) wakeLock.release().catch(() => {});
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && session.wanted) keepAwake();
  });

  window.farmlivePublisher = session; // for tests and the curious
  show("stopped");
})();
