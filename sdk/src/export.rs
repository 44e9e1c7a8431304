//! Glue between the generated bindings and a [`Provider`]: converts between
//! WIT records and the contract's types ([`cairn_contract`]), and keeps the configured provider for the
//! duration of one call.

use crate::Provider;
use crate::addressed;
use crate::bindings::cairn::provider::types as wit;
use crate::bindings::exports::cairn::provider::provider::Guest;
use crate::{
    Action, Change, Declarations, Declared, Diagnostic, DiffInput, Error, ErrorKind, FieldChange,
    Hold, Notice, NoticeKind, Observed, Outcome, ProviderInfo, Resource, Scope, Secrets, Severity,
    Validation,
};
use cairn_contract::json_text;
use serde_json::Value;
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

thread_local! {
    /// The provider built by the last `configure` of this instance. Each host
    /// call runs in a fresh instance, so this never outlives one call.
    static CONFIGURED: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Implements the generated export trait for any [`Provider`]; used by
/// [`export_provider!`](crate::export_provider).
#[doc(hidden)]
pub struct Export<P>(PhantomData<P>);

fn with_configured<P: Provider, T>(call: impl FnOnce(&P) -> Result<T, Error>) -> Result<T, Error> {
    CONFIGURED.with(|slot| {
        let slot = slot.borrow();
        let provider = slot
            .as_ref()
            .and_then(|boxed| boxed.downcast_ref::<P>())
            .ok_or_else(|| Error::internal("the host called the provider before `configure`"))?;
        call(provider)
    })
}

fn parse_json(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|error| Error::internal(format!("the host sent {what} that is not JSON: {error}")))
}

fn parse_optional(what: &str, text: Option<String>) -> Result<Option<Value>, Error> {
    text.map(|text| parse_json(what, &text)).transpose()
}

impl<P: Provider> Guest for Export<P> {
    fn describe() -> wit::ProviderInfo {
        P::describe().into()
    }

    fn configure(
        config: String,
        secrets: Vec<wit::Secret>,
        owner: String,
    ) -> Result<(), wit::Error> {
        let config = parse_json("a config", &config)?;
        let secrets = Secrets::new(
            secrets
                .into_iter()
                .map(|secret| (secret.name, secret.value))
                .collect(),
        );
        let provider = P::configure(config, secrets, &owner)?;
        CONFIGURED.with(|slot| *slot.borrow_mut() = Some(Box::new(provider)));
        Ok(())
    }

    fn validate(resources: Vec<wit::Desired>) -> Vec<wit::Validation> {
        resources
            .into_iter()
            .map(|resource| {
                let validation = match parse_json("a spec", &resource.spec) {
                    Ok(spec) => P::validate(&Resource {
                        type_name: resource.type_name,
                        spec,
                    }),
                    Err(error) => Validation::invalid(vec![Diagnostic::error("", error.message)]),
                };
                validation.into()
            })
            .collect()
    }

    fn list(scope: wit::Scope) -> Result<Vec<wit::Observed>, wit::Error> {
        let scope = Scope {
            type_names: scope.type_names,
            ids: scope.ids,
        };
        let observed = with_configured::<P, _>(|provider| provider.list(&scope))?;
        Ok(observed.into_iter().map(Into::into).collect())
    }

