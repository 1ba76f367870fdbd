// Pieces of UI shared by the reporter and admin views.
import { h, copyText, selectText, announce } from './dom.js';

export const SEVERITIES = [
  { value: 'critical', label: 'Critical', help: 'A service is down or data is at risk for many people; act now.' },
  { value: 'high', label: 'High', help: 'Important work is blocked and there is no workaround.' },
  { value: 'medium', label: 'Medium', help: 'Something is broken, but there is a workaround.' },
  { value: 'low', label: 'Low', help: 'A minor issue, a question or a cosmetic problem.' },
];

export const STATUSES = [
  { value: 'open', label: 'Open' },
  { value: 'acknowledged', label: 'Acknowledged' },
  { value: 'resolved', label: 'Resolved' },
];

export const NOTIFICATIONS = {
  PENDING: { label: 'Notifying responders', short: 'Pending' },
  SENT: { label: 'Responders notified', short: 'Sent' },
  PARTIAL: { label: 'Partly notified', short: 'Partial' },
  FAILED: { label: 'Notification failed', short: 'Failed' },
};

/** FINAL_NOTIFICATIONS are the statuses after which nothing more is sent. */
export const FINAL_NOTIFICATIONS = new Set(['SENT', 'PARTIAL', 'FAILED']);

/** channelLabel names a channel for people: its kind, and for a webhook its host. */
export function channelLabel(name) {
  const [kind, rest = ''] = String(name || '').split(/:(.*)/s);
  switch (kind) {
    case 'outbox': return 'Local outbox';
    case 'sns': return `SNS topic ${rest.split(':').pop() || ''}`.trim();
    case 'webhook': return rest ? `Webhook ${rest.split('#')[0]}` : 'Webhook';
    case 'email': return rest ? `Email ${rest}` : 'Email';
    default: return name || 'Channel';
  }
}

/**
 * deliveryList shows each channel's outcome: what was reached, what failed and why (admins),
 * what is still being tried. Reporters see the kinds only (the API sends no addresses).
 */
export function deliveryList(n) {
  const channels = n?.channels || [];
  if (!channels.length) return h('p', { class: 'muted' }, n?.status === 'PENDING' ? 'Not tried yet.' : 'No channel.');
  return h('ul', { class: 'plain channels' }, channels.map((c) => h('li', { class: 'channel', dataset: { channel: c.channel, channelStatus: c.status } },
    notificationChip({ status: c.status }), ' ', h('span', { class: 'channel-name' }, channelLabel(c.channel)),
    c.attempts > 1 ? h('span', { class: 'muted' }, ` · ${c.attempts} attempts`) : null,
    c.status === 'SENT' ? h('div', { class: 'hint' }, channelMeaning(c.channel)) : null,
    c.lastError && c.status !== 'SENT' ? h('div', { class: 'error-text small' }, c.lastError) : null)));
}

const labelOf = (list, v) => list.find((x) => x.value === v)?.label || v || '—';

/** severityChip shows the severity as coloured text (the colour is never the only cue). */
export function severityChip(sev) {
  return h('span', { class: `chip sev-${/^(critical|high|medium|low)$/.test(sev) ? sev : 'unknown'}`, dataset: { severity: sev || '' } }, labelOf(SEVERITIES, sev));
}

export function statusChip(status) {
  return h('span', { class: `chip st-${/^(open|acknowledged|resolved)$/.test(status) ? status : 'unknown'}`, dataset: { status: status || '' } }, labelOf(STATUSES, status));
}

export function notificationChip(n) {
  const st = n?.status || 'PENDING';
  const info = NOTIFICATIONS[st] || { label: st, short: st };
  return h('span', { class: `chip nt-${st.toLowerCase()}`, dataset: { notification: st } },
    st === 'PENDING' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null, info.short);
}

/**
 * channelMeaning says what "delivered" proves for a channel, which differs by kind: SNS only
 * tells us it accepted the message (it then delivers to the topic's confirmed subscribers;
 * email delivery is not reported back), a webhook answered 2xx, the outbox was written.
 */
export function channelMeaning(channel) {
  const c = String(channel || '');
  if (c === 'sns' || c.startsWith('sns:')) return 'accepted by Amazon SNS, which delivers to the topic’s confirmed subscribers (email delivery is not reported back)';
  if (c === 'webhook' || c.startsWith('webhook:')) return 'the webhook answered with a 2xx status';
  if (c === 'outbox') return 'written to the local outbox (the embedded server sends no email)';
  return 'accepted by the channel';
}

/** errorAlert shows a failure as a sentence with a retry button (omitted when onRetry is null). */
export function errorAlert(err, onRetry, retryLabel = 'Try again') {
  const msg = err?.message || 'Something went wrong. Please try again.';
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('p', {}, msg),
    onRetry ? h('button', { type: 'button', class: 'btn btn-secondary btn-small', onclick: onRetry }, retryLabel) : null);
}

/** notFound explains an unknown ticket ID; trying again cannot help, so it offers a way on. */
export function notFound(ticketId, backHref, backLabel) {
  return h('div', { class: 'alert alert-error', role: 'alert', id: 'not-found' },
    h('p', {}, `There is no ticket with the ID ${ticketId}. Check that the link or ID is complete: an ID is 36 characters, such as 01890000-0000-7000-8000-000000000000.`),
    h('a', { class: 'btn btn-secondary btn-small', href: backHref }, backLabel));
}

/** copyButton copies text; if the browser refuses, it selects target so Ctrl+C works. */
export function copyButton(text, target, label = 'Copy ID') {
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-small copy-btn' }, label);
  btn.addEventListener('click', async () => {
    if (await copyText(text)) {
      btn.textContent = 'Copied';
      announce('Copied to the clipboard.');
    } else {
      if (target) selectText(target);
      btn.textContent = 'Press Ctrl+C';
      announce('The text is selected; press Control C to copy it.');
    }
    setTimeout(() => { btn.textContent = label; }, 2500);
  });
  return btn;
}

/** isAbort tells a cancelled request (the user left the page) from a real failure. */
export function isAbort(err) {
  return err?.name === 'AbortError' || err === 'route-change';
}

/** pageHeading builds the h1 that route changes move focus to. */
export function pageHeading(text, attrs = {}) {
  return h('h1', { tabindex: '-1', class: 'page-title', ...attrs }, text);
}
