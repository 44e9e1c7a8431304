// Bytes as the etcd JSON gateway carries them: keys and values are byte
// strings, written in base64 in the JSON; key ranges are compared and
// ended byte by byte.
//
// This module imports nothing, so that it runs under plain Node too.

/** The base64 alphabet (RFC 4648, section 4): what the gateway writes. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Each alphabet character's 6-bit value, by character code. */
const SEXTETS = new Map([...ALPHABET].map((character, value) => [character.charCodeAt(0), value]));

/** The largest value of a byte: a prefix's last byte below it is incremented. */
const BYTE_MAX = 0xff;

/**
 * `text` as UTF-8 bytes.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function utf8(text) {
  return new TextEncoder().encode(text);
}

/**
 * UTF-8 `bytes` as text; a byte sequence that is not UTF-8 becomes U+FFFD.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function text(bytes) {
  return new TextDecoder().decode(bytes);
}

/**
 * Whether `bytes` are valid UTF-8, so that the text they decode to encodes
 * back to them.
 * @param {Uint8Array} bytes
 * @returns {boolean}
 */
export function isUtf8(bytes) {
  const decoded = text(bytes);
  return !decoded.includes('\uFFFD') || equalBytes(utf8(decoded), bytes);
}

/**
 * `bytes` in base64, padded.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const triple = (a << 16) | (b << 8) | c;
    out += ALPHABET[(triple >> 18) & 63] + ALPHABET[(triple >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(triple >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[triple & 63] : '=';
  }
  return out;
}

/**
 * The bytes of base64 `encoded` (padded or not); a character outside the
 * alphabet throws a TypeError.
 * @param {string} encoded
 * @returns {Uint8Array}
 */
export function fromBase64(encoded) {
  const stripped = String(encoded).replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((stripped.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let length = 0;
  for (let i = 0; i < stripped.length; i += 1) {
    const value = SEXTETS.get(stripped.charCodeAt(i));
    if (value === undefined) throw new TypeError(`not base64: the character ${JSON.stringify(stripped[i])}`);
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[length] = (buffer >> bits) & BYTE_MAX;
      length += 1;
    }
  }
  return out.subarray(0, length);
}

/**
 * Text as the gateway takes a key or a value: its UTF-8 bytes in base64.
 * @param {string} value
 * @returns {string}
 */
export function encode(value) {
  return toBase64(utf8(value));
}

/**
 * A key or value the gateway wrote (base64; absent for the empty string),
 * as text.
 * @param {string|undefined} encoded
 * @returns {string}
 */
export function decode(encoded) {
  return encoded ? text(fromBase64(encoded)) : '';
}

/**
 * Whether two byte strings are equal.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * How two texts compare as etcd orders keys, by their UTF-8 bytes
 * (JavaScript compares UTF-16 code units, which orders some characters
 * otherwise): negative, zero or positive.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareBytes(a, b) {
  const x = utf8(a);
  const y = utf8(b);
  const shortest = Math.min(x.length, y.length);
  for (let i = 0; i < shortest; i += 1) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

/**
 * The end of the range of every key that starts with `prefix`, as etcd's
 * clients compute it: the prefix with its last byte below 0xff
 * incremented and what follows dropped; `\0` (every key from `prefix` on)
 * when there is no such byte. Returned as bytes: the end of a UTF-8
 * prefix need not be UTF-8.
 * @param {Uint8Array} prefix
 * @returns {Uint8Array}
 */
export function prefixEnd(prefix) {
  for (let i = prefix.length - 1; i >= 0; i -= 1) {
    if (prefix[i] < BYTE_MAX) {
      const end = prefix.slice(0, i + 1);
      end[i] += 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}
