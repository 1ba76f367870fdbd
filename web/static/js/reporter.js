// The reporter's side: the form, the result, the live status page and "My tickets".
import { h, clear, announce, focusEl, uuid, sleep, timeEl, append } from './dom.js';
import { api } from './api.js';
import {
  SEVERITIES, severityChip, statusChip, notificationChip, FINAL_NOTIFICATIONS, errorAlert, copyButton, isAbort,
  pageHeading, NOTIFICATIONS, notFound,
} from './ui.js';
import { timelineList } from './timeline.js';
import { remember, myTickets, forget, savedReporter, saveReporter } from './mine.js';

// Mirrors the server's limits (internal/ticket): lengths are counted in characters (code
// points) after trimming, exactly as the server counts them.
const FIELDS = [
  { key: 'title', path: 'title', label: 'Title', noun: 'Title', max: 200, required: true,
    hint: 'A short summary, for example “VPN disconnects every 10 minutes”.' },
  { key: 'description', path: 'description', label: 'Description', noun: 'Description', max: 10000, multiline: true,
    hint: 'What happened, when it started, who is affected and what you have tried.' },
  { key: 'severity', path: 'severity', label: 'Severity', noun: 'Severity', select: SEVERITIES, required: true },
  { key: 'category', path: 'category', label: 'Category', noun: 'Category', max: 64,
    hint: 'Optional, for example Network, Email, Hardware or Access.',
    suggestions: ['Access', 'Email', 'Hardware', 'Network', 'Security', 'Software', 'Other'] },
  { key: 'name', path: 'reporter.name', label: 'Your name', noun: 'Name', max: 100, required: true, autocomplete: 'name' },
  { key: 'email', path: 'reporter.email', label: 'Your email', noun: 'Email', max: 254, required: true, type: 'email',
    autocomplete: 'email', hint: 'The admins use it to reach you about this ticket.' },
];

// The browser's own rule for type=email (HTML Standard); the server's stricter rules still apply.
const EMAIL_RE = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

const chars = (v) => [...v].length;

function checkField(f, raw) {
  const v = String(raw ?? '').trim();
  if (f.required && !v) return `${f.noun} is required.`;
  if (f.select && v && !f.select.some((o) => o.value === v)) return `${f.noun} must be one of ${f.select.map((o) => o.value).join(', ')}.`;
  if (f.max && chars(v) > f.max) return `${f.noun} must be at most ${f.max} characters.`;
  if (/\u0000/.test(v)) return 'Text must not contain NUL characters.';
  if (f.type === 'email' && v && !EMAIL_RE.test(v)) return 'Email must be a valid address such as name@example.com.';
  return '';
}

// Survives route changes so a half-written report is not lost by a click on "My tickets".
let draft = null;
// The submission in flight or last failed: its body and Idempotency-Key. A retry of the same
// body reuses the key, so the server files the ticket once however often the request is sent.
let pending = null;

