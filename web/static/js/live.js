// The live feed the admin pages follow: GET /events read with fetch() (EventSource cannot send
// the Authorization header), resumed with Last-Event-ID after a drop, backing off between
// tries. While there is no stream (it failed, the server has none, or on AWS, where a Lambda
// cannot hold one) the page is told to poll instead, and asks GET /ticket?updatedSince= for
// what changed. Pages never learn which of the two is running except through onState.
import { api, config, problemOf, isAuthError } from './api.js';
import { SSEParser } from './sse.js';
import { sleep } from './dom.js';

/** POLL_MS is how often a page without a stream asks what changed. */
export const POLL_MS = 5000;

// A stream that has been silent for this long is dead (the server writes a keep-alive every
// 15 s), even if no error says so: drop it and reconnect.
const SILENCE_MS = 45000;
const MAX_DELAY_MS = 30000;

/**
 * follow keeps a page current until signal aborts. onEvent receives
 *   {type: 'ticket', data: {id, version, created, status, severity, notification, updatedAt}},
 *   {type: 'reset'} when the stream missed more than the server keeps (reload everything),
 *   {type: 'poll'} every POLL_MS while there is no stream, and once each time a stream opens
 *     (to catch up with what changed before it did).
 * onState receives 'live', 'polling' or 'reconnecting'; onAuthError the ApiError when the
 * credentials were refused (following stops).
 */
export function follow({ signal, onEvent, onState = () => {}, onAuthError = () => {}, pollMs = POLL_MS }) {
  let state = '';
  const setState = (s) => { if (s !== state) { state = s; onState(s); } };
  const emit = (ev) => {
    try { onEvent(ev); } catch (err) { setTimeout(() => { throw err; }); }
  };

  (async () => {
    for (;;) {
      try { await sleep(pollMs, signal); } catch { return; }
      if (state !== 'live' && !document.hidden) emit({ type: 'poll' });
    }
  })();
  if (config.mode === 'aws') {
    setState('polling');
    return;
  }
  (async () => {
    let lastId = '';
    let base = 1000;
    let delay = base;
    while (!signal.aborted) {
      const conn = new AbortController();
      const stop = () => conn.abort(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
      let res = null;
      try {
        res = await api.events(lastId, conn.signal);
      } catch (err) {
        if (signal.aborted) return;
      }
      if (res && res.ok && /^text\/event-stream/.test(res.headers.get('Content-Type') || '')) {
        setState('live');
        emit({ type: 'poll' });
        const parser = new SSEParser();
        let watchdog = null;
        const arm = () => { clearTimeout(watchdog); watchdog = setTimeout(() => conn.abort('silent'), SILENCE_MS); };
        arm();
        try {
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            arm();
            for (const ev of parser.push(value)) {
              delay = base;
              if (ev.type === 'reset') emit({ type: 'reset' });
              if (ev.type !== 'ticket') continue;
              let data;
              try { data = JSON.parse(ev.data); } catch { continue; }
              if (data && typeof data.id === 'string') emit({ type: 'ticket', data });
            }
          }
        } catch {
          // The connection broke (or the watchdog cut it): reconnect below.
        } finally {
          clearTimeout(watchdog);
        }
        if (signal.aborted) return;
        lastId = parser.lastEventId || lastId;
        if (parser.retry !== null) base = Math.max(100, parser.retry);
      } else if (res && isAuthError(res)) {
        onAuthError(await problemOf(res));
        return;
      } else if (res) {
        // No feed here (404), too many streams (503): the server says when to try again.
        const after = Number(res.headers.get('Retry-After'));
        if (Number.isFinite(after) && after > 0) delay = Math.max(delay, after * 1000);
        res.body?.cancel().catch(() => {});
      }
      signal.removeEventListener('abort', stop);
      setState('reconnecting');
      // Jitter, so that many consoles dropped together do not all come back at once.
      try { await sleep(delay / 2 + Math.random() * (delay / 2), signal); } catch { return; }
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  })();
}
