// The glue between the component's exports and a provider written with
// plain values: converts WIT records (JSON text, camelCase fields) to and
// from JavaScript values, refuses inputs that name another object than
// their spec describes before the provider sees them, and turns anything a
// provider throws into an error of the contract, never a trap.
//
// This module imports nothing from the host, so that it runs under plain
// Node for the SDK's tests.

import { Invalid, ProviderError, Secrets, Valid, describeThrown, diagnosticOf } from './errors.js';
import { Declarations, MissingIdentity, idOf, refusal, resourceType } from './resource.js';
import { ACTIONS, compare, summarize } from './diff.js';

/** The largest `recheckAfter`: the contract carries it as a `u32`. */
const RECHECK_AFTER_MAX = 2 ** 32 - 1;

/**
 * @typedef {object} Scope
 * @property {string[]} typeNames the resource types to list
 * @property {string[]} ids the ids of interest (a provider may list more)
 * @property {(typeName: string) => boolean} wants whether the scope asks
 *   for objects of `typeName`
 */

/**
 * @typedef {object} Observed
 * @property {string} typeName
 * @property {string} [id] built from the state's identity fields when left out
 * @property {unknown} state shaped like the spec, canonical
 * @property {boolean} [vouched] the object bears this instance's owner mark
 */

/**
 * @typedef {object} ProviderImpl
 * @property {() => import('./resource.js').ProviderInfo} describe what the
 *   provider is and manages; no I/O
 * @property {(config: any, secrets: Secrets, owner: string) => unknown} [configure]
 *   checks the operator's configuration; what it returns (or resolves to)
 *   is handed to `list`, `diff` and `apply` as their last argument
 * @property {(typeName: string, spec: any, type: import('./resource.js').ResourceType) => unknown} validate
 *   returns the canonical spec (or a {@link Valid} with warnings), or
 *   throws {@link Invalid}; no I/O
 * @property {(scope: Scope, configured: any) => Observed[] | Promise<Observed[]>} list
 * @property {(inputs: import('./diff.js').DiffInput[], declarations: Declarations, configured: any) =>
 *   import('./diff.js').Change[] | Promise<import('./diff.js').Change[]>} [diff]
 *   one change per input, in order; by default a field-by-field comparison
 * @property {(changes: import('./diff.js').Change[], configured: any) =>
 *   import('./errors.js').Outcome[] | Promise<import('./errors.js').Outcome[]>} apply
 *   one outcome per change, in order (`applyEach` makes them)
 */

/**
 * Anything thrown, as an error of the contract: a ProviderError (or a
 * record of one) keeps its kind and message; anything else (a bug's
 * TypeError) is `internal`, carrying its message and naming the call.
 * @param {unknown} thrown
 * @param {string} call
 * @returns {ProviderError}
 */
export function asProviderError(thrown, call) {
  return ProviderError.from(thrown, call);
}

/** The record a result-returning export throws for a failed call. */
function errorRecord(thrown, call) {
  return asProviderError(thrown, call).toRecord();
}

/**
 * JSON text the host sent, parsed; an `internal` error naming `what` when
 * it is not JSON.
 */
function parseJson(what, text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw ProviderError.internal(`the host sent ${what} that is not JSON: ${error.message}`);
  }
}

/** An optional JSON text, parsed; undefined when absent. */
function parseOptional(what, text) {
  return text === undefined || text === null ? undefined : parseJson(what, text);
}

/**
 * A JavaScript value as JSON text; an `internal` error when it cannot be.
 * `what` names the value in that error: a string, or a function making
 * it, so that a call converting a thousand values builds no message for
 * the ones that convert.
 * @param {string | (() => string)} what
 * @param {unknown} value
 */
function toJson(what, value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw ProviderError.internal(`${named(what)} cannot be written as JSON: ${error.message}`);
  }
  if (text === undefined) throw ProviderError.internal(`${named(what)} cannot be written as JSON`);
  return text;
}

/** What a value is called in a message: `what` itself, or what it makes. */
function named(what) {
  return typeof what === 'function' ? what() : what;
}

/** An optional value as optional JSON text: `null` and undefined are absent. */
function toOptionalJson(what, value) {
  return value === undefined || value === null ? undefined : toJson(what, value);
}

