// Comparing canonical JSON values and building changes: what `diff` does
// when a provider does not write its own.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

/**
 * @typedef {'no-op'|'create'|'update'|'replace'|'delete'} Action
 */

/** The actions of the contract, as their WIT names. */
export const ACTIONS = Object.freeze(['no-op', 'create', 'update', 'replace', 'delete']);

/**
 * @typedef {object} FieldChange
 * @property {string} path the field's `/`-path
 * @property {unknown} before the observed value; undefined when not set
 * @property {unknown} after the desired value; undefined when it goes away
 * @property {boolean} sensitive whether the values are secret
 */

/**
 * @typedef {object} DiffInput
 * @property {string} typeName
 * @property {string} id
 * @property {unknown} desired the canonical desired spec; undefined when
 *   the resource left Git and the host wants it deleted
 * @property {unknown} observed the observed state; undefined when the
 *   object does not exist
 * @property {unknown} prior the state recorded after the last apply
 */

/**
 * @typedef {object} Change
 * @property {string} typeName
 * @property {string} id
 * @property {Action} action
 * @property {string} summary one line for humans
 * @property {FieldChange[]} fields
 * @property {unknown} desired the canonical desired spec (undefined for a delete)
 * @property {unknown} observed the observed state (undefined for a create)
 * @property {import('./errors.js').Diagnostic[]} diagnostics problems only
 *   the real world reveals (a dangling reference)
 * @property {number} [recheckAfter] seconds after which to compare again
 */

/** Whether `value` is a JSON object (not an array, not null). */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Whether two JSON values are equal: objects whatever the order of their
 * keys, arrays element by element, and `null` equal to an absent value.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function jsonEqual(a, b) {
  if (a == null || b == null) return a == null && b == null;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
    );
  }
  if (isObject(a) || isObject(b)) {
    if (!isObject(a) || !isObject(b)) return false;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) if (!jsonEqual(a[key], b[key])) return false;
    return true;
  }
  return a === b;
}

/**
 * The fields that differ between `before` and `after`, recursing into
 * objects (keys in sorted order); arrays and scalars are compared whole,
 * and `null` equals an absent field. Paths are `/`-separated; a change of
 * the whole value (one side absent) has the empty path.
 * @param {unknown} before
 * @param {unknown} after
 * @returns {FieldChange[]}
 */
export function fieldChanges(before, after) {
  /** @type {FieldChange[]} */
  const changes = [];
  const collect = (path, old, now) => {
    if (isObject(old) && isObject(now)) {
      const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
      for (const key of keys) collect(path ? `${path}/${key}` : key, old[key], now[key]);
    } else if (!jsonEqual(old, now)) {
      changes.push({
        path,
        before: old ?? undefined,
        after: now ?? undefined,
        sensitive: false,
      });
    }
  };
  collect('', before, after);
  return changes;
}

/**
 * The action for an object that is desired or not, observed or not, with
 * these differing fields: create, delete, update, or no-op when nothing
 * differs (or nothing is there and nothing is wanted).
 * @param {boolean} desired
 * @param {boolean} observed
 * @param {FieldChange[]} fields
 * @returns {Action}
 */
export function actionOf(desired, observed, fields) {
  if (!desired) return observed ? 'delete' : 'no-op';
  if (!observed) return 'create';
  return fields.length === 0 ? 'no-op' : 'update';
}

/**
 * Whether the field at `path` touches one of `fields`: is it, lies within
 * it, or contains it (the empty path contains every field).
 * @param {string} path
 * @param {readonly string[]} fields
 * @returns {boolean}
 */
export function touches(path, fields) {
  return fields.some(
    (field) => path === field || path === '' || path.startsWith(`${field}/`) || field.startsWith(`${path}/`),
  );
}

/**
 * A one-line summary of a change, such as `update ttl: 300 → 600`;
 * sensitive values never show.
 * @param {Action} action
 * @param {FieldChange[]} fields
 * @returns {string}
 */
export function summarize(action, fields) {
  if (action === 'no-op') return 'no changes';
  if (action === 'create' || action === 'delete') return action;
  const show = (value) => (value === undefined ? '(unset)' : JSON.stringify(value));
  const parts = fields.map((field) =>
    field.sensitive ? `${field.path} (sensitive)` : `${field.path}: ${show(field.before)} → ${show(field.after)}`,
  );
  return `${action} ${parts.join(', ')}`;
}

/**
 * Compares one input generically, as the Rust SDK's `diff::compare`:
 * create when nothing is observed, delete when nothing is desired, replace
 * when a field of the type's `forceReplace` differs, update when another
 * field differs, no-op otherwise. A field change touching one of the type's
 * `sensitive` fields is marked so the host never shows its values.
 * @param {DiffInput} input
 * @param {import('./resource.js').ResourceType} [type] the input's type
 * @returns {Change}
 */
export function compare(input, type) {
  const desired = input.desired ?? undefined;
  const observed = input.observed ?? undefined;
  const fields = fieldChanges(observed, desired);
  let action = actionOf(desired !== undefined, observed !== undefined, fields);
  if (type) {
    if (action === 'update' && fields.some((field) => touches(field.path, type.forceReplace))) {
      action = 'replace';
    }
    for (const field of fields) field.sensitive = touches(field.path, type.sensitive);
  }
  return {
    typeName: input.typeName,
    id: input.id,
    action,
    summary: summarize(action, fields),
    fields,
    desired,
    observed,
    diagnostics: [],
    recheckAfter: undefined,
  };
}
