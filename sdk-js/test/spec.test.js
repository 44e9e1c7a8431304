import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, ensureValid } from '../spec.js';
import { Invalid } from '../errors.js';

const entry = {
  type: 'object',
  properties: { key: { type: 'string' }, value: { type: 'string' } },
  required: ['key', 'value'],
  additionalProperties: false,
};

test('a spec that conforms has no problem', () => {
  assert.deepEqual(check({ key: 'a', value: 'b' }, entry), []);
});

test('an unknown field names the ones there are, with help', () => {
  const [problem] = check({ key: 'typo', valeu: 'misspelt', value: 'x' }, entry);
  assert.equal(problem.path, 'valeu');
  assert.equal(problem.message, 'unknown field `valeu`: expected one of key, value');
  assert.equal(problem.help, 'remove the key or fix its spelling');
  assert.equal(problem.severity, 'error');
});

test('a missing field is reported at its object', () => {
  assert.deepEqual(
    check({ key: 'a' }, entry).map((d) => [d.path, d.message]),
    [['', 'missing field `value`']],
  );
});

test('types, integers and nullable types', () => {
  assert.equal(check({ key: 5, value: 'x' }, entry)[0].message, 'invalid type: integer 5, expected a string');
  assert.equal(check(1.5, { type: 'integer' })[0].message, 'invalid type: number 1.5, expected an integer');
  assert.deepEqual(check(3, { type: 'number' }), []);
  assert.deepEqual(check(null, { type: ['string', 'null'] }), []);
  assert.equal(check([], { type: 'object' })[0].message, 'invalid type: an array, expected an object');
  assert.equal(check(true, { type: ['string', 'null'] })[0].message, 'invalid type: boolean true, expected a string or null');
});

test('paths go into arrays and nested objects', () => {
  const group = {
    type: 'object',
    properties: {
      members: {
        type: 'array',
        items: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
          additionalProperties: false,
        },
      },
    },
  };
  const problems = check({ members: [{ name: 'a' }, { name: 'b', port: 0 }, { name: '' }, { nmae: 'c' }] }, group);
  assert.deepEqual(
    problems.map((d) => [d.path, d.message]),
    [
      ['members/1/port', '0 is less than the minimum 1'],
      ['members/2/name', 'the value is empty'],
      ['members/3/nmae', 'unknown field `nmae`: expected one of name, port'],
    ],
  );
});

test('enums, lengths and bounds', () => {
  const schema = { type: 'string', enum: ['A', 'AAAA', 'CNAME'] };
  assert.equal(check('MX', schema)[0].message, 'unknown variant `MX`: expected one of A, AAAA, CNAME');
  assert.deepEqual(check('A', schema), []);
  assert.equal(check('ab', { type: 'string', minLength: 3 })[0].message, '"ab" is shorter than 3 characters');
  assert.equal(check(70000, { type: 'integer', maximum: 65535 })[0].message, '70000 is more than the maximum 65535');
  assert.equal(check([1], { type: 'array', minItems: 2 })[0].message, 'the list has 1 items, fewer than 2');
});

test('additional properties may have a schema of their own', () => {
  const labels = { type: 'object', additionalProperties: { type: 'string' } };
  assert.deepEqual(check({ a: 'x' }, labels), []);
  assert.equal(check({ a: 1 }, labels)[0].path, 'a');
});

test('ensureValid returns the value or throws Invalid with every problem', () => {
  const value = { key: 'a', value: 'b' };
  assert.equal(ensureValid(value, entry), value);
  assert.throws(
    () => ensureValid({ valeu: 1 }, entry),
    (error) =>
      error instanceof Invalid &&
      error.kind === 'invalid' &&
      error.diagnostics.length === 3 &&
      error.message.includes('missing field `key`'),
  );
  assert.throws(
    () => ensureValid({}, { type: 'object', required: ['url'] }, 'config'),
    (error) => error.message === 'config: missing field `url`',
  );
});