/** A diagnostic in the shape of the bindings. */
function toWitDiagnostic(diagnostic, severity) {
  const d = diagnosticOf(diagnostic, severity);
  return { path: d.path, severity: d.severity, message: d.message, help: d.help };
}

/**
 * The provider's answer to `describe`, checked and with defaults filled in.
 * @param {import('./resource.js').ProviderInfo} info
 */
function normalizedInfo(info) {
  if (!info || typeof info !== 'object') throw new TypeError('describe() must return the provider info');
  const resourceTypes = (info.resourceTypes ?? []).map((type) => resourceType(type));
  /** The types by name, for the lookup every resource of a call makes (the first of a name). */
  const types = new Map();
  for (const type of resourceTypes) if (!types.has(type.name)) types.set(type.name, type);
  return {
    name: String(info.name),
    version: String(info.version),
    description: String(info.description ?? ''),
    resourceTypes,
    configSchema: info.configSchema ?? {},
    types,
  };
}

/**
 * A diff input as the provider sees it, its JSON parsed.
 * @returns {import('./diff.js').DiffInput}
 */
function fromWitInput(input) {
  return {
    typeName: input.typeName,
    id: input.id,
    desired: parseOptional('a desired spec', input.desired),
    observed: parseOptional('an observed state', input.observed),
    prior: parseOptional('a prior state', input.prior),
  };
}

/**
 * A diff input for the SDK's own comparison, which never changes what it
 * compares: an observed state whose JSON text is the desired spec's is
 * parsed once, and both are the same value.
 * @returns {import('./diff.js').DiffInput}
 */
function fromWitInputShared(input) {
  const desired = parseOptional('a desired spec', input.desired);
  return {
    typeName: input.typeName,
    id: input.id,
    desired,
    observed: input.observed === input.desired ? desired : parseOptional('an observed state', input.observed),
    prior: parseOptional('a prior state', input.prior),
  };
}

/**
 * The no-op change of an input whose desired spec and observed state are
 * the same JSON text, in the shape of the bindings; undefined for any
 * other input.
 *
 * The host writes both texts with serde_json from its values, so equal
 * values give equal texts, and equal texts are equal values: no field
 * differs, and the change is what comparing them gives (`no-op`, `no
 * changes`, no fields), carrying the texts the host sent. In a plan of
 * unchanged resources every input is one of these; an input whose texts
 * differ is compared field by field. The input's id has been checked
 * against its desired spec before this (`refusal`), as every input's is.
 * @param { {typeName: string, id: string, desired?: string, observed?: string} } wit the input as the host sent it
 * @param {import('./diff.js').DiffInput} input the same, parsed
 */
function unchanged(wit, input) {
  if (wit.desired === undefined || wit.desired === null || wit.desired !== wit.observed) return undefined;
  // `null` is no spec (a delete of nothing): left to the comparison.
  if (input.desired === undefined || input.desired === null) return undefined;
  return {
    typeName: input.typeName,
    id: input.id,
    action: 'no-op',
    summary: summarize('no-op', []),
    fields: [],
    desired: wit.desired,
    observed: wit.observed,
    diagnostics: [],
    recheckAfter: undefined,
  };
}

/**
 * A change as the provider sees it, its JSON parsed.
 * @returns {import('./diff.js').Change}
 */
function fromWitChange(change) {
  return {
    typeName: change.typeName,
    id: change.id,
    action: change.action,
    summary: change.summary,
    fields: (change.fields ?? []).map((field) => ({
      path: field.path,
      before: parseOptional('a field value', field.before),
      after: parseOptional('a field value', field.after),
      sensitive: field.sensitive,
    })),
    desired: parseOptional('a desired spec', change.desired),
    observed: parseOptional('an observed state', change.observed),
    diagnostics: (change.diagnostics ?? []).map((d) => ({
      path: d.path,
      severity: d.severity,
      message: d.message,
      help: d.help ?? undefined,
    })),
    recheckAfter: change.recheckAfter ?? undefined,
  };
}

