//! Glue between the generated bindings and a [`Policy`]: converts WIT
//! records to and from the contract's policy types.

use crate::Policy;
use crate::bindings::cairn::policy::types as wit;
use crate::bindings::exports::cairn::policy::policy::Guest;
use cairn_contract::{
    Finding, FindingSeverity, PolicyCommit, PolicyError, PolicyErrorKind, PolicyInput,
    PolicyResource, PolicySettings, RuleFile,
};
use serde_json::Value;
use std::marker::PhantomData;

/// Implements the generated export trait for any [`Policy`]; used by
/// [`export_policy!`](crate::export_policy).
#[doc(hidden)]
pub struct Export<P>(PhantomData<P>);

fn parse_json(what: &str, text: &str) -> Result<Value, PolicyError> {
    serde_json::from_str(text).map_err(|error| {
        PolicyError::new(
            PolicyErrorKind::Internal,
            format!("the host sent {what} that is not JSON: {error}"),
        )
    })
}

impl<P: Policy> Guest for Export<P> {
    fn describe() -> wit::PolicyInfo {
        let info = P::describe();
        wit::PolicyInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            config_schema: info.config_schema.to_string(),
        }
    }

    fn evaluate(
        settings: wit::Settings,
        input: wit::Input,
    ) -> Result<Vec<wit::Finding>, wit::Error> {
        let settings = PolicySettings {
            config: parse_json("a config", &settings.config)?,
            files: settings
                .files
                .into_iter()
                .map(|file| RuleFile {
                    name: file.name,
                    text: file.text,
                })
                .collect(),
        };
        let resources = input
            .resources
            .into_iter()
            .map(|resource| {
                Ok(PolicyResource {
                    spec: parse_json("a spec", &resource.spec)?,
                    address: resource.address,
                    provider: resource.provider,
                    type_name: resource.type_name,
                    id: resource.id,
                    file: resource.file,
                    line: resource.line,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let input = PolicyInput {
            tenant: input.tenant,
            commit: PolicyCommit {
                id: input.commit.id,
                author: input.commit.author,
                message: input.commit.message,
                time: input.commit.time,
                signer: input.commit.signer,
            },
            resources,
            plan: input
                .plan
                .map(|plan| parse_json("a plan", &plan))
                .transpose()?,
        };
        let findings = P::evaluate(&settings, &input)?;
        Ok(findings.into_iter().map(Into::into).collect())
    }
}

impl From<PolicyError> for wit::Error {
    fn from(error: PolicyError) -> Self {
        Self {
            kind: match error.kind {
                PolicyErrorKind::InvalidConfig => wit::ErrorKind::InvalidConfig,
                PolicyErrorKind::InvalidRules => wit::ErrorKind::InvalidRules,
                PolicyErrorKind::Internal => wit::ErrorKind::Internal,
            },
            message: error.message,
            file: error.file,
            line: error.line,
        }
    }
}

impl From<Finding> for wit::Finding {
    fn from(finding: Finding) -> Self {
        Self {
            rule: finding.rule,
            severity: match finding.severity {
                FindingSeverity::Error => wit::Severity::Error,
                FindingSeverity::Warning => wit::Severity::Warning,
                FindingSeverity::Info => wit::Severity::Info,
            },
            message: finding.message,
            address: finding.address,
            field: finding.field,
            help: finding.help,
        }
    }
}

/// Exports a [`Policy`] as the component's `cairn:policy/policy`
/// interface. Call it once, at the crate's root.
///
/// ```ignore
/// struct MaxDeletes;
/// impl cairn_policy_sdk::Policy for MaxDeletes { /* ... */ }
/// cairn_policy_sdk::export_policy!(MaxDeletes);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        const _: () = {
            fn __cairn_assert_policy<P: $crate::Policy>() {}
            let _ = __cairn_assert_policy::<$policy>;
        };
        // The component exports exist only in the WebAssembly build, so the
        // same crate also builds natively for its unit tests.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __CairnExportedPolicy = $crate::__private::Export<$policy>;
        #[cfg(target_arch = "wasm32")]
        $crate::__private::bindings::__export_policy_plugin!(
            __CairnExportedPolicy with_types_in $crate::__private::bindings
        );
    };
}