export function renderReport(ctx) {
  const { main } = ctx;
  if (!draft) {
    const who = savedReporter();
    draft = { title: '', description: '', severity: 'medium', category: '', name: who.name || '', email: who.email || '' };
  }
  const inputs = {};
  const errorEls = {};
  // role=alert: a div's aria-labelledby names nothing, so a screen reader landing on the
  // summary would not say what it is.
  const summary = h('div', { class: 'error-summary', tabindex: '-1', hidden: true, role: 'alert', 'aria-labelledby': 'error-summary-title' });
  // Enter on a link of the error summary moves focus to its field on keydown; the same key's
  // keypress then lands in the field and would submit the form again (and bring focus back to
  // the summary, a keyboard loop). Submissions wait until that key is released.
  let heldEnter = false;
  document.addEventListener('keyup', (ev) => { if (ev.key === 'Enter') heldEnter = false; }, { signal: ctx.signal });
  const formAlert = h('div', { class: 'form-alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'submit-ticket' }, 'File ticket');

  const sevHelp = h('p', { class: 'hint', id: 'f-severity-hint' });
  const showSevHelp = () => {
    const s = SEVERITIES.find((o) => o.value === inputs.severity.value);
    sevHelp.textContent = s ? s.help : '';
  };

  const fieldEls = FIELDS.map((f) => {
    const fid = `f-${f.key}`;
    const hintId = `${fid}-hint`;
    const errId = `${fid}-error`;
    let input;
    if (f.select) {
      input = h('select', { id: fid, name: f.key, 'aria-describedby': hintId },
        f.select.map((o) => h('option', { value: o.value }, `${o.label} — ${o.help}`)));
      input.value = draft[f.key];
      input.addEventListener('change', showSevHelp);
    } else if (f.multiline) {
      input = h('textarea', { id: fid, name: f.key, rows: 6, 'aria-describedby': `${hintId} ${fid}-count` });
      input.value = draft[f.key];
    } else {
      input = h('input', {
        id: fid, name: f.key, type: f.type || 'text', autocomplete: f.autocomplete || 'off',
        'aria-describedby': f.hint ? hintId : null, 'aria-required': f.required ? 'true' : null,
        list: f.suggestions ? `${fid}-list` : null, spellcheck: f.type === 'email' ? 'false' : null,
      });
      input.value = draft[f.key];
    }
    inputs[f.key] = input;
    const err = h('p', { class: 'field-error', id: errId, hidden: true });
    errorEls[f.key] = err;
    let counter = null;
    if (f.max && (f.multiline || f.key === 'title')) {
      counter = h('p', { class: 'counter', id: `${fid}-count` });
      const update = () => {
        const n = chars(input.value.trim());
        counter.textContent = `${n} of ${f.max} characters`;
        counter.classList.toggle('over', n > f.max);
      };
      input.addEventListener('input', update);
      update();
    }
    input.addEventListener('input', () => {
      draft[f.key] = input.value;
      // Once a field has shown an error, re-check it as the user types so it clears when fixed.
      if (!err.hidden) setFieldError(f.key, checkField(f, input.value));
    });
    input.addEventListener('change', () => { draft[f.key] = input.value; });
    return h('div', { class: `field field-${f.key}`, dataset: { field: f.path } },
      h('label', { for: fid }, f.label, ' ', h('span', { class: 'req' }, f.required ? '(required)' : '(optional)')),
      f.select ? sevHelp : (f.hint ? h('p', { class: 'hint', id: hintId }, f.hint) : null),
      err,
      input,
      counter,
      f.suggestions ? h('datalist', { id: `${fid}-list` }, f.suggestions.map((v) => h('option', { value: v }))) : null);
  });
  showSevHelp();

  function setFieldError(key, msg) {
    const input = inputs[key];
    const err = errorEls[key];
    err.textContent = msg ? msg : '';
    err.hidden = !msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== err.id);
    if (msg) ids.unshift(err.id);
    input.setAttribute('aria-describedby', ids.join(' '));
    err.closest('.field').classList.toggle('has-error', !!msg);
  }

  function showErrors(list, origin) {
    for (const f of FIELDS) setFieldError(f.key, '');
    clear(summary);
    const byKey = new Map();
    const general = [];
    for (const e of list) {
      const f = FIELDS.find((x) => x.path === e.field || x.key === e.field);
      if (f && !byKey.has(f.key)) byKey.set(f.key, e.message);
      else if (!f) general.push(e.message);
    }
    for (const [key, msg] of byKey) setFieldError(key, msg);
    const items = [
      ...FIELDS.filter((f) => byKey.has(f.key)).map((f) => h('li', {}, h('a', {
        href: `#f-${f.key}`,
        onclick: (ev) => {
          ev.preventDefault();
          if (ev.detail === 0) { // activated from the keyboard
            heldEnter = true;
            setTimeout(() => { heldEnter = false; }, 1000); // in case the keyup goes elsewhere
          }
          focusEl(inputs[f.key]);
        },
      }, byKey.get(f.key)))),
      ...general.map((m) => h('li', {}, m)),
    ];
    append(summary,
      h('h2', { id: 'error-summary-title' }, origin === 'server' ? 'The server could not accept the ticket' : 'Please fix the following'),
      h('ul', {}, items));
    summary.dataset.origin = origin;
    summary.hidden = false;
    focusEl(summary);
    announce(`${items.length} ${items.length === 1 ? 'problem' : 'problems'} with the form.`);
  }

  function hideErrors() {
    summary.hidden = true;
    clear(summary);
    for (const f of FIELDS) setFieldError(f.key, '');
  }

  let sending = false;
  function setSending(on) {
    sending = on;
    submit.disabled = on;
    submit.textContent = on ? 'Sending…' : 'File ticket';
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  async function send() {
    if (sending) return; // A second click or Enter while the first request is out does nothing.
    clear(formAlert);
    const values = Object.fromEntries(FIELDS.map((f) => [f.key, inputs[f.key].value]));
    const problems = FIELDS.map((f) => ({ field: f.path, message: checkField(f, values[f.key]) })).filter((p) => p.message);
    if (problems.length) { showErrors(problems, 'client'); return; }
    const body = {
      title: values.title.trim(),
      description: values.description.trim(),
      severity: values.severity,
      category: values.category.trim(),
      reporter: { name: values.name.trim(), email: values.email.trim() },
    };
    const bodyText = JSON.stringify(body);
    if (!pending || pending.bodyText !== bodyText) pending = { bodyText, key: uuid() };
    setSending(true);
    try {
      const { data } = await api.createTicket(body, pending.key, ctx.signal);
      pending = null;
      remember(data);
      saveReporter(body.reporter);
      draft = null;
      showResult(data);
    } catch (err) {
      if (isAbort(err)) return;
      if (err.status === 400 && err.fields.length) {
        showErrors(err.fields, 'server');
      } else {
        hideErrors();
        if (err.status === 409 || err.status === 422) pending = null; // The key belongs to another body: next try gets a fresh one.
        append(formAlert, errorAlert(err, () => send()));
        focusEl(formAlert.querySelector('.alert'));
      }
    } finally {
      if (!ctx.signal.aborted) setSending(false);
    }
  }

  const form = h('form', { class: 'card form', novalidate: true, 'aria-labelledby': 'report-title', id: 'report-form' },
    summary, fieldEls, formAlert,
    h('div', { class: 'actions' }, submit,
      h('p', { class: 'hint' }, 'You get the ticket ID straight away; the admins are notified in the background.')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (heldEnter) return;
    send();
  });

  const page = h('div', { class: 'page page-report' },
    pageHeading('Report a problem', { id: 'report-title' }),
    h('p', { class: 'lead' }, 'Tell the support team what is wrong. Fields marked required must be filled in.'),
    form);
  append(main, page);

  function showResult(t) {
    clear(main);
    const idEl = h('code', { class: 'ticket-id', id: 'result-id' }, t.id);
    const chipSlot = h('span', { class: 'result-notify' }, notificationChip(t.notification));
    const heading = h('h1', { tabindex: '-1', class: 'page-title', id: 'result-title' }, 'Ticket filed');
    append(main, h('section', { class: 'page page-result', 'aria-labelledby': 'result-title' },
      heading,
      h('div', { class: 'card result' },
        h('p', { class: 'lead' }, 'Thank you. Your ticket “', h('span', { class: 'result-ticket-title' }, t.title), '” has been filed.'),
        h('p', {}, 'Ticket ID'),
        h('div', { class: 'id-row' }, idEl, copyButton(t.id, idEl)),
        h('p', { class: 'hint' }, 'Keep this ID or bookmark the status page: anyone with the ID can see the ticket’s status.'),
        h('p', { 'aria-live': 'polite' }, 'Notification: ', chipSlot),
        h('div', { class: 'actions' },
          h('a', { class: 'btn btn-primary', href: `#/ticket/${encodeURIComponent(t.id)}`, id: 'result-status-link' }, 'View status page'),
          h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { clear(main); renderReport(ctx); focusEl(document.getElementById('report-title')); } }, 'Report another problem')))));
    focusEl(heading);
    announce('Ticket filed.');
    pollTicket(t, ctx.signal, (fresh) => {
      chipSlot.replaceChildren(notificationChip(fresh.notification));
    }).catch(() => {});
  }
}