/**
 * The change `diff` returned for `input`, in the shape of the bindings.
 * The type and id default to the input's and must be the input's; the
 * desired spec and observed state default to the input's; the summary to
 * one made from the fields. `texts`, given for a change the SDK's own
 * comparison made (which passes the input's values through unchanged), is
 * the input as the host sent it: a desired spec or observed state that is
 * the input's own value is returned as the host's text rather than
 * written again.
 */
function toWitChange(change, input, texts) {
  if (!change || typeof change !== 'object') {
    throw ProviderError.internal(`diff returned ${describeThrown(change)} for ${input.typeName} \`${input.id}\`, not a change`);
  }
  const typeName = change.typeName ?? input.typeName;
  const id = change.id ?? input.id;
  if (typeName !== input.typeName || id !== input.id) {
    throw ProviderError.internal(
      `diff returned the change of ${typeName} \`${id}\` in the place of ${input.typeName} \`${input.id}\`: one change per input, in order`,
    );
  }
  // Messages name the change only when one is written.
  const where = () => `the change of ${typeName} \`${id}\``;
  if (!ACTIONS.includes(change.action)) {
    throw ProviderError.internal(`${where()} has the action ${describeThrown(change.action)}, not one of ${ACTIONS.join(', ')}`);
  }
  const fields = (change.fields ?? []).map((field) => ({
    path: String(field.path ?? ''),
    before: field.before ?? undefined,
    after: field.after ?? undefined,
    sensitive: field.sensitive === true,
  }));
  const recheckAfter = change.recheckAfter ?? undefined;
  if (
    recheckAfter !== undefined &&
    !(Number.isInteger(recheckAfter) && recheckAfter >= 0 && recheckAfter <= RECHECK_AFTER_MAX)
  ) {
    throw ProviderError.internal(`${where()} asks for a recheck after ${recheckAfter} seconds, not a whole number of seconds`);
  }
  const desired = change.desired === undefined ? input.desired : change.desired;
  const observed = change.observed === undefined ? input.observed : change.observed;
  const valueOf = () => `a value of ${where()}`;
  return {
    typeName,
    id,
    action: change.action,
    summary: typeof change.summary === 'string' && change.summary !== '' ? change.summary : summarize(change.action, fields),
    fields: fields.map((field) => ({
      path: field.path,
      before: toOptionalJson(valueOf, field.before),
      after: toOptionalJson(valueOf, field.after),
      sensitive: field.sensitive,
    })),
    desired:
      texts && desired === input.desired && desired !== null && desired !== undefined
        ? texts.desired
        : toOptionalJson(() => `the desired spec of ${where()}`, desired),
    observed:
      texts && observed === input.observed && observed !== null && observed !== undefined
        ? texts.observed
        : toOptionalJson(() => `the observed state of ${where()}`, observed),
    diagnostics: (change.diagnostics ?? []).map((d) => toWitDiagnostic(d, 'error')),
    recheckAfter,
  };
}

/** An outcome in the shape of the bindings; a malformed one fails. */
function toWitOutcome(outcome, change) {
  const where = `${change.typeName} \`${change.id}\``;
  try {
    switch (outcome && outcome.tag) {
      case 'applied':
        return { tag: 'applied', val: toOptionalJson(`the state applied to ${where}`, outcome.state ?? outcome.val) };
      case 'failed':
        return { tag: 'failed', val: asProviderError(outcome.error ?? outcome.val, 'apply').toRecord() };
      case 'skipped':
        return { tag: 'skipped', val: String(outcome.reason ?? outcome.val ?? '') };
      default:
        throw ProviderError.internal(
          `apply returned ${describeThrown(outcome)} for ${where}, not applied(state), failed(error) or skipped(reason)`,
        );
    }
  } catch (thrown) {
    return { tag: 'failed', val: errorRecord(thrown, 'apply') };
  }
}

