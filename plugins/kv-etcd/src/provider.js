// kv-etcd: a Cairn provider of etcd v3 keys, roles and users, spoken to
// through etcd's JSON gateway (`/v3/…`). It follows every rule of the
// contract (`cairn:provider@0.2.0`):
// - `validate` returns the canonical spec (a role's permissions and a
//   user's roles sorted sets, a permission's range written one way), which
//   `list` reads back in the same shape, so an unchanged repository plans
//   nothing and an applied change converges;
// - ids are identity fields: a key relative to the configured prefix, a
//   role's or a user's name;
// - `apply` is idempotent: deleting what is gone succeeds; a key is created
//   by a transaction that puts it only if it is absent, so a key someone
//   else made is a `conflict` and nothing is written; a key is changed or
//   deleted only if it is still at the revision planned;
// - errors carry their kind, from etcd's gRPC code and words;
// - a key Cairn creates gets the owner mark in a companion key written in
//   the same transaction, and `list` vouches for a key whose mark is this
//   instance's and was written with it; etcd roles and users hold no
//   field to mark, so they are never vouched for;
// - a user's roles must resolve, when planning, to roles the commit
//   declares or etcd has;
// - passwords and credentials are secrets: they go into requests, never
//   into a state, a message or a log.
//
// The SDK (`cairn-sdk/`) converts the contract's values to plain ones,
// refuses a change whose id is not its spec's before this code runs, and
// turns anything thrown into an error of the right kind.

import {
  ProviderError,
  applied,
  compare,
  ensureValid,
  exportProvider,
  failed,
  fieldChanges,
  log,
  summarize,
} from '../cairn-sdk/index.js';
import { compareBytes, decode, encode, equalBytes, fromBase64, isUtf8, prefixEnd, text, toBase64, utf8 } from './bytes.js';
import { Etcd, EtcdError, onlyEntry } from './etcd.js';
import {
  CONFIG_SCHEMA,
  KEY,
  MARKS,
  MAX_KEY_BYTES,
  RESERVED,
  ROLE,
  ROOT,
  TYPES,
  USER,
  canonicalPermission,
  comparePermissions,
  rangeOf,
  validateKey,
  validateRole,
  validateUser,
} from './types.js';

/** The provider's version: bump it with every release. */
const VERSION = '0.1.0';

/**
 * The most operations one transaction carries: etcd refuses more than
 * `--max-txn-ops` (128 by default) with "too many operations in txn
 * request". `list` reads keys (and their marks) in transactions of this
 * size.
 */
const MAX_TXN_OPS = 128;

/** gRPC's PERMISSION_DENIED, as etcd's gateway writes it in `code`. */
const PERMISSION_DENIED = 7;

/** The order changes of one batch are applied in, by type and action. */
const PHASES = Object.freeze({
  // Keys depend on nothing of this provider's.
  key: 0,
  // Roles are made before the users granted them ...
  role: 1,
  user: 2,
  // ... and deleted after the users that held them let go.
  roleDelete: 3,
});

/** The etcd permission types, by the spec's lower-case names. */
const PERM_TYPES = Object.freeze({ read: 'READ', write: 'WRITE', readwrite: 'READWRITE' });

/**
 * The configuration `configure` makes, handed to `list`, `diff` and
 * `apply`.
 * @typedef {object} Configured
 * @property {Etcd} etcd the gateway's client
 * @property {string} prefix the prefix of every key resource
 * @property {boolean} marks whether keys carry owner marks
 * @property {string} owner this instance's owner mark
 * @property {import('../cairn-sdk/errors.js').Secrets} secrets for users' passwords
 */

