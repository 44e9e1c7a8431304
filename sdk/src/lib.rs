//! # cairn-sdk: write a Cairn provider plugin
//!
//! A provider is a WebAssembly component that manages one family of
//! real-world objects for Cairn: DNS records, identity users, containers.
//! Cairn reads the desired state from Git and asks the provider to
//! [`validate`](Provider::validate) it, [`list`](Provider::list) what exists,
//! [`diff`](Provider::diff) the two and [`apply`](Provider::apply) the
//! changes. The provider runs sandboxed: no files, no environment, and HTTP
//! only to the hosts the operator granted in `cairn.toml`.
//!
//! This crate hides the generated WIT bindings of `cairn:provider@0.3.0`.
//! The values a provider receives and returns are the contract's own types
//! (the `cairn-contract` crate, which the host uses too), re-exported here.
//! You implement [`Provider`], call [`export_provider!`] once, and build with
//! `cargo build --release --target wasm32-wasip2`; the `.wasm` file in
//! `target/wasm32-wasip2/release/` is the plugin.
//!
//! ## The rules a provider follows
//! - **Canonical form.** `validate` returns the spec in canonical form and
//!   `list` returns observed state in the same form, with the spec's field
//!   names. Then an unchanged repository plans no changes, and the host can
//!   honour `ignore_changes` without knowing your types.
//! - **Identity.** The fields named in [`ResourceType::identity`] make the
//!   id (`www.example.org./A`); the address is `PROVIDER/TYPE/ID`.
//! - **No policy.** Ownership, pruning, `protect`, `on_delete`, ordering,
//!   retries and audit belong to the host. `list` reports everything it
//!   sees; the host decides what it owns.
//! - **Only the objects named.** A `diff` input or a change whose type
//!   `describe` does not list, or whose id is not the one its spec's
//!   identity fields give, is refused with `invalid` before your code sees
//!   it: the SDK checks both.
//! - **Idempotent apply**, one [`Outcome`] per change; batch server calls
//!   where the API allows, and report partial failure truthfully.
//! - **Typed errors.** Return an [`Error`] with the right [`ErrorKind`]:
//!   `unavailable` and `timeout` are retried, `invalid` is not.
//! - **References resolve at plan time.** A field that names another
//!   object (a group's member, a container's volume) is checked in `diff`
//!   against the [`Declarations`] of the commit and the real world; one
//!   that resolves to neither is an error [`Diagnostic`] on the change
//!   ([`Change::diagnostics`]), and the plan stops before anything is
//!   applied, pointing at the field in Git. Never leave it for `apply` to
//!   fail half-way.
//! - **Vouch only from a mark.** A provider that can label the objects it
//!   creates writes the owner mark [`Provider::configure`] receives on each,
//!   and sets [`Observed::vouched`] on those that bear it, so that a lost
//!   state store does not make the tenant's own objects conflicts. Never
//!   vouch from a guess such as a matching name.
//! - **Time-dependent state asks to be looked at again.** A desired state
//!   that changes with time (a certificate to renew, a chaos experiment's
//!   run) sets [`Change::recheck_after_ms`] on its change, a no-op
//!   included; otherwise the host looks again at the tenant's drift
//!   interval.
//! - **Say what you hold.** A resource that keeps the tenant's other
//!   objects away from their desired state on purpose (a chaos
//!   experiment's targets) lists them in [`Change::holds`], on every change
//!   while the hold lasts, so that the host does not take the difference
//!   for drift and repair it; [`Change::notice`] tells the operator what
//!   an apply found (a run aborted by its probe).
//!
//! ## A complete provider
//!
//! A provider of key/value entries kept by an HTTP service at
//! `{url}/entries/{key}`:
//!
//! ```no_run
//! use cairn_sdk::http::{Client, Method};
//! use cairn_sdk::serde::Deserialize;
//! use cairn_sdk::serde_json::{json, Value};
//! use cairn_sdk::{
//!     spec, Action, Change, Error, Observed, Outcome, Provider, ProviderInfo, Resource,
//!     ResourceType, Scope, Secrets, Validation,
//! };
//!
//! #[derive(Deserialize)]
//! #[serde(crate = "cairn_sdk::serde", deny_unknown_fields)]
//! struct Config {
//!     url: String,
//! }
//!
//! #[derive(Deserialize)]
//! #[serde(crate = "cairn_sdk::serde", deny_unknown_fields)]
//! struct Entry {
//!     key: String,
//!     value: String,
//! }
//!
//! struct Entries {
//!     client: Client,
//! }
//!
//! impl Provider for Entries {
//!     fn describe() -> ProviderInfo {
//!         ProviderInfo {
//!             name: "entries".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             description: "key/value entries of an HTTP service".into(),
//!             // The schemas say what `validate` and `configure` accept: the
//!             // host checks cairn.toml's `config` against the second.
//!             resource_types: vec![ResourceType::new("entry", "one key and its value", &["key"])
//!                 .schema(json!({
//!                     "type": "object",
//!                     "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
//!                     "required": ["key", "value"],
//!                     "additionalProperties": false
//!                 }))],
//!             config_schema: json!({
//!                 "type": "object",
//!                 "properties": {"url": {"type": "string"}},
//!                 "required": ["url"],
//!                 "additionalProperties": false
//!             }),
//!         }
//!     }
//!
//!     // The service cannot label its entries, so the owner mark is unused
//!     // and `list` vouches for nothing.
//!     fn configure(config: Value, secrets: Secrets, _owner: &str) -> Result<Self, Error> {
//!         let config: Config = spec::parse(&config).map_err(|d| Error::invalid(d.message))?;
//!         let token = secrets.require("token")?;
//!         let client = Client::new(&config.url).with_header("authorization", &format!("Bearer {token}"));
//!         Ok(Self { client })
//!     }
//!
//!     fn validate(resource: &Resource) -> Validation {
//!         match spec::parse::<Entry>(&resource.spec) {
//!             Ok(entry) => Validation::valid(json!({"key": entry.key.to_lowercase(), "value": entry.value})),
//!             Err(diagnostic) => Validation::invalid(vec![diagnostic]),
//!         }
//!     }
//!
//!     fn list(&self, scope: &Scope) -> Result<Vec<Observed>, Error> {
//!         let entries: Vec<(String, String)> = self.client.get_json("/entries")?;
//!         Ok(entries
//!             .into_iter()
//!             .map(|(key, value)| Observed::new("entry", key.clone(), json!({"key": key, "value": value})))
//!             .collect())
//!     }
//!
//!     // `diff` keeps the default: a field-by-field comparison.
//!
//!     fn apply(&self, changes: Vec<Change>) -> Vec<Outcome> {
//!         changes
//!             .into_iter()
//!             .map(|change| {
//!                 let path = format!("/entries/{}", change.id);
//!                 let result = match change.action {
//!                     Action::NoOp => Ok(change.observed),
//!                     // Idempotent: an entry already gone is deleted.
//!                     Action::Delete => self.client.send(Method::DELETE, &path, None)
//!                         .and_then(|r| match r.status {
//!                             404 => Ok(r),
//!                             _ => r.error_for_status("delete"),
//!                         })
//!                         .map(|_| None),
//!                     _ => self.client.send_json(Method::PUT, &path, &change.desired)
//!                         .map(|_| change.desired),
//!                 };
//!                 match result {
//!                     Ok(state) => Outcome::Applied(state),
//!                     Err(error) => Outcome::Failed(error),
//!                 }
//!             })
//!             .collect()
//!     }
//! }
//!
//! cairn_sdk::export_provider!(Entries);
//! ```
//!
//! `plugins/dns-powerdns` in Cairn's repository is a full provider written
//! this way; `cairn plugin inspect PLUGIN.wasm` shows what a built plugin
//! declares and imports.

#![deny(missing_docs)]

// The generated bindings name this crate by its public path.
extern crate self as cairn_sdk;

mod addressed;
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings;
mod declarations;
pub mod diff;
mod export;
pub mod http;
pub mod log;
mod provider;
pub mod spec;

pub use cairn_contract::{
    Action, Change, Declared, Diagnostic, DiffInput, Error, ErrorKind, FieldChange, Hold, Notice,
    NoticeKind, Observed, Outcome, ProviderInfo, Resource, ResourceType, Scope, Secrets, Severity,
    Validation,
};
pub use declarations::Declarations;
pub use provider::Provider;
pub use serde;
pub use serde_json;

/// Items used by [`export_provider!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::export::Export;
    pub use wit_bindgen;
}
