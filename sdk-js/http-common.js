// The parts of the HTTP client that need no host: responses, the error
// kinds of statuses and of wasi:http error codes, and URLs split the way
// wasi:http takes them. `http.js` sends the requests.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

import { ProviderError } from './errors.js';

/** The methods the client sends, as wasi:http names them. */
export const METHODS = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * How much of a failed response's body an error quotes: enough for an
 * API's error message, not a whole HTML page.
 */
export const QUOTED_BODY_LIMIT = 500;

/**
 * A response, read whole.
 */
export class Response {
  /**
   * @param {number} status the HTTP status code
   * @param {Record<string, string>} headers names in lower case; repeated
   *   headers joined with `, `
   * @param {string} body the body, decoded as UTF-8
   * @param {string} [what] the request, for messages (`GET /entries`)
   */
  constructor(status, headers, body, what = 'the request') {
    /** The HTTP status code. */
    this.status = status;
    /** Response headers, names in lower case. */
    this.headers = headers;
    /** The body, as text. */
    this.body = body;
    /** The request, for messages. */
    this.what = what;
  }

  /**
   * The body parsed as JSON; an `internal` error when it is not JSON.
   * @returns {any}
   */
  json() {
    try {
      return JSON.parse(this.body);
    } catch (error) {
      throw ProviderError.internal(`the answer to ${this.what} is not the JSON expected: ${error.message}`);
    }
  }

  /**
   * This response when its status is 2xx; otherwise throws the error
   * {@link errorForStatus} gives.
   * @param {string} [what] what was done (`DELETE /entries/a`)
   * @returns {Response}
   */
  check(what = this.what) {
    const error = errorForStatus(this, what);
    if (error) throw error;
    return this;
  }
}

/**
 * The error kind an HTTP status means, as the Rust SDK maps it: 400 and
 * 422 `invalid`, 401 and 403 `unauthorized`, 404 `not-found`, 409 and 412
 * `conflict`, 408 and 504 `timeout`, 429 and other 5xx `unavailable`,
 * anything else `internal`.
 * @param {number} status
 * @returns {import('./errors.js').ErrorKind}
 */
export function kindOfStatus(status) {
  switch (status) {
    case 400:
    case 422:
      return 'invalid';
    case 401:
    case 403:
      return 'unauthorized';
    case 404:
      return 'not-found';
    case 409:
    case 412:
      return 'conflict';
    case 408:
    case 504:
      return 'timeout';
    case 429:
      return 'unavailable';
    default:
      return status >= 500 && status <= 599 ? 'unavailable' : 'internal';
  }
}

/**
 * The error a response's status means, or undefined for a 2xx: its kind
 * from {@link kindOfStatus}, its message naming `what` was done, the status
 * and the start of the server's answer (at most {@link QUOTED_BODY_LIMIT}
 * characters). Headers, and so tokens, are never quoted.
 * @param { {status: number, body?: string} } response
 * @param {string} what what was done (`GET /entries`)
 * @returns {ProviderError|undefined}
 */
export function errorForStatus(response, what) {
  if (response.status >= 200 && response.status < 300) return undefined;
  let text = String(response.body ?? '').trim();
  if (text.length > QUOTED_BODY_LIMIT) text = `${text.slice(0, QUOTED_BODY_LIMIT)}…`;
  return new ProviderError(kindOfStatus(response.status), `${what} answered ${response.status}: ${text}`.trim());
}

/** wasi:http error codes that mean the server did not answer in time. */
const TIMEOUT_CODES = new Set([
  'connection-timeout',
  'connection-read-timeout',
  'connection-write-timeout',
  'HTTP-response-timeout',
  'DNS-timeout',
]);

/** wasi:http error codes that mean the server could not be reached. */
const UNAVAILABLE_CODES = new Set([
  'connection-refused',
  'connection-terminated',
  'destination-not-found',
  'destination-unavailable',
  'destination-IP-unroutable',
  'DNS-error',
  'connection-limit-reached',
]);

/**
 * The error kind a wasi:http `error-code` means, as the Rust SDK maps it:
 * `HTTP-request-denied` (the host's network gate) `denied`, timeouts
 * `timeout`, a refused, closed or unknown destination `unavailable`,
 * anything else `internal`.
 * @param {string} code the error code's case (`connection-refused`)
 * @returns {import('./errors.js').ErrorKind}
 */
export function kindOfErrorCode(code) {
  if (code === 'HTTP-request-denied') return 'denied';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (UNAVAILABLE_CODES.has(code)) return 'unavailable';
  return 'internal';
}

/**
 * The error a failed request is: `method url failed: reason`, the reason
 * being the error code (with its details), or for a denied request what to
 * grant. The URL is the request's; headers are never part of it.
 * @param {string} method
 * @param {string} url
 * @param { {tag: string, val?: unknown} | undefined } code the wasi:http
 *   `error-code` variant, undefined when the host gave none
 * @returns {ProviderError}
 */
export function errorForTransport(method, url, code) {
  const tag = code && typeof code.tag === 'string' ? code.tag : 'internal-error';
  const kind = kindOfErrorCode(tag);
  let reason;
  if (kind === 'denied') {
    reason =
      "the host refused the request: the URL is outside this provider's network grants (`allow` in cairn.toml)";
  } else {
    const detail = code && code.val !== undefined && code.val !== null ? ` ${safeJson(code.val)}` : '';
    reason = `${tag}${detail}`;
  }
  return new ProviderError(kind, `${method} ${url} failed: ${reason}`);
}

/** `value` as JSON, BigInts as numbers; its text when it cannot be. */
function safeJson(value) {
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? Number(v) : v));
  } catch {
    return String(value);
  }
}

/**
 * @typedef {object} Target
 * @property {'HTTP'|'HTTPS'} scheme
 * @property {string} authority `host:port`
 * @property {string} pathWithQuery starts with `/`
 */

/**
 * `url` split as wasi:http takes it, or undefined when it is not an http
 * or https URL with a host.
 * @param {string} url
 * @returns {Target|undefined}
 */
export function splitUrl(url) {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (!match) return undefined;
  const scheme = match[1].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  const authority = match[2];
  if (authority === '' || authority.includes('@')) return undefined;
  let pathWithQuery = match[3];
  if (pathWithQuery === '') pathWithQuery = '/';
  else if (pathWithQuery.startsWith('?')) pathWithQuery = `/${pathWithQuery}`;
  return { scheme: scheme === 'https' ? 'HTTPS' : 'HTTP', authority, pathWithQuery };
}
