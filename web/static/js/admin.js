// The admin side: sign-in, and the ticket detail with lifecycle actions, live updates and the
// workflow execution diagram. The queue itself is queue.js.
import { h, clear, announce, focusEl, timeEl, formatDate, duration, sleep, append } from './dom.js';
import { api, adminToken, config, consoleURL, isAuthError } from './api.js';
import {
  NOTIFICATIONS, severityChip, statusChip, notificationChip, deliveryList, errorAlert, isAbort, pageHeading, copyButton, notFound,
} from './ui.js';
import { timelineList } from './timeline.js';
import { drawWorkflow } from './diagram.js';
import { follow } from './live.js';
import { startClock } from './clock.js';
import { useShortcuts } from './shortcuts.js';

const QUEUE_KEY = 'incidents.queue.hash';

/** rememberQueue keeps the queue's URL (its search, filters and page) for "Tickets" links. */
export function rememberQueue(hash) {
  try { sessionStorage.setItem(QUEUE_KEY, hash); } catch { /* this page only */ }
}

function queueHref() {
  try {
    const v = sessionStorage.getItem(QUEUE_KEY) || '';
    return /^#\/admin(\?|$)/.test(v) ? v : '#/admin';
  } catch { return '#/admin'; }
}

// Why the sign-in form is shown again, for the next guard to say.
let signInNotice = '';

/** guard renders the sign-in form when there is no token; returns true when signed in. */
export function guard(ctx, next) {
  if (adminToken.get()) return true;
  const notice = signInNotice;
  signInNotice = '';
  renderSignIn(ctx, next, notice);
  return false;
}

/**
 * onAuthError handles refused credentials: the page stops (its requests, live feed and
 * timers end with its signal, so nothing of it can redraw over the form) and comes back as
 * the sign-in form. It returns true when err was such a refusal.
 */
export function onAuthError(ctx, err) {
  if (!isAuthError(err)) return false;
  if (ctx.signal.aborted) return true;
  adminToken.clear();
  signInNotice = 'Your admin session is no longer valid. Please sign in again.';
  ctx.rerender();
  return true;
}

