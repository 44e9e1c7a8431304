import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Response, errorForStatus, errorForTransport, kindOfErrorCode, kindOfStatus, splitUrl, QUOTED_BODY_LIMIT } from '../http-common.js';
import { ProviderError } from '../errors.js';

test('statuses map onto error kinds as the Rust SDK maps them', () => {
  const expected = {
    400: 'invalid', 422: 'invalid',
    401: 'unauthorized', 403: 'unauthorized',
    404: 'not-found',
    409: 'conflict', 412: 'conflict',
    408: 'timeout', 504: 'timeout',
    429: 'unavailable', 500: 'unavailable', 502: 'unavailable', 503: 'unavailable', 599: 'unavailable',
    405: 'internal', 418: 'internal', 301: 'internal', 600: 'internal',
  };
  for (const [status, kind] of Object.entries(expected)) assert.equal(kindOfStatus(Number(status)), kind, status);
});

test('a 2xx is no error; another status names what was done and quotes the answer', () => {
  assert.equal(errorForStatus({ status: 204, body: '' }, 'DELETE /entries/a'), undefined);
  const error = errorForStatus({ status: 401, body: ' {"error": "a valid bearer token is required"}\n' }, 'GET /entries');
  assert.ok(error instanceof ProviderError);
  assert.equal(error.kind, 'unauthorized');
  assert.equal(error.message, 'GET /entries answered 401: {"error": "a valid bearer token is required"}');
  const long = errorForStatus({ status: 500, body: 'x'.repeat(QUOTED_BODY_LIMIT * 3) }, 'GET /');
  assert.ok(long.message.length < QUOTED_BODY_LIMIT + 40, long.message.length);
  assert.ok(long.message.endsWith('…'));
});

test('a response checks its status and parses its JSON', () => {
  const ok = new Response(200, { 'content-type': 'application/json' }, '[1, 2]', 'GET /entries');
  assert.equal(ok.check(), ok);
  assert.deepEqual(ok.json(), [1, 2]);
  const missing = new Response(404, {}, 'no entry a', 'GET /entries/a');
  assert.throws(() => missing.check(), (error) => error.kind === 'not-found' && error.message === 'GET /entries/a answered 404: no entry a');
  assert.throws(() => new Response(200, {}, '<html>', 'GET /').json(), (error) => error.kind === 'internal' && /GET \//.test(error.message));
});

test('wasi:http error codes map onto error kinds', () => {
  assert.equal(kindOfErrorCode('HTTP-request-denied'), 'denied');
  for (const code of ['connection-refused', 'connection-terminated', 'DNS-error', 'destination-not-found', 'destination-unavailable', 'destination-IP-unroutable', 'connection-limit-reached']) {
    assert.equal(kindOfErrorCode(code), 'unavailable', code);
  }
  for (const code of ['connection-timeout', 'connection-read-timeout', 'connection-write-timeout', 'HTTP-response-timeout', 'DNS-timeout']) {
    assert.equal(kindOfErrorCode(code), 'timeout', code);
  }
  for (const code of ['internal-error', 'TLS-certificate-error', 'HTTP-protocol-error']) assert.equal(kindOfErrorCode(code), 'internal', code);
});

test('a transport failure names the request and, when denied, what to grant', () => {
  const denied = errorForTransport('GET', 'http://127.0.0.1:8780/entries', { tag: 'HTTP-request-denied' });
  assert.equal(denied.kind, 'denied');
  assert.match(denied.message, /^GET http:\/\/127\.0\.0\.1:8780\/entries failed: the host refused the request/);
  assert.match(denied.message, /`allow` in cairn\.toml/);
  const dns = errorForTransport('GET', 'http://nowhere/', { tag: 'DNS-error', val: { rcode: 'NXDOMAIN', infoCode: 3 } });
  assert.equal(dns.kind, 'unavailable');
  assert.equal(dns.message, 'GET http://nowhere/ failed: DNS-error {"rcode":"NXDOMAIN","infoCode":3}');
  assert.equal(errorForTransport('PUT', 'http://a/', undefined).kind, 'internal');
});

test('URLs split the way wasi:http takes them', () => {
  assert.deepEqual(splitUrl('http://127.0.0.1:8780/entries/a?x=1'), { scheme: 'HTTP', authority: '127.0.0.1:8780', pathWithQuery: '/entries/a?x=1' });
  assert.deepEqual(splitUrl('HTTPS://example.org'), { scheme: 'HTTPS', authority: 'example.org', pathWithQuery: '/' });
  assert.deepEqual(splitUrl('http://example.org?q'), { scheme: 'HTTP', authority: 'example.org', pathWithQuery: '/?q' });
  assert.equal(splitUrl('ftp://example.org/'), undefined);
  assert.equal(splitUrl('http:///path'), undefined);
  assert.equal(splitUrl('example.org/path'), undefined);
  assert.equal(splitUrl('http://user:secret@example.org/'), undefined);
});
