// Single-key shortcuts for triage (j/k, Enter, a, r, /, x), listed in a dialog on "?". They
// never fire while typing in a field, and can be switched off in that dialog, since
// single-character keys clash with some speech and screen-reader set-ups (WCAG 2.1.4).
import { h, announce, append } from './dom.js';

const KEY = 'incidents.shortcuts';
let page = [];

export function shortcutsEnabled() {
  try { return localStorage.getItem(KEY) !== 'off'; } catch { return true; }
}

function setEnabled(on) {
  try { if (on) localStorage.removeItem(KEY); else localStorage.setItem(KEY, 'off'); } catch { /* this page only */ }
}

/**
 * useShortcuts makes list the page's shortcuts until signal aborts. Each item is
 * {key, keys (shown, optional), label, run(event)}; run returning false lets the key through.
 */
export function useShortcuts(list, signal) {
  page = list;
  signal.addEventListener('abort', () => { if (page === list) page = []; }, { once: true });
}

function typing(el) {
  if (!el || el === document.body) return false;
  if (el.isContentEditable) return true;
  if (el.closest('dialog[open]')) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  return el.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset)$/i.test(el.type);
}

document.addEventListener('keydown', (ev) => {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  if (typing(ev.target)) return;
  if (ev.key === '?') {
    ev.preventDefault();
    openHelp();
    return;
  }
  if (!shortcutsEnabled()) return;
  const item = page.find((s) => s.key === ev.key);
  if (!item) return;
  if (item.run(ev) !== false) ev.preventDefault();
});

/** helpButton opens the list of shortcuts; pages show it so the shortcuts are discoverable. */
export function helpButton() {
  return h('button', { type: 'button', class: 'btn btn-link shortcuts-btn', id: 'shortcuts-help', 'aria-keyshortcuts': '?', onclick: openHelp },
    'Keyboard shortcuts ', h('kbd', { 'aria-hidden': 'true' }, '?'));
}

const GLOBAL = [{ keys: '?', label: 'Show this list' }, { keys: 'Esc', label: 'Close this list' }];

/** openHelp shows the shortcuts of the page in a modal dialog. */
export function openHelp() {
  document.getElementById('shortcuts-dialog')?.remove();
  const toggle = h('input', { type: 'checkbox', id: 'shortcuts-enabled' });
  toggle.checked = shortcutsEnabled();
  toggle.addEventListener('change', () => {
    setEnabled(toggle.checked);
    announce(toggle.checked ? 'Keyboard shortcuts are on.' : 'Keyboard shortcuts are off.');
  });
  const rows = [...page, ...GLOBAL].map((s) => h('tr', {},
    h('th', { scope: 'row' }, h('kbd', {}, s.keys || s.key)),
    h('td', {}, s.label)));
  const close = h('button', { type: 'button', class: 'btn btn-secondary', id: 'shortcuts-close' }, 'Close');
  const dialog = h('dialog', { id: 'shortcuts-dialog', class: 'dialog', 'aria-labelledby': 'shortcuts-title' },
    h('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'),
    page.length ? null : h('p', { class: 'muted' }, 'This page has no shortcuts of its own.'),
    h('table', { class: 'table shortcuts-table' },
      h('caption', { class: 'visually-hidden' }, 'Keys and what they do'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Action'))),
      h('tbody', {}, rows)),
    h('div', { class: 'field check' }, toggle, h('label', { for: 'shortcuts-enabled' }, 'Use single-key shortcuts')),
    h('div', { class: 'actions' }, close));
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  append(document.body, dialog);
  dialog.showModal();
  close.focus();
}
