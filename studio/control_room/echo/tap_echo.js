// The host's taps, straight to the studio: a click on an On air / Take / Clear button
//  1. writes "going on air: <name>" here at once (the echo, before any network),
//  2. sends PUT /api/overlay from this page with the studio key (CORS allows exactly the control
//     room's origin), so the tap reaches the video without waiting for Streamlit's round trip,
//  3. shows the studio's answer here ("on air: <name>") and hands it to Streamlit as a trigger
//     value: the on-air bar and the cards then redraw from it; a refusal (400/404 problem) goes
//     to Streamlit too and is shown under the field, as before.
// If the studio cannot be reached from the browser (a certificate it has not accepted, a proxy),
// or this component never loaded, the button's own Streamlit callback does the work: the
// Python path stays the fallback. No CDN, no iframe.

const shared = window.__flTaps || (window.__flTaps = {
  air: null,       // the on-air bar's mount: {data, line, trigger}
  take: null,      // the staging panel's mount: {data, trigger, at}
  editedAt: 0,     // last edit of a staging control (its value may not have reached Python yet)
  bypass: false,   // true while a button is clicked again for the Python fallback
  queue: Promise.resolve(),  // taps go out one after the other: the last tap wins
  taps: 0,
});

function keyClass(button) {
  const holder = button.closest('[class*="st-key-"]');
  if (!holder) return null;
  return [...holder.classList].find((c) => c.startsWith("st-key-")) || null;
}

// What a tap on `button` asks for: the echo's name and SKU, and the request body when it can go
// direct (null: leave it to the button's Streamlit callback).
function targetOf(button) {
  const air = shared.air && shared.air.data;
  if (!air) return null;
  const key = keyClass(button);
  if (!key) return null;
  if (key in air.names) {
    const sku = air.skus[key];
    return { name: air.names[key], sku, where: "air", body: { sku, layout: air.layout, promo: null } };
  }
  if (key === "st-key-clear") {
    return { name: air.nothing, sku: "", where: "air", body: { sku: null, layout: air.layout, promo: null } };
  }
  if (key === "st-key-take") {
    const take = shared.take;
    const staged = take && take.data.take;
    // A staging control changed since Python last described the staged tap: its value is on
    // its way to Python, so Python (the button's callback) builds this one.
    const fresh = staged && shared.editedAt <= take.at;
    const sku = staged ? staged.sku : "";
    const name = Object.keys(air.names).find((k) => air.skus[k] === sku);
    return {
      name: name ? air.names[name] : sku, sku, where: "take",
      body: fresh ? { sku, layout: staged.layout, promo: promoOf(staged, take.data.clock) } : null,
    };
  }
  return null;
}

// A countdown starts when Take is pressed: its end on the studio's clock (`clock` maps this
// browser's clock onto it), like the Python path's `staged_promo()`.
function promoOf(staged, clock) {
  if (!staged.promo) return null;
  const promo = { ...staged.promo };
  if ("minutes" in promo) {
    const ends = Date.now() + clock + promo.minutes * 60000;
    delete promo.minutes;
    promo.ends_at = new Date(ends).toISOString().replace(/\.\d+Z$/, "Z");
  }
  return promo;
}

function show(state, label, target) {
  const line = shared.air && shared.air.line;
  if (!line) return;
  line.querySelector(".label").textContent = label;
  const name = line.querySelector(".name");
  name.textContent = target.name;
  name.dataset.sku = target.sku;
  name.dataset.state = state;
  line.dataset.state = state;
  if (state === "sending") line.dataset.at = String(performance.now());
  else line.dataset.answeredAt = String(performance.now());
  line.hidden = false;
  clearTimeout(shared.air.timer);
  shared.air.timer = setTimeout(() => { line.hidden = true; }, 15000);
}

function hide() {
  if (shared.air && shared.air.line) shared.air.line.hidden = true;
}

