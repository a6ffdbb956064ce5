// /watch: the composed show over WHEP, the on-air product pop-up and the viewer count.
// Every show state (pushed over the room socket, or polled from /watch/state) is announced as a "farmlive:state" event (promo.js, shelf.js, buysheet.js listen).
"use strict";

(() => {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const unmute = $("unmute");
  const statusLine = $("status");
  const badge = $("badge");
  const SYMBOLS = { CNY: "¥", USD: "$", EUR: "€", HKD: "HK$", TWD: "NT$" };

  const MESSAGES = {
    connecting: ["Connecting…", "正在连接…"],
    live: ["", ""],
    reconnecting: ["Reconnecting", "正在重新连接"],
    stopped: ["Stopped", "已停止"],
    error: ["Cannot play", "无法播放"],
    hls: ["Watching over HLS (a few seconds behind)", "正在通过 HLS 观看（延迟几秒）"],
  };
  // WebRTC attempts that never got live before the page falls back to HLS.
  const WEBRTC_TRIES = 3;
  const HLS_HEARTBEAT_MS = 10000;
  let failedTries = 0;
  let showId = null;
  let transport = "webrtc";
  // Studio clock minus this phone's: countdowns tick on the studio's time.
  let clockOffset = 0;

  // The control room's preview opens /watch#key=...: with the studio key the
  // studio serves it as a monitor, not counted or recorded as a viewer.
  const monitorKey = new URLSearchParams(location.hash.slice(1)).get("key");
  const session = new FarmliveRTC.LiveSession({
    endpoint: "/whep",
    headers: () => (monitorKey ? { Authorization: `Bearer ${monitorKey}` } : {}),
    setup: (pc) => {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
      const media = new MediaStream();
      pc.addEventListener("track", (event) => {
        media.addTrack(event.track);
        if (video.srcObject !== media) video.srcObject = media;
        video.play().catch(() => {});
      });
    },
    onState: (state, detail) => {
      if (transport === "hls") return;
      if (state === "live") failedTries = 0;
      if (state === "reconnecting") failedTries += 1;
      // WHEP full (503), or WebRTC keeps failing (a network that blocks UDP): HLS instead.
      if ((state === "full" || failedTries >= WEBRTC_TRIES || state === "error") && !monitorKey) {
        if (showId !== null) return void switchToHls();
      }
      const [en, zh] = MESSAGES[state] || [state, ""];
      statusLine.textContent = en ? `${en} · ${zh}${state === "error" && detail ? " — " + detail : ""}` : "";
      statusLine.dataset.state = state;
      if (state !== "live") setBadge("wait");
    },
  });

  // HLS: native where the browser has it (iOS Safari), else hls.js served from the studio.
  function loadHlsJs() {
    return new Promise((resolve, reject) => {
      if (window.Hls) return resolve(window.Hls);
      const script = document.createElement("script");
      script.src = "/live/hls.light.min.js";
      script.onload = () => resolve(window.Hls);
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  async function switchToHls() {
    if (transport === "hls") return;
    transport = "hls";
    window.farmliveTransport = "hls";
    session.stop();
    const url = `/hls/${showId}/index.m3u8`;
    video.srcObject = null;
    // hls.js wherever Media Source Extensions exist (it follows the live edge the same way in every
    // browser); the browser's own HLS only where they do not (iPhone Safari before 17.1).
    const mse = "MediaSource" in window || "ManagedMediaSource" in window;
    if (!mse && video.canPlayType("application/vnd.apple.mpegurl")) {
      window.farmliveHlsPlayer = "native";
      video.src = url;
    } else {
      window.farmliveHlsPlayer = "hls.js";
      const Hls = await loadHlsJs();
      const hls = new Hls({ liveSyncDurationCount: 2 });
      hls.loadSource(url);
      hls.attachMedia(video);
      window.farmliveHls = hls;
    }
    video.play().catch(() => {});
    statusLine.textContent = MESSAGES.hls.join(" · ");
    statusLine.dataset.state = "hls";
    heartbeat();
  }

  // HLS viewers are counted too: a small heartbeat while the page plays.
  async function heartbeat() {
    try {
      await fetch(`/hls/${showId}/seen`, { method: "POST", cache: "no-store" });
    } catch (error) { /* counted again at the next beat */ }
    setTimeout(heartbeat, HLS_HEARTBEAT_MS);
  }

  function setBadge(kind) {
    badge.className = "badge " + kind;
    badge.textContent = {
      live: "LIVE · 直播中", off: "OFF AIR · 未开播", ended: "ENDED · 已结束", wait: "… · 连接中",
    }[kind];
  }

  function money(amount, currency) {
    const symbol = SYMBOLS[currency] || currency + " ";
    return symbol + Number(amount).toFixed(2);
  }

  // Called with each show state (showstate.js: pushed over the room socket, or polled).
  function render(state) {
    $("viewers").textContent = state.viewers_now;
    const offKind = state.phase === "ended" ? "ended" : "off";
    if (session.pc && session.pc.connectionState === "connected") setBadge(state.live ? "live" : offKind);
    if (transport === "hls" && !video.paused) setBadge(state.live ? "live" : offKind);
    if (state.show) $("show-title").textContent = state.show.title;
    showId = state.live ? state.show.id : null;
    // No show live (not started, or ended): no pop-up and no Buy, whatever was last on air.
    const product = state.live ? state.on_air : null;
    $("card").hidden = !product;
    $("no-card").hidden = !!product || !state.live;
    if (!product) return;
    $("name-zh").textContent = product.name_zh || product.name;
    $("name-en").textContent = product.name_zh ? product.name : "";
    const image = $("card-image");
    image.hidden = !product.image;
    if (product.image && image.getAttribute("src") !== product.image) image.src = product.image;
    const flash = product.flash_price !== null && product.flash_price !== undefined;
    $("price").textContent = money(flash ? product.flash_price : product.price, product.currency);
    $("list-price").hidden = !flash;
    $("list-price").textContent = flash ? money(product.price, product.currency) : "";
    $("unit").textContent = product.unit ? "/ " + product.unit : "";
    $("origin").textContent = product.origin || "—";
    const soldOut = product.sold_out || product.stock <= 0; // the host's sold-out closes the sale too
    $("stock").textContent = soldOut ? "已售罄 · Sold out" : `剩余 ${product.stock} · ${product.stock} left`;
    const buy = $("buy");
    buy.classList.toggle("disabled", soldOut || !product.buy_href);
    buy.setAttribute("aria-disabled", String(soldOut || !product.buy_href));
    const small = document.createElement("small");
    small.textContent = soldOut ? "Sold out" : "Buy now";
    buy.replaceChildren(soldOut ? "已售罄" : "立即购买", small);
    buy.href = (!soldOut && product.buy_href) || "#";
    buy.dataset.link = product.link_url || "";
    buy.dataset.external = product.external ? "1" : "";
  }

  // Each state, pushed or polled: the studio's clock for countdowns, the pop-up, then the other modules.
  function onState(state) {
    if (state.now) clockOffset = Date.parse(state.now) - Date.now();
    render(state);
    window.dispatchEvent(new CustomEvent("farmlive:state", { detail: state }));
  }

  // The show follows the phone: a portrait phone makes a portrait show.
  video.addEventListener("resize", () => {
    video.classList.toggle("portrait", video.videoHeight > video.videoWidth);
  });

  unmute.addEventListener("click", () => {
    video.muted = false;
    video.play().catch(() => {});
    unmute.hidden = true;
  });

  // Shared with promo.js, shelf.js and buysheet.js.
  window.FarmliveWatch = {
    money,
    now: () => Date.now() + clockOffset,
    clock: (seconds) => {
      const s = Math.max(0, Math.ceil(seconds));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
      const mmss = `${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
      return h ? `${h}:${mmss}` : mmss;
    },
  };
  window.farmliveViewer = session; // for tests and the curious
  session.start();
  FarmliveShow.subscribe(onState);
  FarmliveShow.poll(POLL_MS); // the fallback: the room socket pushes each change within 0.1 s
})();
