// /watch: the buy sheet. It opens over the video (which keeps playing, so the viewer stays counted),
// asks the studio for the price (list, flash sale, coupon) and an order token, shows unit price,
// discount and total before Submit, and posts the JSON order with the total it showed: the studio
// charges that or refuses with the new total. Chinese first; all texts via textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const sheet = $("buysheet");
  const form = $("buy-form");
  const couponInput = $("buy-coupon");
  const submit = $("buy-submit");
  const BUYER_KEY = "farmlive.buyer";
  let code = null;      // the buy link of the product in the sheet
  let quote = null;     // the studio's last answer for it (prices, limits, order token)
  let channel = "click";
  let quantity = 1;
  let couponTimer = null;
  let flashTimer = null;

  const money = (amount) => window.FarmliveWatch.money(amount, quote ? quote.currency : "CNY");
  const cents = (amount) => Math.round(Number(amount) * 100);

  function alertText(zh, en) {
    $("buy-alert").hidden = !zh && !en;
    $("buy-alert").textContent = [zh, en].filter(Boolean).join(" · ");
  }

  function showErrors(errors) {
    form.querySelectorAll("[data-error-for]").forEach((node) => {
      node.textContent = (errors && errors[node.dataset.errorFor]) || "";
    });
  }

  function maxQuantity() {
    if (!quote) return 1;
    const caps = [quote.max_quantity, quote.stock, quote.limit_per_buyer || Infinity];
    return Math.max(1, Math.min(...caps));
  }

  function render() {
    if (!quote) return;
    quantity = Math.min(Math.max(quantity, 1), maxQuantity());
    $("qty").textContent = String(quantity);
    $("qty-minus").disabled = quantity <= 1;
    $("qty-plus").disabled = quantity >= maxQuantity();
    $("buy-name-zh").textContent = quote.name_zh || quote.name;
    $("buy-name-en").textContent = quote.name_zh ? quote.name : "";
    $("buy-unit-label").textContent = quote.unit || "";
    $("qty-note").textContent = quote.limit_per_buyer
      ? `每人限购 ${quote.limit_per_buyer} 件 · at most ${quote.limit_per_buyer} per buyer`
      : `剩余 ${quote.stock} · ${quote.stock} left`;
    $("coupon-note").textContent = quote.coupon
      ? `已使用优惠码 ${quote.coupon}，立减 ${quote.discount_percent || 0}% · coupon applied`
      : "";
    const unit = cents(quote.unit_price), list = cents(quote.list_price);
    $("sum-unit").textContent = unit < list ? `${money(unit / 100)}（原价 ${money(list / 100)}）` : money(unit / 100);
    $("sum-discount").textContent = unit < list ? `-${money(((list - unit) * quantity) / 100)}` : "—";
    $("sum-total").textContent = money((unit * quantity) / 100);
    $("buy-flash").hidden = !quote.flash_ends_at;
    clearInterval(flashTimer);
    if (quote.flash_ends_at) {
      const ends = Date.parse(quote.flash_ends_at);
      const tick = () => {
        const left = (ends - window.FarmliveWatch.now()) / 1000;
        $("buy-flash-clock").textContent = window.FarmliveWatch.clock(left);
        if (left <= 0) {
          clearInterval(flashTimer);
          requote(); // the sale is over: show the list price before anyone submits
        }
      };
      tick();
      flashTimer = setInterval(tick, 250);
    }
  }

  async function ask(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await response.json().catch(() => null);
    return { response, body };
  }

  function take(body) {
    quote = body;
    channel = body.channel || channel;
    showErrors(body.coupon_error ? { coupon: `${body.coupon_error.detail_zh} · ${body.coupon_error.detail}` } : {});
    render();
  }

  async function requote() {
    if (!code) return;
    const given = couponInput.value.trim();
    const url = `/order/${encodeURIComponent(code)}?via=${encodeURIComponent(channel)}`
      + (given ? `&coupon=${encodeURIComponent(given)}` : "");
    try {
      const { response, body } = await ask(url);
      if (response.ok && body) take(body);
    } catch (error) { alertText("网络不稳定，请重试", "Connection trouble, try again"); }
  }

  async function open(item) {
    if (item.external) {
      // The product's own shop: a new tab, so this one keeps the stream.
      window.open(item.href, "_blank", "noopener");
      return;
    }
    if (window.farmliveShelf) window.farmliveShelf.close();
    code = null;
    quote = null;
    quantity = 1;
    sheet.hidden = false;
    form.hidden = false;
    $("buy-done").hidden = true;
    submit.disabled = true;
    alertText("", "");
    showErrors({});
    const buyer = JSON.parse(localStorage.getItem(BUYER_KEY) || "{}");
    ["name", "phone", "address"].forEach((field) => {
      if (!form.elements[field].value) form.elements[field].value = buyer[field] || "";
    });
    try {
      // The tracked link records the click (or shelf tap) and leads to the order page's JSON.
      const { response, body } = await ask(item.href);
      const match = new URL(response.url).pathname.match(/^\/order\/([^/]+)$/);
      if (!response.ok || !body || !match) {
        alertText((body && body.detail_zh) || "暂时无法下单", (body && body.detail) || "Cannot order now");
        return;
      }
      code = decodeURIComponent(match[1]);
      take(body);
      // The coupon on air for this product, prefilled (a code typed for another product would not apply).
      couponInput.value = body.coupon_on_air || "";
      if (couponInput.value) await requote();
      submit.disabled = false;
    } catch (error) {
      alertText("网络不稳定，请重试", "Connection trouble, try again");
    }
  }

  function close() {
    sheet.hidden = true;
    clearInterval(flashTimer);
  }

  async function place(event) {
    event.preventDefault();
    if (!quote || !code) return;
    submit.disabled = true;
    alertText("", "");
    showErrors({});
    const order = {
      quantity,
      name: form.elements.name.value,
      phone: form.elements.phone.value,
      address: form.elements.address.value,
      coupon: couponInput.value.trim(),
      channel,
      expected_total: ((cents(quote.unit_price) * quantity) / 100).toFixed(2),
      request_id: quote.order_token,
    };
    try {
      const response = await fetch(`/order/${encodeURIComponent(code)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(order),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) return done(body, order);
      showErrors(body.errors || {});
      alertText(body.detail_zh, body.detail);
      if (body.code === "price_changed") {
        quote = { ...quote, unit_price: body.unit_price, list_price: body.list_price };
        render(); // the new total is on screen before the next Submit
      } else if (body.code === "coupon_not_valid" || body.code === "order_token") {
        await requote();
      }
    } catch (error) {
      alertText("网络不稳定，请重试（不会重复下单）", "Connection trouble: try again (it will not order twice)");
    } finally {
      submit.disabled = false;
    }
  }

  function done(order, sent) {
    localStorage.setItem(BUYER_KEY, JSON.stringify({ name: sent.name, phone: sent.phone, address: sent.address }));
    form.hidden = true;
    $("buy-done").hidden = false;
    $("buy-number").textContent = order.number;
    $("buy-done-total").textContent = money(order.total);
    $("buy-done-discount").textContent = order.discount > 0
      ? `优惠 Discount -${money(order.discount)}${order.coupon ? `（优惠码 ${order.coupon}）` : ""}`
      : "";
    clearInterval(flashTimer);
  }

  $("qty-minus").addEventListener("click", () => { quantity -= 1; render(); });
  $("qty-plus").addEventListener("click", () => { quantity += 1; render(); });
  couponInput.addEventListener("input", () => {
    clearTimeout(couponTimer);
    couponTimer = setTimeout(requote, 350);
  });
  form.addEventListener("submit", place);
  sheet.querySelectorAll("[data-close]").forEach((button) => button.addEventListener("click", close));
  // The pop-up's Buy: the sheet instead of leaving the stream (the link stays a real link for others).
  $("buy").addEventListener("click", (event) => {
    const buy = event.currentTarget;
    if (buy.classList.contains("disabled") || buy.getAttribute("href") === "#") return;
    event.preventDefault();
    open({ href: buy.getAttribute("href"), external: buy.dataset.external === "1" });
  });
  window.farmliveBuy = { open, close, get quote() { return quote; } };
})();
