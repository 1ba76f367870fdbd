// A ticket's history, oldest first. Everything one notification run did (each channel
// delivered or failed, resumed runs, old per-attempt entries) is one entry: its outcome, with
// the steps inside for responders. Reporters see each run's outcome in plain words only.
import { h, timeEl } from './dom.js';

const LABELS = {
  created: 'Ticket filed',
  'workflow.started': 'Notification workflow started',
  'notification.attempt': 'Delivery attempt',
  'notification.restarted': 'Delivery resumed',
  'notification.retried': 'Delivery retried',
  'notification.delivered': 'Delivered to a channel',
  'notification.channel_failed': 'A channel failed',
  'notification.sent': 'Responders notified',
  'notification.partial': 'Partly notified',
  'notification.failed': 'Notification failed',
  'status.changed': 'Status changed',
};

const FINAL = new Set(['notification.sent', 'notification.partial', 'notification.failed']);
const isDelivery = (type) => /^(notification|workflow)\./.test(type || '');

const REPORTER_WORDS = {
  'notification.sent': 'The responders were notified.',
  'notification.partial': 'The responders were notified, though not on every channel.',
  'notification.failed': 'We could not notify the responders automatically. They still see your ticket in their list.',
  '': 'The responders are being notified.',
};

/**
 * groupRuns turns entries into items: {entry} for a plain entry, {run: [entries], outcome}
 * for one notification run (outcome is its final entry, or null while it is going on).
 */
export function groupRuns(entries) {
  const sorted = (entries || []).slice().sort((a, b) => String(a.at).localeCompare(String(b.at)));
  const items = [];
  let run = null;
  for (const e of sorted) {
    if (!isDelivery(e.type)) { items.push({ entry: e }); continue; }
    // An admin's retry starts a new run.
    if (!run || e.type === 'notification.retried') {
      run = { run: [], outcome: null };
      items.push(run);
    }
    run.run.push(e);
    if (FINAL.has(e.type)) { run.outcome = e; run = null; }
  }
  return items;
}

function row(type, head, at, body, extra) {
  return h('li', { class: `tl tl-${String(type || '').replace(/[^a-z]/gi, '-')}`, dataset: { type: type || '' } },
    h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
    h('div', { class: 'tl-body' },
      h('div', { class: 'tl-head' }, h('strong', {}, head), ' ', at ? timeEl(at, false, { class: 'muted' }) : null),
      body ? h('p', { class: 'tl-msg' }, body) : null,
      extra));
}

function runSummary(run) {
  const count = (t) => run.run.filter((e) => e.type === t).length;
  const parts = [];
  if (count('notification.delivered')) parts.push(`${count('notification.delivered')} delivered`);
  if (count('notification.channel_failed')) parts.push(`${count('notification.channel_failed')} failed`);
  if (count('notification.attempt')) parts.push(`${count('notification.attempt')} attempts`);
  if (count('notification.restarted')) parts.push(`${count('notification.restarted')} resumed`);
  const steps = run.run.length === 1 ? '1 step' : `${run.run.length} steps`;
  return parts.length ? `${steps}: ${parts.join(', ')}` : steps;
}

/** timelineList renders a ticket's history; audience 'reporter' hides the delivery steps. */
export function timelineList(entries, { audience = 'responder' } = {}) {
  let items = groupRuns(entries);
  if (!items.length) return h('p', { class: 'muted' }, 'Nothing has happened yet.');
  if (audience === 'reporter') {
    // One line about notifying: how the latest run ended (or that it is going on).
    const runs = items.filter((x) => x.run);
    const latest = runs[runs.length - 1];
    items = items.filter((x) => !x.run || x === latest);
  }
  return h('ol', { class: 'timeline' }, items.map((x) => {
    if (x.entry) return row(x.entry.type, LABELS[x.entry.type] || x.entry.type || 'Event', x.entry.at, x.entry.message);
    const last = x.outcome || x.run[x.run.length - 1];
    const type = x.outcome ? x.outcome.type : 'notification.pending';
    const head = x.outcome ? LABELS[x.outcome.type] : 'Notifying responders';
    if (audience === 'reporter') return row(type, head, last.at, REPORTER_WORDS[x.outcome?.type || '']);
    const steps = x.run.filter((e) => e !== x.outcome);
    const retried = x.run[0].type === 'notification.retried';
    const body = x.outcome ? x.outcome.message : (retried ? x.run[0].message : 'Delivery is going on.');
    return row(type, retried && x.outcome ? `${head} (after a retry)` : head, last.at, body,
      steps.length ? h('details', { class: 'tl-steps' },
        h('summary', {}, runSummary({ run: steps })),
        h('ol', { class: 'tl-substeps' }, steps.map((e) => h('li', { dataset: { type: e.type || '' } },
          h('strong', {}, LABELS[e.type] || e.type), ' ', timeEl(e.at, false, { class: 'muted' }),
          e.message ? h('div', { class: 'tl-msg' }, e.message) : null)))) : null);
  }));
}
