// Keys and values as the etcd gateway carries them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareBytes, decode, encode, fromBase64, isUtf8, prefixEnd, toBase64, utf8 } from '../src/bytes.js';

test('base64 is what Node writes, and reads back', () => {
  for (let length = 0; length < 40; length += 1) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 97 + length * 31) % 256);
    assert.equal(toBase64(bytes), Buffer.from(bytes).toString('base64'));
    assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  }
  assert.equal(encode('/apps/é'), Buffer.from('/apps/é').toString('base64'));
  assert.equal(decode(undefined), '');
  assert.equal(decode(encode('ünïcødé ✓')), 'ünïcødé ✓');
  assert.throws(() => fromBase64('a*b='), TypeError);
});

test('a prefix ends where etcd clients end it', () => {
  assert.deepEqual(prefixEnd(utf8('/apps/')), utf8('/apps0'));
  assert.deepEqual(prefixEnd(Uint8Array.from([0x61, 0xff, 0xff])), Uint8Array.from([0x62]));
  assert.deepEqual(prefixEnd(Uint8Array.from([0xff])), Uint8Array.from([0]));
  assert.deepEqual(prefixEnd(new Uint8Array(0)), Uint8Array.from([0]));
});

test('texts compare in byte order, not in UTF-16 order', () => {
  assert.ok(compareBytes('\uffff', '\u{10000}') < 0);
  assert.ok('\uffff' > '\u{10000}');
  assert.equal(compareBytes('a', 'a'), 0);
  assert.ok(compareBytes('a', 'ab') < 0);
});

test('UTF-8 is told from other bytes', () => {
  assert.equal(isUtf8(utf8('a\uFFFDb')), true);
  assert.equal(isUtf8(Uint8Array.from([0xc3, 0xc0])), false);
});
