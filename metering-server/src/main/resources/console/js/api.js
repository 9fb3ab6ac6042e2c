// The public API, called with the user's key. The key is typed once and kept only in this tab's session storage: not
// in local storage, not in a cookie, not in the address. An open server (no keys file) needs none.

const STORAGE = 'tokenmeter.key';

/** What each kind of request needs, as a 401 or a missing key explains it. */
export const NEEDS = {
  tenant: (tenant) => 'a read key for tenant ' + (tenant || 'T') + ' (or "*"), or an admin key',
  allTenants: 'a read key for every tenant ("*"), or an admin key',
  admin: 'an admin key',
  budget: (tenant) => 'a read or ingest key for tenant ' + (tenant || 'T') + ' (or "*"), or an admin key',
  reservation: (tenant) => 'an ingest key for tenant ' + (tenant || 'T') + ' (or "*"), or an admin key',
};

export const session = {
  /** Whether the server runs open (no keys file): then no key is asked for. Known after probe(). */
  open: false,
  key() {
    return sessionStorage.getItem(STORAGE);
  },
  setKey(key) {
    sessionStorage.setItem(STORAGE, key);
  },
  forget() {
    sessionStorage.removeItem(STORAGE);
  },
};

/**
 * A refused or failed request: HTTP status, the API's error code and message, what the request needed, and the API's
 * whole error body when it was JSON (a 400's `details`, a 402's `available` and `needed`), else null.
 */
export class ApiError extends Error {
  constructor(status, code, message, needs, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.needs = needs;
    this.body = body;
  }

  /** @return what to tell the user; a 401 says which key is needed, a 403 quotes the server, which says it. */
  explain() {
    if (this.status === 0 && this.code === 'no_key') {
      return 'No API key yet: type one above (it is kept only in this tab). This needs ' + this.needs + '.';
    }
    if (this.status === 401) {
      return 'The key was not accepted (401 unauthorized: ' + this.message + '). This needs ' + this.needs + '.';
    }
    if (this.status === 403) {
      return 'Refused (403 forbidden): ' + this.message;
    }
    if (this.status === 0) {
      return 'The server did not answer: ' + this.message;
    }
    return this.status + ' ' + this.code + ': ' + this.message;
  }
}

/**
 * JSON with every number kept as the API wrote it where a JavaScript number would change it: integers beyond 2^53
 * and any number whose shortest form differs from its text stay strings of their digits (the browser's JSON source
 * text access). Money is a string in the API already and is never turned into a number here.
 */
export function parseExact(text) {
  return JSON.parse(text, function keep(key, value, context) {
    if (typeof value === 'number' && context && typeof context.source === 'string' && String(value) !== context.source) {
      return context.source;
    }
    return value;
  });
}

/**
 * Sends a request with the key (none to a route open to all, `open`); resolves to the Response when its status is 2xx (or one of `accept`), else rejects
 * with an ApiError carrying the API's error body.
 */
export async function request(method, path, {needs = 'a key', headers = {}, body, acceptStatus = [], open = false} = {}) {
  const key = session.key();
  if (!open && !session.open && !key) {
    throw new ApiError(0, 'no_key', 'no key', needs);
  }
  const sent = {...headers};
  if (key && !session.open && !open) {
    sent.Authorization = 'Bearer ' + key;
  }
  let response;
  try {
    response = await fetch(path, {method, headers: sent, body, cache: 'no-store', credentials: 'omit'});
  } catch (failure) {
    throw new ApiError(0, 'network', String(failure && failure.message || failure), needs);
  }
  if (response.ok || acceptStatus.includes(response.status)) {
    return response;
  }
  if (response.status === 401 && !sent.Authorization && !session.open) {
    // tried without a key (metrics may be open to all): the server wants one
    throw new ApiError(0, 'no_key', 'no key', needs);
  }
  const text = await response.text();
  let code = 'error';
  let message = text;
  let answer = null;
  try {
    answer = parseExact(text);
    code = answer.error || code;
    message = answer.message || message;
  } catch (notJson) {
    // keep the text as it came
  }
  throw new ApiError(response.status, code, message, needs, answer);
}

/** GET a JSON answer, parsed exactly. */
export async function getJson(path, needs, acceptStatus) {
  const response = await request('GET', path, {needs, acceptStatus});
  return parseExact(await response.text());
}

/** GET a text answer as it came (CSV, JSON to download, Prometheus text). */
export async function getText(path, needs, accept) {
  const response = await request('GET', path, {needs, headers: accept ? {Accept: accept} : {}});
  return response.text();
}

/**
 * Finds out whether the server needs keys: asks a route without one. A server with keys answers 401 on the head,
 * before doing anything; an open one answers the query (here a 400 for the missing parameters, at no cost).
 */
export async function probe() {
  try {
    const response = await fetch('/v1/usage', {cache: 'no-store', credentials: 'omit'});
    session.open = response.status !== 401;
  } catch (failure) {
    session.open = false;
  }
  return session.open;
}
