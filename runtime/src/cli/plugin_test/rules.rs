//! The rules `cairn plugin test` checks, each with the group it belongs to
//! and the hint shown when it fails.

use serde::Serialize;

/// A group of rules, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Group {
    /// What the plugin declares, checked without a server.
    Static,
    /// Create, observe, plan again, drift, update, delete.
    Lifecycle,
    /// What every call of the contract must do whatever the provider.
    Contract,
    /// The error kinds of a wrong credential, a refused URL and a server
    /// that does not answer.
    Errors,
    /// Secrets stay out of everything the host keeps or shows.
    Hygiene,
    /// What a policy is held to: its description, its authors' cases,
    /// determinism, an empty input, findings placed on the input.
    Policy,
}

/// One rule of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The plugin speaks a contract version this host supports.
    ContractVersion,
    /// Its config and resource schemas are JSON Schemas.
    SchemasValid,
    /// Identity, force-replace and sensitive fields are in the schema.
    FieldsInSchema,
    /// `validate` of a canonical spec returns it unchanged.
    ValidateIdempotent,
    /// `validate` refuses the file's invalid resources.
    InvalidRefused,
    /// A resource that does not exist plans as a create, and applies.
    Create,
    /// After an apply, `list` shows each object under the id the host
    /// builds from its identity fields, shaped as its schema says.
    ListAgrees,
    /// The state `apply` returns is the state `list` observes next.
    AppliedIsObserved,
    /// Once applied, the same resources plan no change.
    NextPlanEmpty,
    /// A change made behind Cairn's back shows in the next plan.
    DriftShown,
    /// Applying that plan repairs it.
    DriftRepaired,
    /// A changed spec plans as an update or a replace, and applies.
    Update,
    /// A resource gone from Git deletes its object.
    Delete,
    /// Deleting an object already gone succeeds.
    DeleteIdempotent,
    /// Creating an object someone else made fails with `conflict`.
    CreateExistingConflicts,
    /// `diff` answers a batch the same in any order.
    BatchOrder,
    /// `validate` and `diff` refuse a resource type the provider does not
    /// have.
    UnknownTypeRefused,
    /// `diff` and `apply` refuse an id that the spec beside it does not
    /// give, and make nothing.
    ForeignIdRefused,
    /// A wrong credential fails with `unauthorized`.
    WrongCredential,
    /// A URL outside the grants fails with `denied`.
    UngrantedUrl,
    /// A server that does not answer fails with `unavailable` or
    /// `timeout`.
    Unreachable,
    /// No secret appears in a state, a change, an outcome, an error or a
    /// log record.
    SecretsHidden,
    /// A policy describes itself: a version, a config schema that
    /// compiles, and the file's config matches it.
    PolicyDescribe,
    /// One case of the file: the policy finds exactly what it expects.
    PolicyCase,
    /// Every case evaluated twice gives the same findings.
    PolicyDeterministic,
    /// Every finding's address is a resource or a change of its input.
    PolicyFindingsPlaced,
    /// An empty desired state without a plan is evaluated, not refused.
    PolicyEmptyInput,
    /// A config the policy cannot accept fails with `invalid-config`.
    PolicyConfigRefused,
}

