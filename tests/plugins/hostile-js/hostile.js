// A provider in JavaScript (ComponentizeJS) that misbehaves on purpose in
// `list`, as its config's `mode` says, so the tests can check that the host
// contains a component of that toolchain as it contains the Rust attacker
// (tests/plugins/hostile). Config: `{"mode": MODE, "target": URL}`. Modes:
// - `well`: behaves, listing nothing (the control);
// - `read-files`: looks for the root, the working folder and /etc/passwd
//   among the preopened folders (wasi:filesystem), reads them when one
//   holds them, counts its environment variables and arguments
//   (wasi:cli/environment), and fails with `internal` and a report in the
//   Rust attacker's words:
//   `/: refused (...); .: refused (...); /etc/passwd: refused (...);
//   environment: N variable(s); arguments: N` (`PATH: READ N` for a path it
//   could read);
// - `socket`: opens a TCP connection to `target` (`http://HOST:PORT`)
//   through wasi:sockets, sends `GET / HTTP/1.0` on it and reads the answer;
//   fails with `internal` and `socket: refused (...)` or
//   `socket: CONNECTED, ...`;
// - `spin`: loops forever in guest code (the epoch deadline stops it);
// - `hoard`: fills 1 MiB arrays and keeps them all, without end (the
//   memory limit stops it);
// - `exit`: calls wasi:cli/exit with an error status (the host ends the
//   call as a crash);
// - `exit-ok`: calls wasi:cli/exit with a success status (still a crash:
//   the call gave no answer);
// - `exit-code`: calls wasi:cli/exit-with-code with 3 (a crash too);
// - `exfiltrate`: GETs `target` + `/steal` through wasi:http (fetch() hides
//   why a request failed); a refusal fails with the wasi:http error code's
//   text (`denied` for `HTTP-request-denied`), an answer other than 2xx
//   with its status, a 2xx answer lists nothing.
// Any other mode behaves like `well`. validate, diff and apply are harmless.
//
// ComponentizeJS conventions: WIT names are camelCase, a result-returning
// export throws the error record itself (`{kind, message}`, never an
// Error), and an import that fails throws an error whose `payload` is the
// WIT error value.
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { getEnvironment, getArguments } from 'wasi:cli/environment@0.2.12';
import { exit, exitWithCode } from 'wasi:cli/exit@0.2.12';
import { instanceNetwork } from 'wasi:sockets/instance-network@0.2.12';
import { createTcpSocket } from 'wasi:sockets/tcp-create-socket@0.2.12';
import { resolveAddresses } from 'wasi:sockets/ip-name-lookup@0.2.12';
import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingRequest } from 'wasi:http/types@0.2.12';

// ComponentizeJS 0.23 leaves out interfaces without a stable function, such
// as wasi:sockets/network (its one function is @unstable), so its glue never
// defines the class of the `network` resource that instance-network
// returns, and refers to it by a global name: without this, the call fails
// with `import_network_0_2_12$Network is not defined`. The glue runs in a
// global of its own, reached here through the Function constructor of one
// of its classes; it only needs a prototype to give the handle to.
const glueGlobal = Fields.constructor('return this')();
glueGlobal['import_network_0_2_12$Network'] ??= class Network {};

// Set by `configure`, which the host calls first in every list, diff and
// apply call, in the same fresh instance.
let mode = '';
let target = '';

/** An error record of the contract, to throw from a result-returning export. */
function fail(kind, message) {
  return { kind, message };
}

/** The text of what an import threw: its WIT error value, or its message. */
function why(error) {
  if (error && error.payload !== undefined) return describeValue(error.payload);
  if (error && error.message) return error.message;
  return String(error);
}

