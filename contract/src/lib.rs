//! # cairn-contract: the values of Cairn's provider contract
//!
//! The records of `cairn:provider` (`wit/provider@0.1.0/provider.wit`,
//! `@0.2.0` and `@0.3.0`; a record of several versions has the fields of
//! the newest, left empty for the older) as plain Rust types, with JSON documents as [`serde_json::Value`] instead
//! of text. The host (`cairn`) and the plugin SDK (`cairn-sdk`) both use
//! these types, so a provider and the host speak of one `Change`, one
//! `Action`, one `Error`; each side keeps only the conversions to and from
//! its own generated bindings, next to them.
//!
//! The crate holds data and serde only: no wasmtime, no wit-bindgen, no I/O.
//! It builds for the host and for `wasm32-wasip2` alike.
//!
//! Some of these types are also written to disk by the host: a saved plan
//! holds [`FieldChange`]s, and a plan's checksum is computed over their
//! JSON. Their serialized form is therefore part of the saved-plan format
//! and is pinned by this crate's tests. Every value has a JSON form, with
//! the Rust field names (`type_name`), which `cairn plugin call` reads and
//! prints.
//!
//! The records of `cairn:policy@0.1.0` (`wit/policy@0.1.0/policy.wit`)
//! are here too ([`PolicyInput`], [`Finding`], …), for the host and the
//! policy side of the SDK.
//!
//! The crate's version is the newest provider contract version it holds
//! (0.3.0), as the SDK's is.

#![deny(missing_docs)]

mod change;
mod error;
mod info;
mod observe;
mod policy;
mod secrets;
mod validation;

pub use change::{
    Action, Change, Declared, DiffInput, FieldChange, Hold, Notice, NoticeKind, Outcome,
};
pub use error::{Error, ErrorKind};
pub use info::{MissingIdentity, ProviderInfo, ResourceType};
pub use observe::{Observed, Scope};
pub use policy::{
    Finding, FindingSeverity, PolicyCommit, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput,
    PolicyResource, PolicySettings, RuleFile,
};
pub use secrets::Secrets;
pub use validation::{Diagnostic, Resource, Severity, Validation};

/// A JSON document's text as it crosses the WebAssembly boundary
/// (`json` in the WIT contract): compact, members in the value's order.
/// Written straight into a buffer: `Value`'s `Display` goes through the
/// formatter for every token, and took 3.2 ms where this takes 0.9 ms for
/// ten thousand DNS records' states (natively; a plugin pays more).
pub fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("a JSON value always serializes")
}
