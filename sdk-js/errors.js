// Errors, diagnostics, validations, outcomes and secrets: the values a
// provider throws and returns, as plain JavaScript.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

/**
 * The kinds of error the contract knows, as the host reads them:
 * `unavailable` and `timeout` are retried, `invalid` is not.
 * @type {readonly string[]}
 */
export const ERROR_KINDS = Object.freeze([
  'invalid',
  'unauthorized',
  'conflict',
  'not-found',
  'denied',
  'unavailable',
  'timeout',
  'internal',
]);

/**
 * @typedef {'invalid'|'unauthorized'|'conflict'|'not-found'|'denied'|'unavailable'|'timeout'|'internal'} ErrorKind
 */

/**
 * @typedef {object} Diagnostic
 * @property {string} path the offending field, `/`-separated (`members/2`);
 *   empty for the resource as a whole
 * @property {string} message what is wrong, in one sentence
 * @property {string} [help] what to do about it
 * @property {'error'|'warning'} [severity] `error` unless said otherwise
 *   (a warning given to {@link Valid} is a `warning`)
 */

/**
 * An error of the contract: a kind the host acts on and a message for the
 * operator. Throw it from `configure`, `list`, `diff` or a change of
 * `apply`; the SDK hands the host its kind and message.
 */
export class ProviderError extends Error {
  /**
   * @param {ErrorKind} kind one of {@link ERROR_KINDS}; another is taken as
   *   `internal`
   * @param {string} message what went wrong, for the operator
   */
  constructor(kind, message) {
    super(String(message));
    this.name = 'ProviderError';
    /** @type {ErrorKind} */
    this.kind = ERROR_KINDS.includes(kind) ? kind : 'internal';
  }

  /** The desired state or configuration is wrong; retrying won't help.
   * @param {string} message */
  static invalid(message) {
    return new ProviderError('invalid', message);
  }

  /** The server refused the credentials or the permission.
   * @param {string} message */
  static unauthorized(message) {
    return new ProviderError('unauthorized', message);
  }

  /** The object changed or exists in a way that conflicts (someone
   * else's object in the way of a create).
   * @param {string} message */
  static conflict(message) {
    return new ProviderError('conflict', message);
  }

  /** An object the change needs does not exist.
   * @param {string} message */
  static notFound(message) {
    return new ProviderError('not-found', message);
  }

  /** The host's network gate refused the request.
   * @param {string} message */
  static denied(message) {
    return new ProviderError('denied', message);
  }

  /** The server could not be reached or answered 5xx; worth retrying.
   * @param {string} message */
  static unavailable(message) {
    return new ProviderError('unavailable', message);
  }

  /** The server did not answer in time; worth retrying.
   * @param {string} message */
  static timeout(message) {
    return new ProviderError('timeout', message);
  }

  /** Anything else: a bug, or an answer the provider did not expect.
   * @param {string} message */
  static internal(message) {
    return new ProviderError('internal', message);
  }

  /**
   * Whatever was thrown, as a ProviderError: a ProviderError as it is,
   * anything with a known `kind` and a string `message` (the contract's
   * record, an error of another copy of the SDK) as that error, and
   * anything else (a TypeError of a bug, a string) as an `internal` error
   * carrying its message, after "the provider's CALL failed: " when `call`
   * is given.
   * @param {unknown} thrown
   * @param {string} [call] the call it was thrown from (`list`)
   * @returns {ProviderError}
   */
  static from(thrown, call) {
    if (thrown instanceof ProviderError) return thrown;
    if (isErrorRecord(thrown)) return new ProviderError(thrown.kind, thrown.message);
    const message = describeThrown(thrown);
    return new ProviderError('internal', call ? `the provider's ${call} failed: ${message}` : message);
  }

  /**
   * The contract's error record, a plain object (what the component
   * returns for a failed call).
   * @returns { {kind: ErrorKind, message: string} }
   */
  toRecord() {
    return { kind: this.kind, message: this.message };
  }
}

/**
 * Whether `value` is an error record of the contract: a known `kind` and a
 * string `message` (a ProviderError, a plain `{kind, message}`, an error of
 * another copy of the SDK).
 * @param {unknown} value
 * @returns {value is {kind: ErrorKind, message: string}}
 */
export function isErrorRecord(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    ERROR_KINDS.includes(/** @type {any} */ (value).kind) &&
    typeof (/** @type {any} */ (value).message) === 'string'
  );
}

/**
 * The message of something thrown that is not an error of the contract:
 * `TypeError: x is undefined` for an error (of any realm: the bindings'
 * errors are not instances of this realm's Error), the text of anything
 * else.
 * @param {unknown} thrown
 * @returns {string}
 */
export function describeThrown(thrown) {
  if (thrown !== null && typeof thrown === 'object' && typeof (/** @type {any} */ (thrown).message) === 'string') {
    const { name, message, payload } = /** @type {any} */ (thrown);
    const called = typeof name === 'string' && name !== '' ? name : 'Error';
    if (payload && typeof payload.tag === 'string') return `${called}: ${payload.tag}`;
    return message ? `${called}: ${message}` : called;
  }
  if (typeof thrown === 'string') return thrown;
  try {
    return String(JSON.stringify(thrown));
  } catch {
    return String(thrown);
  }
}

