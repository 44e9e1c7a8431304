//! The generated host bindings of `cairn:provider`, every version the host
//! loads (`0.1.0`, `0.2.0` and `0.3.0`): the one place where `bindgen!` runs, and
//! where the newest version's records are turned into the contract's types
//! ([`cairn_contract`]) and back. A component of an older version is
//! driven through [`super::guest`], which converts its records to and from
//! the newest's; the rest of the host works with the contract's types only.
//!
//! JSON documents cross the boundary as text. The host parses every one a
//! provider sends on the way in: a provider that sends text that is not
//! JSON breaks the contract ([`ContractViolation::NotJson`]), and its call
//! fails; the host never trusts it further.

use super::error::ContractViolation;
use cairn_contract::json_text;
use serde_json::Value;

/// `cairn:provider@0.1.0`, the first released version.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.1.0",
        world: "cairn:provider/provider-plugin",
        exports: { default: async },
    });
}

/// `cairn:provider@0.2.0`. Its world declares the WASI imports a
/// provider may use; they are wasmtime's own bindings, linked in
/// `build_linker`.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.2.0",
        world: "cairn:provider/provider-plugin",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        },
    });
}

/// `cairn:provider@0.3.0`, the newest version: its records are the host's
/// own (re-exported below). Its world imports what 0.2.0's does.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.3.0",
        world: "cairn:provider/provider-plugin",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        },
    });
}

pub use v0_3::cairn::provider::types::{
    Action, Change, Declared, Desired, Diagnostic, DiffInput, Error, ErrorKind, FieldChange, Hold,
    Notice, NoticeKind, Observed, Outcome, ProviderInfo, ResourceType, Scope, Secret, Severity,
    Validation,
};

/// Parses JSON text a plugin sent; `what` names it in the error.
fn parse_json(text: &str, what: impl FnOnce() -> String) -> Result<Value, ContractViolation> {
    serde_json::from_str(text).map_err(|source| ContractViolation::NotJson {
        what: what(),
        source,
    })
}

fn parse_optional(
    text: Option<String>,
    what: impl FnOnce() -> String,
) -> Result<Option<Value>, ContractViolation> {
    text.map(|text| parse_json(&text, what)).transpose()
}

impl TryFrom<ProviderInfo> for cairn_contract::ProviderInfo {
    type Error = ContractViolation;

    fn try_from(info: ProviderInfo) -> Result<Self, ContractViolation> {
        Ok(Self {
            config_schema: parse_json(&info.config_schema, || "the config schema".into())?,
            resource_types: info
                .resource_types
                .into_iter()
                .map(|t| {
                    Ok(cairn_contract::ResourceType {
                        schema: parse_json(&t.schema, || format!("the schema of `{}`", t.name))?,
                        name: t.name,
                        description: t.description,
                        identity: t.identity,
                        force_replace: t.force_replace,
                        sensitive: t.sensitive,
                    })
                })
                .collect::<Result<_, ContractViolation>>()?,
            name: info.name,
            version: info.version,
            description: info.description,
        })
    }
}

impl From<Severity> for cairn_contract::Severity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Error => Self::Error,
            Severity::Warning => Self::Warning,
        }
    }
}

impl TryFrom<Validation> for cairn_contract::Validation {
    type Error = ContractViolation;

    fn try_from(validation: Validation) -> Result<Self, ContractViolation> {
        Ok(Self {
            canonical: parse_optional(validation.canonical, || "a canonical spec".into())?,
            diagnostics: validation.diagnostics.into_iter().map(Into::into).collect(),
        })
    }
}

impl From<Diagnostic> for cairn_contract::Diagnostic {
    fn from(diagnostic: Diagnostic) -> Self {
        Self {
            path: diagnostic.path,
            severity: diagnostic.severity.into(),
            message: diagnostic.message,
            help: diagnostic.help,
        }
    }
}

impl From<&cairn_contract::Diagnostic> for Diagnostic {
    fn from(diagnostic: &cairn_contract::Diagnostic) -> Self {
        Self {
            path: diagnostic.path.clone(),
            severity: match diagnostic.severity {
                cairn_contract::Severity::Error => Severity::Error,
                cairn_contract::Severity::Warning => Severity::Warning,
            },
            message: diagnostic.message.clone(),
            help: diagnostic.help.clone(),
        }
    }
}

impl TryFrom<Observed> for cairn_contract::Observed {
    type Error = ContractViolation;

