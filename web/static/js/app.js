// Entry point: hash routing (#/, #/ticket/{id}, #/mine, #/admin, #/admin/ticket/{id}).
// Each route renders into <main> with an AbortSignal that cancels its requests and polling when
// the user navigates away.
import { h, clear, focusEl, append } from './dom.js';
import { config } from './api.js';
import { renderReport, renderStatus, renderMine } from './reporter.js';
import { renderAdmin, renderAdminTicket } from './admin.js';
import { renderIntegrations } from './integrations.js';
import { pageHeading } from './ui.js';

const main = document.getElementById('main');
let controller = null;

const routes = [
  [/^\/?$/, 'report', 'Report a problem', (ctx) => renderReport(ctx)],
  [/^\/ticket\/([^/]+)$/, 'mine', 'Ticket status', (ctx, id) => renderStatus(ctx, id)],
  [/^\/mine$/, 'mine', 'My tickets', (ctx) => renderMine(ctx)],
  [/^\/admin$/, 'admin', 'Admin', (ctx) => renderAdmin(ctx)],
  [/^\/admin\/ticket\/([^/]+)$/, 'admin', 'Ticket · Admin', (ctx, id) => renderAdminTicket(ctx, id)],
  [/^\/admin\/integrations$/, 'admin', 'Integrations · Admin', (ctx) => renderIntegrations(ctx)],
];

function route({ focus = true } = {}) {
  controller?.abort('route-change');
  controller = new AbortController();
  const path = decodeURIComponent(location.hash.replace(/^#/, '').split('?')[0] || '/');
  clear(main);
  const ctx = { main, signal: controller.signal, rerender: () => route({ focus: true }) };
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

window.addEventListener('hashchange', () => route());
// The first render does not steal focus from the browser's own page-load position.
route({ focus: false });