/**
 * A diagnostic in the contract's shape, with its severity.
 * @param {Partial<Diagnostic> | string} diagnostic a diagnostic, or a bare
 *   message about the whole resource
 * @param {'error'|'warning'} severity the severity when it names none
 * @returns {Required<Omit<Diagnostic, 'help'>> & {help: string|undefined}}
 */
export function diagnosticOf(diagnostic, severity) {
  const given = typeof diagnostic === 'string' ? { message: diagnostic } : diagnostic ?? {};
  return {
    path: given.path == null ? '' : String(given.path),
    severity: given.severity === 'warning' || given.severity === 'error' ? given.severity : severity,
    message: given.message == null ? 'invalid' : String(given.message),
    help: given.help == null ? undefined : String(given.help),
  };
}

/**
 * A resource, or a configuration, that is wrong: an `invalid` error
 * carrying the diagnostics that say where and why. Thrown from `validate`
 * it becomes the resource's diagnostics, each with its field's path;
 * thrown anywhere else, an `invalid` error whose message lists them.
 */
export class Invalid extends ProviderError {
  /**
   * @param {Diagnostic | Diagnostic[] | string} diagnostics one or more
   *   `{path, message, help}`, or a bare message about the whole resource
   */
  constructor(diagnostics) {
    const list = (Array.isArray(diagnostics) ? diagnostics : [diagnostics]).map((d) =>
      diagnosticOf(d, 'error'),
    );
    super('invalid', list.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; '));
    this.name = 'Invalid';
    /** The diagnostics, in the contract's shape. */
    this.diagnostics = list;
  }

  /**
   * One error at the field `path`.
   * @param {string} path the field, `/`-separated; empty for the whole
   * @param {string} message what is wrong
   * @param {string} [help] what to do about it
   * @returns {Invalid}
   */
  static at(path, message, help) {
    return new Invalid({ path, message, help });
  }
}

/**
 * What `validate` may return instead of the bare canonical spec: the spec
 * with warnings (accepted, but something is probably wrong).
 */
export class Valid {
  /**
   * @param {unknown} canonical the spec in canonical form
   * @param {Diagnostic[]} [warnings] `{path, message, help}` each
   */
  constructor(canonical, warnings = []) {
    this.canonical = canonical;
    this.warnings = warnings.map((w) => diagnosticOf(w, 'warning'));
  }
}

/**
 * @typedef { {tag: 'applied', state: unknown}
 *   | {tag: 'failed', error: ProviderError}
 *   | {tag: 'skipped', reason: string} } Outcome
 */

/**
 * The change was made; `state` is the object's new state, shaped like its
 * spec (nothing after a delete).
 * @param {unknown} [state]
 * @returns {Outcome}
 */
export function applied(state) {
  return { tag: 'applied', state };
}

/**
 * The change was not made, for this reason.
 * @param {unknown} error a ProviderError (anything else is `internal`)
 * @returns {Outcome}
 */
export function failed(error) {
  return { tag: 'failed', error: ProviderError.from(error) };
}

/**
 * The change was not attempted, because another it was batched with failed
 * first.
 * @param {string} reason
 * @returns {Outcome}
 */
export function skipped(reason) {
  return { tag: 'skipped', reason: String(reason) };
}

/**
 * Applies `changes` one after the other with `applyOne`: what it returns
 * (or resolves to) is the change's new state, what it throws the change's
 * failure. The others are applied all the same.
 * @template C
 * @param {C[]} changes
 * @param {(change: C) => unknown} applyOne returns the new state, or a
 *   promise of it
 * @returns {Promise<Outcome[]>}
 */
export async function applyEach(changes, applyOne) {
  const outcomes = [];
  for (const change of changes) {
    try {
      outcomes.push(applied(await applyOne(change)));
    } catch (thrown) {
      outcomes.push(failed(ProviderError.from(thrown, 'apply')));
    }
  }
  return outcomes;
}

/**
 * The secrets the host fetched from the operator's references. The values
 * stay out of `JSON.stringify` and of string conversion: only the names
 * show.
 */
export class Secrets {
  /** @type {Map<string, string>} */
  #values;

  /**
   * @param {Iterable<{name: string, value: string}>} secrets
   */
  constructor(secrets = []) {
    this.#values = new Map();
    for (const { name, value } of secrets) this.#values.set(String(name), String(value));
  }

  /**
   * The value of the secret `name`, or undefined when the operator gave
   * none.
   * @param {string} name
   * @returns {string|undefined}
   */
  get(name) {
    return this.#values.get(name);
  }

  /**
   * The value of the secret `name`; an `invalid` error telling the
   * operator to reference it when it is missing.
   * @param {string} name
   * @returns {string}
   */
  require(name) {
    const value = this.#values.get(name);
    if (value === undefined) {
      throw ProviderError.invalid(
        `the secret \`${name}\` is missing: add \`secrets = { ${name} = { env = "VAR" } }\` to this provider in cairn.toml`,
      );
    }
    return value;
  }

  /**
   * The names of the secrets given.
   * @returns {string[]}
   */
  names() {
    return [...this.#values.keys()];
  }

  /** Only the names, for logs and JSON. */
  toJSON() {
    return { secrets: this.names() };
  }

  /** Only the names. */
  toString() {
    return `Secrets(${this.names().join(', ')})`;
  }
}
