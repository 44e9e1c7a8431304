import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceType, idOf, MissingIdentity, refusal, Declarations } from '../resource.js';

const object = resourceType({ name: 'object', identity: ['metadata/namespace?', 'kind', 'metadata/name'] });

test('identity fields may be nested and optional', () => {
  assert.equal(idOf(object, { kind: 'ConfigMap', metadata: { name: 'a', namespace: 'web' } }), 'web/ConfigMap/a');
  assert.equal(idOf(object, { kind: 'Namespace', metadata: { name: 'web' } }), 'Namespace/web');
  assert.equal(idOf(object, { kind: 'Namespace', metadata: { name: 'web', namespace: null } }), 'Namespace/web');
  assert.throws(
    () => idOf(object, { kind: 'Namespace', metadata: {} }),
    (error) => error instanceof MissingIdentity && error.field === 'metadata/name' && error.kind === 'invalid',
  );
});

test('numbers count as JSON writes them, empty strings and other values do not', () => {
  const port = resourceType({ name: 'port', identity: ['host', 'port'] });
  assert.equal(idOf(port, { host: 'a', port: 80 }), 'a/80');
  assert.equal(idOf(port, { host: 'a', port: 0.5 }), 'a/0.5');
  for (const [spec, field] of [
    [{ host: '', port: 80 }, 'host'],
    [{ host: 'a', port: true }, 'port'],
    [{ host: 'a', port: null }, 'port'],
    [{ host: 'a', port: [80] }, 'port'],
    [{ host: 'a' }, 'port'],
    [{ host: { name: 'a' }, port: 80 }, 'host'],
  ]) {
    assert.throws(() => idOf(port, spec), (error) => error.field === field, JSON.stringify(spec));
  }
});

test('an optional field present but empty is missing, not left out', () => {
  const type = resourceType({ name: 't', identity: ['zone?', 'name'] });
  assert.throws(() => idOf(type, { zone: '', name: 'a' }), (error) => error.field === 'zone');
});

test('a path goes into objects only, never into arrays', () => {
  const type = resourceType({ name: 't', identity: ['items/0'] });
  assert.throws(() => idOf(type, { items: ['a'] }), (error) => error.field === 'items/0');
});

const info = {
  name: 'kv',
  version: '1.0.0',
  description: '',
  resourceTypes: [resourceType({ name: 'entry', identity: ['bucket', 'key'] })],
  configSchema: {},
};

test('an id its spec gives is accepted', () => {
  const spec = { bucket: 'b', key: 'k' };
  assert.equal(refusal(info, 'entry', 'b/k', spec, undefined), undefined);
  assert.equal(refusal(info, 'entry', 'b/k', undefined, spec), undefined);
  assert.equal(refusal(info, 'entry', 'b/k', undefined, undefined), undefined);
});

test('an id of another object is refused as invalid', () => {
  const spec = { bucket: 'b', key: 'k' };
  const error = refusal(info, 'entry', 'b/other', spec, undefined);
  assert.equal(error.kind, 'invalid');
  assert.match(error.message, /`b\/other`/);
  assert.match(error.message, /give `b\/k`/);
  assert.match(refusal(info, 'entry', 'b/other', undefined, spec).message, /observed state/);
  // The desired spec decides, whatever the observed state says.
  assert.equal(refusal(info, 'entry', 'b/other', spec, { bucket: 'b', key: 'other' }).kind, 'invalid');
});

test('a desired spec without its identity is refused', () => {
  const error = refusal(info, 'entry', 'b/k', { bucket: 'b' }, undefined);
  assert.equal(error.kind, 'invalid');
  assert.match(error.message, /no `key`/);
});

test('an observed state without its identity is not held against the id', () => {
  assert.equal(refusal(info, 'entry', 'b/k', undefined, { value: 'v' }), undefined);
});

test('an unknown type is refused with the types there are', () => {
  const error = refusal(info, 'bucket', 'b', undefined, undefined);
  assert.equal(error.kind, 'invalid');
  assert.equal(error.message, '`kv` has no resource type `bucket` (it has entry)');
});

test('inputs with a desired spec and the others are declared', () => {
  const declarations = new Declarations(
    [
      { typeName: 'user', id: 'alan', desired: {} },
      { typeName: 'user', id: 'gone', desired: undefined },
    ],
    [{ typeName: 'group', id: 'admins' }],
  );
  assert.ok(declarations.contains('user', 'alan'));
  assert.ok(!declarations.contains('user', 'gone'), 'leaving Git');
  assert.ok(declarations.contains('group', 'admins'));
  assert.ok(!declarations.contains('group', 'alan'));
  assert.deepEqual(declarations.ids('user'), ['alan']);
});

test('a resource type gets defaults and refuses lists that are not field names', () => {
  const type = resourceType({ name: 'entry', identity: ['key'] });
  assert.deepEqual(type.forceReplace, []);
  assert.deepEqual(type.sensitive, []);
  assert.deepEqual(type.schema, {});
  assert.throws(() => resourceType({ name: 'entry', identity: 'key' }), TypeError);
  assert.throws(() => resourceType({ identity: ['key'] }), TypeError);
});

test('an identity list that may change is read each time', () => {
  const type = { name: 'record', identity: ['name'] };
  assert.equal(idOf(type, { name: 'a', zone: 'z' }), 'a');
  type.identity.push('zone');
  assert.equal(idOf(type, { name: 'a', zone: 'z' }), 'a/z');
  const frozen = resourceType({ name: 'record', identity: ['zone', 'name?'] });
  assert.equal(idOf(frozen, { zone: 'z' }), 'z');
  assert.equal(idOf(frozen, { zone: 'z', name: 5 }), 'z/5');
  assert.throws(() => idOf(frozen, { name: 'a' }), (error) => error instanceof MissingIdentity && error.field === 'zone');
});
