import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError, Invalid, Secrets, applyEach, failed, describeThrown } from '../errors.js';

test('each kind has a helper and unknown kinds are internal', () => {
  assert.equal(ProviderError.notFound('x').kind, 'not-found');
  assert.equal(ProviderError.unavailable('x').kind, 'unavailable');
  assert.equal(new ProviderError('oops', 'x').kind, 'internal');
  assert.deepEqual(ProviderError.conflict('taken').toRecord(), { kind: 'conflict', message: 'taken' });
});

test('anything thrown becomes a ProviderError', () => {
  assert.deepEqual(ProviderError.from({ kind: 'timeout', message: 'slow' }).toRecord(), { kind: 'timeout', message: 'slow' });
  assert.deepEqual(ProviderError.from(new TypeError('x is undefined')).toRecord(), { kind: 'internal', message: 'TypeError: x is undefined' });
  assert.equal(ProviderError.from('plain text').message, 'plain text');
  assert.equal(ProviderError.from(new TypeError('x'), 'list').message, "the provider's list failed: TypeError: x");
  assert.equal(ProviderError.from(ProviderError.timeout('slow'), 'list').message, 'slow');
  assert.equal(failed(new Error('boom')).error.message, 'Error: boom');
  // An error of another realm (the bindings') is recognised by its shape.
  assert.equal(describeThrown({ name: 'ComponentError', message: 'x', payload: { tag: 'closed' } }), 'ComponentError: closed');
});

test('Invalid carries its diagnostics and lists them in its message', () => {
  const invalid = new Invalid([{ path: 'key', message: 'the key is empty' }, { message: 'something else' }]);
  assert.equal(invalid.kind, 'invalid');
  assert.equal(invalid.message, 'key: the key is empty; something else');
  assert.deepEqual(invalid.diagnostics[1], { path: '', severity: 'error', message: 'something else', help: undefined });
});

test('secrets: require names the missing one, and values never show', () => {
  const secrets = new Secrets([{ name: 'token', value: 'hunter2-very-secret' }]);
  assert.equal(secrets.require('token'), 'hunter2-very-secret');
  assert.equal(secrets.get('other'), undefined);
  assert.throws(
    () => secrets.require('api_key'),
    (error) => error.kind === 'invalid' && error.message.includes('`api_key`') && error.message.includes('cairn.toml'),
  );
  assert.ok(!JSON.stringify(secrets).includes('hunter2'));
  assert.ok(!String(secrets).includes('hunter2'));
  assert.ok(!JSON.stringify({ secrets }).includes('hunter2'));
});

test('applyEach turns returned states and thrown errors into outcomes', async () => {
  const outcomes = await applyEach([1, 2, 3], async (n) => {
    if (n === 2) throw ProviderError.unavailable('down');
    if (n === 3) throw new TypeError('bug');
    return { n };
  });
  assert.deepEqual(outcomes[0], { tag: 'applied', state: { n: 1 } });
  assert.equal(outcomes[1].error.kind, 'unavailable');
  assert.equal(outcomes[2].error.kind, 'internal');
  assert.equal(outcomes[2].error.message, "the provider's apply failed: TypeError: bug");
});
