// /watch: the shelf · 小黄车, every product of the show over the video (price, stock, which one is
// on air). A tap on Buy goes through the product's tracked link with via=shelf and opens the buy
// sheet; the page never leaves the stream. Product texts are shown with textContent only.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const sheet = $("shelf");
  const list = $("shelf-list");
  const REFRESH_MS = 3000; // only while the shelf is open
  let timer = null;

  function item(product) {
    const watch = window.FarmliveWatch;
    const row = document.createElement("li");
    row.className = "shelf-item" + (product.on_air ? " live" : "");
    row.dataset.sku = product.sku;
    if (product.image) {
      const picture = document.createElement("img");
      picture.src = product.image;
      picture.alt = "";
      picture.loading = "lazy";
      row.append(picture);
    }
    const text = document.createElement("div");
    text.className = "shelf-text";
    const name = document.createElement("p");
    name.className = "shelf-name";
    if (product.on_air) {
      const mark = document.createElement("span");
      mark.className = "shelf-live";
      mark.textContent = "讲解中 On air";
      name.append(mark, " ");
    }
    name.append(product.name_zh || product.name);
    const english = document.createElement("p");
    english.className = "muted small";
    english.textContent = [product.name_zh ? product.name : "", product.unit].filter(Boolean).join(" · ");
    const price = document.createElement("p");
    price.className = "shelf-price";
    price.textContent = watch.money(product.price, product.currency);
    if (product.flash) {
      const was = document.createElement("s");
      was.textContent = watch.money(product.list_price, product.currency);
      price.append(" ", was);
    }
    const stock = document.createElement("p");
    stock.className = "muted small shelf-stock";
    stock.textContent = product.stock > 0 ? `剩余 ${product.stock} · ${product.stock} left` : "已售罄 · Sold out";
    text.append(name, english, price, stock);
    const buy = document.createElement("a");
    buy.className = "shelf-buy" + (product.stock > 0 ? "" : " disabled");
    buy.href = product.buy_href;
    buy.textContent = product.stock > 0 ? "去抢购 Buy" : "已售罄";
    buy.addEventListener("click", (event) => {
      event.preventDefault();
      if (product.stock <= 0) return;
      window.farmliveBuy.open({ href: product.buy_href, external: product.external });
    });
    row.append(text, buy);
    return row;
  }

  async function load() {
    try {
      const response = await fetch("/watch/shelf", { cache: "no-store" });
      if (!response.ok) return;
      const shelf = await response.json();
      list.replaceChildren(...shelf.products.map(item));
      $("shelf-empty").hidden = shelf.products.length > 0;
    } catch (error) { /* the next refresh will tell */ }
  }

  function open() {
    sheet.hidden = false;
    load();
    clearInterval(timer);
    timer = setInterval(load, REFRESH_MS);
  }

  function close() {
    sheet.hidden = true;
    clearInterval(timer);
  }

  $("shelf-open").addEventListener("click", () => (sheet.hidden ? open() : close()));
  sheet.querySelector("[data-close]").addEventListener("click", close);
  window.farmliveShelf = { open, close, load };
})();
