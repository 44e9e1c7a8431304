// The provider's configuration and resource types: their schemas, which
// `describe` publishes, and `validate`, which checks a spec against them and
// puts it in the canonical form `list` reads objects back in.
//
// This module imports only the SDK's modules that need no host, so that it
// runs under plain Node too.

import { Invalid } from '../cairn-sdk/errors.js';
import { resourceType } from '../cairn-sdk/resource.js';
import { check } from '../cairn-sdk/spec.js';
import { compareBytes, utf8 } from './bytes.js';

/**
 * The relative keys the provider keeps for itself: owner marks live at
 * `PREFIX.cairn/owner/KEY`, so no `key` resource may start with it.
 */
export const RESERVED = '.cairn/';

/** Where, under the prefix, the owner mark of each key is written. */
export const MARKS = `${RESERVED}owner/`;

/**
 * The longest key, relative to the prefix, in UTF-8 bytes. A key is a
 * name, not data: etcd keeps every key of every revision in its in-memory
 * index, and the owner mark repeats it; one longer than this is a value
 * pasted into the wrong field.
 */
export const MAX_KEY_BYTES = 4096;

/**
 * The longest value, in UTF-8 bytes. etcd refuses a request larger than
 * `--max-request-bytes` (1.5 MiB by default), and the etcd documentation
 * warns that large values slow every member; a value beyond 1 MiB belongs
 * in object storage, with its address in etcd.
 */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** The permission types of a role, as written in a spec (etcd's, lower case). */
export const PERMISSION_TYPES = Object.freeze(['read', 'write', 'readwrite']);

/**
 * etcd's superuser and its role, which etcd keeps for itself: the role
 * grants every permission and holds none, and while authentication is
 * enabled etcd refuses to delete the user or take the role from it.
 */
export const ROOT = 'root';

/** A control character: invisible in a plan, a log or a terminal. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The operator's `config` table. */
export const CONFIG_SCHEMA = {
  type: 'object',
  properties: {
    url: {
      type: 'string',
      description: "the etcd client URL whose JSON gateway answers under /v3/, such as `http://127.0.0.1:2379`; grant it in `allow`",
    },
    prefix: {
      type: 'string',
      minLength: 1,
      description: 'the key prefix `key` resources live under, such as `/apps/`: a key `db/url` is the etcd key `/apps/db/url`',
    },
    owner_marks: {
      type: 'boolean',
      default: true,
      description:
        'write the owner mark of each key Cairn creates at `PREFIX.cairn/owner/KEY` and vouch for the keys bearing it; `false` for a prefix that applications read whole',
    },
  },
  required: ['url', 'prefix'],
  additionalProperties: false,
};

/** A key under the configured prefix. */
export const KEY = resourceType({
  name: 'key',
  description: 'a key under the configured prefix, and its value',
  schema: {
    type: 'object',
    properties: {
      key: {
        type: 'string',
        minLength: 1,
        description: 'the key relative to the configured prefix (`db/url` under `/apps/` is `/apps/db/url`), exactly as stored: etcd keys are case-sensitive bytes',
      },
      value: { type: 'string', description: 'the value, as text (UTF-8); may be empty' },
      mod_revision: {
        type: 'integer',
        readOnly: true,
        description: "etcd's revision of the key's last change: observed, never written; a change applies only if the key is still at the revision planned",
      },
    },
    required: ['key', 'value'],
    additionalProperties: false,
  },
  identity: ['key'],
});

/** The schema of one permission of a role. */
const PERMISSION_SCHEMA = {
  type: 'object',
  properties: {
    key: { type: 'string', description: 'the (first) etcd key the permission covers: a full key, not relative to the prefix' },
    type: { type: 'string', enum: PERMISSION_TYPES, description: 'what the permission allows: `read`, `write` or `readwrite`' },
    prefix: { type: 'boolean', description: 'the permission covers every key starting with `key`' },
    from_key: { type: 'boolean', description: 'the permission covers every key from `key` on, in byte order' },
    range_end: { type: 'string', description: 'the permission covers the keys from `key` up to this one, excluded' },
  },
  required: ['key', 'type'],
  additionalProperties: false,
};

/** An etcd role and the key ranges it may read and write. */
export const ROLE = resourceType({
  name: 'role',
  description: 'an etcd role: permissions on keys and key ranges',
  schema: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, description: 'the role name, case-sensitive' },
      permissions: {
        type: 'array',
        items: PERMISSION_SCHEMA,
        default: [],
        description: 'the permissions, a set: each a key, a prefix (`prefix = true`), a range (`range_end`) or every key from one on (`from_key = true`), with its type',
      },
    },
    required: ['name'],
    additionalProperties: false,
  },
  identity: ['name'],
});

