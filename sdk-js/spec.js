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
  // Most specs conform: the compiled test answers for them without
  // building a problem, a path or a message. Only a spec it refuses is
  // walked, to say where and why.
  if (conforms(value, schema)) return [];
  return problemsOf(value, schema, path);
}

/**
 * The problems {@link check} reports, found by walking `value` and
 * `schema` together, keyword by keyword.
 * @param {unknown} value
 * @param {object|boolean} schema
 * @param {string} path
 * @returns {import('./errors.js').Diagnostic[]}
 */
export function problemsOf(value, schema, path) {
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
      value.forEach((item, index) => problems.push(...problemsOf(item, schema.items, joined(path, index))));
    }
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    const known = Object.keys(properties);
    for (const key of Object.keys(value)) {
      if (Object.hasOwn(properties, key)) {
        problems.push(...problemsOf(value[key], properties[key], joined(path, key)));
      } else if (schema.additionalProperties === false) {
        const hint = known.length ? `expected one of ${known.join(', ')}` : 'expected no field';
        problem(joined(path, key), `unknown field \`${key}\`: ${hint}`, 'remove the key or fix its spelling');
      } else if (isObject(schema.additionalProperties)) {
        problems.push(...problemsOf(value[key], schema.additionalProperties, joined(path, key)));
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
  if (conforms(value, schema)) return value;
  const problems = problemsOf(value, schema, '');
  if (problems.length === 0) return value;
  const invalid = new Invalid(problems);
  if (what) {
    invalid.message = problems
      .map((d) => (d.path ? `${what} ${d.path}: ${d.message}` : `${what}: ${d.message}`))
      .join('; ');
  }
  throw invalid;
}

/**
 * Compiled schemas, by schema object: a schema is compiled the first time
 * it is used and then treated as read-only, as the schemas a provider
 * publishes in `describe` are. A schema made at a module's top level (a
 * {@link resourceType}'s) is compiled while the component is built, so the
 * compiled test is part of the component's initial memory.
 * @type {WeakMap<object, (value: unknown) => boolean>}
 */
const compiledSchemas = new WeakMap();

/**
 * Whether `value` conforms to `schema`: exactly whether {@link check}
 * finds no problem, answered by a test compiled once per schema. Checking
 * a thousand specs against one schema is the common case of `validate`:
 * the generic walk of {@link check} looks every keyword up and allocates
 * the type names, the problems and each field's path for every spec; the
 * compiled test read the keywords once, when it was made, and allocates
 * nothing for a spec that conforms.
 *
 * The tests are written for the interpreter a component runs JavaScript
 * with (no JIT): indexed loops rather than iterators, and no call that the
 * schema does not need.
 * @param {unknown} value
 * @param {object|boolean} schema
 * @returns {boolean}
 */
export function conforms(value, schema) {
  if (schema === false) return false;
  if (!isObject(schema)) return true;
  try {
    return compileSchema(schema)(value);
  } catch {
    // A value that cannot be read: the walk of `check` says what it says.
    return false;
  }
}

/**
 * The compiled test of `schema` (an object), from the cache or made now,
 * with its subschemas'.
 * @param {object} schema
 * @returns {(value: unknown) => boolean}
 */
export function compileSchema(schema) {
  let test = compiledSchemas.get(schema);
  if (test) return test;
  // A schema that contains itself meets its own test while it is being
  // compiled: that one goes through this stand-in, which calls the test
  // once it is made.
  /** @type {(value: unknown) => boolean} */
  let compiled = () => false;
  compiledSchemas.set(schema, (value) => compiled(value));
  try {
    compiled = compileTests(schema);
  } catch {
    // A schema that cannot be read (a getter that throws): nothing passes
    // the test, and the walk of `check` has the last word.
    compiled = () => false;
  }
  compiledSchemas.set(schema, compiled);
  return compiled;
}

/** The test of a subschema: `false` refuses, a non-object accepts. */
function subschemaTest(schema) {
  if (schema === false) return () => false;
  if (!isObject(schema)) return () => true;
  return compileSchema(schema);
}

/**
 * The test of the `type` keyword: whether `value` has one of the `allowed`
 * type names, as {@link typesOf} names them (an integer is a number too).
 * @param {unknown[]} allowed
 * @returns {(value: unknown) => boolean}
 */
function typeTest(allowed) {
  if (allowed.length === 1) {
    // One type, the usual schema: one comparison.
    switch (allowed[0]) {
      case 'string':
        return (value) => typeof value === 'string';
      case 'boolean':
        return (value) => typeof value === 'boolean';
      case 'number':
        return (value) => typeof value === 'number';
      case 'integer':
        return (value) => Number.isInteger(value);
      case 'null':
        return (value) => value === null;
      case 'object':
        return isObject;
      case 'array':
        return (value) => Array.isArray(value);
      default:
        break;
    }
  }
  const has = (name) => allowed.includes(name);
  const objects = has('object');
  const arrays = has('array');
  const strings = has('string');
  const booleans = has('boolean');
  const nulls = has('null');
  const numbers = has('number');
  const integers = has('integer');
  return (value) => {
    if (value === null) return nulls;
    switch (typeof value) {
      case 'string':
        return strings;
      case 'boolean':
        return booleans;
      case 'number':
        return numbers || (integers && Number.isInteger(value));
      case 'object':
        return Array.isArray(value) ? arrays : objects;
      default:
        return has(typeof value);
    }
  };
}

/**
 * The test of one schema object: each keyword {@link check} understands,
 * asking exactly what `check` asks (the same keywords, the same
 * comparisons), so that it passes when {@link problemsOf} finds none.
 * @param {object} schema
 * @returns {(value: unknown) => boolean}
 */
function compileTests(schema) {
  /** @type {Array<(value: unknown) => boolean>} */
  const tests = [];

  if (schema.type !== undefined) {
    tests.push(typeTest(Array.isArray(schema.type) ? [...schema.type] : [schema.type]));
  }

  if (Array.isArray(schema.enum)) {
    const options = [...schema.enum];
    tests.push((value) => {
      for (let i = 0; i < options.length; i++) if (sameJson(options[i], value)) return true;
      return false;
    });
  }

  const { minLength, maxLength } = schema;
  if (typeof minLength === 'number' || typeof maxLength === 'number') {
    // `check` counts characters (code points). A string's `length` counts
    // UTF-16 units, one or two per character, so it settles the bound
    // without counting unless the string holds surrogate pairs near it.
    const characters = (text) => [...text].length;
    tests.push((value) => {
      if (typeof value !== 'string') return true;
      const units = value.length;
      if (typeof minLength === 'number' && (units < minLength || (units < 2 * minLength && characters(value) < minLength))) {
        return false;
      }
      return !(typeof maxLength === 'number' && units > maxLength && characters(value) > maxLength);
    });
  }

  const { minimum, maximum } = schema;
  if (typeof minimum === 'number' || typeof maximum === 'number') {
    tests.push(
      (value) =>
        typeof value !== 'number' ||
        !((typeof minimum === 'number' && value < minimum) || (typeof maximum === 'number' && value > maximum)),
    );
  }

  const { minItems, maxItems } = schema;
  const items = schema.items === undefined ? undefined : subschemaTest(schema.items);
  if (typeof minItems === 'number' || typeof maxItems === 'number' || items) {
    tests.push((value) => {
      if (!Array.isArray(value)) return true;
      if (typeof minItems === 'number' && value.length < minItems) return false;
      if (typeof maxItems === 'number' && value.length > maxItems) return false;
      if (items) for (let i = 0; i < value.length; i++) if (!items(value[i])) return false;
      return true;
    });
  }

  const properties = isObject(schema.properties) ? schema.properties : {};
  /** @type {Map<string, (value: unknown) => boolean>} */
  const known = new Map();
  for (const key of Object.getOwnPropertyNames(properties)) known.set(key, subschemaTest(properties[key]));
  const closed = schema.additionalProperties === false;
  const additional = isObject(schema.additionalProperties) ? compileSchema(schema.additionalProperties) : undefined;
  const required = Array.isArray(schema.required) ? [...schema.required] : [];
  if (known.size > 0 || closed || additional || required.length > 0) {
    tests.push((value) => {
      if (!isObject(value)) return true;
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const field = known.get(key);
        if (field !== undefined) {
          if (!field(value[key])) return false;
        } else if (closed) {
          return false;
        } else if (additional !== undefined && !additional(value[key])) {
          return false;
        }
      }
      for (let i = 0; i < required.length; i++) if (!Object.hasOwn(value, required[i])) return false;
      return true;
    });
  }

  switch (tests.length) {
    case 0:
      return () => true;
    case 1:
      return tests[0];
    case 2: {
      const [first, second] = tests;
      return (value) => first(value) && second(value);
    }
    default:
      return (value) => {
        for (let i = 0; i < tests.length; i++) if (!tests[i](value)) return false;
        return true;
      };
  }
}
