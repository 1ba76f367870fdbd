// The queue, where responders spend the day: search, filters, sorts and paging kept in the URL
// (#/admin?status=open&severity=critical…), saved views, counts that follow the filters, a
// dense table (a compact list on phones), bulk actions with one result per ticket, triage
// keys, and live updates: rows change in place, new tickets wait in a banner instead of
// pushing rows away under the pointer.
import { h, clear, announce, focusEl, timeEl, append } from './dom.js';
import { api, config } from './api.js';
import {
  SEVERITIES, STATUSES, NOTIFICATIONS, severityChip, statusChip, notificationChip, errorAlert, isAbort, pageHeading,
} from './ui.js';
import { guard, onAuthError, adminBar, rememberQueue } from './admin.js';
import { follow } from './live.js';
import { startClock } from './clock.js';
import { useShortcuts, helpButton } from './shortcuts.js';

const PAGE_SIZES = [10, 25, 50, 100];
const SORTS = [
  { value: 'filed', label: 'Newest first', aws: true },
  { value: 'age', label: 'Oldest first', aws: true },
  { value: 'updated', label: 'Recently updated' },
  { value: 'severity', label: 'Most severe first' },
];
const CATEGORIES = ['Access', 'Email', 'Hardware', 'Network', 'Security', 'Software', 'Other'];
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

// Fields that the API is about to carry (issue 10: ref, assignee; issue 12: integration). Each
// column, filter and action below appears once the tickets the API returns have the field, so
// wiring them up is a matter of the server sending it.
const OPTIONAL = {
  ref: (t) => typeof t?.ref === 'string' && t.ref !== '',
  assignee: (t) => t && Object.hasOwn(t, 'assignee'),
  integration: (t) => t && Object.hasOwn(t, 'integration'),
};

/**
 * currentUser is the signed-in responder ({id, name}), or null while sign-in is the shared
 * admin token (issue 10 replaces it with people: return the session's user here, and the
 * "Assigned to me" view appears).
 */
export function currentUser() {
  return null;
}

// The filters, in the URL order. Each is a query parameter of GET /ticket of the same name,
// except `to`, which people mean inclusively (the API's is exclusive).
const FILTER_KEYS = ['q', 'status', 'severity', 'notification', 'category', 'assignee', 'integration', 'from', 'to'];
const DEFAULTS = { sort: 'filed', limit: 25 };

function sortsHere() {
  return SORTS.filter((s) => config.mode !== 'aws' || s.aws);
}

/** readState reads the queue's state from the URL, dropping values that are not valid. */
export function readState(hash = location.hash) {
  const qs = new URLSearchParams(hash.split('?')[1] || '');
  const st = { sort: DEFAULTS.sort, limit: DEFAULTS.limit, cursor: '', page: 1 };
  for (const k of FILTER_KEYS) st[k] = (qs.get(k) || '').trim();
  if (!STATUSES.some((x) => x.value === st.status)) st.status = '';
  if (!SEVERITIES.some((x) => x.value === st.severity)) st.severity = '';
  st.notification = st.notification.toUpperCase();
  if (!NOTIFICATIONS[st.notification]) st.notification = '';
  if (!DATE_RE.test(st.from)) st.from = '';
  if (!DATE_RE.test(st.to)) st.to = '';
  st.q = st.q.slice(0, 200);
  st.category = st.category.slice(0, 64);
  if (sortsHere().some((s) => s.value === qs.get('sort'))) st.sort = qs.get('sort');
  const limit = Number(qs.get('limit'));
  if (PAGE_SIZES.includes(limit)) st.limit = limit;
  const page = Number(qs.get('page'));
  if (Number.isInteger(page) && page > 1 && qs.get('cursor')) {
    st.page = page;
    st.cursor = qs.get('cursor');
  }
  return st;
}

/** filterQuery is the part of the state that selects tickets (not how they are shown). */
function filterQuery(st) {
  const out = {};
  for (const k of FILTER_KEYS) if (st[k]) out[k] = st[k];
  return out;
}

/** hashFor writes a state as the queue's URL, leaving defaults out. */
export function hashFor(st) {
  const qs = new URLSearchParams(filterQuery(st));
  if (st.sort && st.sort !== DEFAULTS.sort) qs.set('sort', st.sort);
  if (st.limit && st.limit !== DEFAULTS.limit) qs.set('limit', String(st.limit));
  if (st.page > 1 && st.cursor) {
    qs.set('page', String(st.page));
    qs.set('cursor', st.cursor);
  }
  const s = qs.toString();
  return s ? `#/admin?${s}` : '#/admin';
}

/** apiQuery turns the state into GET /ticket parameters (local dates become instants). */
function apiQuery(st) {
  const q = filterQuery(st);
  const localDay = (d, plus = 0) => {
    const [y, m, day] = d.split('-').map(Number);
    return new Date(y, m - 1, day + plus).toISOString();
  };
  if (q.from) q.from = localDay(q.from);
  if (q.to) q.to = localDay(q.to, 1);
  return q;
}

const sameQuery = (a, b) => {
  const ka = Object.keys(a).filter((k) => a[k]);
  const kb = Object.keys(b).filter((k) => b[k]);
  return ka.length === kb.length && ka.every((k) => String(a[k]) === String(b[k]));
};

// --- Saved views ------------------------------------------------------------------------

const VIEWS_KEY = 'incidents.views';
const BUILTIN_VIEWS = [
  { id: 'all', name: 'All tickets', query: {} },
  { id: 'open-critical', name: 'Open critical', query: { status: 'open', severity: 'critical' } },
  { id: 'failed', name: 'Failed notifications', query: { notification: 'FAILED' } },
  { id: 'mine', name: 'Assigned to me', query: () => ({ assignee: currentUser()?.id }), needs: 'assignee' },
];

function customViews() {
  try {
    const v = JSON.parse(localStorage.getItem(VIEWS_KEY) || '[]');
    return Array.isArray(v) ? v.filter((x) => x && typeof x.name === 'string' && x.query && typeof x.query === 'object').slice(0, 20) : [];
  } catch { return []; }
}

