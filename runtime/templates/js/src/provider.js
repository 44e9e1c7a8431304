// {{name}}: a Cairn provider of key/value entries kept by an HTTP service
// at `{url}/entries/{key}`, written by `cairn plugin new`.
//
// It follows every rule of the contract (`cairn:provider@{{contract}}`);
// replace the service's calls with your own server's and keep the rules:
// - `validate` returns the canonical spec (the key lower-cased), which
//   `list` reads back in the same shape, so an unchanged repository plans
//   nothing and an applied change converges;
// - the id is the identity field (`key`), built by the host;
// - `apply` is idempotent: a delete of an entry already gone succeeds;
// - errors carry their kind (`unauthorized`, `unavailable`, `conflict`…),
//   which the SDK's HTTP client derives from the status;
// - every entry it writes carries the owner mark `configure` receives, and
//   `list` vouches for the entries that bear it;
// - the token is a secret: it goes into a header, never into a state or
//   a log.
//
// The SDK (`cairn-sdk/`) converts the contract's values to plain ones,
// refuses a change whose id is not its spec's before this code runs, and
// turns anything thrown into an error of the right kind.

import { Client, Invalid, ProviderError, applyEach, ensureValid, exportProvider, log, resourceType } from '../cairn-sdk/index.js';

/** The provider's version: bump it with every release. */
const VERSION = '0.1.0';

/** The resource type this provider manages. */
const ENTRY = resourceType({
  name: 'entry',
  description: 'one key and its value',
  schema: {
    type: 'object',
    properties: {
      key: { type: 'string', description: "the entry's key, any case; compared lower-cased" },
      value: { type: 'string', description: 'what the entry holds' },
    },
    required: ['key', 'value'],
    additionalProperties: false,
  },
  identity: ['key'],
});

/** The operator's `config` table. */
const CONFIG_SCHEMA = {
  type: 'object',
  properties: { url: { type: 'string', description: "the service's root URL" } },
  required: ['url'],
  additionalProperties: false,
};

/** The component's `provider` interface: the SDK wraps these functions. */
export const provider = exportProvider({
  describe() {
    return {
      name: '{{name}}',
      version: VERSION,
      description: 'key/value entries of an HTTP service',
      resourceTypes: [ENTRY],
      configSchema: CONFIG_SCHEMA,
    };
  },

  // What this returns is handed to `list` and `apply` (each call runs in
  // a fresh instance, configured first).
  configure(config, secrets, owner) {
    ensureValid(config, CONFIG_SCHEMA, 'config');
    const token = secrets.require('token');
    const client = new Client(config.url, { authorization: `Bearer ${token}` });
    return { client, owner };
  },

  // The SDK has already refused a type this provider does not have.
  validate(typeName, spec) {
    ensureValid(spec, ENTRY.schema);
    if (spec.key.trim() === '') {
      throw Invalid.at('key', 'the key is empty', 'give the entry a key such as "greeting"');
    }
    return { key: spec.key.toLowerCase(), value: spec.value };
  },

  list(scope, { client, owner }) {
    if (!scope.wants(ENTRY.name)) return [];
    const stored = client.getJson('/entries');
    log.debug('listed the entries', { count: stored.length });
    // The id is left to the SDK, which builds it from the identity field.
    return stored.map((entry) => ({
      typeName: ENTRY.name,
      state: { key: entry.key, value: entry.value },
      vouched: entry.made_by === owner,
    }));
  },

  // `diff` keeps the SDK's default: a field-by-field comparison of the
  // canonical spec with the observed state.

  apply(changes, configured) {
    return applyEach(changes, (change) => applyOne(change, configured));
  },
});

/** Makes one change; returns the entry's new state. */
function applyOne(change, { client, owner }) {
  const path = `/entries/${change.id}`;
  switch (change.action) {
    case 'no-op':
      return change.observed;
    case 'delete': {
      // Idempotent: an entry already gone is deleted.
      const response = client.send('DELETE', path);
      if (response.status !== 404) response.check(`DELETE ${path}`);
      return undefined;
    }
    default: {
      const { key, value } = change.desired;
      if (change.action === 'create') refuseSomeoneElses(client, path, owner);
      client.sendJson('PUT', path, { key, value, made_by: owner });
      return { key, value };
    }
  }
}

/** A create finds an entry made by someone else: a conflict, and nothing is made. */
function refuseSomeoneElses(client, path, owner) {
  const response = client.send('GET', path);
  if (response.status === 404) return;
  const existing = response.check(`GET ${path}`).json();
  if (existing.made_by === owner) return;
  throw ProviderError.conflict(`the entry \`${existing.key}\` exists and this provider did not make it`);
}