// The Python path: click the button again, this time letting Streamlit have it.
function fallBack(button) {
  shared.bypass = true;
  try { button.click(); } finally { shared.bypass = false; }
}

async function send(target, button) {
  const air = shared.air.data;
  let response;
  try {
    response = await fetch(`${air.api}/api/overlay`, {
      method: "PUT",
      mode: "cors",
      credentials: "omit",
      headers: { Authorization: `Bearer ${air.key}`, "Content-Type": "application/json" },
      body: JSON.stringify(target.body),
    });
  } catch (error) {
    fallBack(button);  // not reachable from this browser: the Python path
    return;
  }
  let answer = null;
  try { answer = await response.json(); } catch (error) { answer = null; }
  const tap = (shared.taps += 1);
  const mount = target.where === "take" && shared.take ? shared.take : shared.air;
  if (response.ok && answer) {
    show("answer", shared.air.data.answered, target);
    // The page already shows the answer; Streamlit's redraw (a script run here, a React render there)
    // may wait `redraw_after_ms`, so it does not compete with the studio's first frames of the change.
    const value = { on_air: answer, where: target.where, tap };
    const wait = shared.air.data.redraw_after_ms || 0;
    if (wait > 0) setTimeout(() => mount.trigger("answer", value), wait);
    else mount.trigger("answer", value);
  } else if (answer && answer.detail) {
    hide();
    mount.trigger("refused", {
      where: target.where, status: response.status, detail: answer.detail, detail_zh: answer.detail_zh || "", tap,
    });
  } else {
    fallBack(button);  // an answer that is not the studio's (a proxy's error page)
  }
}

function onClick(event) {
  if (shared.bypass) return;
  const button = event.target.closest && event.target.closest("button");
  if (!button || button.disabled) return;
  const target = targetOf(button);
  if (!target) return;
  // A Take only Python can build (a control or a Stage just changed, a coupon without a code): Python
  // names it when it answers; the echo would name the product staged before.
  if (!target.body && target.where === "take") return;
  show("sending", shared.air.data.sending, target);
  if (!target.body || !shared.air.data.key) return;  // Streamlit's callback does it
  event.preventDefault();
  event.stopImmediatePropagation();
  shared.queue = shared.queue.then(() => send(target, button));
}

function onEdit(event) {
  const button = event.target.closest && event.target.closest("button");
  const key = button && keyClass(button);
  // A card's Stage button changes what Take means too: until the staging panel's next run has told
  // this component, a Take goes the Python way (which reads the staged product), never the old one.
  const staging = key && key.startsWith("st-key-stage-");
  if (!staging && !(event.target.closest && event.target.closest(".st-key-staging_panel"))) return;
  if (key === "st-key-take") return;
  shared.editedAt = performance.now();
}

// Not "change": it also fires when a field whose value Python already has loses focus (the tap on
// Take itself blurs it), which would send every Take the slow way.
if (!shared.listening) {
  shared.listening = true;
  document.addEventListener("click", onClick, true);
  for (const kind of ["input", "pointerdown", "keydown"]) document.addEventListener(kind, onEdit, true);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const trigger = (name, value) => setTriggerValue(name, value);
  if (data.role === "take") {
    // The staged tap as Python last described it; `clock`: the studio's clock minus this browser's.
    const at = performance.now();
    shared.take = { data: { ...data, clock: data.now_ms - Date.now() }, trigger, at };
    return () => { if (shared.take && shared.take.at === at) shared.take = null; };
  }
  const line = parentElement.querySelector(".echo");
  const mount = parentElement.__flEcho || (parentElement.__flEcho = { run: null });
  if (mount.run !== data.run) {
    // A new run of the on-air bar: the studio's answer is drawn there, the echo has done its job.
    mount.run = data.run;
    line.hidden = true;
  }
  // Kept after an unmount too: a fragment's rerun may re-mount the bar, and a tap in between still
  // goes direct with the last description (the new mount replaces it at once).
  shared.air = { data, line, trigger, timer: shared.air && shared.air.timer };
}
