// Specs in canonical form, and the specs refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUtf8, prefixEnd, text, utf8 } from '../src/bytes.js';
import { validateKey, validateRole, validateUser } from '../src/types.js';

/** The prefix end of a key as text, as the provider computes it. */
function prefixEndText(key) {
  const end = prefixEnd(utf8(key));
  return isUtf8(end) ? text(end) : undefined;
}

/** The paths of the diagnostics `call` throws. */
function refusedAt(call) {
  try {
    call();
  } catch (error) {
    return error.diagnostics.map((d) => d.path);
  }
  assert.fail('not refused');
}

test('a key is kept as written', () => {
  assert.deepEqual(validateKey({ key: 'Web/URL', value: '' }), { key: 'Web/URL', value: '' });
});

test('keys of the provider, revisions and control characters are refused', () => {
  assert.deepEqual(refusedAt(() => validateKey({ key: '.cairn/owner/a', value: 'v' })), ['key']);
  assert.deepEqual(refusedAt(() => validateKey({ key: 'a', value: 'v', mod_revision: 3 })), ['mod_revision']);
  assert.deepEqual(refusedAt(() => validateKey({ key: 'a\nb', value: 'v' })), ['key']);
  assert.deepEqual(refusedAt(() => validateKey({ key: 'a', value: 'v'.repeat(1024 * 1024 + 1) })), ['value']);
});

test('permissions are a set, each range written one way', () => {
  const role = validateRole(
    {
      name: 'app',
      permissions: [
        { key: '/b', type: 'READ' },
        { key: '/a/', range_end: '/a0', type: 'read' },
        { key: '', from_key: true, type: 'write' },
        { key: '/z', range_end: '\u0000', type: 'readwrite' },
        { key: '/a/', prefix: true, type: 'read' },
        { key: '/c', prefix: false, range_end: '/cz', type: 'read' },
      ],
    },
    prefixEndText,
  );
  assert.deepEqual(role, {
    name: 'app',
    permissions: [
      { key: '', type: 'write', prefix: true },
      { key: '/a/', type: 'read', prefix: true },
      { key: '/b', type: 'read' },
      { key: '/c', type: 'read', range_end: '/cz' },
      { key: '/z', type: 'readwrite', from_key: true },
    ],
  });
  assert.deepEqual(validateRole(role, prefixEndText), role);
});

test('a role with a range twice, backwards or doubly given, or root, is refused', () => {
  assert.deepEqual(
    refusedAt(() => validateRole({ name: 'r', permissions: [{ key: '/a', type: 'read' }, { key: '/a', type: 'write' }] }, prefixEndText)),
    ['permissions/1'],
  );
  assert.deepEqual(refusedAt(() => validateRole({ name: 'r', permissions: [{ key: '/b', range_end: '/a', type: 'read' }] }, prefixEndText)), [
    'permissions/0/range_end',
  ]);
  assert.deepEqual(refusedAt(() => validateRole({ name: 'r', permissions: [{ key: '/a', prefix: true, from_key: true, type: 'read' }] }, prefixEndText)), [
    'permissions/0',
  ]);
  assert.deepEqual(refusedAt(() => validateRole({ name: 'root' }, prefixEndText)), ['name']);
  assert.deepEqual(refusedAt(() => validateRole({ name: 'r', permissions: [{ key: '/a', type: 'admin' }] }, prefixEndText)), ['permissions/0/type']);
});

test('a user has sorted roles and a password by its secret\'s name', () => {
  assert.deepEqual(validateUser({ name: 'u', roles: ['b', 'a', 'b'], password: { secret: 'pw' }, password_version: 1 }), {
    name: 'u',
    roles: ['a', 'b'],
    password: { secret: 'pw' },
    password_version: 1,
  });
  assert.deepEqual(validateUser({ name: 'c', no_password: true }), { name: 'c', roles: [], no_password: true });
});

test('a password in Git is refused without being quoted', () => {
  try {
    validateUser({ name: 'u', password: 'hunter2-in-git' });
    assert.fail('not refused');
  } catch (error) {
    assert.deepEqual(error.diagnostics.map((d) => d.path), ['password']);
    assert.ok(!JSON.stringify(error.diagnostics).includes('hunter2'));
  }
});

test('a user without a password says so, and root keeps its role', () => {
  assert.deepEqual(refusedAt(() => validateUser({ name: 'u' })), ['']);
  assert.deepEqual(refusedAt(() => validateUser({ name: 'u', no_password: true, password: { secret: 's' } })), ['no_password']);
  assert.deepEqual(refusedAt(() => validateUser({ name: 'u', no_password: true, password_version: 2 })), ['password_version']);
  assert.deepEqual(refusedAt(() => validateUser({ name: 'root', password: { secret: 's' } })), ['roles']);
});