impl Rule {
    /// The rule's name in reports.
    pub fn id(self) -> &'static str {
        match self {
            Self::ContractVersion => "contract-version",
            Self::SchemasValid => "schemas-valid",
            Self::FieldsInSchema => "fields-in-schema",
            Self::ValidateIdempotent => "validate-idempotent",
            Self::InvalidRefused => "invalid-refused",
            Self::Create => "create",
            Self::ListAgrees => "list-agrees",
            Self::AppliedIsObserved => "applied-is-observed",
            Self::NextPlanEmpty => "next-plan-empty",
            Self::DriftShown => "drift-shown",
            Self::DriftRepaired => "drift-repaired",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::DeleteIdempotent => "delete-idempotent",
            Self::CreateExistingConflicts => "create-existing-conflicts",
            Self::BatchOrder => "batch-order",
            Self::UnknownTypeRefused => "unknown-type-refused",
            Self::ForeignIdRefused => "foreign-id-refused",
            Self::WrongCredential => "wrong-credential",
            Self::UngrantedUrl => "ungranted-url",
            Self::Unreachable => "unreachable",
            Self::SecretsHidden => "secrets-hidden",
            Self::PolicyDescribe => "policy-describe",
            Self::PolicyCase => "case",
            Self::PolicyDeterministic => "deterministic",
            Self::PolicyFindingsPlaced => "findings-placed",
            Self::PolicyEmptyInput => "empty-input",
            Self::PolicyConfigRefused => "config-refused",
        }
    }

    /// The group it belongs to.
    pub fn group(self) -> Group {
        match self {
            Self::ContractVersion
            | Self::SchemasValid
            | Self::FieldsInSchema
            | Self::ValidateIdempotent
            | Self::InvalidRefused => Group::Static,
            Self::Create
            | Self::ListAgrees
            | Self::AppliedIsObserved
            | Self::NextPlanEmpty
            | Self::DriftShown
            | Self::DriftRepaired
            | Self::Update
            | Self::Delete
            | Self::DeleteIdempotent
            | Self::CreateExistingConflicts => Group::Lifecycle,
            Self::BatchOrder | Self::UnknownTypeRefused | Self::ForeignIdRefused => Group::Contract,
            Self::WrongCredential | Self::UngrantedUrl | Self::Unreachable => Group::Errors,
            Self::SecretsHidden => Group::Hygiene,
            Self::PolicyDescribe
            | Self::PolicyCase
            | Self::PolicyDeterministic
            | Self::PolicyFindingsPlaced
            | Self::PolicyEmptyInput
            | Self::PolicyConfigRefused => Group::Policy,
        }
    }

    /// What to do when it fails.
    pub fn hint(self) -> &'static str {
        match self {
            Self::ContractVersion => {
                "build the plugin against a contract version this Cairn supports (`cairn plugin inspect` lists them)"
            }
            Self::SchemasValid => {
                "make each schema a JSON Schema (draft 2020-12) that compiles on its own, without remote references"
            }
            Self::FieldsInSchema => {
                "name in identity, force_replace and sensitive only fields the type's schema defines"
            }
            Self::ValidateIdempotent => {
                "make validate's canonical form a fixed point: canonicalizing a canonical spec must change nothing (lower-case once, fill defaults once)"
            }
            Self::InvalidRefused => {
                "return an error diagnostic, with the field's path, for each resource validate cannot accept"
            }
            Self::Create => {
                "diff must answer `create` for an object list does not show, and apply must make it and return its state"
            }
            Self::ListAgrees => {
                "list must return each object with the id its identity fields give (joined by `/`, as validate's canonical spec gives them) and a state its type's schema accepts"
            }
            Self::AppliedIsObserved => {
                "return from apply the state list will observe: the same fields, in the same canonical form; mark what the server sets (an id, a version) `\"readOnly\": true` and what only the client keeps (a password) `\"writeOnly\": true` in the schema"
            }
            Self::NextPlanEmpty => {
                "read objects back in the shape validate writes specs (no number as a string, no default the server adds): otherwise every plan changes them again and the host holds them as not converging"
            }
            Self::DriftShown => {
                "list must report the object as it is now, not as Cairn made it, so that diff sees the change; the host compares only objects whose observed state differs from the one it recorded, so a change the server keeps only in a secret (a password) must show in an observed field, such as a fingerprint of what the server stores"
            }
            Self::DriftRepaired => {
                "apply must set every field of the spec, not only those it believes changed"
            }
            Self::Update => {
                "diff must answer `update` (or `replace` for a field of force_replace) for a changed spec, and apply must make it"
            }
            Self::Delete => {
                "diff must answer `delete` when the host asks for no desired spec, and apply must remove the object"
            }
            Self::DeleteIdempotent => {
                "treat a 404 (or the server's \"not found\") as success when deleting: the host retries deletes"
            }
            Self::CreateExistingConflicts => {
                "when a create finds an object the provider did not make, fail with kind `conflict` and make nothing"
            }
            Self::BatchOrder => {
                "answer each diff input on its own, in the inputs' order: one change per input, whatever the batch holds"
            }
            Self::UnknownTypeRefused => {
                "return an error diagnostic from validate, and fail diff with `invalid`, for a type name describe does not list (the SDKs of every language do both)"
            }
            Self::ForeignIdRefused => {
                "before acting, check that each diff input's and each change's id is the one its spec's identity fields give, and fail with `invalid` otherwise (the SDKs of every language do): an id that is not the spec's names another object"
            }
            Self::WrongCredential => {
                "map the server's 401 and 403 to kind `unauthorized` (the SDK's error_for_status does)"
            }
            Self::UngrantedUrl => {
                "pass the host's refusal on as kind `denied` (the SDK's client does): never retry it or hide it"
            }
            Self::Unreachable => {
                "map a refused connection or a 5xx to `unavailable` and a timeout to `timeout`: those are retried"
            }
            Self::SecretsHidden => {
                "never put a secret into a state, a summary, a field, an error message or a log record; mark secret spec fields `sensitive`"
            }
            Self::PolicyDescribe => {
                "describe the policy with a MAJOR.MINOR.PATCH version and a config schema (a JSON Schema, draft 2020-12) that accepts the config of [policy]"
            }
            Self::PolicyCase => {
                "make the policy find exactly the case's `expect` (rule and severity, and address and field where given), or fail with its `expect_error`; or fix the case if the policy is right"
            }
            Self::PolicyDeterministic => {
                "decide only from the settings and the input: no clock, no random numbers, no order of a hash map; findings are part of a saved plan's checksum"
            }
            Self::PolicyFindingsPlaced => {
                "give a finding the address of a resource of its input (or of a change of its plan), and a field only with an address; leave the address out for the plan or commit as a whole"
            }
            Self::PolicyEmptyInput => {
                "evaluate an input without resources and without a plan (what `cairn validate` of an empty repository sends) instead of failing"
            }
            Self::PolicyConfigRefused => {
                "fail `evaluate` with kind `invalid-config` for a config the policy cannot use, instead of checking with a default"
            }
        }
    }
}
