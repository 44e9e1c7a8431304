// Structured logging to the host.
//
// Records go to the host's log, attributed to the tenant, provider instance
// and call. Never log secrets: fields are written as they are.

import { log as hostLog } from 'cairn:provider/log@0.2.0';

/** The levels of the contract, least important first. */
export const LEVELS = Object.freeze(['trace', 'debug', 'info', 'warn', 'error']);

/**
 * A field's value as text: a string as it is, anything else as JSON.
 * @param {unknown} value
 * @returns {string}
 */
function text(value) {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Writes one record.
 * @param {'trace'|'debug'|'info'|'warn'|'error'} level
 * @param {string} message
 * @param {Record<string, unknown>} [fields] key/value pairs; values that
 *   are not strings are written as JSON
 */
export function write(level, message, fields = {}) {
  const pairs = Object.entries(fields ?? {}).map(([key, value]) => [key, text(value)]);
  hostLog(LEVELS.includes(level) ? level : 'info', String(message), pairs);
}

/**
 * The host's log: `log.info('listed the entries', {count: 3})`.
 */
export const log = Object.freeze({
  /** Fine-grained detail for debugging a provider.
   * @param {string} message @param {Record<string, unknown>} [fields] */
  trace: (message, fields) => write('trace', message, fields),
  /** Detail useful when something goes wrong.
   * @param {string} message @param {Record<string, unknown>} [fields] */
  debug: (message, fields) => write('debug', message, fields),
  /** Normal progress.
   * @param {string} message @param {Record<string, unknown>} [fields] */
  info: (message, fields) => write('info', message, fields),
  /** Something unexpected that the provider handled.
   * @param {string} message @param {Record<string, unknown>} [fields] */
  warn: (message, fields) => write('warn', message, fields),
  /** Something failed.
   * @param {string} message @param {Record<string, unknown>} [fields] */
  error: (message, fields) => write('error', message, fields),
});