/** An etcd user and the roles granted to it. */
export const USER = resourceType({
  name: 'user',
  description: 'an etcd user: its password and roles',
  schema: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, description: 'the user name, case-sensitive' },
      password: {
        type: 'object',
        writeOnly: true,
        properties: { secret: { type: 'string', minLength: 1, description: 'a secret of this provider instance (`secrets` in cairn.toml)' } },
        required: ['secret'],
        additionalProperties: false,
        description: 'the password, from an operator secret: sent when the user is created and whenever `password_version` changes; etcd never shows it',
      },
      password_version: {
        type: 'integer',
        minimum: 0,
        writeOnly: true,
        description: 'change it to send the password again (after the secret changed)',
      },
      no_password: {
        type: 'boolean',
        writeOnly: true,
        description: 'a user without a password, who authenticates with a TLS client certificate whose common name is its name; changing it replaces the user',
      },
      roles: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        default: [],
        description: 'the roles granted to the user, a set: each a role this commit declares or one etcd has',
      },
    },
    required: ['name'],
    additionalProperties: false,
  },
  identity: ['name'],
  sensitive: ['password'],
});

/** The resource types, in the order `describe` lists them. */
export const TYPES = Object.freeze([KEY, ROLE, USER]);

/** Whether `value` is a JSON object (not an array, not null). */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Throws {@link Invalid} with `problems` when there are any.
 * @param {import('../cairn-sdk/errors.js').Diagnostic[]} problems
 */
function refuseAny(problems) {
  if (problems.length > 0) throw new Invalid(problems);
}

/**
 * The problems of a name (a role's, a user's, a key's) at `path`: a
 * control character.
 * @param {string} name
 * @param {string} path
 * @param {string} what `key`, `role name`...
 * @returns {import('../cairn-sdk/errors.js').Diagnostic[]}
 */
function nameProblems(name, path, what) {
  if (!CONTROL.test(name)) return [];
  return [{ path, message: `the ${what} holds a control character, which no plan or log would show`, help: 'write it without control characters' }];
}

/**
 * The canonical `key` spec: the key as written (etcd keys are exact
 * bytes), the value as written.
 * @param {any} spec
 * @returns {{key: string, value: string}}
 */
export function validateKey(spec) {
  refuseAny(check(spec, KEY.schema));
  const problems = [];
  if (spec.mod_revision !== undefined) {
    problems.push({ path: 'mod_revision', message: '`mod_revision` is set by etcd, not written', help: 'remove it' });
  }
  problems.push(...nameProblems(spec.key, 'key', 'key'));
  if (spec.key.startsWith(RESERVED)) {
    problems.push({
      path: 'key',
      message: `keys starting with \`${RESERVED}\` are this provider's own (its owner marks live under \`${MARKS}\`)`,
      help: 'choose another key',
    });
  }
  if (utf8(spec.key).length > MAX_KEY_BYTES) {
    problems.push({ path: 'key', message: `the key is longer than ${MAX_KEY_BYTES} bytes`, help: 'a key names a value: put long data in the value' });
  }
  if (utf8(spec.value).length > MAX_VALUE_BYTES) {
    problems.push({
      path: 'value',
      message: `the value is longer than ${MAX_VALUE_BYTES} bytes (1 MiB)`,
      help: 'keep large data outside etcd and store its address',
    });
  }
  refuseAny(problems);
  return { key: spec.key, value: spec.value };
}

/**
 * The range a permission covers, as its canonical fields: `prefix: true`,
 * `from_key: true`, `range_end`, or nothing for a single key.
 * @typedef {{key: string, type: string, prefix?: true, from_key?: true, range_end?: string}} Permission
 */

/**
 * The identity of a permission's range, whatever its type: etcd keeps one
 * type per key and range end, a grant of another replacing it.
 * @param {Permission} permission
 * @returns {string}
 */
export function rangeOf(permission) {
  if (permission.prefix) return JSON.stringify([permission.key, 'prefix']);
  if (permission.from_key) return JSON.stringify([permission.key, 'from_key']);
  if (permission.range_end !== undefined) return JSON.stringify([permission.key, 'range_end', permission.range_end]);
  return JSON.stringify([permission.key]);
}

/**
 * Orders permissions as the canonical form lists them: by key, then by
 * range, in etcd's byte order, then by type.
 * @param {Permission} a
 * @param {Permission} b
 * @returns {number}
 */
export function comparePermissions(a, b) {
  return compareBytes(a.key, b.key) || compareBytes(rangeOf(a), rangeOf(b)) || compareBytes(a.type, b.type);
}

/**
 * A permission with its range written one way: a range end that is the
 * key's prefix end is `prefix = true` (for the empty key, every key),
 * `range_end = "\u0000"` is `from_key = true`. `prefixEndText` gives the
 * end etcd's clients compute for a prefix.
 * @param {string} key
 * @param {string} type lower case
 * @param {{prefix?: boolean, from_key?: boolean, range_end?: string}} range
 * @param {(key: string) => string|undefined} prefixEndText the prefix end
 *   of a key as text, undefined when it is not UTF-8
 * @returns {Permission}
 */
export function canonicalPermission(key, type, range, prefixEndText) {
  if (range.prefix) return { key, type, prefix: true };
  const end = range.from_key ? '\u0000' : range.range_end;
  if (end === undefined || end === '') return { key, type };
  if (end === prefixEndText(key)) return { key, type, prefix: true };
  if (end === '\u0000') return { key, type, from_key: true };
  return { key, type, range_end: end };
}

