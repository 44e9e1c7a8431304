// Checking a spec (or a configuration) against the JSON Schema a resource
// type describes, so that one schema drives both `describe` and `validate`.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

import { Invalid } from './errors.js';

/**
 * The JSON Schema keywords {@link check} understands. Others (`description`,
 * `default`, `title`, `x-cairn-files`...) are ignored, so a schema may say
 * more for editors and docs than is checked here.
 */
export const CHECKED_KEYWORDS = Object.freeze([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
]);

/**
 * How many characters of a value a message quotes: enough to recognise
 * it, short enough that a pasted document does not flood the diagnostics.
 */
const QUOTED_VALUE_LIMIT = 60;

/** Whether `value` is a JSON object (not an array, not null). */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The JSON Schema type names `value` has (an integer is a number too). */
function typesOf(value) {
  if (value === null) return ['null'];
  if (Array.isArray(value)) return ['array'];
  switch (typeof value) {
    case 'string':
      return ['string'];
    case 'boolean':
      return ['boolean'];
    case 'number':
      return Number.isInteger(value) ? ['integer', 'number'] : ['number'];
    case 'object':
      return ['object'];
    default:
      return [typeof value];
  }
}

/** `value` as a message shows it, cut at {@link QUOTED_VALUE_LIMIT}. */
function quoted(value) {
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > QUOTED_VALUE_LIMIT) text = `${text.slice(0, QUOTED_VALUE_LIMIT)}…`;
  return text;
}

/** What `value` is, for a message: `integer 5`, `string "x"`, `an array`. */
function described(value) {
  const [type] = typesOf(value);
  if (type === 'array' || type === 'object') return `an ${type}`;
  if (type === 'null') return 'null';
  return `${type} ${quoted(value)}`;
}

/** `a string`, `an integer`, `a string or null`. */
function expected(types) {
  const article = (type) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
  return types.map((type) => (type === 'null' ? 'null' : article(type))).join(' or ');
}

/** `parent/child`, or `child` at the top. */
function joined(path, key) {
  return path === '' ? String(key) : `${path}/${key}`;
}

/**
 * The problems of `value` against `schema`, each an error diagnostic
 * `{path, message, help}` whose path is the offending field's
 * (`members/2`), in the words of the Rust SDK's `spec::parse`:
 * "unknown field `valeu`: expected one of key, value", "missing field
 * `value`". Understands the keywords of {@link CHECKED_KEYWORDS}; an empty
 * list means the value conforms.
 * @param {unknown} value a spec or a configuration, as parsed JSON
 * @param {object|boolean} schema a JSON Schema, as an object
 * @param {string} [path] where `value` is, for nested calls
 * @returns {import('./errors.js').Diagnostic[]}
 */
export function check(value, schema, path = '') {
  /** @type {import('./errors.js').Diagnostic[]} */
  const problems = [];
  const problem = (at, message, help) => problems.push({ path: at, severity: 'error', message, help });
  if (schema === false) {
    problem(path, 'no value is allowed here', 'remove it');
    return problems;
  }
  if (!isObject(schema)) return problems;

  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!typesOf(value).some((type) => allowed.includes(type))) {
      problem(path, `invalid type: ${described(value)}, expected ${expected(allowed)}`);
      return problems;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => sameJson(option, value))) {
    const options = schema.enum.map((option) => (typeof option === 'string' ? option : quoted(option)));
    const shown = typeof value === 'string' ? value : quoted(value);
    problem(path, `unknown variant \`${shown}\`: expected one of ${options.join(', ')}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) {
      problem(
        path,
        value === '' ? 'the value is empty' : `${quoted(value)} is shorter than ${schema.minLength} characters`,
      );
    }
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) {
      problem(path, `the value is longer than ${schema.maxLength} characters`);
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) {
      problem(path, `${quoted(value)} is less than the minimum ${schema.minimum}`);
    }
    if (typeof schema.maximum === 'number' && value > schema.maximum) {
      problem(path, `${quoted(value)} is more than the maximum ${schema.maximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
      problem(path, `the list has ${value.length} items, fewer than ${schema.minItems}`);
    }
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
      problem(path, `the list has ${value.length} items, more than ${schema.maxItems}`);
    }
    if (schema.items !== undefined) {
      value.forEach((item, index) => problems.push(...check(item, schema.items, joined(path, index))));
    }
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    const known = Object.keys(properties);
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(properties, key)) {
        problems.push(...check(value[key], properties[key], joined(path, key)));
      } else if (schema.additionalProperties === false) {
        const hint = known.length ? `expected one of ${known.join(', ')}` : 'expected no field';
        problem(joined(path, key), `unknown field \`${key}\`: ${hint}`, 'remove the key or fix its spelling');
      } else if (isObject(schema.additionalProperties)) {
        problems.push(...check(value[key], schema.additionalProperties, joined(path, key)));
      }
    }
    if (Array.isArray(schema.required)) {
      for (const key of schema.required) {
        if (!Object.hasOwn(value, key)) problem(path, `missing field \`${key}\``);
      }
    }
  }
  return problems;
}

/** Whether two JSON values are the same (keys in any order). */
function sameJson(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key], b[key]));
  }
  return a === b;
}

/**
 * Returns `value` when it conforms to `schema`; otherwise throws
 * {@link Invalid} with every problem {@link check} finds. In `validate` the
 * SDK turns it into the resource's diagnostics; in `configure` it is an
 * `invalid` error whose message starts with `what` (`config`).
 * @template T
 * @param {T} value
 * @param {object} schema
 * @param {string} [what] what is checked, prefixed to each path in the
 *   message (`config url: ...`)
 * @returns {T}
 */
export function ensureValid(value, schema, what) {
  const problems = check(value, schema);
  if (problems.length === 0) return value;
  const invalid = new Invalid(problems);
  if (what) {
    invalid.message = problems
      .map((d) => (d.path ? `${what} ${d.path}: ${d.message}` : `${what}: ${d.message}`))
      .join('; ');
  }
  throw invalid;
}
