// SPDX-License-Identifier: AGPL-3.0-or-later
// The JSON API client.  The browser session is the HttpOnly cookie set at
// log-in; every state-changing call also sends the CSRF token the log-in
// answer gave, kept in sessionStorage (per tab, gone with the tab).

const CSRF_KEY = 'rampart.csrf';

export class ApiError extends Error {
  constructor(status, code, message, field, body) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.body = body || null;
  }
}

export function csrfToken() {
  try {
    return sessionStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

export function setCsrfToken(token) {
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    /* storage disabled: the session then lasts as long as the page */
  }
}

// Listeners told when the API says the session is gone (expired, ended
// elsewhere) or the password must be changed first.
const listeners = new Set();
export function onAuthProblem(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function authProblem(kind) {
  for (const fn of listeners) fn(kind);
}

const PUBLIC_PATHS = ['/api/v1/auth/login', '/api/v1/auth/activate'];

function buildUrl(path, query) {
  const params = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '' || v === false) continue;
      params.set(k, v === true ? '1' : String(v));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/*
 * Calls the API.  Resolves to the parsed JSON body (null for 204), or rejects
 * with an ApiError carrying the API's error code and message.  Options:
 * query (object), json (body), csv (text body), signal.
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  const isPublic = PUBLIC_PATHS.includes(path);

  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.csv !== undefined) {
    headers['Content-Type'] = 'text/csv';
    body = opts.csv;
  }
  if (method !== 'GET' && !isPublic) {
    const token = csrfToken();
    if (!token) {
      authProblem('csrf');
      throw new ApiError(0, 'csrf_missing', 'csrf_missing');
    }
    headers['X-CSRF-Token'] = token;
  }

  let res;
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'network');
  }

  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;

  const err = (data && data.error) || {};
  const code = err.code || `http_${res.status}`;
  if (!isPublic) {
    // Only a session we believed in can expire; a first visit just needs a log-in.
    if (res.status === 401) {
      if (csrfToken()) authProblem('expired');
    }
    if (code === 'password_change_required') authProblem('password');
    if (code === 'csrf') authProblem('csrf');
  }
  throw new ApiError(res.status, code, err.message || '', err.field, data);
}

/* Reads every page of a list (up to @maxPages), for totals the API does not count itself. */
export async function apiAll(path, query, maxPages = 20, signal) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const page = await api('GET', path, { query: { ...query, limit: 500, cursor }, signal });
    items.push(...(page.items || []));
    cursor = page.next;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}
