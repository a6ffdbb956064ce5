// The host's tap, shown at once: a click on an On air / Take / Clear button writes
// "going on air: <name>" here before the browser has even told Streamlit about it.
// The on-air bar's fragment rerun (the studio's answer) then replaces the echo.
// No network, no CDN: the buttons themselves still go through Streamlit and the API.

function targetOf(button, data) {
  const holder = button.closest('[class*="st-key-"]');
  if (!holder) return null;
  const key = [...holder.classList].find((c) => c.startsWith("st-key-"));
  if (!key) return null;
  if (key in data.names) return { name: data.names[key], sku: data.skus[key] };
  if (key === "st-key-clear") return { name: data.nothing, sku: "" };
  if (key === "st-key-take") {
    // The staged product: the name the staging select box shows.
    const picked = document.querySelector(".st-key-stage_pick input");
    const text = picked ? picked.value : "";
    const found = Object.keys(data.names).find((k) => text.includes(data.names[k]));
    return found ? { name: data.names[found], sku: data.skus[found] } : null;
  }
  return null;
}

export default function (component) {
  const { data, parentElement } = component;
  const line = parentElement.querySelector(".echo");
  const state = parentElement.__flEcho || (parentElement.__flEcho = { data: null, run: null, timer: null });
  state.data = data;
  if (state.run !== data.run) {
    // A new run of the on-air bar: the studio's answer is on screen, the echo has done its job.
    state.run = data.run;
    line.hidden = true;
  }
  if (!state.listener) {
    state.listener = (event) => {
      const button = event.target.closest && event.target.closest("button");
      if (!button || button.disabled) return;
      const target = targetOf(button, state.data);
      if (!target) return;
      line.querySelector(".label").textContent = state.data.sending;
      const name = line.querySelector(".name");
      name.textContent = target.name;
      name.dataset.sku = target.sku;
      line.dataset.at = String(performance.now());
      line.hidden = false;
      clearTimeout(state.timer);
      state.timer = setTimeout(() => { line.hidden = true; }, 15000);
    };
    document.addEventListener("click", state.listener, true);
  }
  return () => {
    document.removeEventListener("click", state.listener, true);
    state.listener = null;
  };
}