/**
 * The object to export as the component's `provider` interface:
 *
 *     export const provider = exportProvider({ describe, configure, validate, list, apply });
 *
 * It converts the bindings' values (JSON text) to plain values and back,
 * refuses with `invalid` — before the provider's code runs — a `diff`
 * input or a change whose type `describe` does not list or whose id is not
 * the one its desired spec's identity fields give (or, without one, its
 * observed state's): `diff` fails as a whole, `apply` fails that change and
 * applies the rest. It checks one change or outcome per input, gives
 * `validate` an error diagnostic for an unknown type, defaults `diff` to a
 * field-by-field comparison, and turns anything thrown into an error of
 * the contract (a TypeError of a bug into `internal` with its message).
 * @param {ProviderImpl} impl
 * @returns {object} the `provider` export
 */
export function exportProvider(impl) {
  for (const name of ['describe', 'validate', 'list', 'apply']) {
    if (typeof impl?.[name] !== 'function') {
      throw new TypeError(`exportProvider: the provider has no \`${name}\` function`);
    }
  }
  /** @type {ReturnType<typeof normalizedInfo> | undefined} */
  let info;
  // `describe` is asked now, while the module initialises: the component
  // is built from a snapshot of its memory after that, so every call
  // starts with the provider's info, its types' compiled schemas and
  // identities, rather than making them again. A describe that fails is
  // asked again, and reported, by the first call that needs it.
  try {
    info = normalizedInfo(impl.describe());
  } catch {
    info = undefined;
  }
  /** What `configure` made, once it ran: each host call is a fresh instance. */
  let configured;

  const described = () => (info ??= normalizedInfo(impl.describe()));
  /** A validation that refuses the resource. */
  const invalid = (diagnostics) => ({ canonical: undefined, diagnostics });
  const configuration = () => {
    if (!configured) throw ProviderError.internal('the host called the provider before `configure`');
    return configured.value;
  };

  /** One resource's validation, in the shape of the bindings. */
  const validateOne = ({ typeName, spec }) => {
    const about = described();
    const type = about.types.get(typeName);
    if (!type) {
      const names = about.resourceTypes.map((t) => `\`${t.name}\``).join(', ');
      return invalid([
        toWitDiagnostic({ path: '', message: `unknown resource type \`${typeName}\`: this provider has ${names}` }, 'error'),
      ]);
    }
    try {
      const value = parseJson('a spec', spec);
      const answer = impl.validate(typeName, value, type);
      if (answer && typeof answer.then === 'function') {
        throw ProviderError.internal('validate returned a promise: it must answer at once, without I/O');
      }
      // A bare canonical spec (the common answer) needs no Valid made
      // around it: it has no warnings.
      const canonical = answer instanceof Valid ? answer.canonical : answer;
      const warnings = answer instanceof Valid ? answer.warnings : [];
      if (canonical === undefined || canonical === null) {
        throw ProviderError.internal('validate returned no canonical spec');
      }
      const diagnostics = warnings.length === 0 ? [] : warnings.map((w) => toWitDiagnostic(w, 'warning'));
      try {
        idOf(type, canonical);
      } catch (error) {
        if (!(error instanceof MissingIdentity)) throw error;
        diagnostics.push(
          toWitDiagnostic(
            {
              path: error.field,
              message: `\`${error.field}\` identifies the ${typeName}: it must be a non-empty string or a number`,
            },
            'error',
          ),
        );
      }
      if (diagnostics.length > 0 && diagnostics.some((d) => d.severity === 'error')) return invalid(diagnostics);
      return { canonical: toJson('the canonical spec', canonical), diagnostics };
    } catch (thrown) {
      if (thrown instanceof Invalid) return invalid(thrown.diagnostics.map((d) => toWitDiagnostic(d, 'error')));
      const error = asProviderError(thrown, 'validate');
      return invalid([toWitDiagnostic({ path: '', message: error.message }, 'error')]);
    }
  };

  return {
    describe() {
      const about = described();
      return {
        name: about.name,
        version: about.version,
        description: about.description,
        resourceTypes: about.resourceTypes.map((type) => ({
          name: type.name,
          description: type.description,
          schema: JSON.stringify(type.schema),
          identity: [...type.identity],
          forceReplace: [...type.forceReplace],
          sensitive: [...type.sensitive],
        })),
        configSchema: JSON.stringify(about.configSchema),
      };
    },

    async configure(config, secrets, owner) {
      try {
        const value = parseJson('a config', config);
        const made = impl.configure ? await impl.configure(value, new Secrets(secrets), owner) : undefined;
        configured = { value: made };
      } catch (thrown) {
        throw errorRecord(thrown, 'configure');
      }
    },

    validate(resources) {
      return resources.map((resource) => {
        try {
          return validateOne(resource);
        } catch (thrown) {
          const error = asProviderError(thrown, 'validate');
          return { canonical: undefined, diagnostics: [toWitDiagnostic({ path: '', message: error.message }, 'error')] };
        }
      });
    },

    async list(scope) {
      try {
        const typeNames = [...scope.typeNames];
        const asked = {
          typeNames,
          ids: [...scope.ids],
          wants: (typeName) => typeNames.includes(typeName),
        };
        const observed = await impl.list(asked, configuration());
        if (!Array.isArray(observed)) throw ProviderError.internal('list returned something other than a list');
        const { types } = described();
        return observed.map((object) => {
          const typeName = String(object?.typeName);
          let id = object?.id;
          if (typeof id !== 'string') {
            const type = types.get(typeName);
            if (!type) throw ProviderError.internal(`list returned an object of the unknown type \`${typeName}\``);
            id = idOf(type, object.state);
          }
          return {
            typeName,
            id,
            state: toJson(() => `the state of ${typeName} \`${id}\``, object.state),
            vouched: object.vouched === true,
          };
        });
      } catch (thrown) {
        throw errorRecord(thrown, 'list');
      }
    },

    async diff(inputs, declared) {
      try {
        // The provider's own diff gets values of its own, which it may
        // change; the SDK's comparison shares one value between a desired
        // spec and an observed state that have the same text.
        const parsed = inputs.map(impl.diff ? fromWitInput : fromWitInputShared);
        const about = described();
        for (const input of parsed) {
          const refused = refusal(about, input.typeName, input.id, input.desired, input.observed);
          if (refused) throw refused;
        }
        const setting = configuration();
        if (!impl.diff) {
          return parsed.map(
            (input, index) =>
              unchanged(inputs[index], input) ??
              toWitChange(compare(input, about.types.get(input.typeName)), input, inputs[index]),
          );
        }
        const declarations = new Declarations(
          parsed,
          declared.map((d) => ({ typeName: d.typeName, id: d.id })),
        );
        const changes = await impl.diff(
          parsed.map((input) => ({ ...input })),
          declarations,
          setting,
        );
        if (!Array.isArray(changes) || changes.length !== parsed.length) {
          const count = Array.isArray(changes) ? changes.length : 'no list of';
          throw ProviderError.internal(`diff returned ${count} changes for ${parsed.length} inputs`);
        }
        return changes.map((change, index) => toWitChange(change, parsed[index]));
      } catch (thrown) {
        throw errorRecord(thrown, 'diff');
      }
    },

    async apply(changes) {
      const count = changes.length;
      const all = (thrown) => Array.from({ length: count }, () => ({ tag: 'failed', val: errorRecord(thrown, 'apply') }));
      let parsed;
      let refusals;
      try {
        parsed = changes.map(fromWitChange);
        const about = described();
        // A change for an object other than the one it names fails on its
        // own; the provider applies the rest.
        refusals = parsed.map((change) => refusal(about, change.typeName, change.id, change.desired, change.observed));
      } catch (thrown) {
        return all(thrown);
      }
      const accepted = parsed.filter((_, index) => !refusals[index]);
      /** @type {any[]} */
      let outcomes = [];
      if (accepted.length > 0) {
        try {
          outcomes = await impl.apply(accepted, configuration());
        } catch (thrown) {
          const error = errorRecord(thrown, 'apply');
          outcomes = accepted.map(() => ({ tag: 'failed', error }));
        }
        if (!Array.isArray(outcomes) || outcomes.length !== accepted.length) {
          const returned = Array.isArray(outcomes) ? outcomes.length : 'no list of';
          return all(ProviderError.internal(`apply returned ${returned} outcomes for ${accepted.length} changes`));
        }
      }
      let next = 0;
      return parsed.map((change, index) => {
        if (refusals[index]) return { tag: 'failed', val: refusals[index].toRecord() };
        return toWitOutcome(outcomes[next++], change);
      });
    },
  };
}
