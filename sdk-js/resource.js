// Resource types, ids built as the host builds them, and the refusal of an
// input that names another object than its spec describes.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

import { ProviderError } from './errors.js';
import { compileSchema } from './spec.js';

/**
 * @typedef {object} ResourceType
 * @property {string} name the name used in resource files: `[[PROVIDER.NAME]]`
 * @property {string} description one line saying what the type is
 * @property {object} schema a JSON Schema (draft 2020-12) of the spec
 * @property {string[]} identity the spec fields whose values, joined by `/`,
 *   are the id; a field may be a `/`-path into nested objects
 *   (`metadata/name`), and one ending in `?` is optional
 * @property {string[]} forceReplace fields whose change replaces the object
 * @property {string[]} sensitive fields holding secrets
 */

/**
 * A resource type, with the defaults filled in (an open schema, no
 * force-replace or sensitive field) and its lists checked.
 * @param {object} type
 * @param {string} type.name
 * @param {string} [type.description]
 * @param {object} [type.schema] a JSON Schema of the spec, as an object
 * @param {string[]} type.identity
 * @param {string[]} [type.forceReplace]
 * @param {string[]} [type.sensitive]
 * @returns {Readonly<ResourceType>}
 */
export function resourceType({
  name,
  description = '',
  schema = {},
  identity,
  forceReplace = [],
  sensitive = [],
}) {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError('a resource type needs a name');
  }
  const strings = (what, list) => {
    if (!Array.isArray(list) || list.some((field) => typeof field !== 'string' || field === '')) {
      throw new TypeError(`the ${what} of resource type \`${name}\` must be a list of field names`);
    }
    return Object.freeze([...list]);
  };
  const type = Object.freeze({
    name,
    description: String(description),
    schema,
    identity: strings('identity', identity),
    forceReplace: strings('forceReplace', forceReplace),
    sensitive: strings('sensitive', sensitive),
  });
  // Compiled now rather than at the first spec: a type made at the top
  // level of the provider's module is made while the component is built,
  // so its compiled schema and identity are in the component's initial
  // memory and no call pays for them.
  if (isObject(schema)) compileSchema(schema);
  identityOf(type.identity);
  return type;
}

/**
 * Thrown by {@link idOf} for a spec that lacks one of its identity fields
 * (or holds it empty, or neither as a string nor as a number).
 */
export class MissingIdentity extends ProviderError {
  /**
   * @param {string} typeName
   * @param {string} field the field's `/`-path
   */
  constructor(typeName, field) {
    super('invalid', `the ${typeName} has no \`${field}\`, which identifies it`);
    this.name = 'MissingIdentity';
    /** The identity field missing, by its `/`-path. */
    this.field = field;
  }
}

/** Whether `value` is a JSON object (not an array, not null). */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The id of the object `spec` describes, built exactly as the host builds
 * it: the identity fields' values joined by `/`. A field may be a `/`-path
 * into nested objects; one ending in `?` is left out when absent or null.
 * A string counts when it is not empty, a number as JSON writes it.
 * @param {ResourceType} type
 * @param {unknown} spec the canonical spec, or an observed state
 * @returns {string}
 * @throws {MissingIdentity} naming the first field the spec lacks
 */
export function idOf(type, spec) {
  const fields = identityOf(type.identity);
  // One plain field (`key`, `name`): the common identity, without a list
  // of parts to join.
  if (fields.length === 1 && fields[0].plain) {
    const path = fields[0].path;
    const value = isObject(spec) && Object.hasOwn(spec, path) ? spec[path] : undefined;
    if (typeof value === 'string' && value !== '') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
    throw new MissingIdentity(type.name, path);
  }
  const parts = [];
  for (const { path, keys, optional } of fields) {
    /** @type {unknown} */
    let value = spec;
    for (const key of keys) {
      value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    }
    if (typeof value === 'string' && value !== '') {
      parts.push(value);
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      parts.push(JSON.stringify(value));
    } else if (optional && value == null) {
      // An optional field left out.
    } else {
      throw new MissingIdentity(type.name, path);
    }
  }
  return parts.join('/');
}

/**
 * @typedef {object} IdentityField
 * @property {string} path the field's `/`-path, without the `?`
 * @property {string[]} keys the path's steps
 * @property {boolean} optional whether the field ends in `?`
 * @property {boolean} plain whether it is one key, not optional
 */

/**
 * Identity lists read into their fields, by list: {@link idOf} runs for
 * every spec `validate` checks and every input `diff` and `apply` refuse
 * or accept, and the fields' paths are split once. Only the frozen lists
 * {@link resourceType} makes are kept; another list may change, and is
 * read each time.
 * @type {WeakMap<readonly string[], IdentityField[]>}
 */
const identities = new WeakMap();