function renderSignIn(ctx, next, notice) {
  const { main, signal } = ctx;
  document.title = 'Admin sign-in · Incident Manager';
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

export function adminBar(ctx, current) {
  return h('div', { class: 'admin-bar' },
    h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
      current ? [h('a', { href: queueHref(), id: 'back-to-queue' }, 'Tickets'), ' / ', h('span', { 'aria-current': 'page' }, current)] : h('span', {}, 'Admin')),
    h('a', { href: '#/admin/integrations', class: 'btn btn-link', id: 'integrations-link' }, 'Integrations'),
    h('button', { type: 'button', class: 'btn btn-link', id: 'sign-out', onclick: () => {
      adminToken.clear();
      announce('Signed out.');
      if (/^#\/admin(\?|$)/.test(location.hash)) ctx.rerender(); else location.hash = '#/admin';
    } }, 'Sign out'));
}

export function renderAdminTicket(ctx, ticketId) {
  if (!guard(ctx, () => ctx.rerender())) return;
  const { main, signal } = ctx;
  const body = h('div');
  append(main, h('div', { class: 'page page-admin-ticket' }, adminBar(ctx, 'Ticket'), body));
  let ticket = null;
  startClock();

  async function load(focus = true) {
    if (!ticket) append(clear(body), h('p', { class: 'loading' }, 'Loading the ticket…'));
    try {
      const { data } = await api.getTicket(ticketId, signal, true);
      const same = ticket && data.version === ticket.version;
      ticket = data;
      if (same && !focus) return; // nothing changed: leave the page as the reader has it
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      if (ticket) return; // a live refresh failed: the page keeps what it shows
      append(clear(body), pageHeading(err.status === 404 ? 'Ticket not found' : 'Ticket'),
        err.status === 404 ? notFound(ticketId, queueHref(), 'Back to the tickets') : errorAlert(err, () => load()));
      document.title = `${err.status === 404 ? 'Ticket not found' : 'Ticket'} · Admin · Incident Manager`;
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
      const { data } = to === 'retry'
        ? await api.retryNotification(ticket.id, signal)
        : await api.setStatus(ticket.id, to, ticket.version, signal);
      ticket = data;
      draw(ticket);
      announce(to === 'retry' ? 'Notification retried.' : `Ticket ${to}.`);
      focusEl(body.querySelector('#ticket-status'));
      if (to === 'retry') refreshDelivery();
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

  function actionsFor(t) {
    const actions = [];
    if (t.status === 'open') actions.push(['acknowledged', 'Acknowledge', 'btn-primary', 'a']);
    if (t.status !== 'resolved') actions.push(['resolved', 'Resolve', t.status === 'open' ? 'btn-secondary' : 'btn-primary', 'r']);
    if (t.status === 'resolved') actions.push(['open', 'Reopen', 'btn-secondary']);
    const n = t.notification?.status;
    if (n === 'PARTIAL' || n === 'FAILED') actions.push(['retry', 'Retry notification', 'btn-secondary']);
    return actions;
  }

  function draw(t) {
    // A live redraw must not lose the reader's place: remember what had focus and what was
    // open, and give it back.
    const had = document.activeElement;
    const focusId = body.contains(had) ? (had.id || (had.dataset?.to ? `[data-to="${had.dataset.to}"]` : '')) : '';
    const openSteps = [...body.querySelectorAll('.tl-steps')].map((d) => d.open);
    const n = t.notification || {};
    const idEl = h('code', { class: 'ticket-id' }, t.id);
    document.title = `${t.ref ? `${t.ref} ` : ''}${t.title || 'Ticket'} · Admin · Incident Manager`;
    append(clear(body),
      pageHeading(t.title || '(no title)', { id: 'ticket-title' }),
      h('div', { class: 'chips' }, t.ref ? h('span', { class: 'chip ref' }, t.ref) : null, severityChip(t.severity),
        h('span', { id: 'ticket-status', tabindex: '-1' }, statusChip(t.status)), notificationChip(n)),
      h('div', { class: 'lifecycle card', role: 'group', 'aria-label': 'Change status' },
        h('p', {}, 'Status: ', h('strong', {}, t.status)),
        actionsFor(t).map(([to, label, cls, key]) => {
          const b = h('button', { type: 'button', class: `btn ${cls}`, dataset: { to }, 'aria-keyshortcuts': key || null }, label);
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
            t.ref ? [h('dt', {}, 'Reference'), h('dd', {}, t.ref)] : null,
            h('dt', {}, 'ID'), h('dd', {}, h('div', { class: 'id-row' }, idEl, copyButton(t.id, idEl))),
            h('dt', {}, 'Severity'), h('dd', {}, severityChip(t.severity)),
            h('dt', {}, 'Status'), h('dd', {}, statusChip(t.status)),
            Object.hasOwn(t, 'assignee') ? [h('dt', {}, 'Assignee'), h('dd', {}, t.assignee?.name || t.assignee || 'Unassigned')] : null,
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
    body.querySelectorAll('.tl-steps').forEach((d, i) => { if (openSteps[i]) d.open = true; });
    if (focusId) {
      const el = focusId.startsWith('[') ? body.querySelector(`.lifecycle button${focusId}`) : body.querySelector(`#${CSS.escape(focusId)}`);
      (el || body.querySelector('#ticket-status'))?.focus({ preventScroll: true });
    }
  }

  // --- Live: the page follows the ticket ---------------------------------------------------
  let refreshTimer = null;
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const before = ticket;
      await load(false);
      if (!ticket || !before || ticket.version === before.version) return;
      if (ticket.status !== before.status) announce(`The ticket is now ${ticket.status}.`);
      if (ticket.notification?.status !== before.notification?.status) {
        announce(`Notification: ${NOTIFICATIONS[ticket.notification?.status]?.label || ticket.notification?.status}.`);
      }
      refreshDelivery();
    }, 150);
  }
  follow({
    signal,
    onEvent: (ev) => {
      if (ev.type === 'ticket' && ev.data.id === ticketId && ev.data.version > (ticket?.version || 0)) scheduleRefresh();
      if (ev.type === 'reset' || ev.type === 'poll') scheduleRefresh();
    },
    onAuthError: (err) => onAuthError(ctx, err),
  });
  useShortcuts([
    { key: 'a', label: 'Acknowledge the ticket', run: () => { const b = body.querySelector('.lifecycle [data-to="acknowledged"]'); if (b) b.click(); else announce('The ticket cannot be acknowledged now.'); } },
    { key: 'r', label: 'Resolve the ticket', run: () => { const b = body.querySelector('.lifecycle [data-to="resolved"]'); if (b) b.click(); else announce('The ticket is resolved already.'); } },
    { key: 'u', label: 'Back to the tickets', run: () => { location.hash = queueHref(); } },
  ], signal);

  // --- Workflow execution ---------------------------------------------------------------
  let definition = null;
  let chosen = null;
  let execRun = 0;

  async function loadExecutions() {
    const run = ++execRun;
    if (!execSlot.firstChild) append(execSlot, h('h2', { id: 'exec-h' }, 'Notification workflow'), h('p', { class: 'loading' }, 'Loading the workflow…'));
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
    if (run !== execRun) return;
    executions = (executions || []).slice().sort((p, q) => String(q.startDate).localeCompare(String(p.startDate)));
    if (!executions.length) {
      append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'),
        h('p', { class: 'muted' }, 'No workflow execution has started for this ticket yet.'),
        drawWorkflow(definition, null).element);
      return;
    }
    // A retry runs again under the ticket's ID: the ARN tells the runs apart.
    const keyOf = (e) => e.executionArn || e.name;
    if (!chosen || !executions.some((e) => keyOf(e) === chosen)) chosen = keyOf(executions[0]);
    const listEl = h('table', { class: 'table responsive executions', id: 'executions-table' },
      h('caption', { class: 'visually-hidden' }, 'Workflow executions for this ticket, newest first'),
      h('thead', {}, h('tr', {}, ['Execution', 'Status', 'Started', 'Duration'].map((c) => h('th', { scope: 'col' }, c)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Shown')))),
      h('tbody', {}, executions.map((e) => h('tr', { class: keyOf(e) === chosen ? 'is-current' : '' },
        h('td', { dataset: { label: 'Execution' }, class: 'mono small break' }, e.name),
        h('td', { dataset: { label: 'Status' } }, h('span', { class: `chip ex-${String(e.status).toLowerCase()}` }, e.status)),
        h('td', { dataset: { label: 'Started' } }, timeEl(e.startDate)),
        h('td', { dataset: { label: 'Duration' } }, e.stopDate ? duration(e.startDate, e.stopDate) : 'running'),
        h('td', { dataset: { label: '' } }, keyOf(e) === chosen ? h('span', { class: 'muted' }, 'Shown below')
          : h('button', { type: 'button', class: 'btn btn-link', 'aria-label': `Show the run started ${formatDate(e.startDate)}`, onclick: () => { chosen = keyOf(e); loadExecutions(); } }, 'Show'))))));
    const diagramSlot = h('div', { class: 'diagram-slot' }, h('p', { class: 'loading' }, 'Loading the execution history…'));
    append(clear(execSlot), h('h2', { id: 'exec-h' }, 'Notification workflow'), listEl, diagramSlot);
    await showExecution(chosen, diagramSlot, run);
  }

  async function showExecution(name, slot, run) {
    let delay = 1000;
    for (;;) {
      let ex;
      try {
        ({ data: ex } = await api.execution(name, signal));
      } catch (err) {
        if (isAbort(err) || onAuthError(ctx, err)) return;
        append(clear(slot), errorAlert(err, () => showExecution(name, slot, run)));
        return;
      }
      if (run !== execRun) return; // a newer load draws
      const selectedState = slot.querySelector('g.state.is-selected')?.dataset.state;
      const wf = drawWorkflow(definition, ex, { idPrefix: 'wf' });
      append(clear(slot),
        h('div', { class: 'exec-head' },
          h('span', { class: `chip ex-${String(ex.status).toLowerCase()}`, id: 'execution-status' }, ex.status),
          ' ', h('span', { class: 'muted small' }, `Started ${formatDate(ex.startDate)}${ex.stopDate ? ` · took ${duration(ex.startDate, ex.stopDate)}` : ''}`)),
        ex.error ? h('p', { class: 'error-text' }, h('code', {}, ex.error), ex.cause ? ` — ${ex.cause}` : '') : null,
        wf.element);
      if (selectedState) wf.select(selectedState);
      if (ex.status !== 'RUNNING') {
        // The execution finished: refresh the ticket, whose notification status it has just set.
        if (ticket?.notification?.status === 'PENDING') scheduleRefresh();
        return;
      }
      try { await sleep(delay, signal); } catch { return; }
      delay = Math.min(delay * 2, 10000);
    }
  }

  // --- Messages in the local outbox --------------------------------------------------------
  async function loadOutbox() {
    if (config.mode === 'aws') { outboxSlot.remove(); return; }
    const head = h('h2', { id: 'outbox-h' }, 'Messages sent');
    if (!outboxSlot.firstChild) append(outboxSlot, head, h('p', { class: 'loading' }, 'Loading…'));
    try {
      const { data } = await api.outbox(ticketId, signal);
      const mine = (data?.items || []).filter((m) => m.ticketId === ticketId);
      const pending = ticket?.notification?.status === 'PENDING';
      append(clear(outboxSlot), head,
        mine.length ? h('ul', { class: 'outbox' }, mine.map((m, i) => h('li', {},
          h('div', { class: 'outbox-head' }, h('strong', { id: `outbox-subject-${i}` }, m.subject || '(no subject)'), ' ',
            h('span', { class: 'muted small' }, `${m.channel || ''} · `, timeEl(m.at))),
          m.body ? h('pre', { class: 'outbox-body', tabindex: '0', 'aria-labelledby': `outbox-subject-${i}` }, m.body) : null))) : null,
        pending ? h('p', { class: 'loading', id: 'outbox-pending' }, 'Delivery is going on: messages appear here as the outbox takes them.') : null,
        !mine.length && !pending ? h('p', { class: 'muted', id: 'outbox-empty' }, (ticket?.notification?.channels || []).some((c) => c.channel === 'outbox')
          ? 'No message for this ticket is in the local outbox.'
          : 'The local outbox is not one of this ticket’s channels, so no message is kept here.') : null);
    } catch (err) {
      if (isAbort(err) || onAuthError(ctx, err)) return;
      append(clear(outboxSlot), head, errorAlert(err, loadOutbox));
    }
  }

  function refreshDelivery() {
    loadExecutions();
    loadOutbox();
  }

  load().then(() => {
    if (!ticket) return;
    // Both at once: the outbox must not wait for a run in progress to end.
    refreshDelivery();
  });
}
