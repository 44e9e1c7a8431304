import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, fieldChanges, jsonEqual, summarize } from '../diff.js';
import { resourceType } from '../resource.js';

const input = (desired, observed) => ({ typeName: 'record', id: 'a/A', desired, observed, prior: undefined });

test('nested fields are reported by path, in sorted order', () => {
  const changes = fieldChanges({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: 1, c: 3 }, d: [1, 2] });
  assert.deepEqual(
    changes.map((c) => c.path),
    ['a/c', 'd'],
  );
  assert.equal(changes[0].before, 2);
  assert.equal(changes[0].after, 3);
});

test('null and an absent field are equal', () => {
  assert.deepEqual(fieldChanges({ a: 1, b: null }, { a: 1 }), []);
  assert.ok(jsonEqual({ a: null }, {}));
  assert.ok(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  const change = compare(input({ a: 1, note: null }, { a: 1 }), undefined);
  assert.equal(change.action, 'no-op');
});

test('force-replace fields turn an update into a replace', () => {
  const rules = resourceType({ name: 'record', identity: ['name'], forceReplace: ['kind'] });
  const change = compare(input({ kind: 'x' }, { kind: 'y' }), rules);
  assert.equal(change.action, 'replace');
  assert.equal(change.summary, 'replace kind: "y" → "x"');
  const nested = resourceType({ name: 'record', identity: ['name'], forceReplace: ['spec'] });
  assert.equal(compare(input({ spec: { a: 1 } }, { spec: { a: 2 } }), nested).action, 'replace');
});

test('sensitive values never reach the summary', () => {
  const rules = resourceType({ name: 'user', identity: ['name'], sensitive: ['password'] });
  const change = compare(input({ password: 'new' }, { password: 'old' }), rules);
  assert.equal(change.action, 'update');
  assert.ok(change.fields[0].sensitive);
  assert.equal(change.summary, 'update password (sensitive)');
  const create = compare(input({ password: 'new' }, undefined), rules);
  assert.ok(create.fields.every((field) => field.sensitive), 'the whole spec holds the password');
});

test('equal documents are a no-op and missing ones create or delete', () => {
  const same = compare(input({ a: 1 }, { a: 1 }));
  assert.equal(same.action, 'no-op');
  assert.equal(same.summary, 'no changes');
  assert.deepEqual(same.fields, []);
  assert.equal(compare(input({ a: 1 }, undefined)).action, 'create');
  assert.equal(compare(input(undefined, { a: 1 })).action, 'delete');
  assert.equal(compare(input(undefined, undefined)).action, 'no-op');
});

test('a change carries its input and a summary of unset fields', () => {
  const change = compare(input({ a: 1, b: 2 }, { a: 1 }));
  assert.equal(change.typeName, 'record');
  assert.equal(change.id, 'a/A');
  assert.deepEqual(change.desired, { a: 1, b: 2 });
  assert.deepEqual(change.observed, { a: 1 });
  assert.deepEqual(change.diagnostics, []);
  assert.equal(change.summary, 'update b: (unset) → 2');
  assert.equal(summarize('create', []), 'create');
});
