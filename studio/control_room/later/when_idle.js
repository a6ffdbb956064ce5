// The panels under the fold wait for this: once the control room's first screen (the on-air bar,
// the product cards, staging) has been painted and the browser has a moment (at most 1.5 s), tell
// Streamlit, which then draws them. On a two-core laptop they no longer compete with the controls
// the host needs first. Fires once per mount; no network, no CDN.
export default function (component) {
  const { parentElement, setTriggerValue } = component;
  if (parentElement.__flIdle) return;
  parentElement.__flIdle = true;
  const idle = window.requestIdleCallback || ((run) => setTimeout(run, 300));
  // Two animation frames: the first screen's frame has been drawn, not just queued.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    idle(() => setTriggerValue("idle", true), { timeout: 1500 });
  }));
}
