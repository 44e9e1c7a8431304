//! # cairn-policy-sdk: write a Cairn policy plugin
//!
//! A policy is a WebAssembly component that checks what Cairn is about to
//! do. Before anything is applied, Cairn shows each policy the operator
//! chose for a tenant the desired resources of the commit (with the file
//! and line of each), the plan when there is one, and the commit, and the
//! policy returns [`Finding`]s. The operator, not the policy, decides what
//! a finding does: each policy has an enforcement level in `cairn.toml`
//! (`advisory` reports, `soft-mandatory` blocks unless an operator
//! overrides one plan, `mandatory` blocks), and only findings of severity
//! [`FindingSeverity::Error`] block.
//!
//! This crate hides the generated WIT bindings of `cairn:policy@0.1.0`.
//! You implement [`Policy`], call [`export_policy!`] once, and build with
//! `cargo build --release --target wasm32-wasip2`.
//!
//! ## The rules a policy follows
//! - **Deterministic.** The same settings and input give the same
//!   findings: they are part of a saved plan's checksum, and a plan saved
//!   and applied later is refused if they differ.
//! - **Stable rule ids.** [`Finding::rule`] names the rule (`dns-min-ttl`),
//!   the same across versions, so that operators can refer to it.
//! - **Point at the source.** Set [`Finding::address`] and
//!   [`Finding::field`] where the finding concerns one resource: the host
//!   shows the file and line that declare it.
//! - **Errors for what you cannot judge.** A config you do not accept is a
//!   [`PolicyError`] of kind `invalid-config`; the host then blocks the plan
//!   wherever your findings would, rather than let it through unchecked.
//!
//! ## A complete policy
//!
//! No plan may delete more than `max_deletes` objects:
//!
//! ```no_run
//! use cairn_policy_sdk::serde_json::json;
//! use cairn_policy_sdk::{plan, Finding, Policy, PolicyError, PolicyErrorKind, PolicyInfo,
//!     PolicyInput, PolicySettings};
//!
//! struct MaxDeletes;
//!
//! impl Policy for MaxDeletes {
//!     fn describe() -> PolicyInfo {
//!         PolicyInfo {
//!             name: "max-deletes".into(),
//!             version: "0.1.0".into(),
//!             description: "No plan deletes more than `max_deletes` objects".into(),
//!             config_schema: json!({
//!                 "type": "object",
//!                 "properties": {"max_deletes": {"type": "integer", "minimum": 0}},
//!                 "required": ["max_deletes"],
//!                 "additionalProperties": false
//!             }),
//!         }
//!     }
//!
//!     fn evaluate(settings: &PolicySettings, input: &PolicyInput)
//!         -> Result<Vec<Finding>, PolicyError> {
//!         let max = settings.config["max_deletes"].as_u64().ok_or_else(|| {
//!             PolicyError::new(PolicyErrorKind::InvalidConfig, "max_deletes must be a number")
//!         })?;
//!         let deletes = plan::changes(input).filter(|change| change.deletes()).count();
//!         Ok(if deletes as u64 > max {
//!             vec![Finding::error("max-deletes",
//!                 format!("the plan deletes {deletes} objects, more than {max}"))]
//!         } else {
//!             Vec::new()
//!         })
//!     }
//! }
//!
//! cairn_policy_sdk::export_policy!(MaxDeletes);
//! ```

#![deny(missing_docs)]

// The generated bindings name this crate by its public path.
extern crate self as cairn_policy_sdk;

#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings;
mod export;
pub mod log;
pub mod plan;

pub use cairn_contract::{
    Finding, FindingSeverity, PolicyCommit, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput,
    PolicyResource, PolicySettings, RuleFile,
};
pub use serde;
pub use serde_json;

/// A policy: what it is, and what it finds in a plan.
pub trait Policy {
    /// What the policy is; called when it loads. Must do no I/O.
    fn describe() -> PolicyInfo;

    /// Checks `input` under the operator's `settings` (its `config` and the
    /// files its configuration names) and returns what it finds.
    fn evaluate(
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PolicyError>;
}

/// Items used by [`export_policy!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::export::Export;
    pub use wit_bindgen;
}
