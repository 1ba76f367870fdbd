// A Server-Sent Events parser, as the HTML Standard's "event stream interpretation" reads a
// stream. EventSource would parse for us, but it cannot send an Authorization header, so the
// live feed is read with fetch() and parsed here. Text arrives in chunks cut anywhere (inside a
// line, between CR and LF); the parser keeps what it has not finished.

/**
 * SSEParser: push(text) returns the events completed by that chunk, each
 * {type, data, lastEventId}; retry holds the last reconnection time the server asked for (ms),
 * lastEventId the ID to resume from.
 */
export class SSEParser {
  constructor() {
    this.buffer = '';
    this.started = false;
    this.pendingCR = false;
    this.type = '';
    this.data = [];
    this.hasData = false;
    this.lastEventId = '';
    this.retry = null;
  }

  push(chunk) {
    let text = String(chunk);
    if (!this.started && text.length) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the previous chunk already ended its line: drop the LF that follows it.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const events = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buffer.slice(start, i);
      if (c === '\r') {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[i + 1] === '\n') i += 1;
      }
      start = i + 1;
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment, such as the server's keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event': this.type = value; break;
      case 'data': this.data.push(value); this.hasData = true; break;
      case 'id': if (!value.includes('\u0000')) this.lastEventId = value; break;
      case 'retry': if (/^\d+$/.test(value)) this.retry = Number(value); break;
      default: break; // unknown fields are ignored
    }
    return null;
  }

  dispatch() {
    const ev = this.hasData ? { type: this.type || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId } : null;
    this.type = '';
    this.data = [];
    this.hasData = false;
    return ev;
  }
}

/** parseAll parses a whole stream given as chunks: what the tests call. */
export function parseAll(chunks) {
  const p = new SSEParser();
  const out = [];
  for (const c of chunks) out.push(...p.push(c));
  return { events: out, lastEventId: p.lastEventId, retry: p.retry };
}