/**
 * pollTicket refreshes a ticket with backoff (1 s, doubling to 15 s) until its notification is
 * SENT or FAILED, calling onUpdate with each version. Failures back off the same way.
 */
async function pollTicket(t, signal, onUpdate, onError) {
  let delay = 1000;
  let current = t;
  while (!FINAL_NOTIFICATIONS.has(current?.notification?.status)) {
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 15000);
    try {
      const { data } = await api.getTicket(current.id, signal);
      current = data;
      onError?.(null);
      onUpdate(data);
    } catch (err) {
      if (isAbort(err)) throw err;
      onError?.(err);
    }
  }
  return current;
}

function notificationSentence(n) {
  switch (n?.status) {
    case 'SENT': return 'The responders have been notified.';
    case 'PARTIAL': return 'The responders have been notified, though not on every channel. Your ticket is filed and they see it in their list.';
    case 'FAILED': return 'We could not notify the responders automatically. Your ticket is still filed and they see it in their list.';
    default: return 'Notifying the responders… this page updates by itself.';
  }
}

/** reachedSentence says how many ways of reaching the responders worked, when not all did. */
function reachedSentence(n) {
  const channels = n?.channels || [];
  if (n?.status !== 'PARTIAL' || channels.length < 2) return null;
  const sent = channels.filter((c) => c.status === 'SENT').length;
  return h('p', { class: 'muted', id: 'notify-reached' }, `${sent} of ${channels.length} ways of reaching them worked.`);
}