    fn diff(
        inputs: Vec<wit::DiffInput>,
        declared: Vec<wit::Declared>,
    ) -> Result<Vec<wit::Change>, wit::Error> {
        let inputs = inputs
            .into_iter()
            .map(|input| {
                Ok(DiffInput {
                    desired: parse_optional("a desired spec", input.desired)?,
                    observed: parse_optional("an observed state", input.observed)?,
                    prior: parse_optional("a prior state", input.prior)?,
                    halt: input.halt,
                    type_name: input.type_name,
                    id: input.id,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let info = P::describe();
        let refused = inputs.iter().find_map(|input| {
            addressed::refusal(
                &info,
                &input.type_name,
                &input.id,
                input.desired.as_ref(),
                input.observed.as_ref(),
            )
        });
        if let Some(error) = refused {
            return Err(error.into());
        }
        let declared = declared
            .into_iter()
            .map(|declared| Declared {
                type_name: declared.type_name,
                id: declared.id,
            })
            .collect();
        let declarations = Declarations::new(&inputs, declared);
        let count = inputs.len();
        let changes = with_configured::<P, _>(|provider| provider.diff(inputs, &declarations))?;
        if changes.len() != count {
            return Err(Error::internal(format!(
                "diff returned {} changes for {count} inputs",
                changes.len()
            ))
            .into());
        }
        Ok(changes.into_iter().map(Into::into).collect())
    }

    fn apply(changes: Vec<wit::Change>) -> Vec<wit::Outcome> {
        let count = changes.len();
        let parsed: Result<Vec<Change>, Error> =
            changes.into_iter().map(Change::try_from).collect();
        let changes = match parsed {
            Ok(changes) => changes,
            Err(error) => return vec![Outcome::Failed(error).into(); count],
        };
        // A change for an object other than the one it names fails on its
        // own; the provider applies the rest.
        let info = P::describe();
        let refusals: Vec<Option<Error>> = changes
            .iter()
            .map(|change| {
                addressed::refusal(
                    &info,
                    &change.type_name,
                    &change.id,
                    change.desired.as_ref(),
                    change.observed.as_ref(),
                )
            })
            .collect();
        let accepted: Vec<Change> = changes
            .into_iter()
            .zip(&refusals)
            .filter(|(_, refusal)| refusal.is_none())
            .map(|(change, _)| change)
            .collect();
        let expected = accepted.len();
        let outcomes = if accepted.is_empty() {
            Ok(Vec::new())
        } else {
            with_configured::<P, _>(|provider| Ok(provider.apply(accepted)))
        };
        let mut outcomes = match outcomes {
            Ok(outcomes) if outcomes.len() == expected => outcomes.into_iter(),
            Ok(outcomes) => {
                let error = Error::internal(format!(
                    "apply returned {} outcomes for {expected} changes",
                    outcomes.len()
                ));
                return vec![Outcome::Failed(error).into(); count];
            }
            Err(error) => return vec![Outcome::Failed(error).into(); count],
        };
        refusals
            .into_iter()
            .map(|refusal| match refusal {
                Some(error) => Outcome::Failed(error),
                None => outcomes.next().expect("one outcome per accepted change"),
            })
            .map(Into::into)
            .collect()
    }
}

impl From<Error> for wit::Error {
    fn from(error: Error) -> Self {
        let kind = match error.kind {
            ErrorKind::Invalid => wit::ErrorKind::Invalid,
            ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
            ErrorKind::Conflict => wit::ErrorKind::Conflict,
            ErrorKind::NotFound => wit::ErrorKind::NotFound,
            ErrorKind::Denied => wit::ErrorKind::Denied,
            ErrorKind::Unavailable => wit::ErrorKind::Unavailable,
            ErrorKind::Timeout => wit::ErrorKind::Timeout,
            ErrorKind::Internal => wit::ErrorKind::Internal,
        };
        wit::Error {
            kind,
            message: error.message,
        }
    }
}

impl From<ProviderInfo> for wit::ProviderInfo {
    fn from(info: ProviderInfo) -> Self {
        wit::ProviderInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            config_schema: json_text(&info.config_schema),
            resource_types: info
                .resource_types
                .into_iter()
                .map(|resource_type| wit::ResourceType {
                    name: resource_type.name,
                    description: resource_type.description,
                    schema: json_text(&resource_type.schema),
                    identity: resource_type.identity,
                    force_replace: resource_type.force_replace,
                    sensitive: resource_type.sensitive,
                })
                .collect(),
        }
    }
}

impl From<Validation> for wit::Validation {
    fn from(validation: Validation) -> Self {
        wit::Validation {
            canonical: validation.canonical.as_ref().map(json_text),
            diagnostics: validation.diagnostics.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Diagnostic> for wit::Diagnostic {
    fn from(diagnostic: Diagnostic) -> Self {
        wit::Diagnostic {
            path: diagnostic.path,
            severity: match diagnostic.severity {
                Severity::Error => wit::Severity::Error,
                Severity::Warning => wit::Severity::Warning,
            },
            message: diagnostic.message,
            help: diagnostic.help,
        }
    }
}

impl From<wit::Diagnostic> for Diagnostic {
    fn from(diagnostic: wit::Diagnostic) -> Self {
        Diagnostic {
            path: diagnostic.path,
            severity: match diagnostic.severity {
                wit::Severity::Error => Severity::Error,
                wit::Severity::Warning => Severity::Warning,
            },
            message: diagnostic.message,
            help: diagnostic.help,
        }
    }
}

impl From<Observed> for wit::Observed {
    fn from(observed: Observed) -> Self {
        wit::Observed {
            type_name: observed.type_name,
            id: observed.id,
            state: json_text(&observed.state),
            vouched: observed.vouched,
        }
    }
}

fn action_to_wit(action: Action) -> wit::Action {
    match action {
        Action::NoOp => wit::Action::NoOp,
        Action::Create => wit::Action::Create,
        Action::Update => wit::Action::Update,
        Action::Replace => wit::Action::Replace,
        Action::Delete => wit::Action::Delete,
    }
}

impl From<Change> for wit::Change {
    fn from(change: Change) -> Self {
        wit::Change {
            type_name: change.type_name,
            id: change.id,
            action: action_to_wit(change.action),
            summary: change.summary,
            fields: change
                .fields
                .into_iter()
                .map(|field| wit::FieldChange {
                    path: field.path,
                    before: field.before.as_ref().map(json_text),
                    after: field.after.as_ref().map(json_text),
                    sensitive: field.sensitive,
                })
                .collect(),
            desired: change.desired.as_ref().map(json_text),
            observed: change.observed.as_ref().map(json_text),
            diagnostics: change.diagnostics.into_iter().map(Into::into).collect(),
            recheck_after_ms: change.recheck_after_ms,
            holds: change
                .holds
                .into_iter()
                .map(|hold| wit::Hold {
                    provider: hold.provider,
                    type_name: hold.type_name,
                    id: hold.id,
                    until_ms: hold.until_ms,
                })
                .collect(),
            notice: change.notice.map(|notice| wit::Notice {
                kind: match notice.kind {
                    NoticeKind::ChaosAborted => wit::NoticeKind::ChaosAborted,
                    NoticeKind::ChaosRestoreFailed => wit::NoticeKind::ChaosRestoreFailed,
                },
                message: notice.message,
            }),
        }
    }
}

impl TryFrom<wit::Change> for Change {
    type Error = Error;

    fn try_from(change: wit::Change) -> Result<Self, Error> {
        Ok(Change {
            action: match change.action {
                wit::Action::NoOp => Action::NoOp,
                wit::Action::Create => Action::Create,
                wit::Action::Update => Action::Update,
                wit::Action::Replace => Action::Replace,
                wit::Action::Delete => Action::Delete,
            },
            fields: change
                .fields
                .into_iter()
                .map(|field| {
                    Ok(FieldChange {
                        before: parse_optional("a field value", field.before)?,
                        after: parse_optional("a field value", field.after)?,
                        path: field.path,
                        sensitive: field.sensitive,
                    })
                })
                .collect::<Result<_, Error>>()?,
            desired: parse_optional("a desired spec", change.desired)?,
            observed: parse_optional("an observed state", change.observed)?,
            diagnostics: change.diagnostics.into_iter().map(Into::into).collect(),
            recheck_after_ms: change.recheck_after_ms,
            holds: change
                .holds
                .into_iter()
                .map(|hold| Hold {
                    provider: hold.provider,
                    type_name: hold.type_name,
                    id: hold.id,
                    until_ms: hold.until_ms,
                })
                .collect(),
            notice: change.notice.map(|notice| Notice {
                kind: match notice.kind {
                    wit::NoticeKind::ChaosAborted => NoticeKind::ChaosAborted,
                    wit::NoticeKind::ChaosRestoreFailed => NoticeKind::ChaosRestoreFailed,
                },
                message: notice.message,
            }),
            type_name: change.type_name,
            id: change.id,
            summary: change.summary,
        })
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Applied(state) => wit::Outcome::Applied(state.as_ref().map(json_text)),
            Outcome::Failed(error) => wit::Outcome::Failed(error.into()),
            Outcome::Skipped(reason) => wit::Outcome::Skipped(reason),
        }
    }
}

/// Exports a [`Provider`] as the component's `cairn:provider/provider`
/// implementation. Use it once, at the crate root of a `cdylib` built for
/// `wasm32-wasip2`:
///
/// ```ignore
/// cairn_sdk::export_provider!(MyProvider);
/// ```
///
/// A type that does not implement [`Provider`] is rejected at compile time
/// with "`MyProvider` is not a Cairn provider":
///
/// ```compile_fail
/// struct NotAProvider;
/// cairn_sdk::export_provider!(NotAProvider);
/// ```
#[macro_export]
macro_rules! export_provider {
    ($provider:ty) => {
        const _: () = {
            fn __cairn_assert_provider<P: $crate::Provider>() {}
            let _ = __cairn_assert_provider::<$provider>;
        };
        // The component exports exist only in the WebAssembly build, so the
        // same crate also builds natively for its unit tests.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __CairnExportedProvider = $crate::__private::Export<$provider>;
        #[cfg(target_arch = "wasm32")]
        $crate::__private::bindings::__export_provider_plugin!(
            __CairnExportedProvider with_types_in $crate::__private::bindings
        );
    };
}
