import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportProvider } from '../export.js';
import { Invalid, ProviderError, Valid, applied, applyEach } from '../errors.js';
import { resourceType } from '../resource.js';
import { ensureValid } from '../spec.js';

const ENTRY = resourceType({
  name: 'entry',
  description: 'one key and its value',
  schema: {
    type: 'object',
    properties: { key: { type: 'string' }, value: { type: 'string' } },
    required: ['key', 'value'],
    additionalProperties: false,
  },
  identity: ['key'],
  sensitive: ['value'],
});

/** A provider that records what reaches its code. */
function fixture(overrides = {}) {
  const seen = { diff: [], apply: [] };
  const provider = exportProvider({
    describe: () => ({ name: 'kv', version: '0.1.0', description: 'entries', resourceTypes: [ENTRY], configSchema: {} }),
    configure: (config, secrets, owner) => ({ config, token: secrets.require('token'), owner }),
    validate(typeName, spec) {
      ensureValid(spec, ENTRY.schema);
      if (spec.key === '') throw Invalid.at('key', 'the key is empty', 'give the entry a key');
      return { key: spec.key.toLowerCase(), value: spec.value };
    },
    list: () => [{ typeName: 'entry', state: { key: 'a', value: 'x' }, vouched: true }],
    apply: (changes, configured) => {
      seen.apply.push(...changes.map((c) => c.id));
      return applyEach(changes, (change) => change.desired);
    },
    ...overrides,
  });
  return { provider, seen };
}

const configure = (provider) =>
  provider.configure('{"url": "http://127.0.0.1:1"}', [{ name: 'token', value: 'secret-token' }], 'cairn-0123');

const rejection = async (promise) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
};

const witChange = (id, desired, action = 'create') => ({
  typeName: 'entry',
  id,
  action,
  summary: '',
  fields: [],
  desired: desired === undefined ? undefined : JSON.stringify(desired),
  observed: undefined,
  diagnostics: [],
  recheckAfter: undefined,
});

test('describe writes the schemas as JSON text', () => {
  const info = fixture().provider.describe();
  assert.equal(info.resourceTypes[0].name, 'entry');
  assert.deepEqual(JSON.parse(info.resourceTypes[0].schema), ENTRY.schema);
  assert.deepEqual(info.resourceTypes[0].forceReplace, []);
  assert.equal(info.configSchema, '{}');
});

test('validate returns the canonical spec, or diagnostics with paths', () => {
  const { provider } = fixture();
  const [ok, empty, typo, unknown, notJson] = provider.validate([
    { typeName: 'entry', spec: '{"key": "Greeting", "value": "hello"}' },
    { typeName: 'entry', spec: '{"key": "", "value": "x"}' },
    { typeName: 'entry', spec: '{"key": "typo", "valeu": "x"}' },
    { typeName: 'bucket', spec: '{}' },
    { typeName: 'entry', spec: '{' },
  ]);
  assert.equal(ok.canonical, '{"key":"greeting","value":"hello"}');
  assert.deepEqual(ok.diagnostics, []);
  assert.equal(empty.canonical, undefined);
  assert.deepEqual(empty.diagnostics, [{ path: 'key', severity: 'error', message: 'the key is empty', help: 'give the entry a key' }]);
  assert.deepEqual(
    typo.diagnostics.map((d) => [d.path, d.message]),
    [
      ['valeu', 'unknown field `valeu`: expected one of key, value'],
      ['', 'missing field `value`'],
    ],
  );
  assert.equal(unknown.canonical, undefined);
  assert.equal(unknown.diagnostics[0].severity, 'error');
  assert.match(unknown.diagnostics[0].message, /unknown resource type `bucket`/);
  assert.match(notJson.diagnostics[0].message, /not JSON/);
});

