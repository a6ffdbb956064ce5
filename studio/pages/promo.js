// /watch: the promo on air, on the page and not only in the video: a flash sale's ticking
// countdown (with its price and per-buyer limit) or the coupon code and what it takes off.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const strip = $("promo-strip");
  const DEFAULTS = { countdown: "限时秒杀 Flash sale", coupon: "优惠券 Coupon", sold_out: "已售罄 Sold out" };
  let endsAt = null;

  function label(promo) {
    const own = [promo.text_zh, promo.text].filter(Boolean).join(" ");
    return own || DEFAULTS[promo.kind] || "";
  }

  function tick() {
    if (endsAt === null) return;
    const watch = window.FarmliveWatch;
    const left = (endsAt - watch.now()) / 1000;
    $("promo-clock").textContent = left > 0 ? watch.clock(left) : "已结束 ended";
    strip.classList.toggle("over", left <= 0);
  }

  function render(state) {
    const card = state.live ? state.on_air : null;
    const promo = card && card.promo;
    strip.hidden = !promo;
    endsAt = null;
    if (!promo) return;
    let text = label(promo);
    if (promo.kind === "countdown" && card.flash_price !== null && card.flash_price !== undefined) {
      text += ` · 秒杀价 ${window.FarmliveWatch.money(card.flash_price, card.currency)}`;
      if (promo.limit_per_buyer) text += ` · 每人限购 ${promo.limit_per_buyer} 件 limit ${promo.limit_per_buyer}`;
    }
    $("promo-label").textContent = text;
    const coupon = promo.kind === "coupon" && promo.code;
    $("promo-coupon").hidden = !coupon;
    $("promo-code").textContent = coupon ? promo.code : "";
    $("promo-off").textContent = coupon && promo.discount_percent ? `立减 ${promo.discount_percent}% off` : "";
    $("promo-clock").textContent = "";
    if (promo.kind === "countdown" && promo.ends_at) {
      endsAt = Date.parse(promo.ends_at);
      tick();
    }
  }

  window.addEventListener("farmlive:state", (event) => render(event.detail));
  setInterval(tick, 250);
})();
