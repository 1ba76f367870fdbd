// The admin side: sign-in, the ticket table with stats, filters and cursor paging, and the
// ticket detail with lifecycle actions and the workflow execution diagram.
import { h, clear, announce, focusEl, timeEl, formatDate, duration, sleep, append } from './dom.js';
import { api, adminToken, config, consoleURL, isAuthError } from './api.js';
import {
  SEVERITIES, STATUSES, severityChip, statusChip, notificationChip, deliveryList, errorAlert, isAbort,
  timelineList, pageHeading, copyButton,
} from './ui.js';
import { drawWorkflow } from './diagram.js';

const PAGE_SIZES = [5, 10, 25, 50, 100];

// The list's filters and paging survive a visit to a ticket, so "Back to tickets" returns to the
// same page. cursors[i] is the cursor that fetches page i ('' for the first page).
const list = { status: '', severity: '', limit: 25, cursors: [''], page: 0 };

/** guard renders the sign-in form when there is no token; returns true when signed in. */
function guard(ctx, next) {
  if (adminToken.get()) return true;
  renderSignIn(ctx, next);
  return false;
}

function onAuthError(ctx, err) {
  if (isAuthError(err)) {
    adminToken.clear();
    clear(ctx.main);
    renderSignIn(ctx, () => ctx.rerender(), 'Your admin session is no longer valid. Please sign in again.');
    return true;
  }
  return false;
}

function renderSignIn(ctx, next, notice) {
  const { main, signal } = ctx;
  const input = h('input', {
    id: 'admin-token', name: 'token', type: 'password', autocomplete: 'current-password', spellcheck: 'false',
    'aria-describedby': 'admin-token-hint', required: true,
  });
  const err = h('p', { class: 'field-error', id: 'admin-token-error', hidden: true });
  const alertSlot = h('div');
  const btn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'sign-in' }, 'Sign in');
  const setErr = (msg) => {
    err.textContent = msg;
    err.hidden = !msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
    input.setAttribute('aria-describedby', msg ? 'admin-token-error admin-token-hint' : 'admin-token-hint');
    err.closest('.field').classList.toggle('has-error', !!msg);
  };
  async function submit(ev) {
    ev?.preventDefault();
    clear(alertSlot);
    const token = input.value.trim();
    if (!token) { setErr('Enter the admin token.'); focusEl(input); return; }
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    adminToken.set(token);
    try {
      await api.stats(signal);
      setErr('');
      announce('Signed in.');
      next();
    } catch (e) {
      if (isAbort(e)) return;
      if (isAuthError(e)) {
        adminToken.clear();
        setErr('That token was not accepted. Check it and try again.');
        focusEl(input);
      } else {
        adminToken.clear();
        append(alertSlot, errorAlert(e, () => submit()));
        focusEl(alertSlot.firstChild);
      }
    } finally {
      btn.disabled = false;
      btn.textContent = 'Sign in';
    }
  }
  const form = h('form', { class: 'card form narrow', novalidate: true, id: 'signin-form', onsubmit: submit },
    notice ? h('div', { class: 'alert alert-info', role: 'status' }, h('p', {}, notice)) : null,
    h('div', { class: 'field' },
      h('label', { for: 'admin-token' }, 'Admin token'),
      h('p', { class: 'hint', id: 'admin-token-hint' }, config.mode === 'local'
        ? 'Running locally? The token is in the file admin-token in the server’s data directory.'
        : 'Ask your administrator for the token. It is kept in this tab only and forgotten when you close it.'),
      err, input),
    alertSlot,
    h('div', { class: 'actions' }, btn));
  append(main, h('div', { class: 'page page-signin' }, pageHeading('Admin sign-in'), form));
}

function adminBar(ctx, current) {
  return h('div', { class: 'admin-bar' },
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
      current ? [h('a', { href: '#/admin' }, 'Tickets'), ' / ', h('span', { 'aria-current': 'page' }, current)] : h('span', {}, 'Admin')),
    h('a', { href: '#/admin/integrations', class: 'btn btn-link', id: 'integrations-link' }, 'Integrations'),
    h('button', { type: 'button', class: 'btn btn-link', id: 'sign-out', onclick: () => {
      adminToken.clear();
      announce('Signed out.');
      if (location.hash === '#/admin') ctx.rerender(); else location.hash = '#/admin';
    } }, 'Sign out'));
}