/** The component's `provider` interface: the SDK wraps these functions. */
export const provider = exportProvider({
  /** What the provider is and manages; no I/O. */
  describe() {
    return {
      name: 'kv-etcd',
      version: VERSION,
      description: 'etcd v3 keys under a prefix, roles and users, through the JSON gateway',
      resourceTypes: [...TYPES],
      configSchema: CONFIG_SCHEMA,
    };
  },

  /**
   * Checks the configuration and the credentials' presence; nothing is
   * asked of etcd until a call needs it.
   * @returns {Configured}
   */
  configure(config, secrets, owner) {
    ensureValid(config, CONFIG_SCHEMA, 'config');
    if (!/^https?:\/\/[^/?#@]+/i.test(config.url)) {
      throw ProviderError.invalid(
        `config url: \`${config.url}\` is not an http or https URL with a host (and without user information), such as http://127.0.0.1:2379`,
      );
    }
    const username = secrets.get('username');
    const password = secrets.get('password');
    if ((username === undefined) !== (password === undefined)) {
      throw ProviderError.invalid(
        'the secrets `username` and `password` go together: give both to authenticate to etcd, or neither when its authentication is disabled',
      );
    }
    const credentials = username === undefined ? undefined : { username, password: /** @type {string} */ (password) };
    return {
      etcd: new Etcd(config.url, credentials),
      prefix: config.prefix,
      marks: config.owner_marks !== false,
      owner,
      secrets,
    };
  },

  /** The canonical spec of a resource, or its diagnostics; no I/O. */
  validate(typeName, spec) {
    switch (typeName) {
      case KEY.name:
        return validateKey(spec);
      case ROLE.name:
        return validateRole(spec, prefixEndText);
      default:
        return validateUser(spec);
    }
  },

  /**
   * Every object of interest etcd has: the keys among the ids (with their
   * marks, in transactions), and the roles and users among them. Users
   * and roles are skipped when the provider's etcd user may not read them
   * (a user that manages keys only); `diff` then reports it on any role or
   * user the commit declares.
   */
  list(scope, configured) {
    const ids = [...new Set(scope.ids)];
    if (ids.length === 0) return [];
    const observed = [];
    if (scope.wants(KEY.name)) observed.push(...listKeys(ids, configured));
    if (scope.wants(ROLE.name)) observed.push(...listRoles(ids, configured));
    if (scope.wants(USER.name)) observed.push(...listUsers(ids, configured));
    log.debug('listed etcd', { asked: ids.length, found: observed.length });
    return observed;
  },

  /**
   * Compares each input: keys without their revision, roles field by field,
   * users by their roles and by what the last apply sent (etcd never
   * shows a password); then checks that every role a user is granted
   * resolves.
   */
  diff(inputs, declarations, configured) {
    const changes = inputs.map((input) => {
      switch (input.typeName) {
        case KEY.name:
          return diffKey(input);
        case ROLE.name:
          return compare(input, ROLE);
        default:
          return diffUser(input);
      }
    });
    const access = inputs.some((input) => input.typeName !== KEY.name) ? roleNames(configured.etcd) : undefined;
    inputs.forEach((input, index) => {
      if (input.typeName === KEY.name || !access) return;
      if (access.denied) {
        changes[index].diagnostics.push({
          path: '',
          message: `the provider's etcd user may not read etcd's roles and users: ${access.denied.etcdMessage}`,
          help: 'grant it the role `root` (etcd lets only root manage roles and users), or manage only keys with this provider instance',
        });
        return;
      }
      if (input.typeName !== USER.name || !input.desired) return;
      for (const role of input.desired.roles) {
        if (declarations.contains(ROLE.name, role) || access.names.has(role)) continue;
        changes[index].diagnostics.push({
          path: 'roles',
          message: `the role \`${role}\` is neither a role this commit declares nor a role etcd has`,
          help: 'declare it as a role, or fix its name',
        });
      }
    });
    return changes;
  },

  /**
   * Applies a batch: keys, then roles made or changed, then users, then
   * roles deleted, so that a user is granted only roles that exist; one
   * outcome per change, in the batch's order.
   */
  apply(changes, configured) {
    /** The phase a change is applied in: {@link PHASES}. */
    const phase = (change) =>
      change.typeName === ROLE.name && change.action === 'delete' ? PHASES.roleDelete : PHASES[change.typeName];
    const order = changes.map((_, index) => index).sort((a, b) => phase(changes[a]) - phase(changes[b]) || a - b);
    const outcomes = new Array(changes.length);
    for (const index of order) {
      const change = changes[index];
      try {
        outcomes[index] = applied(applyOne(change, configured));
      } catch (thrown) {
        outcomes[index] = failed(ProviderError.from(thrown, 'apply'));
      }
    }
    return outcomes;
  },
});

/**
 * Makes one change; returns the object's new state.
 * @param {import('../cairn-sdk/diff.js').Change} change
 * @param {Configured} configured
 * @returns {unknown}
 */
function applyOne(change, configured) {
  if (change.action === 'no-op') return change.observed;
  switch (change.typeName) {
    case KEY.name:
      return applyKey(change, configured);
    case ROLE.name:
      return applyRole(change, configured);
    default:
      return applyUser(change, configured);
  }
}

// ---------------------------------------------------------------- keys

/**
 * The prefix end of `key` as text, undefined when it is not UTF-8 (a
 * permission's range read back is compared by bytes then).
 * @param {string} key
 * @returns {string|undefined}
 */
function prefixEndText(key) {
  const end = prefixEnd(utf8(key));
  return isUtf8(end) ? text(end) : undefined;
}

/**
 * Whether an id can be a key resource's: not empty, not the provider's
 * own, not too long. Other ids are other types' and are not looked up.
 * @param {string} id
 * @returns {boolean}
 */
function mayBeKey(id) {
  return id !== '' && !id.startsWith(RESERVED) && utf8(id).length <= MAX_KEY_BYTES;
}

/**
 * A gateway request op reading one key.
 * @param {string} key the full key
 */
function rangeOp(key) {
  return { request_range: { key: encode(key) } };
}

/**
 * Whether the owner mark `mark` vouches for `entry`: it names this instance
 * and was written in the transaction that created the key (a key deleted
 * and made again by hand has a later creation revision than its old mark).
 * @param {import('./etcd.js').Entry|undefined} mark
 * @param {import('./etcd.js').Entry} entry
 * @param {string} owner
 * @returns {boolean}
 */
function vouches(mark, entry, owner) {
  return mark !== undefined && mark.value === owner && mark.modRevision === entry.createRevision;
}

/**
 * The keys among `ids` that etcd has, with their marks, read in
 * transactions of at most {@link MAX_TXN_OPS} reads.
 * @param {string[]} ids
 * @param {Configured} configured
 */
function listKeys(ids, { etcd, prefix, marks, owner }) {
  const keys = ids.filter(mayBeKey);
  const reads = marks ? 2 : 1;
  const batch = Math.floor(MAX_TXN_OPS / reads);
  const observed = [];
  for (let start = 0; start < keys.length; start += batch) {
    const chunk = keys.slice(start, start + batch);
    const success = chunk.flatMap((key) => (marks ? [rangeOp(prefix + key), rangeOp(prefix + MARKS + key)] : [rangeOp(prefix + key)]));
    const answer = etcd.call('kv/txn', { success }, `read ${chunk.length} key(s) under \`${prefix}\``);
    const responses = answer.responses ?? [];
    chunk.forEach((key, index) => {
      const entry = onlyEntry(responses[index * reads]?.response_range);
      if (!entry) return;
      const mark = marks ? onlyEntry(responses[index * reads + 1]?.response_range) : undefined;
      observed.push({
        typeName: KEY.name,
        state: { key, value: entry.value, mod_revision: entry.modRevision },
        vouched: marks && vouches(mark, entry, owner),
      });
    });
  }
  return observed;
}

/**
 * A key's change: the value compared, the revision (etcd's, not the
 * spec's) kept in the observed state for `apply`.
 * @param {import('../cairn-sdk/diff.js').DiffInput} input
 */
function diffKey(input) {
  const observed = input.observed ? { key: input.observed.key, value: input.observed.value } : undefined;
  const change = compare({ ...input, observed }, KEY);
  change.observed = input.observed;
  return change;
}

/**
 * Creates, changes or deletes one key.
 * @param {import('../cairn-sdk/diff.js').Change} change
 * @param {Configured} configured
 */
function applyKey(change, configured) {
  switch (change.action) {
    case 'create':
      return createKey(change.desired, configured);
    case 'delete':
      return deleteKey(change.observed, configured);
    default:
      return putKey(change.desired, change.observed?.mod_revision, configured);
  }
}

/**
 * Puts the key (and its owner mark) only if it is absent, in one
 * transaction: nothing is written when someone else's key is there (a
 * `conflict`). A key bearing this instance's mark (an earlier apply whose
 * answer was lost) is this provider's own, and gets the desired value.
 * @param {{key: string, value: string}} desired
 * @param {Configured} configured
 */
function createKey(desired, configured) {
  const { etcd, prefix, marks, owner } = configured;
  const full = prefix + desired.key;
  const mark = prefix + MARKS + desired.key;
  const success = [{ request_put: { key: encode(full), value: encode(desired.value) } }];
  const failure = [rangeOp(full)];
  if (marks) {
    success.push({ request_put: { key: encode(mark), value: encode(owner) } });
    failure.push(rangeOp(mark));
  }
  const answer = etcd.call(
    'kv/txn',
    { compare: [{ key: encode(full), result: 'EQUAL', target: 'CREATE', create_revision: '0' }], success, failure },
    `create the key \`${full}\``,
  );
  if (answer.succeeded) return { ...desired, mod_revision: Number(answer.header?.revision) };
  const existing = onlyEntry(answer.responses?.[0]?.response_range);
  const marked = marks ? onlyEntry(answer.responses?.[1]?.response_range) : undefined;
  if (existing && marks && vouches(marked, existing, owner)) {
    log.info('the key to create is already this instance\'s: setting its value', { key: full });
    return putKey(desired, existing.modRevision, configured);
  }
  throw ProviderError.conflict(
    `the key \`${full}\` exists and this provider instance did not create it` +
      (marks ? ' (it bears no owner mark of this instance)' : ' (owner marks are off, so no existing key is known as its own)'),
  );
}

/**
 * Sets the key's value if it is still at `revision` (when known): a key
 * changed or deleted since the plan fails with `conflict`, and the next
 * plan shows what it is now.
 * @param {{key: string, value: string}} desired
 * @param {number|undefined} revision the revision planned
 * @param {Configured} configured
 */
function putKey(desired, revision, { etcd, prefix }) {
  const full = prefix + desired.key;
  const conditions = revision ? [{ key: encode(full), result: 'EQUAL', target: 'MOD', mod_revision: String(revision) }] : [];
  const answer = etcd.call(
    'kv/txn',
    { compare: conditions, success: [{ request_put: { key: encode(full), value: encode(desired.value) } }], failure: [rangeOp(full)] },
    `set the key \`${full}\``,
  );
  if (answer.succeeded) return { key: desired.key, value: desired.value, mod_revision: Number(answer.header?.revision) };
  const now = onlyEntry(answer.responses?.[0]?.response_range);
  throw ProviderError.conflict(
    now
      ? `the key \`${full}\` changed since the plan (revision ${now.modRevision}, planned at ${revision}): plan again`
      : `the key \`${full}\` was deleted since the plan: plan again`,
  );
}

/**
 * Deletes the key and its owner mark if the key is still at the revision
 * observed; a key already gone is deleted (and a mark left behind goes
 * too); a key changed since the plan fails with `conflict`.
 * @param {{key: string, mod_revision?: number}} observed
 * @param {Configured} configured
 */
function deleteKey(observed, { etcd, prefix, marks }) {
  const full = prefix + observed.key;
  const mark = prefix + MARKS + observed.key;
  const revision = observed.mod_revision;
  const conditions = revision ? [{ key: encode(full), result: 'EQUAL', target: 'MOD', mod_revision: String(revision) }] : [];
  const success = [{ request_delete_range: { key: encode(full) } }];
  if (marks) success.push({ request_delete_range: { key: encode(mark) } });
  const answer = etcd.call('kv/txn', { compare: conditions, success, failure: [rangeOp(full)] }, `delete the key \`${full}\``);
  if (answer.succeeded) return undefined;
  const now = onlyEntry(answer.responses?.[0]?.response_range);
  if (now) {
    throw ProviderError.conflict(
      `the key \`${full}\` changed since the plan (revision ${now.modRevision}, planned at ${revision}): not deleted; plan again`,
    );
  }
  if (marks) etcd.call('kv/deleterange', { key: encode(mark) }, `delete the owner mark \`${mark}\``);
  return undefined;
}

// --------------------------------------------------------------- roles

/**
 * The names of etcd's roles, or the refusal when the provider's etcd user
 * may not read them (only root may).
 * @param {Etcd} etcd
 * @returns {{names: Set<string>, denied?: undefined} | {denied: EtcdError, names?: undefined}}
 */
function roleNames(etcd) {
  try {
    return { names: new Set(etcd.call('auth/role/list', {}, 'list the roles').roles ?? []) };
  } catch (thrown) {
    if (thrown instanceof EtcdError && thrown.code === PERMISSION_DENIED) return { denied: thrown };
    throw thrown;
  }
}

/**
 * A permission etcd holds (`{permType, key, range_end}`, base64, READ
 * left out), in the spec's canonical form.
 * @param {any} perm
 * @returns {import('./types.js').Permission}
 */
function permissionOf(perm) {
  const type = String(perm.permType ?? 'READ').toLowerCase();
  const key = decode(perm.key);
  const end = perm.range_end ? fromBase64(perm.range_end) : new Uint8Array(0);
  if (end.length === 0) return { key, type };
  if (equalBytes(end, prefixEnd(utf8(key)))) return { key, type, prefix: true };
  return canonicalPermission(key, type, { range_end: text(end) }, prefixEndText);
}

/**
 * The range end etcd takes for a canonical permission, in base64;
 * undefined for a single key.
 * @param {import('./types.js').Permission} permission
 * @returns {string|undefined}
 */
function rangeEndOf(permission) {
  if (permission.prefix) return toBase64(prefixEnd(utf8(permission.key)));
  if (permission.from_key) return toBase64(new Uint8Array([0]));
  return permission.range_end === undefined ? undefined : encode(permission.range_end);
}

/**
 * A role's permissions as etcd holds them: each `{raw, permission}`, the
 * permission canonical; undefined when the role does not exist.
 * @param {Etcd} etcd
 * @param {string} name
 */
function rolePermissions(etcd, name) {
  try {
    const answer = etcd.call('auth/role/get', { role: name }, `read the role \`${name}\``);
    return (answer.perm ?? []).map((raw) => ({ raw, permission: permissionOf(raw) }));
  } catch (thrown) {
    if (thrown instanceof EtcdError && thrown.kind === 'not-found') return undefined;
    throw thrown;
  }
}

/**
 * The roles among `ids` that etcd has, but its own `root`; none when the
 * provider's etcd user may not read roles.
 * @param {string[]} ids
 * @param {Configured} configured
 */
function listRoles(ids, { etcd }) {
  const existing = roleNames(etcd);
  if (existing.denied) {
    log.debug('the provider may not read roles: not listing them', { reason: existing.denied.etcdMessage });
    return [];
  }
  const observed = [];
  for (const name of ids) {
    if (name === ROOT || !existing.names.has(name)) continue;
    const held = rolePermissions(etcd, name);
    if (!held) continue;
    const permissions = held.map(({ permission }) => permission).sort(comparePermissions);
    observed.push({ typeName: ROLE.name, state: { name, permissions }, vouched: false });
  }
  return observed;
}

/**
 * Creates, changes or deletes one role. A role is created with `role/add`,
 * which refuses a name taken (a `conflict`, nothing made), then granted
 * its permissions; a change grants what is missing before it revokes what
 * is no longer wanted, from the role as etcd holds it now.
 * @param {import('../cairn-sdk/diff.js').Change} change
 * @param {Configured} configured
 */
function applyRole(change, { etcd }) {
  if (change.action === 'delete') {
    const name = change.observed.name;
    try {
      etcd.call('auth/role/delete', { role: name }, `delete the role \`${name}\``);
    } catch (thrown) {
      if (!(thrown instanceof EtcdError && thrown.kind === 'not-found')) throw thrown;
    }
    return undefined;
  }
  const { name, permissions } = change.desired;
  let held = change.action === 'create' ? undefined : rolePermissions(etcd, name);
  if (!held) {
    try {
      etcd.call('auth/role/add', { name }, `add the role \`${name}\``);
    } catch (thrown) {
      if (thrown instanceof EtcdError && thrown.kind === 'conflict') {
        throw ProviderError.conflict(
          `the role \`${name}\` exists in etcd and this provider instance does not know it as its own (etcd roles carry no owner mark)`,
        );
      }
      throw thrown;
    }
    held = [];
  }
  const holds = new Set(held.map(({ permission }) => JSON.stringify([rangeOf(permission), permission.type])));
  for (const permission of permissions) {
    if (holds.has(JSON.stringify([rangeOf(permission), permission.type]))) continue;
    const perm = { permType: PERM_TYPES[permission.type], key: encode(permission.key) };
    const end = rangeEndOf(permission);
    if (end !== undefined) perm.range_end = end;
    etcd.call('auth/role/grant', { name, perm }, `grant the role \`${name}\` ${permission.type} on \`${permission.key}\``);
  }
  const wanted = new Set(permissions.map(rangeOf));
  for (const { raw, permission } of held) {
    if (wanted.has(rangeOf(permission))) continue;
    const revoke = { role: name, key: raw.key ?? '' };
    if (raw.range_end) revoke.range_end = raw.range_end;
    try {
      etcd.call('auth/role/revoke', revoke, `revoke from the role \`${name}\` its permission on \`${permission.key}\``);
    } catch (thrown) {
      if (!(thrown instanceof EtcdError && thrown.kind === 'not-found')) throw thrown;
    }
  }
  return { name, permissions };
}

// --------------------------------------------------------------- users

/**
 * The users among `ids` that etcd has, with their roles; none when the
 * provider's etcd user may not read users.
 * @param {string[]} ids
 * @param {Configured} configured
 */
function listUsers(ids, { etcd }) {
  let names;
  try {
    names = new Set(etcd.call('auth/user/list', {}, 'list the users').users ?? []);
  } catch (thrown) {
    if (thrown instanceof EtcdError && thrown.code === PERMISSION_DENIED) {
      log.debug('the provider may not read users: not listing them', { reason: thrown.etcdMessage });
      return [];
    }
    throw thrown;
  }
  const observed = [];
  for (const name of ids) {
    if (!names.has(name)) continue;
    const roles = userRoles(etcd, name);
    if (roles) observed.push({ typeName: USER.name, state: { name, roles }, vouched: false });
  }
  return observed;
}

/**
 * The roles etcd grants the user, sorted; undefined when it does not exist.
 * @param {Etcd} etcd
 * @param {string} name
 * @returns {string[]|undefined}
 */
function userRoles(etcd, name) {
  try {
    return [...(etcd.call('auth/user/get', { name }, `read the user \`${name}\``).roles ?? [])].sort(compareBytes);
  } catch (thrown) {
    if (thrown instanceof EtcdError && thrown.kind === 'not-found') return undefined;
    throw thrown;
  }
}

/** The field change that sends the password: its value is never shown. */
function passwordField() {
  return { path: 'password', before: undefined, after: '(sensitive)', sensitive: true };
}

/**
 * A user's change. etcd shows a user's roles only: they are compared with
 * the spec; the password is sent again when `password_version` differs
 * from the last apply's, and a change of `no_password` (which etcd cannot
 * make on a user) replaces the user.
 * @param {import('../cairn-sdk/diff.js').DiffInput} input
 */
function diffUser(input) {
  const { desired, observed, prior } = input;
  /** The change of `action`, with `fields` and their summary. */
  const change = (action, fields) => ({
    action,
    summary: summarize(action, fields),
    fields,
    desired,
    observed,
    diagnostics: [],
  });
  if (!desired) return change(observed ? 'delete' : 'no-op', []);
  if (!observed) {
    const { password, ...shown } = desired;
    const fields = fieldChanges(undefined, shown);
    if (password) fields.push(passwordField());
    return change('create', fields);
  }
  const fields = fieldChanges({ roles: observed.roles ?? [] }, { roles: desired.roles });
  let action = 'update';
  if (prior && (prior.no_password === true) !== (desired.no_password === true)) {
    fields.push({ path: 'no_password', before: prior.no_password, after: desired.no_password, sensitive: false });
    action = 'replace';
  }
  // A user made again gets its password with it.
  const resend = action === 'replace' || desired.password_version !== prior?.password_version;
  if (desired.password && resend) fields.push(passwordField());
  if (prior && prior.password_version !== desired.password_version) {
    fields.push({ path: 'password_version', before: prior.password_version, after: desired.password_version, sensitive: false });
  }
  return change(fields.length === 0 ? 'no-op' : action, fields);
}

/**
 * The password a user's spec names, from this instance's secrets.
 * @param {{password?: {secret: string}}} desired
 * @param {import('../cairn-sdk/errors.js').Secrets} secrets
 * @returns {string|undefined}
 */
function passwordOf(desired, secrets) {
  if (!desired.password) return undefined;
  const value = secrets.get(desired.password.secret);
  if (value === undefined) {
    throw ProviderError.invalid(
      `the password names the secret \`${desired.password.secret}\`, which this provider instance does not have: add it to \`secrets\` in cairn.toml`,
    );
  }
  return value;
}

/**
 * The state a user is recorded with after an apply: what etcd shows, and
 * the fields only Cairn keeps (the password's name stays out: it is
 * sensitive, and never recorded).
 * @param {any} desired
 */
function userState(desired) {
  const state = { name: desired.name, roles: desired.roles };
  if (desired.password_version !== undefined) state.password_version = desired.password_version;
  if (desired.no_password) state.no_password = true;
  return state;
}

/**
 * Adds the user, with its password or none; a name taken is a `conflict`
 * and nothing is made.
 * @param {any} desired
 * @param {Configured} configured
 */
function addUser(desired, { etcd, secrets }) {
  const body = desired.no_password
    ? { name: desired.name, options: { no_password: true } }
    : { name: desired.name, password: passwordOf(desired, secrets) };
  try {
    etcd.call('auth/user/add', body, `add the user \`${desired.name}\``);
  } catch (thrown) {
    if (thrown instanceof EtcdError && thrown.kind === 'conflict') {
      throw ProviderError.conflict(
        `the user \`${desired.name}\` exists in etcd and this provider instance does not know it as its own (etcd users carry no owner mark)`,
      );
    }
    throw thrown;
  }
}

/**
 * Deletes the user; one already gone is deleted.
 * @param {Etcd} etcd
 * @param {string} name
 */
function deleteUser(etcd, name) {
  try {
    etcd.call('auth/user/delete', { name }, `delete the user \`${name}\``);
  } catch (thrown) {
    if (!(thrown instanceof EtcdError && thrown.kind === 'not-found')) throw thrown;
  }
}

/**
 * Grants the user the roles it lacks and revokes those not wanted, from
 * the roles etcd grants it now.
 * @param {Etcd} etcd
 * @param {string} name
 * @param {string[]} held
 * @param {string[]} wanted
 */
function grantRoles(etcd, name, held, wanted) {
  for (const role of wanted) {
    if (held.includes(role)) continue;
    etcd.call('auth/user/grant', { user: name, role }, `grant the user \`${name}\` the role \`${role}\``);
  }
  for (const role of held) {
    if (wanted.includes(role)) continue;
    try {
      etcd.call('auth/user/revoke', { name, role }, `revoke the role \`${role}\` from the user \`${name}\``);
    } catch (thrown) {
      if (!(thrown instanceof EtcdError && thrown.kind === 'not-found')) throw thrown;
    }
  }
}

/**
 * Creates, changes, replaces or deletes one user.
 * @param {import('../cairn-sdk/diff.js').Change} change
 * @param {Configured} configured
 */
function applyUser(change, configured) {
  const { etcd, secrets } = configured;
  if (change.action === 'delete') {
    deleteUser(etcd, change.observed.name);
    return undefined;
  }
  const desired = change.desired;
  if (change.action === 'replace') deleteUser(etcd, desired.name);
  let held = change.action === 'update' ? userRoles(etcd, desired.name) : undefined;
  if (!held) {
    addUser(desired, configured);
    held = [];
  } else if (change.fields.some((field) => field.path === 'password')) {
    etcd.call(
      'auth/user/changepw',
      { name: desired.name, password: passwordOf(desired, secrets) },
      `change the password of the user \`${desired.name}\``,
    );
  }
  grantRoles(etcd, desired.name, held, desired.roles);
  return userState(desired);
}