/**
 * The canonical `role` spec: the permissions a sorted set, each with its
 * range written one way (see {@link canonicalPermission}).
 * @param {any} spec
 * @param {(key: string) => string|undefined} prefixEndText
 * @returns {{name: string, permissions: Permission[]}}
 */
export function validateRole(spec, prefixEndText) {
  // The type is compared in any case; etcd names it in capitals.
  const given = isObject(spec) && Array.isArray(spec.permissions)
    ? {
        ...spec,
        permissions: spec.permissions.map((p) => (isObject(p) && typeof p.type === 'string' ? { ...p, type: p.type.toLowerCase() } : p)),
      }
    : spec;
  refuseAny(check(given, ROLE.schema));
  const problems = nameProblems(given.name, 'name', 'role name');
  if (given.name === ROOT) {
    problems.push({
      path: 'name',
      message: 'the role `root` is etcd\'s own: it grants every permission and holds none',
      help: 'grant `root` to a user in its `roles`, without declaring the role',
    });
  }
  /** @type {Map<string, Permission>} */
  const byRange = new Map();
  (given.permissions ?? []).forEach((p, index) => {
    const path = `permissions/${index}`;
    const ranges = ['prefix', 'from_key', 'range_end'].filter((field) => p[field] !== undefined && p[field] !== false);
    if (ranges.length > 1) {
      problems.push({ path, message: `a permission has one range: \`${ranges.join('` and `')}\` are both set`, help: 'keep one of them' });
      return;
    }
    if (p.range_end === '') {
      problems.push({ path: `${path}/range_end`, message: 'the range end is empty', help: 'remove it for a single key, or write `from_key = true`' });
      return;
    }
    if (p.key === '' && ranges.length === 0) {
      problems.push({ path: `${path}/key`, message: 'the empty key names no key', help: 'write `prefix = true` for every key, or give a key' });
      return;
    }
    problems.push(...nameProblems(p.key, `${path}/key`, 'key'));
    if (p.range_end !== undefined && p.range_end !== '\u0000' && compareBytes(p.range_end, p.key) <= 0) {
      problems.push({
        path: `${path}/range_end`,
        message: 'the range end is not after the key, so the range holds no key',
        help: 'the range is from `key` (included) to `range_end` (excluded), in byte order',
      });
      return;
    }
    const permission = canonicalPermission(p.key, p.type, p, prefixEndText);
    const range = rangeOf(permission);
    const earlier = byRange.get(range);
    if (earlier && earlier.type !== permission.type) {
      problems.push({
        path,
        message: `the same range is given twice, as \`${earlier.type}\` and as \`${permission.type}\`: etcd keeps one type per range`,
        help: 'give it once, with `readwrite` for both',
      });
      return;
    }
    byRange.set(range, permission);
  });
  refuseAny(problems);
  return { name: given.name, permissions: [...byRange.values()].sort(comparePermissions) };
}

/**
 * The canonical `user` spec: the roles a sorted set; `password` the name
 * of an operator secret (never a password in Git), `no_password` only
 * when true.
 * @param {any} spec
 * @returns {object}
 */
export function validateUser(spec) {
  // Checked first, and without quoting it: the value may be a password.
  if (isObject(spec) && spec.password !== undefined && !isObject(spec.password)) {
    throw Invalid.at(
      'password',
      'a password is never written in Git',
      'write `password = { secret = "NAME" }`, naming a secret of this provider instance in cairn.toml',
    );
  }
  refuseAny(check(spec, USER.schema));
  const problems = nameProblems(spec.name, 'name', 'user name');
  const roles = [...new Set(spec.roles ?? [])].sort(compareBytes);
  (spec.roles ?? []).forEach((role, index) => problems.push(...nameProblems(role, `roles/${index}`, 'role name')));
  const noPassword = spec.no_password === true;
  if (noPassword && spec.password !== undefined) {
    problems.push({ path: 'no_password', message: 'a user has a password or `no_password = true`, not both', help: 'remove one of them' });
  } else if (!noPassword && spec.password === undefined) {
    problems.push({
      path: '',
      message: 'the user has no password',
      help: 'add `password = { secret = "NAME" }`, or `no_password = true` for a user that authenticates with a client certificate',
    });
  }
  if (spec.password_version !== undefined && spec.password === undefined) {
    problems.push({ path: 'password_version', message: '`password_version` without a `password`', help: 'add `password = { secret = "NAME" }` or remove `password_version`' });
  }
  if (spec.name === ROOT && !roles.includes(ROOT)) {
    problems.push({
      path: 'roles',
      message: 'the user `root` must keep the role `root`: etcd refuses to take it away while authentication is enabled',
      help: 'add "root" to its roles',
    });
  }
  refuseAny(problems);
  const canonical = { name: spec.name, roles };
  if (spec.password !== undefined) canonical.password = { secret: spec.password.secret };
  if (spec.password_version !== undefined) canonical.password_version = spec.password_version;
  if (noPassword) canonical.no_password = true;
  return canonical;
}
