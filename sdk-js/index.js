// cairn-sdk for JavaScript: write a Cairn provider plugin
// (cairn:provider@0.2.0) as plain values, built into a component with
// ComponentizeJS.
//
//     import { exportProvider, resourceType, Client, log } from '../cairn-sdk/index.js';
//     export const provider = exportProvider({ describe, configure, validate, list, apply });
//
// `http.js` and `log.js` import the host's interfaces (wasi:http, the
// contract's log); the other modules import nothing from the host.

export {
  ERROR_KINDS,
  ProviderError,
  Invalid,
  Valid,
  Secrets,
  applied,
  failed,
  skipped,
  applyEach,
  isErrorRecord,
} from './errors.js';
export { resourceType, idOf, MissingIdentity, Declarations, refusal } from './resource.js';
export { ACTIONS, compare, fieldChanges, actionOf, summarize, jsonEqual } from './diff.js';
export { check, conforms, ensureValid, CHECKED_KEYWORDS } from './spec.js';
export { exportProvider } from './export.js';
export { Client, Response, errorForStatus, kindOfStatus, kindOfErrorCode } from './http.js';
export { log } from './log.js';

/** The contract version this SDK builds providers of. */
export const CONTRACT = 'cairn:provider@0.2.0';
