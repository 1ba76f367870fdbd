// DOM building without innerHTML: every piece of data becomes a text node, so user-supplied
// text can never turn into markup or script.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'style') throw new Error('inline style attributes are blocked by the CSP; use a class');
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    } else if (k === 'props') {
      Object.assign(el, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings, numbers, nested arrays; null/false are skipped). */
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h builds an HTML element: h('p', {class: 'x'}, 'text', child). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** s builds an SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** clear removes every child of el. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** announce tells screen-reader users about a change that happened without a focus move. */
export function announce(message) {
  const live = document.getElementById('announcer');
  if (!live) return;
  live.textContent = '';
  // A fresh text node after a tick makes screen readers repeat identical messages too.
  setTimeout(() => { live.textContent = message; }, 50);
}

/** focusEl moves focus to el (made focusable if needed) without scrolling past it. */
export function focusEl(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
    el.setAttribute('tabindex', '-1');
  }
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: 'nearest' });
}

let uid = 0;
/** id returns a document-unique element id with the given prefix. */
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// One format for every exact time in the app, with its time zone: responders in several
// places read the same ticket.
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** formatDate renders an ISO time for people; invalid or empty input gives an em dash. */
export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
}

/** ago renders an ISO time relative to now ("3 minutes ago"). */
export function ago(iso, now = Date.now()) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const sec = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(sec);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relFmt.format(Math.round(sec / 60), 'minute');
  if (abs < 86400) return relFmt.format(Math.round(sec / 3600), 'hour');
  return relFmt.format(Math.round(sec / 86400), 'day');
}

/**
 * timeEl renders a <time>: the exact time, or a relative one that ticks (clock.js) with the
 * exact time as its tooltip.
 */
export function timeEl(iso, relative = false, attrs = {}) {
  return h('time', {
    datetime: iso || '', title: relative ? formatDate(iso) : null, 'data-relative': relative ? '' : null, ...attrs,
  }, relative ? ago(iso) : formatDate(iso));
}

/** duration renders the time between two ISO times ("1.2 s", "3 min 4 s"). */
export function duration(startIso, stopIso) {
  const ms = new Date(stopIso).getTime() - new Date(startIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** uuid returns a random v4 UUID, also outside secure contexts where randomUUID is missing. */
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** sleep resolves after ms, or rejects with an AbortError when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}

/** copyText copies text to the clipboard; it returns false when the browser refuses. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** selectText selects the contents of el so the user can copy it by hand. */
export function selectText(el) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

/** prettyJSON pretty-prints JSON given as text or value; text that is not JSON is returned as is. */
export function prettyJSON(v) {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v === 'string') {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}
