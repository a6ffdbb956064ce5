// /replay/{show}: the recording, chapters per product, and the card + Buy that follow the position.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const statusLine = $("status");
  const partLine = $("part");
  const SYMBOLS = { CNY: "¥", USD: "$", EUR: "€", HKD: "HK$", TWD: "NT$" };
  const showId = location.pathname.split("/")[2];
  const base = `/replay/${encodeURIComponent(showId)}`;

  let manifest = null;
  let partIndex = -1;
  let shownChapter = undefined;
  let session = null;
  let beatTimer = null;

  function say(en, zh, state) {
    statusLine.textContent = en ? `${en} · ${zh}` : "";
    statusLine.dataset.state = state || "";
  }

  function money(amount, currency) {
    return (SYMBOLS[currency] || currency + " ") + Number(amount).toFixed(2);
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // -- where we are on the show clock (seconds since the show started) ------
  function showTime() {
    const part = manifest && manifest.parts[partIndex];
    return part ? part.offset_s + video.currentTime : 0;
  }

  function chapterAt(t) {
    return manifest ? manifest.chapters.find((c) => t >= c.start_s && t < c.end_s) || null : null;
  }

  function partFor(t) {
    const parts = manifest.parts;
    const inside = parts.findIndex((p) => t >= p.offset_s && t < p.offset_s + p.duration_s);
    if (inside >= 0) return inside;
    return parts.findIndex((p) => p.offset_s > t); // in a gap: the next part that was recorded
  }

  function recorded(chapter) {
    return manifest.parts.some((p) => chapter.end_s > p.offset_s && chapter.start_s < p.offset_s + p.duration_s);
  }

  function usePart(index, at) {
    const part = manifest.parts[index];
    if (!part) return;
    const local = Math.max(0, Math.min(at - part.offset_s, part.duration_s - 0.05));
    if (index !== partIndex) {
      partIndex = index;
      video.src = part.url;
      video.addEventListener("loadedmetadata", () => { video.currentTime = local; }, { once: true });
      partLine.textContent = manifest.parts.length > 1
        ? `Part ${index + 1} of ${manifest.parts.length} · 第 ${index + 1}/${manifest.parts.length} 段`
        : "";
    } else {
      video.currentTime = local;
    }
  }

  function seek(t) {
    const index = partFor(t);
    if (index < 0) return false;
    usePart(index, Math.max(t, manifest.parts[index].offset_s));
    video.play().catch(() => {});
    return true;
  }

  // -- the card follows the position -----------------------------------------
  function renderCard() {
    const chapter = chapterAt(showTime());
    if (chapter === shownChapter) return;
    shownChapter = chapter;
    $("card").hidden = !chapter;
    $("no-card").hidden = !!chapter;
    document.querySelectorAll("#chapters button").forEach((b) => {
      b.classList.toggle("current", !!chapter && Number(b.dataset.chapter) === chapter.chapter);
    });
    if (!chapter) return;
    $("card").dataset.sku = chapter.sku;
    $("name-zh").textContent = chapter.name_zh || chapter.name;
    $("name-en").textContent = chapter.name_zh ? chapter.name : "";
    $("price").textContent = chapter.price === null ? "" : money(chapter.price, chapter.currency);
    $("unit").textContent = chapter.unit ? "/ " + chapter.unit : "";
    $("origin").textContent = chapter.origin || "—";
    const soldOut = chapter.stock <= 0;
    $("stock").textContent = soldOut ? "Sold out · 已售罄" : `${chapter.stock} left · 剩余 ${chapter.stock}`;
    const buy = $("buy");
    buy.classList.toggle("disabled", soldOut || !chapter.buy_href);
    buy.href = chapter.buy_href || "#";
  }

  function renderChapters() {
    const list = $("chapters");
    list.replaceChildren();
    for (const chapter of manifest.chapters) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.chapter = chapter.chapter;
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = clock(chapter.start_s);
      const name = document.createElement("span");
      name.textContent = [chapter.name_zh, chapter.name].filter(Boolean).join(" · ");
      button.append(time, name);
      if (manifest.parts.length && !recorded(chapter)) {
        button.disabled = true;
        name.textContent += " (not recorded · 无录像)";
      }
      // A little past the switch: the new card is on the video from that frame on.
      button.addEventListener("click", () => seek(chapter.start_s + 0.2));
      item.append(button);
      list.append(item);
    }
    const notes = $("notes");
    notes.replaceChildren(...manifest.notes.map((n) => {
      const li = document.createElement("li");
      li.textContent = `${n.en} ${n.zh}`;
      return li;
    }));
  }

  // -- replay viewer session: join, heartbeat with the position, leave ------
  async function beat(leave) {
    if (!session) return;
    const body = JSON.stringify({ position_s: video.paused && !leave ? null : showTime(), leave: !!leave });
    if (leave && navigator.sendBeacon) {
      navigator.sendBeacon(`${base}/sessions/${session}`, new Blob([body], { type: "application/json" }));
      return;
    }
    try {
      const response = await fetch(`${base}/sessions/${session}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body, keepalive: !!leave,
      });
      if (response.status === 410 || response.status === 404) session = null; // start afresh on next play
    } catch (error) { /* offline for a moment: the next beat tells */ }
  }

  async function join() {
    if (session) return;
    try {
      const response = await fetch(`${base}/sessions`, { method: "POST" });
      if (!response.ok) return;
      const body = await response.json();
      session = body.session;
      clearInterval(beatTimer);
      beatTimer = setInterval(() => { if (!video.paused) beat(false); }, body.beat_s * 1000);
      beat(false);
    } catch (error) { /* counted on the next play */ }
  }

  // -- loading and the states a replay can be in ----------------------------
  async function load() {
    let response;
    try {
      response = await fetch(`${base}/manifest`, { cache: "no-store" });
    } catch (error) {
      say("Cannot reach the studio, retrying", "无法连接，正在重试", "error");
      setTimeout(load, 3000);
      return;
    }
    const body = await response.json();
    if (body.show) $("show-title").textContent = body.show.title;
    if (response.status === 202) {
      say(body.message.en, body.message.zh, "wait");
      setTimeout(load, 2000);
      return;
    }
    if (!response.ok) {
      say(body.detail, body.detail_zh, "error");
      if (response.status === 409) setTimeout(load, 5000); // live now: the replay follows the end
      return;
    }
    manifest = body;
    say("", "");
    renderChapters();
    if (manifest.parts.length) usePart(0, manifest.parts[0].offset_s);
    renderCard();
  }

  for (const name of ["timeupdate", "seeking", "seeked", "loadedmetadata"]) video.addEventListener(name, renderCard);
  video.addEventListener("playing", join);
  video.addEventListener("pause", () => beat(false));
  video.addEventListener("ended", () => {
    const next = partIndex + 1;
    if (manifest && manifest.parts[next]) {
      usePart(next, manifest.parts[next].offset_s);
      video.play().catch(() => {});
    }
  });
  addEventListener("pagehide", () => beat(true));

  // For tests and the curious.
  window.farmliveReplay = {
    seek, showTime, chapterAt,
    get manifest() { return manifest; },
    get session() { return session; },
    card: () => ($("card").hidden ? null : $("card").dataset.sku),
  };
  load();
})();
