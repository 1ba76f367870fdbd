// The HTTP API client: one place that knows the base URL, the admin token, and how to turn
// problem+json and network failures into sentences a person can act on.

const defaults = { apiBase: '', mode: 'local' };
export const config = Object.freeze({ ...defaults, ...(window.INCIDENTS_CONFIG || {}) });

const TOKEN_KEY = 'incidents.adminToken';

/** The admin token lives in sessionStorage only: it goes away with the tab and never enters a URL. */
export const adminToken = {
  get() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; } },
  set(v) { sessionStorage.setItem(TOKEN_KEY, v); },
  clear() { try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ } },
};

/** ApiError carries a human message plus what the UI needs to react (status, field errors). */
export class ApiError extends Error {
  constructor(message, { status = 0, problem = null, network = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.network = network;
    this.fields = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

/**
 * isAuthError: the admin token was refused. The embedded server answers 401; on AWS the API
 * Gateway authorizer answers 403 for a wrong token (and 401 when none was sent).
 */
export function isAuthError(err) {
  return err?.status === 401 || err?.status === 403;
}

function messageFor(status, problem) {
  const detail = typeof problem?.detail === 'string' && problem.detail.trim() ? problem.detail.trim() : '';
  const ref = problem?.requestId ? ` (reference ${problem.requestId})` : '';
  switch (true) {
    case status === 401 || status === 403:
      return 'Your admin token was not accepted. Please sign in again.';
    case status === 404:
      return detail || 'We could not find what you asked for.';
    case status === 413:
      return 'The ticket is too large to send. Please shorten the description and try again.';
    case status === 415:
      return 'The server did not understand the request format. Please reload the page and try again.';
    case status === 429:
      return 'The server is busy right now. Please wait a moment and try again.';
    case status >= 500:
      return `The server had a problem handling that${ref}. Please try again in a moment.`;
    default:
      return detail || `The request failed with status ${status}${ref}.`;
  }
}

/**
 * authHeaders are the headers that prove who is asking: today the admin bearer token. Every
 * admin request, the live stream included, gets them here and nowhere else, so a change in how
 * people sign in changes this one function.
 */
export function authHeaders() {
  const token = adminToken.get();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * send makes one HTTP request to the API and resolves with the Response, whatever its status,
 * or rejects with a network ApiError (or the AbortError when signal aborts).
 */
export async function send(method, path, { body, headers = {}, signal, admin = false } = {}) {
  const h = { Accept: 'application/json, application/problem+json', ...(admin ? authHeaders() : {}), ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  try {
    return await fetch(config.apiBase + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    // A request cancelled because the user left the page is not a network failure.
    if (signal?.aborted || err?.name === 'AbortError') throw err;
    throw new ApiError('We could not reach the server. Check your connection and try again.', { network: true });
  }
}

/** problemOf turns a failed Response into an ApiError with the server's problem details. */
export async function problemOf(res) {
  const data = await jsonOf(res);
  const problem = data && typeof data === 'object' ? data : null;
  return new ApiError(messageFor(res.status, problem), { status: res.status, problem });
}

async function jsonOf(res) {
  const text = await res.text().catch(() => '');
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return null; }
}

/**
 * request calls the API. It resolves with {data, response} or rejects with an ApiError (or an
 * AbortError when signal aborts, which callers ignore because the view is gone).
 */
export async function request(method, path, options = {}) {
  const res = await send(method, path, options);
  if (!res.ok) throw await problemOf(res);
  const data = await jsonOf(res);
  if (data === null) {
    throw new ApiError('The server sent a response we could not read. Please try again.', { status: res.status });
  }
  return { data: data === undefined ? null : data, response: res };
}

const enc = encodeURIComponent;

export const api = {
  createTicket: (body, key, signal) =>
    request('POST', '/ticket', { body, headers: { 'Idempotency-Key': key }, signal }),
  // Anyone with the ID gets the public view; admins get the whole ticket (delivery details)
  // from their own route, which on AWS sits behind the authorizer.
  getTicket: (id, signal, admin = false) =>
    request('GET', admin ? `/admin/tickets/${enc(id)}` : `/ticket/${enc(id)}`, { signal, admin }),
  // query holds GET /ticket's parameters (q, status, severity, notification, category, from,
  // to, updatedSince, sort, limit, cursor, and whatever the server adds); empty ones are left out.
  listTickets: (query, signal) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    return request('GET', `/ticket?${q}`, { admin: true, signal });
  },
  bulk: (ids, action, signal) => request('POST', '/admin/tickets/bulk', { body: { ids, action }, admin: true, signal }),
  retryNotification: (id, signal) => request('POST', `/admin/tickets/${enc(id)}/retry-notification`, { admin: true, signal }),
  // The live feed: the raw Response of GET /events, read as a stream by live.js.
  events: (lastEventId, signal) => send('GET', '/events', {
    admin: true, signal, headers: { Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
  }),
  stats: (signal) => request('GET', '/admin/stats', { admin: true, signal }),
  setStatus: (id, status, version, signal) =>
    request('PATCH', `/ticket/${enc(id)}`, {
      body: { status },
      headers: version ? { 'If-Match': `"${version}"` } : {},
      admin: true,
      signal,
    }),
  executions: (ticketId, signal) => request('GET', `/admin/executions?ticket=${enc(ticketId)}`, { admin: true, signal }),
  execution: (name, signal) => request('GET', `/admin/executions/${enc(name)}`, { admin: true, signal }),
  outbox: (ticketId, signal) => request('GET', `/admin/outbox?ticket=${enc(ticketId)}&limit=100`, { admin: true, signal }),
  listIntegrations: (signal) => request('GET', '/admin/integrations', { admin: true, signal }),
  createIntegration: (body, signal) => request('POST', '/admin/integrations', { body, admin: true, signal }),
  patchIntegration: (id, body, signal) => request('PATCH', `/admin/integrations/${enc(id)}`, { body, admin: true, signal }),
  rotateIntegration: (id, signal) => request('POST', `/admin/integrations/${enc(id)}/rotate`, { admin: true, signal }),
  deleteIntegration: (id, signal) => request('DELETE', `/admin/integrations/${enc(id)}`, { admin: true, signal }),
  // The definition is served next to the SPA, not by the API, so it is fetched from the site.
  workflow: async (signal) => {
    let res;
    try {
      res = await fetch('workflow.asl.json', { signal, cache: 'no-store' });
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw new ApiError('We could not load the workflow definition. Check your connection and try again.', { network: true });
    }
    if (!res.ok) throw new ApiError('The workflow definition is not available from this server.', { status: res.status });
    try {
      return await res.json();
    } catch {
      throw new ApiError('The workflow definition could not be read.', { status: res.status });
    }
  },
};

/** consoleURL links to an execution in the Step Functions console (used on AWS). */
export function consoleURL(executionArn) {
  const region = config.region || (String(executionArn).split(':')[3] || 'us-east-1');
  return `https://${region}.console.aws.amazon.com/states/home?region=${enc(region)}#/v2/executions/details/${executionArn}`;
}