/**
 * The fields of an identity list.
 * @param {readonly string[]} identity
 * @returns {IdentityField[]}
 */
function identityOf(identity) {
  let fields = identities.get(identity);
  if (fields) return fields;
  fields = Array.from(identity, (field) => {
    const optional = field.endsWith('?');
    const path = optional ? field.slice(0, -1) : field;
    const keys = path.split('/');
    return { path, keys, optional, plain: keys.length === 1 && !optional };
  });
  if (typeof identity === 'object' && identity !== null && Object.isFrozen(identity)) identities.set(identity, fields);
  return fields;
}

/**
 * @typedef {object} ProviderInfo
 * @property {string} name
 * @property {string} version
 * @property {string} description
 * @property {ResourceType[]} resourceTypes
 * @property {object} configSchema
 */

/**
 * The resource type `typeName` of `info`, or an `invalid` error naming the
 * types there are.
 * @param {ProviderInfo} info
 * @param {string} typeName
 * @returns {ResourceType}
 */
export function knownType(info, typeName) {
  // The SDK's own info has its types by name (every input of a call asks).
  const found =
    info.types instanceof Map ? info.types.get(typeName) : info.resourceTypes.find((type) => type.name === typeName);
  if (found) return found;
  const names = info.resourceTypes.map((type) => type.name).join(', ');
  throw ProviderError.invalid(`\`${info.name}\` has no resource type \`${typeName}\` (it has ${names})`);
}

/**
 * Why the object `typeName`/`id`, with its desired spec and observed state,
 * is not one `info` manages under that id; undefined when it is.
 *
 * The host builds every id from the identity fields of the canonical spec:
 * an input whose id and spec disagree comes from a saved plan edited by
 * hand or a bug, and a provider that addressed the server by the id while
 * writing the spec's fields would change one object and report another.
 * The id is checked against the desired spec, or without one (a delete)
 * against the observed state; an observed state without its identity
 * fields is not held against the id.
 * @param {ProviderInfo} info
 * @param {string} typeName
 * @param {string} id
 * @param {unknown} desired undefined when absent
 * @param {unknown} observed undefined when absent
 * @returns {ProviderError|undefined}
 */
export function refusal(info, typeName, id, desired, observed) {
  let type;
  try {
    type = knownType(info, typeName);
  } catch (error) {
    return ProviderError.from(error);
  }
  let built;
  let from;
  if (desired !== undefined) {
    from = 'desired spec';
    try {
      built = idOf(type, desired);
    } catch (error) {
      if (!(error instanceof MissingIdentity)) return ProviderError.from(error);
      return ProviderError.invalid(
        `the desired spec of ${typeName} \`${id}\` has no \`${error.field}\`, which identifies it`,
      );
    }
  } else if (observed !== undefined) {
    from = 'observed state';
    try {
      built = idOf(type, observed);
    } catch {
      return undefined;
    }
  } else {
    return undefined;
  }
  if (built === id) return undefined;
  return ProviderError.invalid(
    `the id \`${id}\` is not the ${typeName} its ${from} describes, whose identity fields give \`${built}\`: ` +
      'refusing to act on an object other than the one named',
  );
}

/**
 * Every resource of this provider instance that the commit declares: the
 * inputs of a `diff` call that have a desired spec, and the others the host
 * named. A reference resolves when its target is declared here or exists in
 * the real world; any other is an error diagnostic on the referring change,
 * so that the plan stops before anything is applied.
 */
export class Declarations {
  /** @type {Map<string, Set<string>>} */
  #ids = new Map();

  /**
   * @param {Iterable<{typeName: string, id: string, desired?: unknown}>} inputs
   *   the inputs of the call: those with a desired spec count
   * @param {Iterable<{typeName: string, id: string}>} others the other
   *   resources the commit declares
   */
  constructor(inputs = [], others = []) {
    for (const input of inputs) {
      if (input.desired !== undefined && input.desired !== null) this.#insert(input.typeName, input.id);
    }
    for (const declared of others) this.#insert(declared.typeName, declared.id);
  }

  /** @param {string} typeName @param {string} id */
  #insert(typeName, id) {
    let ids = this.#ids.get(typeName);
    if (!ids) this.#ids.set(typeName, (ids = new Set()));
    ids.add(id);
  }

  /**
   * Whether the commit declares the resource of `typeName` and `id`.
   * @param {string} typeName
   * @param {string} id
   * @returns {boolean}
   */
  contains(typeName, id) {
    return this.#ids.get(typeName)?.has(id) ?? false;
  }

  /**
   * The ids the commit declares of `typeName`, sorted.
   * @param {string} typeName
   * @returns {string[]}
   */
  ids(typeName) {
    return [...(this.#ids.get(typeName) ?? [])].sort();
  }
}