export function renderStatus(ctx, ticketId) {
  const { main, signal } = ctx;
  // Poll failures go to errorSlot, which survives the redraws of body.
  const errorSlot = h('div', { class: 'poll-error' });
  const body = h('div');
  append(main, h('div', { class: 'page page-status' }, errorSlot, body));

  async function load() {
    clear(errorSlot);
    append(clear(body), h('p', { class: 'loading', role: 'status' }, 'Loading the ticket…'));
    let t;
    try {
      ({ data: t } = await api.getTicket(ticketId, signal));
    } catch (err) {
      if (isAbort(err)) return;
      // An unknown ID will not appear by trying again: say what to check instead.
      append(clear(body), pageHeading(err.status === 404 ? 'Ticket not found' : 'Ticket status'),
        err.status === 404 ? notFound(ticketId, '#/mine', 'My tickets') : errorAlert(err, load));
      focusEl(body.querySelector('h1'));
      return;
    }
    draw(t);
    focusEl(body.querySelector('h1'));
    document.title = `${t.title} · Ticket status · Incident Manager`;
    let last = t;
    const showPollError = (err) => {
      clear(errorSlot);
      if (err) append(errorSlot, errorAlert({ message: `${err.message} The page keeps trying by itself.` }, null));
    };
    try {
      last = await pollTicket(t, signal, (fresh) => {
        if (fresh.notification?.status !== last.notification?.status) {
          announce(`Notification status: ${NOTIFICATIONS[fresh.notification.status]?.label || fresh.notification.status}.`);
        }
        last = fresh;
        draw(fresh);
      }, showPollError);
      // Once notified, keep an eye on the lifecycle status (an admin may acknowledge or resolve).
      for (;;) {
        await sleep(30000, signal);
        if (document.hidden) continue;
        try {
          const { data } = await api.getTicket(ticketId, signal);
          showPollError(null);
          if (data.version !== last.version) {
            if (data.status !== last.status) announce(`Ticket status: ${data.status}.`);
            last = data;
            draw(data);
          }
        } catch (err) {
          if (isAbort(err)) throw err;
          showPollError(err);
        }
      }
    } catch (err) {
      if (!isAbort(err)) throw err;
    }
  }

  function draw(t) {
    const idEl = h('code', { class: 'ticket-id' }, t.id);
    const n = t.notification || {};
    const panel = h('section', { class: `card notify-panel nt-panel-${String(n.status || 'PENDING').toLowerCase()}`, 'aria-labelledby': 'notify-h', id: 'notify-panel', dataset: { notificationStatus: n.status || 'PENDING' } },
      h('h2', { id: 'notify-h' }, 'Notification'),
      h('p', { class: 'notify-state' }, notificationChip(n), ' ', notificationSentence(n)),
      reachedSentence(n));
    const headingHadFocus = document.activeElement?.classList.contains('page-title');
    append(clear(body),
      h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/mine' }, 'My tickets'), ' / ', h('span', {}, 'Status')),
      pageHeading(t.title, { id: 'ticket-title' }),
      h('div', { class: 'chips' }, severityChip(t.severity), statusChip(t.status)),
      h('div', { class: 'grid-2' },
        h('div', {},
          panel,
          h('section', { class: 'card', 'aria-labelledby': 'desc-h' },
            h('h2', { id: 'desc-h' }, 'Description'),
            t.description ? h('p', { class: 'prewrap', id: 'ticket-description' }, t.description) : h('p', { class: 'muted' }, 'No description.')),
          h('section', { class: 'card', 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timelineList(t.timeline, { audience: 'reporter' }))),
        h('aside', { class: 'card', 'aria-labelledby': 'details-h' },
          h('h2', { id: 'details-h' }, 'Details'),
          h('dl', { class: 'dl' },
            h('dt', {}, 'Ticket ID'), h('dd', {}, h('div', { class: 'id-row' }, idEl, copyButton(t.id, idEl))),
            h('dt', {}, 'Status'), h('dd', {}, statusChip(t.status)),
            h('dt', {}, 'Severity'), h('dd', {}, severityChip(t.severity)),
            h('dt', {}, 'Category'), h('dd', {}, t.category || '—'),
            h('dt', {}, 'Reported by'), h('dd', {}, t.reporter?.name || '—'),
            h('dt', {}, 'Filed'), h('dd', {}, timeEl(t.createdAt)),
            h('dt', {}, 'Last update'), h('dd', {}, timeEl(t.updatedAt))))));
    if (headingHadFocus) body.querySelector('h1').focus({ preventScroll: true });
  }

  load();
}

export function renderMine(ctx) {
  const { main, signal } = ctx;
  const list = myTickets();
  const page = h('div', { class: 'page page-mine' },
    pageHeading('My tickets'),
    h('p', { class: 'lead' }, 'Tickets filed from this browser. They are remembered on this device only.'));
  append(main, page);
  if (!list.length) {
    append(page, h('div', { class: 'card empty' }, h('p', {}, 'You have not filed any tickets from this browser yet.'),
      h('a', { class: 'btn btn-primary', href: '#/' }, 'Report a problem')));
    return;
  }
  const rows = new Map();
  const tbody = h('tbody');
  for (const t of list) {
    const status = h('td', { dataset: { label: 'Status' } }, h('span', { class: 'muted' }, 'Checking…'));
    const notify = h('td', { dataset: { label: 'Notification' } }, '');
    const title = h('a', { href: `#/ticket/${encodeURIComponent(t.id)}` }, t.title || t.id);
    const tr = h('tr', { dataset: { id: t.id } },
      h('td', { dataset: { label: 'Ticket' } }, h('div', {}, title, h('div', { class: 'muted small mono break' }, t.id))),
      h('td', { dataset: { label: 'Severity' } }, severityChip(t.severity)),
      status, notify,
      h('td', { dataset: { label: 'Filed' } }, timeEl(t.createdAt, true)),
      h('td', { dataset: { label: '' } }, h('button', {
        type: 'button', class: 'btn btn-link', 'aria-label': `Forget “${t.title || t.id}” on this device`,
        onclick: () => { forget(t.id); tr.remove(); rows.delete(t.id); announce('Removed from this list.'); },
      }, 'Forget')));
    rows.set(t.id, { status, notify, title });
    append(tbody, tr);
  }
  const live = h('p', { class: 'muted small', 'aria-live': 'polite' });
  append(page, h('div', { class: 'card table-card' },
    h('table', { class: 'table responsive', id: 'mine-table' },
      h('caption', { class: 'visually-hidden' }, 'Tickets filed from this browser, newest first'),
      h('thead', {}, h('tr', {}, ['Ticket', 'Severity', 'Status', 'Notification', 'Filed'].map((c) => h('th', { scope: 'col' }, c)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      tbody)), live);

  const known = new Map();
  async function refresh() {
    const ids = [...rows.keys()];
    let failed = 0;
    // A few at a time, so a long list does not flood the API.
    for (let i = 0; i < ids.length; i += 4) {
      await Promise.all(ids.slice(i, i + 4).map(async (tid) => {
        const r = rows.get(tid);
        if (!r) return;
        try {
          const { data } = await api.getTicket(tid, signal);
          const prev = known.get(tid);
          if (prev && prev !== `${data.status}/${data.notification?.status}`) announce(`“${data.title}” is now ${data.status}, notification ${data.notification?.status}.`);
          known.set(tid, `${data.status}/${data.notification?.status}`);
          r.status.replaceChildren(statusChip(data.status));
          r.notify.replaceChildren(notificationChip(data.notification));
          r.title.textContent = data.title;
        } catch (err) {
          if (isAbort(err)) throw err;
          failed += 1;
          r.status.replaceChildren(h('span', { class: 'muted' }, err.status === 404 ? 'Not found' : 'Unavailable'));
        }
      }));
    }
    live.textContent = failed ? `${failed} could not be checked; retrying shortly.` : `Updated ${new Date().toLocaleTimeString()}.`;
  }
  (async () => {
    let delay = 2000;
    try {
      for (;;) {
        if (!document.hidden) await refresh();
        const pending = [...known.values()].some((v) => v.endsWith('/PENDING'));
        await sleep(pending ? delay : 20000, signal);
        delay = Math.min(delay * 2, 15000);
      }
    } catch (err) {
      if (!isAbort(err)) throw err;
    }
  })();
}
