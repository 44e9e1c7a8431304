// The etcd v3 JSON gateway: every call a POST under /v3/, keys and values
// in base64, int64 fields as JSON strings, fields at their zero value left
// out. Authentication, when credentials are given, is a token from
// /v3/auth/authenticate sent as the `Authorization` header as it is (no
// `Bearer`); an expired token is replaced once per request. Errors of the
// gateway (`{"error", "message", "code"}`, the code a gRPC status) become
// errors of the contract of the right kind.

import { Client, ProviderError, log } from '../cairn-sdk/index.js';
import { decode } from './bytes.js';

/** gRPC status codes the gateway puts in `code`. */
const GRPC = Object.freeze({
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

/**
 * How often a request is sent again with a fresh token after etcd called
 * the token invalid: a simple token expires after `--auth-token-ttl` (300 s
 * by default) and is lost when the member restarts; a second refusal is
 * the credentials' fault, not the token's age.
 */
const TOKEN_RENEWALS = 1;

/** How much of an answer that is not etcd's error JSON a message quotes. */
const QUOTED_ANSWER_LIMIT = 300;

/**
 * What etcd says when a request carries no token while authentication is
 * enabled.
 */
const NO_TOKEN = 'user name is empty';

/** What etcd says to /v3/auth/authenticate while authentication is disabled. */
const AUTH_DISABLED = 'authentication is not enabled';

/** The advice for a request etcd refused for want of credentials. */
const GIVE_CREDENTIALS =
  'etcd has authentication enabled and this provider instance has no credentials: ' +
  'add `secrets = { username = …, password = … }` to it in cairn.toml';

/**
 * etcd's error in a response that is not 2xx: `{error, message, code}`,
 * or the start of whatever else it answered.
 * @param {import('../cairn-sdk/http.js').Response} response
 * @returns {{message: string, code: number|undefined}}
 */
function errorOf(response) {
  try {
    const body = JSON.parse(response.body);
    const message = String(body.message ?? body.error ?? '').replace(/^etcdserver: /, '');
    return { message: message || `HTTP ${response.status}`, code: typeof body.code === 'number' ? body.code : undefined };
  } catch {
    const text = String(response.body ?? '').trim().slice(0, QUOTED_ANSWER_LIMIT);
    return { message: text || `HTTP ${response.status}`, code: undefined };
  }
}

/**
 * The kind of error an etcd refusal is, from its gRPC code and words; the
 * HTTP status decides when neither does.
 * @param {number} status
 * @param {number|undefined} code
 * @param {string} message
 * @returns {import('../cairn-sdk/errors.js').ErrorKind}
 */
export function kindOf(status, code, message) {
  if (message.includes(NO_TOKEN) || message.startsWith('authentication failed')) return 'unauthorized';
  switch (code) {
    case GRPC.INVALID_ARGUMENT:
      return 'invalid';
    case GRPC.DEADLINE_EXCEEDED:
      return 'timeout';
    case GRPC.NOT_FOUND:
      return 'not-found';
    case GRPC.ALREADY_EXISTS:
      return 'conflict';
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
      return 'unauthorized';
    case GRPC.RESOURCE_EXHAUSTED:
    case GRPC.UNAVAILABLE:
      return 'unavailable';
    case GRPC.FAILED_PRECONDITION:
      // "user name not found", "role is not granted to the user",
      // "permission is not granted to the role" against "user name
      // already exists", "role name already exists".
      return / not found| not granted/.test(message) ? 'not-found' : 'conflict';
    default:
      if (status === 400) return 'invalid';
      if (status === 401 || status === 403) return 'unauthorized';
      if (status === 404) return 'not-found';
      if (status === 408 || status === 504) return 'timeout';
      return status === 429 || (status >= 500 && status <= 599) ? 'unavailable' : 'internal';
  }
}

/**
 * An error of the etcd gateway: a ProviderError with etcd's own words and
 * gRPC code, so that a caller can tell "not found" from "already exists".
 */
export class EtcdError extends ProviderError {
  /**
   * @param {string} what what was asked (`add the user \`alice\``)
   * @param {import('../cairn-sdk/http.js').Response} response
   */
  constructor(what, response) {
    const { message, code } = errorOf(response);
    const kind = kindOf(response.status, code, message);
    const advice = message.includes(NO_TOKEN)
      ? `: ${GIVE_CREDENTIALS}`
      : code === GRPC.PERMISSION_DENIED
        ? ": the provider's etcd user lacks a permission this needs (keys: a role with `readwrite` on the prefix; users and roles: the role `root`)"
        : '';
    super(kind, `etcd refused to ${what}: ${message} (HTTP ${response.status})${advice}`);
    this.name = 'EtcdError';
    /** The gRPC status code etcd gave, if any. */
    this.code = code;
    /** etcd's message, without its `etcdserver: ` prefix. */
    this.etcdMessage = message;
  }
}

/**
 * A client of one etcd member's JSON gateway, authenticating when given
 * credentials.
 */
export class Etcd {
  /** @type {Client} */
  #client;
  /** @type {{username: string, password: string}|undefined} */
  #credentials;
  /** Whether the credentials were presented (a token is held, or etcd runs without authentication). */
  #authenticated = false;

  /**
   * @param {string} url the client URL, such as `http://127.0.0.1:2379`
   * @param {{username: string, password: string}} [credentials] the
   *   user to authenticate as; without them requests carry no token
   */
  constructor(url, credentials) {
    /** The client URL, without a trailing `/`. */
    this.url = String(url).replace(/\/+$/, '');
    this.#credentials = credentials;
    this.#client = new Client(this.url);
  }

  /**
   * Fetches a token with the credentials and sends it from now on. etcd
   * without authentication enabled answers that it has none: the
   * requests then go without a token, and a warning says the credentials
   * are unused (so that Cairn can create users and roles before the
   * operator enables authentication).
   */
  #authenticate() {
    const { username, password } = /** @type {{username: string, password: string}} */ (this.#credentials);
    const plain = new Client(this.url);
    const response = plain.send('POST', '/v3/auth/authenticate', { name: username, password });
    if (response.status >= 200 && response.status < 300) {
      const token = response.json().token;
      if (typeof token !== 'string' || token === '') {
        throw ProviderError.internal('etcd answered /v3/auth/authenticate without a token');
      }
      this.#client = new Client(this.url, { authorization: token });
    } else {
      const error = new EtcdError('authenticate', response);
      if (!error.etcdMessage.includes(AUTH_DISABLED)) {
        // Never the user name: it is a secret too.
        throw new ProviderError(
          'unauthorized',
          `etcd refused the credentials (the secrets \`username\` and \`password\`): ${error.etcdMessage} (HTTP ${response.status})`,
        );
      }
      log.warn('etcd has authentication disabled: the credentials given are not used, and anyone who reaches it may change it');
      this.#client = new Client(this.url);
    }
    this.#authenticated = true;
  }

  /**
   * Sends `body` to `/v3/PATH` and returns etcd's answer, whatever its
   * status; authenticates first when needed, and once more when etcd
   * calls the token invalid.
   * @param {string} path under /v3/, such as `kv/range`
   * @param {object} body
   * @returns {import('../cairn-sdk/http.js').Response}
   */
  send(path, body) {
    for (let renewals = 0; ; renewals += 1) {
      if (this.#credentials && !this.#authenticated) this.#authenticate();
      const response = this.#client.send('POST', `/v3/${path}`, body);
      const renewable =
        response.status === 401 && this.#credentials !== undefined && renewals < TOKEN_RENEWALS;
      if (!renewable) return response;
      log.debug('etcd refused the token: authenticating again', { path });
      this.#authenticated = false;
    }
  }

  /**
   * Sends `body` to `/v3/PATH` and returns the answer's JSON; a refusal
   * throws an {@link EtcdError} saying `what` was asked.
   * @param {string} path
   * @param {object} body
   * @param {string} what for the message: `add the user \`alice\``
   * @returns {any}
   */
  call(path, body, what) {
    const response = this.send(path, body);
    if (response.status < 200 || response.status >= 300) throw new EtcdError(what, response);
    return response.json();
  }

  /** The client URL only: the credentials and the token stay out of JSON. */
  toJSON() {
    return { url: this.url };
  }
}

/**
 * A key-value pair of the gateway's answer, decoded.
 * @typedef {object} Entry
 * @property {string} key
 * @property {string} value
 * @property {number} createRevision
 * @property {number} modRevision
 */

/**
 * A key-value pair of the gateway's answer (`kvs` of a range), decoded:
 * text, and revisions as numbers (etcd writes int64 as strings, and keeps
 * revisions far below 2^53).
 * @param {any} kv
 * @returns {Entry}
 */
export function entryOf(kv) {
  return {
    key: decode(kv.key),
    value: decode(kv.value),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
  };
}

/**
 * The single entry a range of one key found, or undefined.
 * @param {any} answer a `response_range` or a range's answer
 * @returns {Entry|undefined}
 */
export function onlyEntry(answer) {
  const kvs = answer?.kvs ?? [];
  return kvs.length > 0 ? entryOf(kvs[0]) : undefined;
}