test('validate: warnings, a canonical spec without its identity, and a bug', () => {
  const { provider } = fixture({
    validate(typeName, spec) {
      if (spec.key === 'warn') return new Valid(spec, [{ path: 'value', message: 'probably wrong' }]);
      if (spec.key === 'lost') return { value: spec.value };
      return spec.nothing.there;
    },
  });
  const [warned, lost, bug] = provider.validate([
    { typeName: 'entry', spec: '{"key": "warn", "value": "x"}' },
    { typeName: 'entry', spec: '{"key": "lost", "value": "x"}' },
    { typeName: 'entry', spec: '{"key": "bug", "value": "x"}' },
  ]);
  assert.equal(warned.canonical, '{"key":"warn","value":"x"}');
  assert.equal(warned.diagnostics[0].severity, 'warning');
  assert.equal(lost.canonical, undefined);
  assert.equal(lost.diagnostics[0].path, 'key');
  assert.equal(bug.canonical, undefined);
  assert.match(bug.diagnostics[0].message, /^the provider's validate failed: TypeError: /);
});

test('configure fails with the kind the provider gives, as a plain record', async () => {
  const { provider } = fixture();
  const error = await rejection(provider.configure('{}', [], 'cairn-0123'));
  assert.equal(Object.getPrototypeOf(error), Object.prototype, 'a plain record, never an Error');
  assert.equal(error.kind, 'invalid');
  assert.match(error.message, /the secret `token` is missing/);
});

test('calls before configure fail as internal', async () => {
  const { provider } = fixture();
  const error = await rejection(provider.list({ typeNames: ['entry'], ids: [] }));
  assert.deepEqual(error, { kind: 'internal', message: 'the host called the provider before `configure`' });
});

test('list builds a missing id from the state and writes it as JSON', async () => {
  const { provider } = fixture();
  await configure(provider);
  const observed = await provider.list({ typeNames: ['entry'], ids: [] });
  assert.deepEqual(observed, [{ typeName: 'entry', id: 'a', state: '{"key":"a","value":"x"}', vouched: true }]);
});

test('an unexpected exception is an internal error carrying its message, never a trap', async () => {
  const { provider } = fixture({
    list() {
      return undefined.length;
    },
    apply() {
      throw new RangeError('out of range');
    },
  });
  await configure(provider);
  const error = await rejection(provider.list({ typeNames: ['entry'], ids: [] }));
  assert.equal(error.kind, 'internal');
  assert.match(error.message, /^the provider's list failed: TypeError: /);
  const outcomes = await provider.apply([witChange('a', { key: 'a', value: 'x' })]);
  assert.deepEqual(outcomes, [
    { tag: 'failed', val: { kind: 'internal', message: "the provider's apply failed: RangeError: out of range" } },
  ]);
});

test('diff defaults to a field-by-field comparison with the type sensitive fields', async () => {
  const { provider } = fixture();
  await configure(provider);
  const changes = await provider.diff(
    [
      { typeName: 'entry', id: 'a', desired: '{"key":"a","value":"new"}', observed: '{"key":"a","value":"old"}', prior: undefined },
      { typeName: 'entry', id: 'b', desired: '{"key":"b","value":"x"}', observed: undefined, prior: undefined },
      { typeName: 'entry', id: 'c', desired: undefined, observed: '{"key":"c","value":"x"}', prior: undefined },
      { typeName: 'entry', id: 'd', desired: '{"key":"d","value":"x"}', observed: '{"key":"d","value":"x","note":null}', prior: undefined },
    ],
    [],
  );
  assert.deepEqual(
    changes.map((c) => c.action),
    ['update', 'create', 'delete', 'no-op'],
  );
  assert.equal(changes[0].summary, 'update value (sensitive)');
  assert.deepEqual(changes[0].fields, [{ path: 'value', before: '"old"', after: '"new"', sensitive: true }]);
  assert.equal(changes[1].desired, '{"key":"b","value":"x"}');
  assert.equal(changes[2].desired, undefined);
  assert.equal(changes[2].observed, '{"key":"c","value":"x"}');
});

test('an unchanged input is a no-op carrying the texts the host sent', async () => {
  const { provider } = fixture();
  await configure(provider);
  // A number as serde_json writes it (`1.0`, which JSON.stringify writes
  // `1`) comes back as the host wrote it.
  const same = '{"key":"a","value":"x","weight":1.0}';
  const changes = await provider.diff(
    [
      { typeName: 'entry', id: 'a', desired: same, observed: same, prior: undefined },
      { typeName: 'entry', id: 'b', desired: '{"key":"b","value":"new"}', observed: '{"key":"b","value":"old"}', prior: undefined },
      { typeName: 'entry', id: 'c', desired: '{"key":"c","value":"x"}', observed: '{"key":"c","value":"x"}', prior: same },
    ],
    [],
  );
  assert.deepEqual(changes[0], {
    typeName: 'entry',
    id: 'a',
    action: 'no-op',
    summary: 'no changes',
    fields: [],
    desired: same,
    observed: same,
    diagnostics: [],
    recheckAfter: undefined,
  });
  assert.deepEqual(
    changes.map((c) => c.action),
    ['no-op', 'update', 'no-op'],
  );
  assert.equal(changes[1].summary, 'update value (sensitive)');
});

test('an unchanged input for another object is refused all the same', async () => {
  const { provider } = fixture();
  await configure(provider);
  const same = '{"key":"a","value":"x"}';
  for (const id of ['a-foreign-to-its-spec', 'A']) {
    const error = await rejection(
      provider.diff(
        [
          { typeName: 'entry', id: 'a', desired: same, observed: same, prior: undefined },
          { typeName: 'entry', id, desired: same, observed: same, prior: undefined },
        ],
        [],
      ),
    );
    assert.equal(error.kind, 'invalid');
    assert.match(error.message, new RegExp(`the id \`${id}\` is not the entry its desired spec describes`));
  }
  const missing = await rejection(
    provider.diff([{ typeName: 'entry', id: 'a', desired: '{"value":"x"}', observed: '{"value":"x"}', prior: undefined }], []),
  );
  assert.match(missing.message, /has no `key`, which identifies it/);
  const unknown = await rejection(provider.diff([{ typeName: 'bucket', id: 'a', desired: same, observed: same, prior: undefined }], []));
  assert.equal(unknown.kind, 'invalid');
});

test("a provider's own diff gets values of its own, even for equal texts", async () => {
  const seen = [];
  const { provider } = fixture({
    diff(inputs) {
      return inputs.map((input) => {
        seen.push(input.desired === input.observed);
        input.desired.value = 'changed';
        return { action: input.observed.value === 'changed' ? 'no-op' : 'update' };
      });
    },
  });
  await configure(provider);
  const same = '{"key":"a","value":"x"}';
  const [change] = await provider.diff([{ typeName: 'entry', id: 'a', desired: same, observed: same, prior: undefined }], []);
  assert.deepEqual(seen, [false]);
  assert.equal(change.action, 'update');
  assert.equal(change.observed, same);
  assert.equal(change.desired, '{"key":"a","value":"changed"}');
});

test('diff refuses a foreign id or an unknown type before the provider code', async () => {
  let reached = false;
  const { provider } = fixture({
    diff(inputs) {
      reached = true;
      return inputs.map(() => ({ action: 'no-op' }));
    },
  });
  await configure(provider);
  const foreign = await rejection(
    provider.diff(
      [
        { typeName: 'entry', id: 'a', desired: '{"key":"a","value":"x"}', observed: undefined, prior: undefined },
        { typeName: 'entry', id: 'a-foreign-to-its-spec', desired: '{"key":"a","value":"x"}', observed: undefined, prior: undefined },
      ],
      [],
    ),
  );
  assert.equal(foreign.kind, 'invalid');
  assert.match(foreign.message, /the id `a-foreign-to-its-spec` is not the entry its desired spec describes/);
  const deleted = await rejection(
    provider.diff([{ typeName: 'entry', id: 'b', desired: undefined, observed: '{"key":"a","value":"x"}', prior: undefined }], []),
  );
  assert.match(deleted.message, /observed state/);
  const unknown = await rejection(provider.diff([{ typeName: 'bucket', id: 'a', desired: '{}', observed: undefined, prior: undefined }], []));
  assert.equal(unknown.kind, 'invalid');
  assert.equal(reached, false);
  // A delete whose observed state lacks the identity is not held against the id.
  const changes = await provider.diff([{ typeName: 'entry', id: 'b', desired: undefined, observed: '{"value":"x"}', prior: undefined }], []);
  assert.equal(changes.length, 1);
  assert.equal(reached, true);
});

test('diff gives the provider the declarations and checks one change per input, in order', async () => {
  const inputs = [
    { typeName: 'entry', id: 'a', desired: '{"key":"a","value":"x"}', observed: undefined, prior: undefined },
    { typeName: 'entry', id: 'b', desired: '{"key":"b","value":"x"}', observed: undefined, prior: undefined },
  ];
  let declared;
  const short = fixture({
    diff(given, declarations) {
      declared = declarations;
      return [{ action: 'create' }];
    },
  }).provider;
  await configure(short);
  const error = await rejection(short.diff(inputs, [{ typeName: 'entry', id: 'z' }]));
  assert.deepEqual(error, { kind: 'internal', message: 'diff returned 1 changes for 2 inputs' });
  assert.ok(declared.contains('entry', 'a') && declared.contains('entry', 'z') && !declared.contains('entry', 'y'));
  const swapped = fixture({ diff: (given) => given.reverse().map((i) => ({ typeName: i.typeName, id: i.id, action: 'create' })) }).provider;
  await configure(swapped);
  assert.match((await rejection(swapped.diff(inputs, []))).message, /in the place of entry `a`/);
  const filled = fixture({
    diff: (given) => given.map(() => ({ action: 'create', diagnostics: [{ path: 'value', message: 'no such thing' }], recheckAfter: 30 })),
  }).provider;
  await configure(filled);
  const [change] = await filled.diff(inputs.slice(0, 1), []);
  assert.equal(change.typeName, 'entry');
  assert.equal(change.id, 'a');
  assert.equal(change.summary, 'create');
  assert.equal(change.desired, '{"key":"a","value":"x"}');
  assert.deepEqual(change.diagnostics, [{ path: 'value', severity: 'error', message: 'no such thing', help: undefined }]);
  assert.equal(change.recheckAfter, 30);
});

test('apply fails a foreign change with invalid and applies the rest', async () => {
  const { provider, seen } = fixture();
  await configure(provider);
  const outcomes = await provider.apply([
    witChange('a', { key: 'a', value: 'x' }),
    witChange('a-foreign-to-its-spec', { key: 'a', value: 'x' }),
    witChange('gone', undefined, 'delete'),
    { ...witChange('c', { key: 'c', value: 'x' }), typeName: 'bucket' },
  ]);
  assert.deepEqual(seen.apply, ['a', 'gone']);
  assert.deepEqual(outcomes[0], { tag: 'applied', val: '{"key":"a","value":"x"}' });
  assert.equal(outcomes[1].tag, 'failed');
  assert.equal(outcomes[1].val.kind, 'invalid');
  assert.match(outcomes[1].val.message, /refusing to act on an object other than the one named/);
  assert.deepEqual(outcomes[2], { tag: 'applied', val: undefined });
  assert.equal(outcomes[3].val.kind, 'invalid');
  assert.match(outcomes[3].val.message, /has no resource type `bucket`/);
});

test('apply checks one well-formed outcome per change', async () => {
  const short = fixture({ apply: () => [applied({ key: 'a' })] }).provider;
  await configure(short);
  const outcomes = await short.apply([witChange('a', { key: 'a', value: 'x' }), witChange('b', { key: 'b', value: 'x' })]);
  assert.equal(outcomes.length, 2);
  assert.ok(outcomes.every((o) => o.tag === 'failed' && o.val.message === 'apply returned 1 outcomes for 2 changes'));
  const odd = fixture({ apply: (changes) => changes.map(() => 'done') }).provider;
  await configure(odd);
  const [outcome] = await odd.apply([witChange('a', { key: 'a', value: 'x' })]);
  assert.equal(outcome.tag, 'failed');
  assert.match(outcome.val.message, /not applied\(state\), failed\(error\) or skipped\(reason\)/);
});

test('a change that fails keeps its kind; the others are applied', async () => {
  const { provider } = fixture({
    apply: (changes) =>
      applyEach(changes, async (change) => {
        if (change.id === 'taken') throw ProviderError.conflict('the entry `taken` exists and this provider did not make it');
        return change.desired;
      }),
  });
  await configure(provider);
  const outcomes = await provider.apply([witChange('taken', { key: 'taken', value: 'x' }), witChange('b', { key: 'b', value: 'y' })]);
  assert.deepEqual(outcomes, [
    { tag: 'failed', val: { kind: 'conflict', message: 'the entry `taken` exists and this provider did not make it' } },
    { tag: 'applied', val: '{"key":"b","value":"y"}' },
  ]);
});
