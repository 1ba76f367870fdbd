// The admins' integrations page (#/admin/integrations): the keys monitoring tools and heartbeat
// monitors file tickets with. A key is shown once, when made or rotated; the list shows its last
// four characters only.
import { h, clear, announce, focusEl, timeEl, append } from './dom.js';
import { api, adminToken, isAuthError } from './api.js';
import { errorAlert, isAbort, pageHeading, copyButton } from './ui.js';

function signedOut(ctx, err) {
  if (!isAuthError(err)) return false;
  adminToken.clear();
  location.hash = '#/admin';
  return true;
}

export function renderIntegrations(ctx) {
  const { main, signal } = ctx;
  if (!adminToken.get()) { location.hash = '#/admin'; return; }
  const listSlot = h('div', { class: 'card table-card', id: 'integrations' });
  const keySlot = h('div', { 'aria-live': 'polite' });
  const name = h('input', { id: 'integration-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
  const type = h('select', { id: 'integration-type', name: 'type' },
    h('option', { value: 'events' }, 'Events (PagerDuty Events API, Alertmanager)'),
    h('option', { value: 'heartbeat' }, 'Heartbeat monitor'));
  const interval = h('input', { id: 'integration-interval', name: 'interval', placeholder: '5m', autocomplete: 'off' });
  const intervalField = h('div', { class: 'field', hidden: true }, h('label', { for: 'integration-interval' }, 'Interval (e.g. 5m, 1h, 25h)'), interval);
  type.addEventListener('change', () => { intervalField.hidden = type.value !== 'heartbeat'; });
  const formAlert = h('div');

  const showKey = (v, verb) => {
    const code = h('code', { id: 'integration-key' }, v.key);
    const urls = Object.entries(v.urls || {}).map(([k, u]) => h('li', {}, `${k}: `, h('code', {}, u.replace('KEY', v.key))));
    append(clear(keySlot), h('div', { class: 'alert alert-success', role: 'status' },
      h('p', {}, `${verb} “${v.name}”. Its key is shown this once: copy it now.`),
      h('p', {}, code, ' ', copyButton(v.key, code, 'Copy key')),
      urls.length ? h('ul', {}, urls) : null));
    focusEl(keySlot.querySelector('.alert'));
  };

  const form = h('form', { class: 'card', 'aria-labelledby': 'new-integration', onsubmit: async (ev) => {
    ev.preventDefault();
    clear(formAlert);
    const body = { name: name.value, type: type.value };
    if (type.value === 'heartbeat') body.interval = interval.value;
    try {
      const { data } = await api.createIntegration(body, signal);
      showKey(data, 'Made');
      form.reset();
      intervalField.hidden = true;
      load();
    } catch (err) {
      if (isAbort(err) || signedOut(ctx, err)) return;
      append(formAlert, errorAlert({ message: [err.message, ...err.fields.map((f) => f.message)].join(' ') }));
      focusEl(formAlert.querySelector('.alert'));
    }
  } },
  h('h2', { id: 'new-integration' }, 'New integration'),
  h('div', { class: 'field' }, h('label', { for: 'integration-name' }, 'Name'), name),
  h('div', { class: 'field' }, h('label', { for: 'integration-type' }, 'Type'), type),
  intervalField, formAlert,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'integration-create' }, 'Make integration')));

  append(main, h('div', { class: 'page page-admin' },
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/admin' }, 'Tickets'), ' / ', h('span', { 'aria-current': 'page' }, 'Integrations')),
    pageHeading('Integrations'), keySlot, form, listSlot));

  async function act(fn, done) {
    try {
      const { data } = await fn();
      done?.(data);
      load();
    } catch (err) {
      if (isAbort(err) || signedOut(ctx, err)) return;
      append(clear(keySlot), errorAlert(err));
    }
  }

  function draw(items) {
    if (!items.length) { append(clear(listSlot), h('p', { class: 'empty' }, 'No integrations yet.')); return; }
    const rows = items.map((v) => h('tr', { dataset: { id: v.id } },
      h('td', { dataset: { label: 'Name' } }, v.name),
      h('td', { dataset: { label: 'Type' } }, v.type === 'heartbeat'
        ? `heartbeat every ${Math.round(v.heartbeat.intervalSeconds / 60)} min · ${v.heartbeat.state}` : 'events'),
      h('td', { dataset: { label: 'Key' } }, h('code', {}, `…${v.keyHint}`)),
      h('td', { dataset: { label: 'Made' } }, timeEl(v.createdAt, true)),
      h('td', { dataset: { label: 'Actions' } },
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => {
          const n = window.prompt('New name', v.name);
          if (n) act(() => api.patchIntegration(v.id, { name: n }, signal), () => announce('Renamed.'));
        } }, 'Rename'), ' ',
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => {
          if (window.confirm(`Rotate the key of “${v.name}”? The old key stops working at once.`)) act(() => api.rotateIntegration(v.id, signal), (d) => showKey(d, 'Rotated'));
        } }, 'Rotate key'), ' ',
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => {
          if (window.confirm(`Delete “${v.name}”? Its key stops working.`)) act(() => api.deleteIntegration(v.id, signal), () => announce('Deleted.'));
        } }, 'Delete'))));
    append(clear(listSlot), h('table', { class: 'table responsive' },
      h('caption', { class: 'visually-hidden' }, 'Integrations'),
      h('thead', {}, h('tr', {}, ['Name', 'Type', 'Key', 'Made', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
  }

  async function load() {
    try {
      const { data } = await api.listIntegrations(signal);
      draw(Array.isArray(data?.items) ? data.items : []);
    } catch (err) {
      if (isAbort(err) || signedOut(ctx, err)) return;
      append(clear(listSlot), errorAlert(err, load));
    }
  }
  load();
}