    fn try_from(observed: Observed) -> Result<Self, ContractViolation> {
        Ok(Self {
            state: parse_json(&observed.state, || format!("the state of {}", observed.id))?,
            type_name: observed.type_name,
            id: observed.id,
            vouched: observed.vouched,
        })
    }
}

impl From<&cairn_contract::DiffInput> for DiffInput {
    fn from(input: &cairn_contract::DiffInput) -> Self {
        Self {
            type_name: input.type_name.clone(),
            id: input.id.clone(),
            desired: input.desired.as_ref().map(json_text),
            observed: input.observed.as_ref().map(json_text),
            prior: input.prior.as_ref().map(json_text),
            halt: input.halt,
        }
    }
}

impl From<Action> for cairn_contract::Action {
    fn from(action: Action) -> Self {
        match action {
            Action::NoOp => Self::NoOp,
            Action::Create => Self::Create,
            Action::Update => Self::Update,
            Action::Replace => Self::Replace,
            Action::Delete => Self::Delete,
        }
    }
}

impl From<cairn_contract::Action> for Action {
    fn from(action: cairn_contract::Action) -> Self {
        match action {
            cairn_contract::Action::NoOp => Self::NoOp,
            cairn_contract::Action::Create => Self::Create,
            cairn_contract::Action::Update => Self::Update,
            cairn_contract::Action::Replace => Self::Replace,
            cairn_contract::Action::Delete => Self::Delete,
        }
    }
}

impl TryFrom<Change> for cairn_contract::Change {
    type Error = ContractViolation;

    fn try_from(change: Change) -> Result<Self, ContractViolation> {
        let id = &change.id;
        let what = |part: &str| format!("the {part} of the change to {id}");
        Ok(Self {
            action: change.action.into(),
            fields: change
                .fields
                .into_iter()
                .map(|field| {
                    Ok(cairn_contract::FieldChange {
                        before: parse_optional(field.before, || what("field values"))?,
                        after: parse_optional(field.after, || what("field values"))?,
                        path: field.path,
                        sensitive: field.sensitive,
                    })
                })
                .collect::<Result<_, ContractViolation>>()?,
            desired: parse_optional(change.desired, || what("desired spec"))?,
            observed: parse_optional(change.observed, || what("observed state"))?,
            diagnostics: change.diagnostics.into_iter().map(Into::into).collect(),
            recheck_after_ms: change.recheck_after_ms,
            holds: change
                .holds
                .into_iter()
                .map(|hold| cairn_contract::Hold {
                    provider: hold.provider,
                    type_name: hold.type_name,
                    id: hold.id,
                    until_ms: hold.until_ms,
                })
                .collect(),
            notice: change.notice.map(|notice| cairn_contract::Notice {
                kind: match notice.kind {
                    NoticeKind::ChaosAborted => cairn_contract::NoticeKind::ChaosAborted,
                    NoticeKind::ChaosRestoreFailed => {
                        cairn_contract::NoticeKind::ChaosRestoreFailed
                    }
                },
                message: notice.message,
            }),
            type_name: change.type_name,
            id: change.id,
            summary: change.summary,
        })
    }
}

impl From<&cairn_contract::Change> for Change {
    fn from(change: &cairn_contract::Change) -> Self {
        Self {
            type_name: change.type_name.clone(),
            id: change.id.clone(),
            action: change.action.into(),
            summary: change.summary.clone(),
            fields: change
                .fields
                .iter()
                .map(|field| FieldChange {
                    path: field.path.clone(),
                    before: field.before.as_ref().map(json_text),
                    after: field.after.as_ref().map(json_text),
                    sensitive: field.sensitive,
                })
                .collect(),
            desired: change.desired.as_ref().map(json_text),
            observed: change.observed.as_ref().map(json_text),
            diagnostics: change.diagnostics.iter().map(Into::into).collect(),
            recheck_after_ms: change.recheck_after_ms,
            holds: change
                .holds
                .iter()
                .map(|hold| Hold {
                    provider: hold.provider.clone(),
                    type_name: hold.type_name.clone(),
                    id: hold.id.clone(),
                    until_ms: hold.until_ms,
                })
                .collect(),
            notice: change.notice.as_ref().map(|notice| Notice {
                kind: match notice.kind {
                    cairn_contract::NoticeKind::ChaosAborted => NoticeKind::ChaosAborted,
                    cairn_contract::NoticeKind::ChaosRestoreFailed => {
                        NoticeKind::ChaosRestoreFailed
                    }
                },
                message: notice.message.clone(),
            }),
        }
    }
}

