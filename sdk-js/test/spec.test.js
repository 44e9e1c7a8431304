import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, conforms, ensureValid, problemsOf } from '../spec.js';
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

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test('the compiled test of a schema agrees with the walk that reports problems', () => {
  const next = random(20261203);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const TYPES = ['string', 'integer', 'number', 'boolean', 'null', 'object', 'array'];
  const KEYS = ['a', 'b', 'c'];
  const schemaOf = (depth) => {
    if (depth > 2 || next() < 0.1) return pick([true, false, {}, { type: pick(TYPES) }]);
    const schema = {};
    if (next() < 0.7) schema.type = next() < 0.3 ? [pick(TYPES), pick(TYPES)] : pick(TYPES);
    if (next() < 0.15) schema.enum = [pick(['x', 'é😀', 1, 2.5, null, true]), pick([{ a: 1 }, [1], 'y'])];
    if (next() < 0.2) schema.minLength = pick([0, 1, 2, 3]);
    if (next() < 0.2) schema.maxLength = pick([0, 1, 2, 4]);
    if (next() < 0.2) schema.minimum = pick([-1, 0, 1.5]);
    if (next() < 0.2) schema.maximum = pick([0, 2, 10]);
    if (next() < 0.2) schema.minItems = pick([0, 1, 2]);
    if (next() < 0.2) schema.maxItems = pick([0, 1, 3]);
    if (next() < 0.3) schema.items = schemaOf(depth + 1);
    if (next() < 0.5) {
      schema.properties = {};
      for (const key of KEYS) if (next() < 0.5) schema.properties[key] = schemaOf(depth + 1);
    }
    if (next() < 0.3) schema.additionalProperties = next() < 0.5 ? false : schemaOf(depth + 1);
    if (next() < 0.3) schema.required = KEYS.filter(() => next() < 0.4);
    return schema;
  };
  const valueOf = (depth) => {
    const kind = depth > 2 ? Math.floor(next() * 5) : Math.floor(next() * 7);
    switch (kind) {
      case 0:
        return pick(['', 'x', 'ab', 'abcd', '😀', '😀😀', 'é😀', 'y']);
      case 1:
        return pick([0, 1, -1, 2, 2.5, 10, 11, -3.5]);
      case 2:
        return pick([true, false]);
      case 3:
        return null;
      case 4:
        return pick(['x', 1, 2.5]);
      case 5:
        return Array.from({ length: Math.floor(next() * 4) }, () => valueOf(depth + 1));
      default: {
        const value = {};
        for (const key of [...KEYS, 'z']) if (next() < 0.5) value[key] = valueOf(depth + 1);
        return value;
      }
    }
  };
  let conforming = 0;
  for (let round = 0; round < 4000; round++) {
    const schema = schemaOf(0);
    for (let n = 0; n < 5; n++) {
      const value = valueOf(0);
      const walked = problemsOf(value, schema, '');
      assert.equal(
        conforms(value, schema),
        walked.length === 0,
        `schema ${JSON.stringify(schema)}, value ${JSON.stringify(value)}: ${JSON.stringify(walked)}`,
      );
      assert.deepEqual(check(value, schema), walked);
      if (walked.length === 0) conforming++;
    }
  }
  // Both answers occur often enough for the comparison to mean something.
  assert.ok(conforming > 2000 && conforming < 18000, `${conforming} of 20000 conform`);
});

test('a schema that contains itself is compiled once, and checks every level', () => {
  const tree = { type: 'object', properties: { name: { type: 'string' } }, additionalProperties: false };
  tree.properties.children = { type: 'array', items: tree };
  assert.equal(conforms({ name: 'a', children: [{ name: 'b', children: [] }] }, tree), true);
  assert.deepEqual(
    check({ name: 'a', children: [{ name: 'b', children: [{ nmae: 'c' }] }] }, tree).map((d) => d.path),
    ['children/0/children/0/nmae'],
  );
});