export function renderAdmin(ctx) {
  if (!guard(ctx, () => ctx.rerender())) return;
  const { main, signal } = ctx;
  const statsSlot = h('section', { class: 'stats', 'aria-label': 'Ticket counts' });
  const tableSlot = h('div', { class: 'card table-card' });
  const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'list-live' });

  const select = (idv, label, options, value, onChange) => {
    const el = h('select', { id: idv, onchange: (ev) => onChange(ev.target.value) }, options.map(([v, t]) => h('option', { value: v }, t)));
    el.value = String(value);
    return h('div', { class: 'field inline' }, h('label', { for: idv }, label), el);
  };
  const resetPaging = () => { list.cursors = ['']; list.page = 0; };
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter tickets', onsubmit: (ev) => ev.preventDefault() },
    select('filter-status', 'Status', [['', 'All statuses'], ...STATUSES.map((x) => [x.value, x.label])], list.status, (v) => { list.status = v; resetPaging(); load(); }),
    select('filter-severity', 'Severity', [['', 'All severities'], ...SEVERITIES.map((x) => [x.value, x.label])], list.severity, (v) => { list.severity = v; resetPaging(); load(); }),
    select('page-size', 'Per page', PAGE_SIZES.map((n) => [String(n), String(n)]), list.limit, (v) => { list.limit = Number(v); resetPaging(); load(); }),
    h('button', { type: 'button', class: 'btn btn-secondary', id: 'refresh', onclick: () => load() }, 'Refresh'));

  append(main, h('div', { class: 'page page-admin' },
    adminBar(ctx, ''), pageHeading('Tickets'), statsSlot, filters, tableSlot, live));

  async function loadStats() {
    try {
      const { data } = await api.stats(signal);
      drawStats(data);
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      append(clear(statsSlot), errorAlert({ message: `The counts could not be loaded. ${err.message}` }, loadStats));
    }
  }

  function drawStats(st) {
    const card = (label, n, cls, onclick, pressed) => h(onclick ? 'button' : 'div', {
      type: onclick ? 'button' : null, class: `stat ${cls || ''}`, onclick,
      'aria-pressed': onclick ? String(!!pressed) : null,
      title: onclick ? `Show only ${label.toLowerCase()} tickets` : null,
    }, h('span', { class: 'stat-n' }, String(n ?? 0)), h('span', { class: 'stat-l' }, label));
    const filterBy = (k, v) => () => { list[k] = list[k] === v ? '' : v; resetPaging(); clear(main); ctx.rerender(); };
    append(clear(statsSlot),
      h('div', { class: 'stat-group' }, h('h2', { class: 'stat-title' }, 'All'), h('div', { class: 'stat-row' }, card('Total', st.total, 'stat-total', null))),
      h('div', { class: 'stat-group' }, h('h2', { class: 'stat-title' }, 'By status'), h('div', { class: 'stat-row' },
        STATUSES.map((x) => card(x.label, st.byStatus?.[x.value], `st-${x.value}`, filterBy('status', x.value), list.status === x.value)))),
      h('div', { class: 'stat-group' }, h('h2', { class: 'stat-title' }, 'By severity'), h('div', { class: 'stat-row' },
        SEVERITIES.map((x) => card(x.label, st.bySeverity?.[x.value], `sev-${x.value}`, filterBy('severity', x.value), list.severity === x.value)))),
      h('div', { class: 'stat-group' }, h('h2', { class: 'stat-title' }, 'Notifications'), h('div', { class: 'stat-row' },
        [['PENDING', 'Pending'], ['SENT', 'Sent'], ['PARTIAL', 'Partial'], ['FAILED', 'Failed']].map(([k, l]) => card(l, st.byNotification?.[k], `nt-${k.toLowerCase()}`, null)))));
  }

  async function load() {
    loadStats();
    tableSlot.setAttribute('aria-busy', 'true');
    if (!tableSlot.firstChild) append(tableSlot, h('p', { class: 'loading' }, 'Loading tickets…'));
    let data;
    try {
      ({ data } = await api.listTickets({ limit: list.limit, cursor: list.cursors[list.page], status: list.status, severity: list.severity }, signal));
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      tableSlot.removeAttribute('aria-busy');
      append(clear(tableSlot), errorAlert(err.status === 400 && list.page > 0
        ? { message: 'That page is no longer available. Start again from the first page.' } : err,
      () => { if (err.status === 400) resetPaging(); load(); }));
      focusEl(tableSlot.querySelector('.alert'));
      return;
    }
    tableSlot.removeAttribute('aria-busy');
    drawTable(data);
  }

  function drawTable(data) {
    const items = Array.isArray(data?.items) ? data.items : [];
    const next = data?.nextCursor || null;
    list.cursors.length = list.page + 1;
    if (next) list.cursors.push(next);
    const filtered = list.status || list.severity;
    const hadFocus = tableSlot.contains(document.activeElement) ? document.activeElement.id : '';
    const rows = items.map((t) => h('tr', { dataset: { id: t.id } },
      h('td', { dataset: { label: 'Filed' } }, timeEl(t.createdAt, true)),
      h('td', { dataset: { label: 'Title' }, class: 'cell-title' }, h('div', {},
        h('a', { href: `#/admin/ticket/${encodeURIComponent(t.id)}`, class: 'ticket-link' }, t.title || '(no title)'),
        t.category ? h('div', { class: 'muted small' }, t.category) : null)),
      h('td', { dataset: { label: 'Severity' } }, severityChip(t.severity)),
      h('td', { dataset: { label: 'Status' } }, statusChip(t.status)),
      h('td', { dataset: { label: 'Notification' } }, notificationChip(t.notification)),
      h('td', { dataset: { label: 'Reporter' } }, t.reporter?.name || '—')));
    const prev = h('button', { type: 'button', class: 'btn btn-secondary', id: 'page-prev', disabled: list.page === 0, onclick: () => { list.page -= 1; load(); announce(`Page ${list.page + 1}.`); } }, '← Previous');
    const nextBtn = h('button', { type: 'button', class: 'btn btn-secondary', id: 'page-next', disabled: !next, onclick: () => { list.page += 1; load(); announce(`Page ${list.page + 1}.`); } }, 'Next →');
    append(clear(tableSlot),
      items.length
        ? h('table', { class: 'table responsive', id: 'ticket-table' },
          h('caption', { class: 'visually-hidden' }, `Tickets, newest first, page ${list.page + 1}`),
          h('thead', {}, h('tr', {}, ['Filed', 'Title', 'Severity', 'Status', 'Notification', 'Reporter'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows))
        : h('p', { class: 'empty', id: 'ticket-empty' }, filtered ? 'No tickets match these filters.' : 'No tickets yet. New reports appear here.'),
      h('div', { class: 'pager' }, prev, h('span', { class: 'page-no', id: 'page-no' }, `Page ${list.page + 1}`), nextBtn));
    live.textContent = `${items.length} ${items.length === 1 ? 'ticket' : 'tickets'} on page ${list.page + 1}.`;
    // The pager was rebuilt: keep keyboard focus on it, on the other button when the one used
    // is now disabled (first or last page).
    if (hadFocus === 'page-next' || hadFocus === 'page-prev') {
      const same = hadFocus === 'page-next' ? nextBtn : prev;
      focusEl(same.disabled ? (same === nextBtn ? prev : nextBtn) : same);
    }
  }

  load();
}

export function renderAdminTicket(ctx, ticketId) {
  if (!guard(ctx, () => ctx.rerender())) return;
  const { main, signal } = ctx;
  const body = h('div');
  append(main, h('div', { class: 'page page-admin-ticket' }, adminBar(ctx, 'Ticket'), body));
  let ticket = null;

  async function load(focus = true) {
    if (!ticket) append(clear(body), h('p', { class: 'loading' }, 'Loading the ticket…'));
    try {
      const { data } = await api.getTicket(ticketId, signal, true);
      ticket = data;
    } catch (err) {
      if (isAbort(err)) return;
      append(clear(body), pageHeading('Ticket'), errorAlert(err.status === 404
        ? { message: `There is no ticket with the ID ${ticketId}.` } : err, () => load()));
      focusEl(body.querySelector('h1'));
      return;
    }
    draw(ticket);
    if (focus) focusEl(body.querySelector('h1'));
  }

  const actionAlert = h('div', { class: 'action-alert' });

  async function change(to, btn) {
    clear(actionAlert);
    const buttons = body.querySelectorAll('.lifecycle button');
    buttons.forEach((b) => { b.disabled = true; });
    btn.textContent = 'Saving…';
    try {
      const { data } = await api.setStatus(ticket.id, to, ticket.version, signal);
      ticket = data;
      draw(ticket);
      announce(`Ticket ${to}.`);
      focusEl(body.querySelector('#ticket-status'));
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      let msg = err;
      if (err.status === 412) msg = { message: 'Someone else changed this ticket after you opened it. The latest version is shown now; check it and try again.' };
      if (err.status === 409) msg = { message: `${err.message} The latest version is shown now.` };
      if (err.status === 412 || err.status === 409) await load(false);
      append(actionAlert, errorAlert(msg, err.status === 412 || err.status === 409 ? null : () => change(to, btn)));
      focusEl(actionAlert.firstChild);
    } finally {
      body.querySelectorAll('.lifecycle button').forEach((b) => { b.disabled = false; });
    }
  }

  const execSlot = h('section', { class: 'card', 'aria-labelledby': 'exec-h', id: 'execution' });
  const outboxSlot = h('section', { class: 'card', 'aria-labelledby': 'outbox-h', id: 'outbox' });

  function draw(t) {
    const n = t.notification || {};
    const idEl = h('code', { class: 'ticket-id' }, t.id);
    const actions = [];
    if (t.status === 'open') actions.push(['acknowledged', 'Acknowledge', 'btn-primary']);
    if (t.status !== 'resolved') actions.push(['resolved', 'Resolve', t.status === 'open' ? 'btn-secondary' : 'btn-primary']);
    if (t.status === 'resolved') actions.push(['open', 'Reopen', 'btn-secondary']);
    append(clear(body),
      pageHeading(t.title || '(no title)', { id: 'ticket-title' }),
      h('div', { class: 'chips' }, severityChip(t.severity), h('span', { id: 'ticket-status' , tabindex: '-1' }, statusChip(t.status)), notificationChip(n)),
      h('div', { class: 'lifecycle card', role: 'group', 'aria-label': 'Change status' },
        h('p', {}, 'Status: ', h('strong', {}, t.status)),
        actions.map(([to, label, cls]) => {
          const b = h('button', { type: 'button', class: `btn ${cls}`, dataset: { to } }, label);
          b.addEventListener('click', () => change(to, b));
          return b;
        })),
      actionAlert,
      h('div', { class: 'grid-2' },
        h('div', {},
          h('section', { class: 'card', 'aria-labelledby': 'desc-h' }, h('h2', { id: 'desc-h' }, 'Description'),
            t.description ? h('p', { class: 'prewrap', id: 'ticket-description' }, t.description) : h('p', { class: 'muted' }, 'No description.')),
          h('section', { class: 'card', 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timelineList(t.timeline))),
        h('aside', { class: 'card', 'aria-labelledby': 'fields-h' }, h('h2', { id: 'fields-h' }, 'Details'),
          h('dl', { class: 'dl' },
            h('dt', {}, 'ID'), h('dd', {}, h('div', { class: 'id-row' }, idEl, copyButton(t.id, idEl))),
            h('dt', {}, 'Severity'), h('dd', {}, severityChip(t.severity)),
            h('dt', {}, 'Status'), h('dd', {}, statusChip(t.status)),
            h('dt', {}, 'Category'), h('dd', {}, t.category || '—'),
            h('dt', {}, 'Reporter'), h('dd', {}, t.reporter?.name || '—'),
            h('dt', {}, 'Email'), h('dd', {}, t.reporter?.email ? h('a', { href: `mailto:${encodeURIComponent(t.reporter.email)}` }, t.reporter.email) : '—'),
            h('dt', {}, 'Filed'), h('dd', {}, timeEl(t.createdAt)),
            h('dt', {}, 'Updated'), h('dd', {}, timeEl(t.updatedAt)),
            h('dt', {}, 'Version'), h('dd', {}, String(t.version ?? '—')),
            h('dt', {}, 'Notification'), h('dd', {}, notificationChip(n)),
            h('dt', {}, 'Attempts'), h('dd', {}, String(n.attempts ?? 0)),
            h('dt', {}, 'Channels'), h('dd', { id: 'delivery' }, deliveryList(n)),
            n.lastError ? [h('dt', {}, 'Last error'), h('dd', { class: 'error-text' }, n.lastError)] : null,
            h('dt', {}, 'Execution'), h('dd', { class: 'mono small break' }, n.execution || '—')))),
      execSlot, outboxSlot);
  }

  // --- Workflow execution ---------------------------------------------------------------
  let definition = null;
  let chosen = null;

  async function loadExecutions() {
    append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'), h('p', { class: 'loading' }, 'Loading the workflow…'));
    try {
      definition ||= await api.workflow(signal);
    } catch (err) {
      if (isAbort(err)) return;
      append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'), errorAlert(err, loadExecutions));
      return;
    }
    if (config.mode === 'aws') {
      const arn = ticket?.notification?.execution;
      const wf = drawWorkflow(definition, null, { idPrefix: 'wf' });
      append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'),
        h('p', {}, 'Express workflow history is kept in CloudWatch Logs, so it is shown in the AWS console rather than here.'),
        arn ? h('p', {}, h('a', { href: consoleURL(arn), target: '_blank', rel: 'noopener noreferrer', class: 'btn btn-secondary', id: 'console-link' }, 'Open the execution in the Step Functions console'))
          : h('p', { class: 'muted' }, 'No execution has started for this ticket yet.'),
        wf.element);
      return;
    }
    let executions;
    try {
      ({ data: { items: executions } } = await api.executions(ticketId, signal));
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'), errorAlert(err, loadExecutions));
      return;
    }
    executions = (executions || []).slice().sort((p, q) => String(q.startDate).localeCompare(String(p.startDate)));
    if (!executions.length) {
      append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'),
        h('p', { class: 'muted' }, 'No workflow execution has started for this ticket yet.'),
        drawWorkflow(definition, null).element);
      return;
    }
    if (!chosen || !executions.some((e) => e.name === chosen)) chosen = executions[0].name;
    const listEl = h('table', { class: 'table responsive executions', id: 'executions-table' },
      h('caption', { class: 'visually-hidden' }, 'Workflow executions for this ticket, newest first'),
      h('thead', {}, h('tr', {}, ['Execution', 'Status', 'Started', 'Duration', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, executions.map((e) => h('tr', { class: e.name === chosen ? 'is-current' : '' },
        h('td', { dataset: { label: 'Execution' }, class: 'mono small break' }, e.name),
        h('td', { dataset: { label: 'Status' } }, h('span', { class: `chip ex-${String(e.status).toLowerCase()}` }, e.status)),
        h('td', { dataset: { label: 'Started' } }, timeEl(e.startDate)),
        h('td', { dataset: { label: 'Duration' } }, e.stopDate ? duration(e.startDate, e.stopDate) : 'running'),
        h('td', { dataset: { label: '' } }, e.name === chosen ? h('span', { class: 'muted' }, 'Shown below')
          : h('button', { type: 'button', class: 'btn btn-link', onclick: () => { chosen = e.name; loadExecutions(); } }, 'Show'))))));
    const diagramSlot = h('div', { class: 'diagram-slot' }, h('p', { class: 'loading' }, 'Loading the execution history…'));
    append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'), listEl, diagramSlot);
    await showExecution(chosen, diagramSlot);
  }

  async function showExecution(name, slot) {
    let delay = 1000;
    for (;;) {
      let ex;
      try {
        ({ data: ex } = await api.execution(name, signal));
      } catch (err) {
        if (isAbort(err) || onAuthError(ctx, err)) return;
        append(clear(slot), errorAlert(err, () => showExecution(name, slot)));
        return;
      }
      const wf = drawWorkflow(definition, ex, { idPrefix: 'wf' });
      append(clear(slot),
        h('div', { class: 'exec-head' },
          h('span', { class: `chip ex-${String(ex.status).toLowerCase()}`, id: 'execution-status' }, ex.status),
          ' ', h('span', { class: 'muted small' }, `Started ${formatDate(ex.startDate)}${ex.stopDate ? ` · took ${duration(ex.startDate, ex.stopDate)}` : ''}`)),
        ex.error ? h('p', { class: 'error-text' }, h('code', {}, ex.error), ex.cause ? ` — ${ex.cause}` : '') : null,
        wf.element);
      if (ex.status !== 'RUNNING') {
        // The execution finished: refresh the ticket, whose notification status it has just set.
        if (ticket?.notification?.status === 'PENDING') {
          try {
            const { data } = await api.getTicket(ticketId, signal, true);
            if (data.version !== ticket.version) { ticket = data; draw(ticket); }
          } catch (err) {
            if (isAbort(err)) return;
          }
        }
        return;
      }
      try { await sleep(delay, signal); } catch { return; }
      delay = Math.min(delay * 2, 10000);
    }
  }

  async function loadOutbox() {
    if (config.mode === 'aws') { outboxSlot.remove(); return; }
    append(clear(outboxSlot), h('h2', { id: 'outbox-h' }, 'Messages sent'), h('p', { class: 'loading' }, 'Loading…'));
    try {
      const { data } = await api.outbox(signal);
      const mine = (data?.items || []).filter((m) => m.ticketId === ticketId);
      append(clear(outboxSlot), h('h2', { id: 'outbox-h' }, 'Messages sent'),
        mine.length ? h('ul', { class: 'outbox' }, mine.map((m) => h('li', {},
          h('div', { class: 'outbox-head' }, h('strong', {}, m.subject || '(no subject)'), ' ', h('span', { class: 'muted small' }, `${m.channel || ''} · ${formatDate(m.at)}`)),
          m.body ? h('pre', { class: 'outbox-body' }, m.body) : null)))
          : h('p', { class: 'muted' }, 'No message for this ticket is in the local outbox yet.'));
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      append(clear(outboxSlot), h('h2', { id: 'outbox-h' }, 'Messages sent'), errorAlert(err, loadOutbox));
    }
  }

  load().then(() => {
    if (!ticket) return;
    loadExecutions().then(() => loadOutbox());
  });
}