impl From<ErrorKind> for cairn_contract::ErrorKind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Invalid => Self::Invalid,
            ErrorKind::Unauthorized => Self::Unauthorized,
            ErrorKind::Conflict => Self::Conflict,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Denied => Self::Denied,
            ErrorKind::Unavailable => Self::Unavailable,
            ErrorKind::Timeout => Self::Timeout,
            ErrorKind::Internal => Self::Internal,
        }
    }
}

impl From<Error> for cairn_contract::Error {
    fn from(error: Error) -> Self {
        Self {
            kind: error.kind.into(),
            message: error.message,
        }
    }
}

impl TryFrom<Outcome> for cairn_contract::Outcome {
    type Error = ContractViolation;

    fn try_from(outcome: Outcome) -> Result<Self, ContractViolation> {
        Ok(match outcome {
            Outcome::Applied(state) => {
                Self::Applied(parse_optional(state, || "a new state".into())?)
            }
            Outcome::Failed(error) => Self::Failed(error.into()),
            Outcome::Skipped(reason) => Self::Skipped(reason),
        })
    }
}

/// `cairn:policy@0.1.0`, the policy contract: its records are turned into
/// the contract's policy types here, as the provider's are above.
pub mod policy_v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/policy@0.1.0",
        world: "cairn:policy/policy-plugin",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        },
    });

    use super::{ContractViolation, parse_json};
    use cairn::policy::types as wit;

    impl TryFrom<wit::PolicyInfo> for cairn_contract::PolicyInfo {
        type Error = ContractViolation;

        fn try_from(info: wit::PolicyInfo) -> Result<Self, ContractViolation> {
            Ok(Self {
                config_schema: parse_json(&info.config_schema, || "the config schema".into())?,
                name: info.name,
                version: info.version,
                description: info.description,
            })
        }
    }

    impl From<&cairn_contract::PolicySettings> for wit::Settings {
        fn from(settings: &cairn_contract::PolicySettings) -> Self {
            Self {
                config: cairn_contract::json_text(&settings.config),
                files: settings
                    .files
                    .iter()
                    .map(|file| wit::RuleFile {
                        name: file.name.clone(),
                        text: file.text.clone(),
                    })
                    .collect(),
            }
        }
    }

    impl From<&cairn_contract::PolicyInput> for wit::Input {
        fn from(input: &cairn_contract::PolicyInput) -> Self {
            let commit = &input.commit;
            Self {
                tenant: input.tenant.clone(),
                commit: wit::Commit {
                    id: commit.id.clone(),
                    author: commit.author.clone(),
                    message: commit.message.clone(),
                    time: commit.time,
                    signer: commit.signer.clone(),
                },
                resources: input
                    .resources
                    .iter()
                    .map(|resource| wit::Resource {
                        address: resource.address.clone(),
                        provider: resource.provider.clone(),
                        type_name: resource.type_name.clone(),
                        id: resource.id.clone(),
                        spec: cairn_contract::json_text(&resource.spec),
                        file: resource.file.clone(),
                        line: resource.line,
                    })
                    .collect(),
                plan: input.plan.as_ref().map(ToString::to_string),
            }
        }
    }

    impl From<wit::Finding> for cairn_contract::Finding {
        fn from(finding: wit::Finding) -> Self {
            Self {
                rule: finding.rule,
                severity: match finding.severity {
                    wit::Severity::Error => cairn_contract::FindingSeverity::Error,
                    wit::Severity::Warning => cairn_contract::FindingSeverity::Warning,
                    wit::Severity::Info => cairn_contract::FindingSeverity::Info,
                },
                message: finding.message,
                address: finding.address,
                field: finding.field,
                help: finding.help,
            }
        }
    }

    impl From<wit::Error> for cairn_contract::PolicyError {
        fn from(error: wit::Error) -> Self {
            Self {
                kind: match error.kind {
                    wit::ErrorKind::InvalidConfig => cairn_contract::PolicyErrorKind::InvalidConfig,
                    wit::ErrorKind::InvalidRules => cairn_contract::PolicyErrorKind::InvalidRules,
                    wit::ErrorKind::Internal => cairn_contract::PolicyErrorKind::Internal,
                },
                message: error.message,
                file: error.file,
                line: error.line,
            }
        }
    }
}
