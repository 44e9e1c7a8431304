// A small blocking HTTP client over wasi:http, as the Rust SDK's.
//
// Every request goes through the host's network gate: a URL outside the
// operator's grants fails with `denied` before any connection is made.
// Statuses and transport failures map onto error kinds, so that the host
// can tell a retryable failure from a permanent one.
//
// It speaks wasi:http itself rather than through `fetch()`, whose errors
// hide the wasi:http error code (a refused grant, a refused connection and
// a timeout all become the same `TypeError`), and with it the error kind.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, IncomingBody, OutgoingBody, OutgoingRequest, RequestOptions } from 'wasi:http/types@0.2.12';
import { ProviderError } from './errors.js';
import { METHODS, Response, errorForTransport, splitUrl } from './http-common.js';

export { Response, errorForStatus, kindOfStatus, kindOfErrorCode, QUOTED_BODY_LIMIT } from './http-common.js';

/**
 * How long to wait for a connection. A provider call also has the host's
 * own deadline; this only makes a dead server fail fast with `timeout`.
 */
const CONNECT_TIMEOUT_NS = 10_000_000_000n;
/** How long to wait for the first byte of a response (a slow API's answer). */
const FIRST_BYTE_TIMEOUT_NS = 60_000_000_000n;
/** Bytes written per call: `blocking-write-and-flush` takes at most 4096. */
const WRITE_CHUNK = 4096;
/** Bytes asked for per read of a response body. */
const READ_CHUNK = 64n * 1024n;

/** How the bindings name the method a resource is dropped with. */
const DISPOSE = Symbol.dispose || Symbol.for('dispose');

/** Drops a wasi resource now, children before their parents. */
function drop(resource) {
  if (resource && typeof resource[DISPOSE] === 'function') resource[DISPOSE]();
}

/** The wasi:http `error-code` a failed host call threw, if it carries one. */
function codeOf(thrown) {
  const payload = thrown && typeof thrown === 'object' ? thrown.payload : undefined;
  return payload && typeof payload.tag === 'string' ? payload : undefined;
}

/** `url` without user information (`user:password@`), for messages. */
function shown(url) {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}

/**
 * A client with a base URL and headers sent on every request (a token,
 * say). Requests block until the answer is read whole.
 */
export class Client {
  /** @type {Array<[string, string]>} */
  #headers;

  /**
   * @param {string} baseUrl `http://127.0.0.1:8081/api/v1`; request paths
   *   are appended to it
   * @param {Record<string, string>} [headers] sent with every request;
   *   their values never appear in a message
   */
  constructor(baseUrl, headers = {}) {
    /** The base URL, without a trailing `/`. */
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.#headers = Object.entries(headers).map(([name, value]) => [name.toLowerCase(), String(value)]);
  }

  /**
   * Sends a request and returns the response whatever its status. `json`,
   * when given, is the body, sent as `application/json`. A request that
   * gets no answer throws: `denied` when the host's grants refuse it,
   * `unavailable` when the server cannot be reached, `timeout` when it
   * does not answer in time, `internal` otherwise.
   * @param {string} method `GET`, `PUT`, ...
   * @param {string} path appended to the base URL (`/entries/a`)
   * @param {unknown} [json] the body
   * @returns {Response}
   */
  send(method, path, json) {
    const verb = String(method).toUpperCase();
    const url = this.baseUrl + path;
    const what = `${verb} ${path}`;
    const fail = (kind, reason) => new ProviderError(kind, `${verb} ${shown(url)} failed: ${reason}`);
    if (!METHODS.includes(verb)) throw fail('internal', `the client does not send ${verb} requests`);
    const target = splitUrl(url);
    if (!target) {
      throw fail('invalid', 'the URL is not an http or https URL with a host (and without user information)');
    }
    const bytes = json === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(json));
    const encoder = new TextEncoder();
    const headers = this.#headers.map(([name, value]) => [name, encoder.encode(value)]);
    if (json !== undefined) headers.push(['content-type', encoder.encode('application/json')]);
    // An explicit length keeps the request from being sent chunked.
    headers.push(['content-length', encoder.encode(String(bytes.length))]);