function saveCustomViews(list) {
  try { localStorage.setItem(VIEWS_KEY, JSON.stringify(list.slice(0, 20))); } catch { /* storage full or disabled */ }
}

// --- Cursor history, so Previous works after a reload --------------------------------------

const CURSORS_KEY = 'incidents.queue.cursors';
function cursorKey(st) {
  return JSON.stringify([filterQuery(st), st.sort, st.limit]);
}
function loadCursors(st) {
  try {
    const v = JSON.parse(sessionStorage.getItem(CURSORS_KEY) || 'null');
    if (v && v.key === cursorKey(st) && Array.isArray(v.cursors)) return v;
  } catch { /* nothing saved */ }
  return { key: cursorKey(st), cursors: [''], total: null, exact: true };
}
function saveCursors(v) {
  try { sessionStorage.setItem(CURSORS_KEY, JSON.stringify(v)); } catch { /* this page only */ }
}

// --- Bulk actions ------------------------------------------------------------------------

// Each action is one POST /admin/tickets/bulk action; `done` is the verb for the summary.
const BULK = [
  { action: 'acknowledge', label: 'Acknowledge', done: 'Acknowledged', key: 'a' },
  { action: 'resolve', label: 'Resolve', done: 'Resolved', key: 'r' },
  { action: 'reopen', label: 'Reopen', done: 'Reopened' },
  { action: 'retry-notification', label: 'Retry notification', done: 'Retried the notification of' },
  // issue 10: { action: 'assign', label: 'Assign…', done: 'Assigned', needs: 'assignee' } once the
  // bulk API takes an assignee and there is a list of people to pick from.
];

const STATUS_AFTER = { acknowledge: 'acknowledged', resolve: 'resolved', reopen: 'open' };

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const later = (a, b) => (!a ? b : !b ? a : (new Date(b) > new Date(a) ? b : a));

