// Relative times tick: every <time data-relative> on the page is rewritten ("just now",
// "3 minutes ago") a few times a minute, so a queue left open does not say "now" for an hour.
import { ago } from './dom.js';

const TICK_MS = 5000;
let timer = null;

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('time[data-relative]')) {
    const text = ago(el.dateTime, now);
    if (el.textContent !== text) el.textContent = text;
  }
}

/** startClock starts the one ticker of the page (idempotent). */
export function startClock() {
  if (timer) return;
  timer = setInterval(() => { if (!document.hidden) tick(); }, TICK_MS);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
}
