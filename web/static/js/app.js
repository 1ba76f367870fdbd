// Entry point: hash routing (#/, #/ticket/{id}, #/mine, #/admin, #/admin/ticket/{id}).
// Each route renders into <main> with an AbortSignal that cancels its requests and polling when
// the user navigates away.
import { h, clear, focusEl, append } from './dom.js';
import { config } from './api.js';
import { renderReport, renderStatus, renderMine } from './reporter.js';
import { renderAdminTicket } from './admin.js';
import { renderQueue } from './queue.js';
import { renderIntegrations } from './integrations.js';
import { pageHeading } from './ui.js';
import { setupThemeToggle } from './theme.js';

const main = document.getElementById('main');
let controller = null;

const routes = [
  [/^\/?$/, 'report', 'Report a problem', (ctx) => renderReport(ctx)],
  [/^\/ticket\/([^/]+)$/, 'mine', 'Ticket status', (ctx, id) => renderStatus(ctx, id)],
  [/^\/mine$/, 'mine', 'My tickets', (ctx) => renderMine(ctx)],
  [/^\/admin$/, 'admin', 'Tickets · Admin', (ctx) => renderQueue(ctx)],
  [/^\/admin\/ticket\/([^/]+)$/, 'admin', 'Ticket · Admin', (ctx, id) => renderAdminTicket(ctx, id)],
  [/^\/admin\/integrations$/, 'admin', 'Integrations · Admin', (ctx) => renderIntegrations(ctx)],
];

// A page may follow changes of its own query (#/admin?status=open) without being built anew:
// it registers onQuery, and a new URL with the same path calls it instead.
let current = { path: null, hash: null, onQuery: null };

function route({ focus = true, force = false } = {}) {
  const path = decodeURIComponent(location.hash.replace(/^#/, '').split('?')[0] || '/');
  if (!force && location.hash === current.hash) return;
  if (!force && path === current.path && current.onQuery) {
    current.hash = location.hash;
    current.onQuery();
    return;
  }
  controller?.abort('route-change');
  controller = new AbortController();
  current = { path, hash: location.hash, onQuery: null };
  clear(main);
  const mine = current;
  const ctx = {
    main, signal: controller.signal, rerender: () => route({ focus: true, force: true }),
    onQuery: (fn) => { mine.onQuery = fn; },
    // setQuery writes the page's new state into the URL without routing (a history entry
    // unless replace), so Back returns to the state before.
    setQuery: (hash, replace = false) => {
      if (hash === location.hash) return;
      history[replace ? 'replaceState' : 'pushState'](null, '', hash);
      if (current === mine) mine.hash = location.hash;
    },
  };
  let matched = false;
  for (const [re, nav, title, render] of routes) {
    const m = path.match(re);
    if (!m) continue;
    matched = true;
    document.title = `${title} · Incident Manager`;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    render(ctx, ...m.slice(1));
    break;
  }
  if (!matched) {
    document.title = 'Page not found · Incident Manager';
    append(main, h('div', { class: 'page' }, pageHeading('Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/' }, 'Report a problem'), ' or open ', h('a', { href: '#/mine' }, 'My tickets'), '.')));
  }
  // Move focus to the new page's heading so screen readers announce it and Tab starts there.
  if (focus) {
    const heading = main.querySelector('h1');
    if (heading) focusEl(heading);
    window.scrollTo(0, 0);
  }
}

document.getElementById('skip-link')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  focusEl(main.querySelector('h1') || main);
});
const modeLabel = document.getElementById('mode-label');
if (modeLabel) modeLabel.textContent = config.mode === 'aws' ? `AWS ${config.region || ''}`.trim() : 'local server';

// Links change the hash (hashchange); the queue's own filter changes use pushState, so Back
// and Forward through them come as popstate.
window.addEventListener('hashchange', () => route());
window.addEventListener('popstate', () => route());
setupThemeToggle(document.getElementById('theme-toggle'));
// The first render does not steal focus from the browser's own page-load position.
route({ focus: false });