export function renderQueue(ctx) {
  if (!guard(ctx, () => ctx.rerender())) return;
  const { main, signal } = ctx;
  let st = readState();
  rememberQueue(hashFor(st));
  let cursors = loadCursors(st);
  let features = { ref: false, assignee: false, integration: false };
  const rows = new Map(); // id → {tr, t, cells}
  let order = []; // ids in table order
  const selected = new Set();
  const fresh = new Map(); // tickets new to this view since it loaded, waiting in the banner
  let since = ''; // updatedSince of the next sync: the server's time of the last one
  let loadedAt = 0;
  let listCtl = null;
  let seq = 0;
  let liveState = '';
  startClock();

  // --- Layout -----------------------------------------------------------------------------
  const live = h('span', { class: 'live-state', id: 'live-state' });
  const viewsNav = h('nav', { class: 'views', 'aria-label': 'Saved views' });
  const search = h('input', {
    type: 'search', id: 'queue-search', name: 'q', maxlength: 200, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'queue-search-hint', 'aria-keyshortcuts': '/',
  });
  const searchForm = h('form', { role: 'search', class: 'queue-search', 'aria-label': 'Tickets', id: 'queue-search-form' },
    h('label', { for: 'queue-search' }, 'Search'),
    h('div', { class: 'search-row' }, search, h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Search')),
    h('p', { class: 'hint', id: 'queue-search-hint' }, config.mode === 'aws'
      ? 'Title, description, reporter, category or ID: every word must match the start of a word. On AWS the search reads a bounded number of recent tickets per page.'
      : 'Title, description, reporter, category or ID: every word must match the start of a word.'));

  const control = (idv, label, el) => h('div', { class: 'field inline' }, h('label', { for: idv }, label), el);
  const sel = (idv, name, options) => h('select', { id: idv, name }, options.map(([v, t]) => h('option', { value: v }, t)));
  const controls = {
    status: sel('filter-status', 'status', [['', 'Any status'], ...STATUSES.map((x) => [x.value, x.label])]),
    severity: sel('filter-severity', 'severity', [['', 'Any severity'], ...SEVERITIES.map((x) => [x.value, x.label])]),
    notification: sel('filter-notification', 'notification', [['', 'Any notification'], ...Object.entries(NOTIFICATIONS).map(([k, v]) => [k, v.short])]),
    category: h('input', { id: 'filter-category', name: 'category', list: 'filter-category-list', maxlength: 64, autocomplete: 'off' }),
    from: h('input', { id: 'filter-from', name: 'from', type: 'date' }),
    to: h('input', { id: 'filter-to', name: 'to', type: 'date' }),
    sort: sel('filter-sort', 'sort', sortsHere().map((s) => [s.value, s.label])),
    limit: sel('page-size', 'limit', PAGE_SIZES.map((n) => [String(n), String(n)])),
  };
  const optionalControls = h('div', { class: 'optional-filters' });
  const clearBtn = h('button', { type: 'button', class: 'btn btn-link', id: 'clear-filters' }, 'Clear filters');
  const filterSummary = h('span', { class: 'filter-count' });
  const filtersBox = h('details', { class: 'filters-box', id: 'filters-box' },
    h('summary', {}, 'Filters and sort', ' ', filterSummary),
    h('form', { class: 'filters', 'aria-label': 'Filter and sort tickets', id: 'filters-form', onsubmit: (ev) => ev.preventDefault() },
      control('filter-status', 'Status', controls.status),
      control('filter-severity', 'Severity', controls.severity),
      control('filter-notification', 'Notification', controls.notification),
      control('filter-category', 'Category', controls.category),
      h('datalist', { id: 'filter-category-list' }, CATEGORIES.map((c) => h('option', { value: c }))),
      optionalControls,
      control('filter-from', 'Filed from', controls.from),
      control('filter-to', 'Filed until', controls.to),
      control('filter-sort', 'Sort', controls.sort),
      control('page-size', 'Per page', controls.limit),
      clearBtn));
  const narrow = window.matchMedia('(max-width: 760px)');
  filtersBox.open = !narrow.matches;

  const countsBody = h('div', { class: 'stats', id: 'counts' });
  const countsBox = h('details', { class: 'counts-box', id: 'counts-box' },
    h('summary', {}, h('h2', { class: 'counts-title', id: 'counts-h' }, 'Counts'), h('span', { class: 'counts-scope muted small', id: 'counts-scope' })),
    countsBody);
  countsBox.open = !narrow.matches;
  const banner = h('div', { class: 'new-banner', id: 'new-banner', role: 'status' });
  const bulkBar = h('div', { class: 'bulk-bar', id: 'bulk-bar', role: 'region', 'aria-label': 'Bulk actions', hidden: true });
  const bulkResult = h('div', { class: 'bulk-result', id: 'bulk-result' });
  const resultCount = h('p', { class: 'result-count', id: 'result-count', 'aria-live': 'polite' });
  const tableSlot = h('div', { class: 'card table-card queue-card' });
  const pager = h('div', { class: 'pager' });

  append(main, h('div', { class: 'page page-admin page-queue' },
    adminBar(ctx, ''),
    h('div', { class: 'queue-head' }, pageHeading('Tickets'), live,
      h('button', { type: 'button', class: 'btn btn-link', id: 'refresh', onclick: () => load() }, 'Refresh'), helpButton()),
    viewsNav, searchForm, filtersBox, countsBox, banner, bulkResult, bulkBar, resultCount, tableSlot, pager));

  // --- State ↔ controls ---------------------------------------------------------------------
  function showState() {
    search.value = st.q;
    for (const k of ['status', 'severity', 'notification', 'category', 'from', 'to']) controls[k].value = st[k];
    controls.sort.value = st.sort;
    controls.limit.value = String(st.limit);
    for (const k of ['assignee', 'integration']) {
      const el = optionalControls.querySelector(`[name="${k}"]`);
      if (el) el.value = st[k];
    }
    for (const b of countsBody.querySelectorAll('[data-card]')) {
      const [k, v] = b.dataset.card.split(':');
      b.setAttribute('aria-pressed', String(st[k] === v));
    }
    const n = FILTER_KEYS.filter((k) => k !== 'q' && st[k]).length;
    filterSummary.textContent = n ? `(${n} active)` : '';
    clearBtn.hidden = !n && !st.q;
    drawViews();
    setTitle();
  }

  /** go changes the state, writes it to the URL (a history entry unless replace) and loads. */
  function go(change, { replace = false, keepPage = false } = {}) {
    st = { ...st, ...change };
    if (!keepPage) { st.page = 1; st.cursor = ''; }
    const hash = hashFor(st);
    ctx.setQuery(hash, replace);
    rememberQueue(hash);
    cursors = loadCursors(st);
    showState();
    load();
  }

  // Back and Forward, and links to views, change the URL: follow it without a new page.
  ctx.onQuery?.(() => {
    st = readState();
    rememberQueue(hashFor(st));
    cursors = loadCursors(st);
    showState();
    load();
  });

  let typingTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { if (search.value.trim() !== st.q) go({ q: search.value.trim() }, { replace: true }); }, 350);
  });
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(typingTimer);
    if (search.value.trim() !== st.q) go({ q: search.value.trim() });
    else load();
  });
  for (const k of ['status', 'severity', 'notification', 'sort']) {
    controls[k].addEventListener('change', () => go({ [k]: controls[k].value }));
  }
  controls.limit.addEventListener('change', () => go({ limit: Number(controls.limit.value) }));
  controls.category.addEventListener('change', () => go({ category: controls.category.value.trim() }));
  for (const k of ['from', 'to']) {
    controls[k].addEventListener('change', () => {
      const v = controls[k].value;
      if (v === '' || DATE_RE.test(v)) go({ [k]: v });
    });
  }
  clearBtn.addEventListener('click', () => {
    go(Object.fromEntries(FILTER_KEYS.map((k) => [k, ''])));
    announce('Filters cleared.');
    focusEl(search);
  });

  function drawOptionalControls() {
    // The assignee and integration filters take the values the API uses; issue 10 and 12
    // may turn them into pickers of people and integrations.
    for (const [k, label] of [['assignee', 'Assignee'], ['integration', 'Integration']]) {
      const have = optionalControls.querySelector(`[name="${k}"]`);
      if (!features[k] && !st[k]) { have?.parentElement.remove(); continue; }
      if (have) continue;
      const input = h('input', { id: `filter-${k}`, name: k, maxlength: 100, autocomplete: 'off' });
      input.value = st[k];
      input.addEventListener('change', () => go({ [k]: input.value.trim() }));
      append(optionalControls, control(`filter-${k}`, label, input));
    }
  }

  // --- Saved views ------------------------------------------------------------------------
  function viewQuery(v) {
    return typeof v.query === 'function' ? v.query() : v.query;
  }
  function currentView() {
    const q = filterQuery(st);
    return [...BUILTIN_VIEWS, ...customViews()].find((v) => {
      const vq = viewQuery(v);
      return vq && sameQuery(vq, q) && (!v.sort || v.sort === st.sort);
    });
  }
  function drawViews() {
    const active = currentView();
    const link = (v, removable) => {
      const q = viewQuery(v);
      const href = hashFor({ ...DEFAULTS, ...q, sort: v.sort || DEFAULTS.sort, limit: st.limit, page: 1 });
      return h('li', {},
        h('a', { href, class: 'view-link', 'aria-current': v === active ? 'page' : null, dataset: { view: v.id || v.name } }, v.name),
        removable ? h('button', {
          type: 'button', class: 'btn btn-link view-remove', 'aria-label': `Remove the view “${v.name}”`,
          onclick: () => {
            saveCustomViews(customViews().filter((x) => x.name !== v.name));
            drawViews();
            announce(`View “${v.name}” removed.`);
            focusEl(viewsNav.querySelector('.view-link'));
          },
        }, '×') : null);
    };
    const builtins = BUILTIN_VIEWS.filter((v) => !v.needs || (features[v.needs] && currentUser()));
    const saveBtn = h('button', { type: 'button', class: 'btn btn-link', id: 'save-view', hidden: !!active }, 'Save this view');
    saveBtn.addEventListener('click', () => askViewName(saveBtn));
    append(clear(viewsNav), h('ul', { class: 'views-list' },
      builtins.map((v) => link(v, false)), customViews().map((v) => link(v, true)),
      h('li', {}, saveBtn)));
  }
  function askViewName(opener) {
    const input = h('input', { id: 'view-name', maxlength: 40, autocomplete: 'off', required: true });
    const err = h('p', { class: 'field-error', id: 'view-name-error', hidden: true });
    const form = h('form', { class: 'view-form', 'aria-label': 'Save this view' },
      h('label', { for: 'view-name' }, 'Name of the view'), err,
      h('div', { class: 'search-row' }, input,
        h('button', { type: 'submit', class: 'btn btn-primary btn-small' }, 'Save'),
        h('button', { type: 'button', class: 'btn btn-secondary btn-small', onclick: () => { form.remove(); drawViews(); focusEl(viewsNav.querySelector('#save-view')); } }, 'Cancel')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      const clash = [...BUILTIN_VIEWS, ...customViews()].some((v) => v.name.toLowerCase() === name.toLowerCase());
      const msg = !name ? 'Enter a name for the view.' : clash ? 'A view with that name exists already.' : '';
      err.textContent = msg;
      err.hidden = !msg;
      input.setAttribute('aria-invalid', msg ? 'true' : 'false');
      if (msg) { input.setAttribute('aria-describedby', 'view-name-error'); focusEl(input); return; }
      saveCustomViews([...customViews(), { name, query: filterQuery(st), sort: st.sort }]);
      drawViews();
      announce(`View “${name}” saved.`);
      focusEl(viewsNav.querySelector('[aria-current="page"]'));
    });
    opener.parentElement.replaceChildren(form);
    focusEl(input);
  }

  function setTitle() {
    const v = currentView();
    const name = v ? v.name : (st.q ? `Search “${st.q}”` : 'Filtered tickets');
    document.title = `${fresh.size ? `(${fresh.size} new) ` : ''}${name} · Tickets · Incident Manager`;
  }

  // --- Counts -----------------------------------------------------------------------------
  let countsTimer = null;
  let countsSeq = 0;
  const FACETS = [
    ['status', 'Status', STATUSES.map((x) => [x.value, x.label])],
    ['severity', 'Severity', SEVERITIES.map((x) => [x.value, x.label])],
    ['notification', 'Notification', Object.entries(NOTIFICATIONS).map(([k, v]) => [k, v.short])],
  ];
  function scheduleCounts(ms = 800) {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(loadCounts, ms);
  }
  /**
   * loadCounts counts what each card would select together with the other active filters
   * (the card's own facet replaced), so that the counts say what clicking finds. Without
   * filters that is /admin/stats; the API counts only locally (on AWS, where the first page
   * has no total, the cards count every ticket and say so).
   */
  async function loadCounts() {
    const my = ++countsSeq;
    const active = filterQuery(st);
    const filtered = Object.keys(active).length > 0;
    let counts;
    let total;
    let scope;
    try {
      if (!filtered || config.mode === 'aws') {
        const { data } = await api.stats(signal);
        counts = { status: data.byStatus || {}, severity: data.bySeverity || {}, notification: data.byNotification || {} };
        total = data.total;
        scope = filtered ? 'all tickets: on AWS the counts do not follow the filters' : 'all tickets';
      } else {
        counts = { status: {}, severity: {}, notification: {} };
        const jobs = [];
        for (const [key, , values] of FACETS) {
          for (const [value] of values) jobs.push([key, value]);
        }
        const base = apiQuery(st);
        const one = async ([key, value]) => {
          const { data } = await api.listTickets({ ...base, [key]: value, limit: 1 }, signal);
          counts[key][value] = data.total ?? 0;
          if (data.totalExact === false) counts[key][value] = `${data.total}+`;
        };
        for (let i = 0; i < jobs.length; i += 4) await Promise.all(jobs.slice(i, i + 4).map(one));
        total = cursors.total;
        scope = 'tickets matching the search and filters';
      }
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err) || my !== countsSeq) return;
      append(clear(countsBody), errorAlert({ message: `The counts could not be loaded. ${err.message}` }, () => loadCounts()));
      return;
    }
    if (my !== countsSeq) return;
    drawCounts(counts, total, scope);
  }
  function drawCounts(counts, total, scope) {
    const hadFocus = countsBody.contains(document.activeElement) ? document.activeElement.dataset.card : '';
    const card = (key, value, label) => {
      const pressed = st[key] === value;
      return h('button', {
        type: 'button', class: `stat ${key === 'notification' ? 'nt' : key === 'status' ? 'st' : 'sev'}-${value.toLowerCase()}`,
        'aria-pressed': String(pressed), dataset: { card: `${key}:${value}` },
        onclick: () => {
          go({ [key]: pressed ? '' : value });
          announce(pressed ? `Showing every ${key}.` : `Showing ${label.toLowerCase()} tickets only.`);
        },
      }, h('span', { class: 'stat-n' }, String(counts[key]?.[value] ?? 0)), h('span', { class: 'stat-l' }, label));
    };
    countsScope.textContent = `: ${scope}`;
    append(clear(countsBody),
      h('div', { class: 'stat-group' }, h('h3', { class: 'stat-title' }, 'All'),
        h('div', { class: 'stat-row' }, h('div', { class: 'stat stat-total' }, h('span', { class: 'stat-n' }, total === null || total === undefined ? '—' : String(total)), h('span', { class: 'stat-l' }, 'Total')))),
      FACETS.map(([key, title, values]) => h('div', { class: 'stat-group' }, h('h3', { class: 'stat-title' }, title),
        h('div', { class: 'stat-row' }, values.map(([v, l]) => card(key, v, l))))));
    // The cards were rebuilt: keep the keyboard where it was.
    if (hadFocus) countsBody.querySelector(`[data-card="${CSS.escape(hadFocus)}"]`)?.focus({ preventScroll: true });
  }
  const countsScope = countsBox.querySelector('#counts-scope');

  // --- Loading the page of tickets ----------------------------------------------------------
  async function load({ focusTable = false } = {}) {
    // Only the newest request may draw: an older, slower answer would contradict the filters.
    listCtl?.abort('superseded');
    listCtl = new AbortController();
    const my = ++seq;
    const sig = AbortSignal.any([signal, listCtl.signal]);
    tableSlot.setAttribute('aria-busy', 'true');
    if (!tableSlot.firstChild) append(tableSlot, h('p', { class: 'loading' }, 'Loading tickets…'));
    let data;
    let response;
    try {
      ({ data, response } = await api.listTickets({ ...apiQuery(st), sort: st.sort, limit: st.limit, cursor: st.cursor }, sig));
    } catch (err) {
      if (my !== seq || isAbort(err) || sig.aborted || onAuthError(ctx, err)) return;
      tableSlot.removeAttribute('aria-busy');
      const stale = err.status === 400 && st.cursor && err.fields.some((f) => f.field === 'cursor');
      const detail = err.fields.length ? `${err.message} ${err.fields.map((f) => f.message).join(' ')}` : err.message;
      append(clear(tableSlot), errorAlert(stale ? { message: 'That page is no longer available. Start again from the first page.' } : { message: detail },
        () => (stale ? go({}) : load()), stale ? 'Go to the first page' : 'Try again'));
      clear(pager);
      resultCount.textContent = '';
      return;
    }
    if (my !== seq) return;
    tableSlot.removeAttribute('aria-busy');
    // The server's clock decides what "changed since" means; a second of overlap covers the
    // Date header's rounding (rows already shown are matched by version).
    const serverNow = Date.parse(response.headers.get('Date') || '') || Date.now();
    since = new Date(serverNow - 2000).toISOString();
    loadedAt = serverNow - 2000;
    fresh.clear();
    drawBanner();
    if (st.page === 1) {
      cursors = { key: cursorKey(st), cursors: [''], total: data.total ?? null, exact: data.totalExact !== false };
    }
    cursors.cursors.length = st.page;
    cursors.cursors[st.page - 1] = st.cursor;
    if (data.nextCursor) cursors.cursors[st.page] = data.nextCursor;
    saveCursors(cursors);
    drawTable(data, focusTable);
    scheduleCounts(0);
  }

  // --- The table ----------------------------------------------------------------------------
  let tip = null;
  function columns() {
    return [
      { key: 'select', cls: 'col-select', head: () => selectAllBox() },
      features.ref && { key: 'ref', cls: 'col-ref', head: 'Ref' },
      { key: 'title', cls: 'col-title', head: 'Title' },
      { key: 'severity', cls: 'col-severity', head: 'Severity', sort: 'severity' },
      { key: 'status', cls: 'col-status', head: 'Status' },
      { key: 'notification', cls: 'col-notification', head: 'Notification' },
      { key: 'reporter', cls: 'col-reporter', head: 'Reporter' },
      features.assignee && { key: 'assignee', cls: 'col-assignee', head: 'Assignee' },
      { key: 'time', cls: 'col-time', head: st.sort === 'updated' ? 'Updated' : 'Filed', sort: st.sort === 'age' ? 'filed' : 'age' },
    ].filter(Boolean);
  }

  function selectAllBox() {
    const box = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select every ticket on this page' });
    box.addEventListener('change', () => {
      for (const id of order) if (box.checked) selected.add(id); else selected.delete(id);
      for (const r of rows.values()) r.box.checked = selected.has(r.t.id);
      drawBulk();
      announce(box.checked ? `${plural(selected.size, 'ticket')} selected.` : 'Selection cleared.');
    });
    return box;
  }

  function headCell(c) {
    if (typeof c.head === 'function') return h('th', { scope: 'col', class: c.cls }, c.head());
    if (!c.sort) return h('th', { scope: 'col', class: c.cls }, c.head);
    // The time column sorts newest first, and oldest first when pressed again.
    const active = c.key === 'time' ? (st.sort === 'filed' || st.sort === 'age' || st.sort === 'updated') : st.sort === c.sort;
    const dir = c.key === 'time' ? (st.sort === 'age' ? 'ascending' : 'descending') : 'descending';
    const next = c.key === 'time' ? (st.sort === 'filed' ? 'age' : 'filed') : c.sort;
    const label = c.key === 'time' ? (next === 'age' ? 'oldest first' : 'newest first') : 'most severe first';
    return h('th', { scope: 'col', class: c.cls, 'aria-sort': active ? dir : null },
      h('button', { type: 'button', class: 'sort-btn', dataset: { sort: next }, onclick: () => { go({ sort: next }); focusEl(tableSlot.querySelector(`th.${c.cls} button`)); } },
        c.head, h('span', { class: 'visually-hidden' }, `, sort ${label}`), active ? h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, dir === 'ascending' ? ' ▲' : ' ▼') : null));
  }

  function cellsFor(t, cols) {
    const n = t.notification || {};
    const channels = n.channels || [];
    const sent = channels.filter((c) => c.status === 'SENT').length;
    const link = h('a', { href: `#/admin/ticket/${encodeURIComponent(t.id)}`, class: 'ticket-link', dataset: { id: t.id } }, t.title || '(no title)');
    const out = {};
    for (const c of cols) {
      switch (c.key) {
        case 'select': {
          const box = h('input', { type: 'checkbox', class: 'row-select', 'aria-label': `Select “${t.title || t.id}”` });
          box.checked = selected.has(t.id);
          box.addEventListener('change', () => {
            if (box.checked) selected.add(t.id); else selected.delete(t.id);
            drawBulk();
          });
          out.box = box;
          out.select = h('td', { class: 'cell-select' }, box);
          break;
        }
        case 'ref': out.ref = h('td', { class: 'cell-ref mono', dataset: { label: 'Ref' } }, t.ref || '—'); break;
        case 'title':
          out.link = link;
          out.title = h('td', { class: 'cell-title', dataset: { label: 'Title' } }, link);
          break;
        case 'severity': out.severity = h('td', { class: 'cell-severity', dataset: { label: 'Severity' } }, severityChip(t.severity)); break;
        case 'status': out.status = h('td', { class: 'cell-status', dataset: { label: 'Status' } }, statusChip(t.status)); break;
        case 'notification':
          out.notification = h('td', { class: 'cell-notification', dataset: { label: 'Notification' } }, notificationChip(n),
            n.status === 'PARTIAL' && channels.length ? h('span', { class: 'muted small' }, ` ${sent}/${channels.length}`, h('span', { class: 'visually-hidden' }, ' channels reached')) : null);
          break;
        case 'reporter': out.reporter = h('td', { class: 'cell-reporter', dataset: { label: 'Reporter' }, title: t.reporter?.name || null }, t.reporter?.name || '—'); break;
        case 'assignee': out.assignee = h('td', { class: 'cell-assignee', dataset: { label: 'Assignee' } }, t.assignee?.name || t.assignee || h('span', { class: 'muted' }, 'Unassigned')); break;
        case 'time': out.time = h('td', { class: 'cell-time', dataset: { label: st.sort === 'updated' ? 'Updated' : 'Filed' } }, timeEl(st.sort === 'updated' ? t.updatedAt : t.createdAt, true)); break;
        default: break;
      }
    }
    return out;
  }

  function drawTable(data, focusTable) {
    const items = Array.isArray(data?.items) ? data.items : [];
    const had = document.activeElement;
    const hadRow = tableSlot.contains(had) ? had.closest('tr')?.dataset.id : '';
    const hadPager = pager.contains(had) ? had.id : '';
    features = {
      ref: items.some(OPTIONAL.ref), assignee: items.some(OPTIONAL.assignee), integration: items.some(OPTIONAL.integration),
    };
    drawOptionalControls();
    drawViews();
    rows.clear();
    order = items.map((t) => t.id);
    for (const id of [...selected]) if (!order.includes(id)) selected.delete(id);
    const cols = columns();
    const trs = items.map((t) => {
      const cells = cellsFor(t, cols);
      const tr = h('tr', { dataset: { id: t.id } }, cols.map((c) => cells[c.key]));
      rows.set(t.id, { tr, t, cells, box: cells.box, link: cells.link });
      return tr;
    });
    const start = (st.page - 1) * st.limit + 1;
    const filtered = Object.keys(filterQuery(st)).length > 0;
    const sortLabel = sortsHere().find((s) => s.value === st.sort)?.label.toLowerCase() || '';
    append(clear(tableSlot), items.length
      ? h('table', { class: 'table queue-table', id: 'ticket-table' },
        h('caption', { class: 'visually-hidden' }, `Tickets, ${sortLabel}, page ${st.page}`),
        h('colgroup', {}, cols.map((c) => h('col', { class: c.cls }))),
        h('thead', {}, h('tr', {}, cols.map(headCell))),
        h('tbody', {}, trs))
      : h('p', { class: 'empty', id: 'ticket-empty' }, filtered ? 'No tickets match this search and these filters.' : 'No tickets yet. New reports appear here as they come in.'));
    const total = cursors.total;
    const of = total === null ? (data.nextCursor ? ' of more' : '') : ` of ${total}${cursors.exact ? '' : '+'}`;
    resultCount.textContent = items.length
      ? `Showing ${start}–${start + items.length - 1}${of} ${total === 1 ? 'ticket' : 'tickets'}`
      : (st.page > 1 ? 'No more tickets on this page.' : '');
    const prev = h('button', { type: 'button', class: 'btn btn-secondary', id: 'page-prev', disabled: st.page === 1 }, '← Previous');
    const next = h('button', { type: 'button', class: 'btn btn-secondary', id: 'page-next', disabled: !data.nextCursor }, 'Next →');
    prev.addEventListener('click', () => {
      const p = st.page - 1;
      const c = cursors.cursors[p - 1];
      go({ page: p, cursor: p === 1 ? '' : (c ?? '') }, { keepPage: p > 1 && c !== undefined });
      announce(`Page ${p}.`);
    });
    next.addEventListener('click', () => {
      go({ page: st.page + 1, cursor: data.nextCursor }, { keepPage: true });
      announce(`Page ${st.page}.`);
    });
    append(clear(pager), prev, h('span', { class: 'page-no', id: 'page-no' }, `Page ${st.page}`), next);
    if (hadPager) {
      const same = hadPager === 'page-next' ? next : prev;
      focusEl(same.disabled ? (same === next ? prev : next) : same);
    }
    if (hadRow && rows.has(hadRow)) rows.get(hadRow).link.focus({ preventScroll: true });
    if (focusTable) focusEl(tableSlot.querySelector('.ticket-link') || tableSlot.querySelector('#ticket-empty'));
    drawBulk();
    markClipped();
  }

  // A title cut by the column shows in full on hover and on keyboard focus.
  function markClipped() {
    for (const r of rows.values()) {
      const a = r.link;
      if (a) a.classList.toggle('is-clipped', a.scrollWidth > a.clientWidth + 1);
    }
  }
  const showTip = (ev) => {
    const a = ev.target.closest?.('.ticket-link.is-clipped');
    if (!a || !tableSlot.contains(a)) return;
    hideTip();
    const r = a.getBoundingClientRect();
    tip = h('div', { class: 'title-tip', id: 'title-tip', 'aria-hidden': 'true' }, a.textContent);
    document.body.append(tip);
    tip.style.left = `${Math.max(8, Math.min(r.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8))}px`;
    tip.style.top = `${r.bottom + window.scrollY + 4}px`;
  };
  const hideTip = () => { tip?.remove(); tip = null; };
  tableSlot.addEventListener('mouseover', showTip);
  tableSlot.addEventListener('focusin', showTip);
  tableSlot.addEventListener('mouseout', hideTip);
  tableSlot.addEventListener('focusout', hideTip);
  window.addEventListener('resize', markClipped, { signal });
  signal.addEventListener('abort', hideTip, { once: true });

  /** refreshRow redraws a row's cells from t, keeping the row (and focus) in place. */
  function refreshRow(r, t, { stale = false } = {}) {
    r.t = t;
    const cols = columns();
    const cells = cellsFor(t, cols);
    for (const k of ['ref', 'severity', 'status', 'notification', 'reporter', 'assignee', 'time']) {
      if (cells[k] && r.cells[k]) { r.cells[k].replaceWith(cells[k]); r.cells[k] = cells[k]; }
    }
    if (r.link.textContent !== (t.title || '(no title)')) r.link.textContent = t.title || '(no title)';
    r.tr.classList.toggle('is-stale', stale);
    r.tr.title = stale ? 'Changed: no longer matches the filters. It leaves the list at the next refresh.' : '';
    r.tr.classList.remove('is-updated');
    void r.tr.offsetWidth; // restart the highlight
    r.tr.classList.add('is-updated');
  }

  /** stillMatches checks what an event tells about a ticket against the filters it can. */
  const stillMatches = (e) => (!st.status || e.status === st.status) && (!st.severity || e.severity === st.severity)
    && (!st.notification || e.notification === st.notification);

  // --- Live updates -------------------------------------------------------------------------
  let syncTimer = null;
  let syncing = false;
  let syncAgain = false;
  function scheduleSync(ms = 200) {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(sync, ms);
  }
  /** sync asks for what changed in this view since the last time, and shows it. */
  async function sync() {
    if (!since) return;
    if (syncing) { syncAgain = true; return; }
    syncing = true;
    const my = seq;
    try {
      const query = { ...apiQuery(st), updatedSince: since, sort: config.mode === 'aws' ? 'filed' : 'updated', limit: 100 };
      const { data } = await api.listTickets(query, signal);
      if (my !== seq) return; // the view changed meanwhile: its own load covers it
      let newest = since;
      let changed = false;
      for (const t of data.items || []) {
        newest = later(newest, t.updatedAt);
        const r = rows.get(t.id);
        if (r) {
          if (t.version > r.t.version || r.tr.classList.contains('is-stale')) { refreshRow(r, t); changed = true; }
        } else {
          const had = fresh.get(t.id);
          if (!had || t.version > had.version) { fresh.set(t.id, t); changed = true; }
        }
      }
      since = newest;
      if (changed) { drawBanner(); scheduleCounts(); }
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      // The next event or poll tries again; the live indicator says if the feed is gone.
    } finally {
      syncing = false;
      if (syncAgain) { syncAgain = false; scheduleSync(); }
    }
  }

  function drawBanner() {
    setTitle();
    if (!fresh.size) { clear(banner); banner.hidden = true; return; }
    const list = [...fresh.values()].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
    const created = list.filter((t) => Date.parse(t.createdAt) >= loadedAt).length;
    const what = created === list.length ? `${plural(list.length, 'new ticket')}` : `${plural(list.length, 'ticket')} new or changed in this view`;
    const show = h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'show-new' }, 'Show');
    show.addEventListener('click', () => {
      announce(`Showing ${what}.`);
      if (st.page > 1 || st.cursor) go({}, {});
      else load({ focusTable: true });
    });
    banner.hidden = false;
    append(clear(banner), h('p', {}, h('strong', { id: 'new-count' }, what), ': ',
      list.slice(0, 3).map((t, i) => [i ? ', ' : '', h('a', { href: `#/admin/ticket/${encodeURIComponent(t.id)}`, class: 'new-link' }, t.title || t.id),
        ' ', h('span', { class: 'muted small' }, `(${t.severity})`)]),
      list.length > 3 ? ` and ${list.length - 3} more` : '', '.'), show);
  }

  follow({
    signal,
    onState: (s) => {
      liveState = s;
      live.className = `live-state is-${s}`;
      live.textContent = { live: 'Live', polling: 'Updating every few seconds', reconnecting: 'Reconnecting…' }[s] || '';
      live.title = s === 'live' ? 'Changes appear as they happen.' : s === 'polling'
        ? (config.mode === 'aws' ? 'On AWS the queue asks for changes every few seconds.' : 'The live feed is not available; the queue asks for changes every few seconds.')
        : 'The live feed dropped; the queue keeps asking for changes meanwhile.';
    },
    onEvent: (ev) => {
      if (ev.type === 'reset') { load(); return; }
      if (ev.type === 'ticket') {
        const e = ev.data;
        const r = rows.get(e.id);
        if (r && e.version > r.t.version) {
          refreshRow(r, {
            ...r.t, status: e.status, severity: e.severity, version: e.version, updatedAt: e.updatedAt,
            notification: { ...(r.t.notification || {}), status: e.notification },
          }, { stale: !stillMatches(e) });
        }
      }
      scheduleSync();
    },
    onAuthError: (err) => onAuthError(ctx, err),
  });

  // --- Bulk actions -------------------------------------------------------------------------
  function drawBulk() {
    const box = tableSlot.querySelector('#select-all');
    if (box) {
      box.checked = order.length > 0 && order.every((id) => selected.has(id));
      box.indeterminate = !box.checked && order.some((id) => selected.has(id));
    }
    if (!selected.size) { bulkBar.hidden = true; clear(bulkBar); return; }
    const hadFocus = bulkBar.contains(document.activeElement) ? document.activeElement.dataset.action : '';
    bulkBar.hidden = false;
    append(clear(bulkBar),
      h('p', { class: 'bulk-count', id: 'bulk-count' }, `${plural(selected.size, 'ticket')} selected`),
      BULK.filter((b) => !b.needs || features[b.needs]).map((b) => h('button', {
        type: 'button', class: 'btn btn-secondary btn-small', dataset: { action: b.action },
        onclick: () => runBulk(b, [...selected]),
      }, b.label)),
      h('button', { type: 'button', class: 'btn btn-link', id: 'bulk-clear', onclick: () => {
        selected.clear();
        for (const r of rows.values()) r.box.checked = false;
        drawBulk();
        announce('Selection cleared.');
        focusEl(tableSlot.querySelector('#select-all'));
      } }, 'Clear selection'));
    if (hadFocus) bulkBar.querySelector(`[data-action="${hadFocus}"]`)?.focus();
  }

  let bulkBusy = false;
  async function runBulk(b, ids) {
    if (bulkBusy || !ids.length) return;
    bulkBusy = true;
    const from = document.activeElement;
    clear(bulkResult);
    bulkBar.querySelectorAll('button').forEach((x) => { x.disabled = true; });
    const working = h('p', { class: 'loading', role: 'status' }, `${b.label}: ${plural(ids.length, 'ticket')}…`);
    append(bulkResult, working);
    let data;
    try {
      ({ data } = await api.bulk(ids, b.action, signal));
    } catch (err) {
      bulkBusy = false;
      if (isAbort(err) || onAuthError(ctx, err)) return;
      append(clear(bulkResult), errorAlert(err, () => runBulk(b, ids)));
      drawBulk();
      focusEl(bulkResult.querySelector('.alert'));
      return;
    }
    bulkBusy = false;
    const failures = [];
    for (const res of data.results || []) {
      const r = rows.get(res.id);
      if (res.ok) {
        selected.delete(res.id);
        // The live feed may have brought a newer version already (the workflow is quick).
        if (r && (res.version || 0) > r.t.version) {
          const t = { ...r.t, version: res.version || r.t.version, status: res.status || STATUS_AFTER[b.action] || r.t.status };
          if (b.action === 'retry-notification') t.notification = { ...(t.notification || {}), status: 'PENDING' };
          refreshRow(r, t, { stale: !stillMatches({ status: t.status, severity: t.severity, notification: t.notification?.status }) });
        }
        if (r) {
          r.tr.removeAttribute('data-bulk');
          r.box.checked = false;
        }
      } else {
        failures.push(res);
        if (r) r.tr.dataset.bulk = 'failed';
      }
    }
    const titleOf = (id) => rows.get(id)?.t.title || id;
    const ok = data.succeeded ?? ids.length - failures.length;
    const summary = h('div', { class: `alert ${failures.length ? 'alert-error' : 'alert-info'}`, role: 'status', tabindex: '-1', id: 'bulk-summary' },
      h('div', {},
        h('p', {}, `${b.done} ${plural(ok, 'ticket')}${failures.length ? `; ${failures.length} could not be changed` : ''}.`),
        failures.length ? h('ul', { class: 'bulk-failures' }, failures.map((f) => h('li', { dataset: { id: f.id } },
          h('a', { href: `#/admin/ticket/${encodeURIComponent(f.id)}` }, titleOf(f.id)), ': ', f.error?.detail || 'not changed'))) : null,
        failures.length ? h('p', { class: 'small' }, 'Those tickets stay selected.') : null),
      h('button', { type: 'button', class: 'btn btn-link', onclick: () => clear(bulkResult) }, 'Dismiss'));
    append(clear(bulkResult), summary);
    drawBulk();
    // The summary takes focus unless the reader has moved on meanwhile; then it is announced.
    const here = document.activeElement;
    if (here === from || here === document.body || !here || bulkBar.contains(here) || !document.contains(from)) focusEl(summary);
    else announce(summary.textContent);
    scheduleSync();
    scheduleCounts();
  }

  // --- Keyboard triage ------------------------------------------------------------------------
  function currentIndex() {
    const tr = document.activeElement?.closest?.('#ticket-table tbody tr');
    return tr ? order.indexOf(tr.dataset.id) : -1;
  }
  function moveTo(i) {
    if (!order.length) { announce('There are no tickets on this page.'); return; }
    const idx = Math.max(0, Math.min(order.length - 1, i));
    const r = rows.get(order[idx]);
    for (const x of rows.values()) x.tr.classList.toggle('is-current', x === r);
    r.link.focus();
    r.tr.scrollIntoView({ block: 'nearest' });
    announce(`Ticket ${idx + 1} of ${order.length}: ${r.t.severity}, ${r.t.status}.`);
  }
  const targetIds = () => {
    if (selected.size) return [...selected];
    const i = currentIndex();
    return i >= 0 ? [order[i]] : [];
  };
  const act = (b) => () => {
    const ids = targetIds();
    if (!ids.length) { announce(`Move to a ticket with j or k, or select some, to ${b.label.toLowerCase()} them.`); return; }
    runBulk(b, ids);
  };
  useShortcuts([
    { key: 'j', label: 'Next ticket', run: () => moveTo(currentIndex() + 1) },
    { key: 'k', label: 'Previous ticket', run: () => moveTo(currentIndex() < 0 ? 0 : currentIndex() - 1) },
    { key: 'Enter', keys: 'Enter', label: 'Open the ticket (on its title)', run: () => false },
    { key: 'x', label: 'Select or unselect the ticket', run: () => {
      const i = currentIndex();
      if (i < 0) return;
      const r = rows.get(order[i]);
      r.box.checked = !r.box.checked;
      r.box.dispatchEvent(new Event('change'));
      announce(r.box.checked ? `Selected; ${plural(selected.size, 'ticket')} selected.` : `Unselected; ${plural(selected.size, 'ticket')} selected.`);
    } },
    { key: 'a', label: 'Acknowledge the ticket, or the selected ones', run: act(BULK[0]) },
    { key: 'r', label: 'Resolve the ticket, or the selected ones', run: act(BULK[1]) },
    { key: '/', label: 'Search', run: () => { focusEl(search); search.select(); } },
  ], signal);

  showState();
  load();
}