    let fields;
    try {
      fields = Fields.fromList(headers);
    } catch (thrown) {
      // The header's name only: its value may be a token.
      throw fail('invalid', `the host refused a header (${codeOf(thrown)?.tag ?? 'invalid'})`);
    }
    const request = new OutgoingRequest(fields);
    const set = (part, call) => {
      try {
        call();
      } catch {
        throw fail('invalid', `the host refused the request's ${part}`);
      }
    };
    set('method', () => request.setMethod({ tag: verb.toLowerCase() }));
    set('scheme', () => request.setScheme({ tag: target.scheme }));
    set('authority', () => request.setAuthority(target.authority));
    set('path', () => request.setPathWithQuery(target.pathWithQuery));
    let outgoing;
    set('body', () => {
      outgoing = request.body();
    });
    const options = new RequestOptions();
    try {
      options.setConnectTimeout(CONNECT_TIMEOUT_NS);
      options.setFirstByteTimeout(FIRST_BYTE_TIMEOUT_NS);
    } catch {
      // A host that does not take timeouts keeps its own.
    }

    // An empty body is finished before the request leaves, so that a
    // server answering at once never races the end of the body.
    if (bytes.length === 0) {
      try {
        OutgoingBody.finish(outgoing, undefined);
      } catch (thrown) {
        throw errorForTransport(verb, shown(url), codeOf(thrown));
      }
      outgoing = undefined;
    }
    let future;
    try {
      future = handle(request, options);
    } catch (thrown) {
      throw errorForTransport(verb, shown(url), codeOf(thrown));
    }
    if (outgoing) writeBody(outgoing, bytes);
    const pollable = future.subscribe();
    pollable.block();
    drop(pollable);
    const answer = future.get();
    if (!answer || answer.tag !== 'ok') {
      drop(future);
      throw fail('internal', 'the response was already taken');
    }
    if (answer.val.tag !== 'ok') {
      drop(future);
      throw errorForTransport(verb, shown(url), answer.val.val);
    }
    const response = answer.val.val;
    try {
      const status = response.status();
      const names = response.headers();
      /** @type {Record<string, string>} */
      const received = {};
      const decoder = new TextDecoder();
      for (const [name, value] of names.entries()) {
        const key = name.toLowerCase();
        const text = decoder.decode(value);
        received[key] = key in received ? `${received[key]}, ${text}` : text;
      }
      drop(names);
      const body = readBody(response, (reason) => fail('unavailable', reason));
      return new Response(status, received, body, what);
    } finally {
      drop(response);
      drop(future);
    }
  }

  /**
   * GETs `path` and returns its 2xx answer parsed as JSON; a status that is
   * not 2xx throws the error its status means.
   * @param {string} path
   * @returns {any}
   */
  getJson(path) {
    return this.send('GET', path).check().json();
  }

  /**
   * Sends `value` as JSON and returns the response when its status is 2xx;
   * any other status throws the error it means.
   * @param {string} method
   * @param {string} path
   * @param {unknown} value
   * @returns {Response}
   */
  sendJson(method, path, value) {
    return this.send(method, path, value === undefined ? null : value).check();
  }

  /** The base URL only: the headers may hold a token. */
  toJSON() {
    return { baseUrl: this.baseUrl };
  }
}

/**
 * Writes a request body in chunks and finishes it. A failed write is not
 * reported here: a server that stops reading has answered or failed, and
 * the response says which.
 * @param {any} outgoing an OutgoingBody
 * @param {Uint8Array} bytes
 */
function writeBody(outgoing, bytes) {
  let stream;
  try {
    stream = outgoing.write();
  } catch {
    return;
  }
  try {
    for (let start = 0; start < bytes.length; start += WRITE_CHUNK) {
      stream.blockingWriteAndFlush(bytes.subarray(start, start + WRITE_CHUNK));
    }
  } catch {
    drop(stream);
    return;
  }
  drop(stream);
  try {
    OutgoingBody.finish(outgoing, undefined);
  } catch {
    // The response says what went wrong.
  }
}

/**
 * Reads a response body to its end, as UTF-8 text.
 * @param {any} response an IncomingResponse
 * @param {(reason: string) => Error} fail
 * @returns {string}
 */
function readBody(response, fail) {
  let incoming;
  try {
    incoming = response.consume();
  } catch {
    throw fail('the response body cannot be read');
  }
  let stream;
  /** @type {Uint8Array[]} */
  const chunks = [];
  let length = 0;
  try {
    stream = incoming.stream();
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(READ_CHUNK);
      } catch (thrown) {
        const error = thrown && typeof thrown === 'object' ? thrown.payload : undefined;
        if (error && error.tag === 'closed') break;
        const detail =
          error && error.val && typeof error.val.toDebugString === 'function' ? error.val.toDebugString() : 'failed';
        throw fail(`reading the response failed: ${detail}`);
      }
      chunks.push(chunk);
      length += chunk.length;
    }
  } catch (error) {
    drop(stream);
    drop(incoming);
    throw error;
  }
  drop(stream);
  drop(IncomingBody.finish(incoming));
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(whole);
}