/** A WIT value as text: an enum's case, a variant's `tag(payload)`. */
function describeValue(value) {
  if (value && typeof value === 'object' && 'tag' in value) {
    return value.val === undefined ? value.tag : `${value.tag}(${JSON.stringify(value.val)})`;
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// ------------------------------------------------------------ read-files

/**
 * What reading `path` gives: `READ N` (entries of a folder, bytes of a
 * file) or `refused (WHY)`. Only a preopened folder opens anything in
 * WASI, so the path is looked for among them first.
 */
function tryRead(path, preopens) {
  let best;
  for (const [descriptor, name] of preopens) {
    let rest;
    if (!path.startsWith('/')) {
      if (name === '.') rest = path;
    } else if (name === path) {
      rest = '.';
    } else if (name.startsWith('/') && path.startsWith(name.endsWith('/') ? name : `${name}/`)) {
      rest = path.slice(name.length).replace(/^\/+/, '') || '.';
    }
    if (rest !== undefined && (!best || name.length > best.name.length)) {
      best = { descriptor, name, rest };
    }
  }
  if (!best) return 'refused (no preopened folder)';
  try {
    const opened = best.descriptor.openAt({ symlinkFollow: true }, best.rest, {}, { read: true });
    if (opened.getType() === 'directory') {
      const entries = opened.readDirectory();
      let count = 0;
      while (entries.readDirectoryEntry() !== undefined) count += 1;
      return `READ ${count}`;
    }
    let bytes = 0;
    for (;;) {
      const [chunk, ended] = opened.read(65536n, BigInt(bytes));
      bytes += chunk.length;
      if (ended || chunk.length === 0) break;
    }
    return `READ ${bytes}`;
  } catch (error) {
    return `refused (${why(error)})`;
  }
}

function readFiles() {
  let preopens;
  try {
    preopens = getDirectories();
  } catch (error) {
    preopens = [];
  }
  const found = ['/', '.', '/etc/passwd'].map((path) => `${path}: ${tryRead(path, preopens)}`);
  found.push(`environment: ${getEnvironment().length} variable(s)`);
  found.push(`arguments: ${getArguments().length}`);
  return found.join('; ');
}

// ---------------------------------------------------------------- socket

/** The four bytes of a dotted IPv4 address, or undefined. */
function ipv4(host) {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) {
    return undefined;
  }
  return parts.map(Number);
}

/** Blocks until `pollable` is ready, then lets it go. */
function wait(pollable) {
  pollable.block();
  const dispose = pollable[Symbol.dispose || Symbol.for('dispose')];
  if (dispose) dispose.call(pollable);
}

/** The IPv4 address of `host`: itself when it is one, else a name lookup. */
function addressOf(network, host) {
  const literal = ipv4(host);
  if (literal) return literal;
  const stream = resolveAddresses(network, host);
  for (;;) {
    let next;
    try {
      next = stream.resolveNextAddress();
    } catch (error) {
      if (why(error) === 'would-block') {
        wait(stream.subscribe());
        continue;
      }
      throw error;
    }
    if (next === undefined) throw new Error(`${host} has no address`);
    if (next.tag === 'ipv4') return next.val;
  }
}

/**
 * Connects to `target`, sends a GET and reads; returns what came of it,
 * naming the step that was refused.
 */
function openSocket() {
  let host;
  let port;
  try {
    const url = new URL(target);
    host = url.hostname;
    port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  } catch (error) {
    return `socket: refused (the target \`${target}\` is not a URL)`;
  }
  let step = 'instance-network';
  try {
    const network = instanceNetwork();
    step = 'ip-name-lookup';
    const address = addressOf(network, host);
    step = 'create-tcp-socket';
    const socket = createTcpSocket('ipv4');
    step = 'start-connect';
    socket.startConnect(network, { tag: 'ipv4', val: { port, address } });
    step = 'finish-connect';
    let streams;
    while (!streams) {
      wait(socket.subscribe());
      try {
        streams = socket.finishConnect();
      } catch (error) {
        if (why(error) !== 'would-block') throw error;
      }
    }
    step = 'write';
    const [input, output] = streams;
    output.blockingWriteAndFlush(new TextEncoder().encode(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    step = 'read';
    let answer = new Uint8Array(0);
    for (;;) {
      let chunk;
      try {
        chunk = input.blockingRead(65536n);
      } catch (error) {
        break; // closed
      }
      const joined = new Uint8Array(answer.length + chunk.length);
      joined.set(answer);
      joined.set(chunk, answer.length);
      answer = joined;
    }
    const first = new TextDecoder().decode(answer).split('\r\n')[0];
    return `socket: CONNECTED to ${host}:${port}, read ${answer.length} bytes: ${first}`;
  } catch (error) {
    return `socket: refused (${step}: ${why(error)})`;
  }
}

// ------------------------------------------------------------ exfiltrate

/** The error kind of a non-2xx status, as the Rust SDK maps it. */
function kindOfStatus(status) {
  if (status === 400 || status === 422) return 'invalid';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not-found';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 408 || status === 504) return 'timeout';
  if (status === 429 || (status >= 500 && status <= 599)) return 'unavailable';
  return 'internal';
}

/** Throws the error record for a wasi:http error code. */
function refused(url, code) {
  const text = describeValue(code);
  if (code && code.tag === 'HTTP-request-denied') {
    throw fail(
      'denied',
      `GET ${url} failed: ${text}: the host refused the request: the URL is outside this provider's network grants`,
    );
  }
  throw fail('internal', `GET ${url} failed: ${text}`);
}

/** One GET of `target` + `/steal`; throws unless it is answered 2xx. */
function exfiltrate() {
  const url = `${target}/steal`;
  let parsed;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw fail('invalid', `the target \`${target}\` is not a URL`);
  }
  const request = new OutgoingRequest(new Fields());
  request.setMethod({ tag: 'get' });
  request.setScheme({ tag: parsed.protocol === 'https:' ? 'HTTPS' : 'HTTP' });
  request.setAuthority(parsed.host);
  request.setPathWithQuery(parsed.pathname + parsed.search);
  let future;
  try {
    future = handle(request, undefined);
  } catch (error) {
    refused(url, error.payload ?? { tag: 'internal-error', val: why(error) });
  }
  wait(future.subscribe());
  // option<result<result<incoming-response, error-code>, _>>
  const outer = future.get();
  if (!outer || outer.tag !== 'ok') throw fail('internal', `GET ${url} failed: no answer`);
  if (outer.val.tag === 'err') refused(url, outer.val.val);
  const status = outer.val.val.status();
  if (status < 200 || status > 299) {
    throw fail(kindOfStatus(status), `GET ${url} answered ${status}`);
  }
}

// -------------------------------------------------------------- provider

export const provider = {
  describe() {
    return {
      name: 'hostile-js',
      version: '0.0.0',
      description: 'misbehaves on purpose (JavaScript)',
      resourceTypes: [
        {
          name: 'thing',
          description: 'a thing',
          schema: JSON.stringify({
            type: 'object',
            properties: { name: { type: 'string', description: "the thing's name" } },
            required: ['name'],
            additionalProperties: false,
          }),
          identity: ['name'],
          forceReplace: [],
          sensitive: [],
        },
      ],
      configSchema: JSON.stringify({
        type: 'object',
        properties: {
          mode: { type: 'string', description: 'how `list` misbehaves' },
          target: { type: 'string', description: 'the URL `socket` and `exfiltrate` reach for' },
        },
        additionalProperties: false,
      }),
    };
  },

  configure(config, secrets, owner) {
    let parsed;
    try {
      parsed = JSON.parse(config);
    } catch (error) {
      throw fail('invalid', `config: ${error.message}`);
    }
    const text = (key) => (parsed && typeof parsed[key] === 'string' ? parsed[key] : '');
    mode = text('mode');
    target = text('target');
  },

  validate(resources) {
    return resources.map(({ spec }) => ({ canonical: spec, diagnostics: [] }));
  },

  list(scope) {
    switch (mode) {
      case 'read-files':
        throw fail('internal', readFiles());
      case 'socket':
        throw fail('internal', openSocket());
      case 'spin': {
        let counter = 0;
        for (;;) counter = (counter + 1) | 0;
      }
      case 'hoard': {
        const hoard = [];
        for (;;) {
          const block = new Uint8Array(1 << 20);
          block.fill(1);
          hoard.push(block);
        }
      }
      case 'exit':
        exit({ tag: 'err', val: undefined });
        throw fail('internal', 'wasi:cli/exit returned');
      case 'exit-ok':
        exit({ tag: 'ok', val: undefined });
        throw fail('internal', 'wasi:cli/exit returned');
      case 'exit-code':
        exitWithCode(3);
        throw fail('internal', 'wasi:cli/exit-with-code returned');
      case 'exfiltrate':
        exfiltrate();
        return [];
      default:
        return [];
    }
  },

  diff(inputs, declared) {
    return inputs.map((input) => {
      const desired = input.desired ?? undefined;
      const observed = input.observed ?? undefined;
      let action;
      if (desired === undefined) action = observed === undefined ? 'no-op' : 'delete';
      else if (observed === undefined) action = 'create';
      else action = JSON.stringify(JSON.parse(desired)) === JSON.stringify(JSON.parse(observed)) ? 'no-op' : 'update';
      return {
        typeName: input.typeName,
        id: input.id,
        action,
        summary: action,
        fields: [],
        desired,
        observed,
        diagnostics: [],
        recheckAfter: undefined,
      };
    });
  },

  apply(changes) {
    return changes.map((change) => ({ tag: 'applied', val: change.desired ?? undefined }));
  },
};
