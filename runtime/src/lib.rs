//! # Cairn: a GitOps reconciliation runtime
//!
//! The desired state of a system lives as TOML in a Git repository. Cairn
//! reads it at an exact commit ([`source`]), parses and validates it into
//! resources with addresses and dependencies ([`model`]), asks sandboxed
//! WebAssembly provider plugins what differs from the real world
//! ([`host`], [`plan`]), applies the changes in dependency order, and
//! records every action with its commit in the state store ([`store`]).
//! The values host and plugins exchange are the provider contract's own
//! types ([`contract`], the `cairn-contract` crate the plugin SDK shares).
//!
//! The binary `cairn` is a thin layer over this library's [`cli`]:
//! `validate`, `plan`, `apply` and `history` each load the operator's
//! [`config`], open a [`tenant`] and call [`reconcile`]. The command line
//! lives here so that its reference (`docs/cli.md`) is rendered from the
//! same definition the binary parses, and so that the tests' own program
//! can run it.

#![deny(missing_docs)]

// The command line's modules name this library `cairn`, as every program
// built on it does.
extern crate self as cairn;

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod lines;
pub mod log_throttle;
pub mod model;
pub mod plan;
pub mod policy;
pub mod preview;
pub mod quota;
pub mod reconcile;
pub mod rollback;
pub mod source;
pub mod store;
pub mod tenant;
pub mod tenant_lock;

/// The provider contract's values, shared with the plugin SDK.
pub use cairn_contract as contract;

/// The plugin sandbox (the `cairn-sandbox` crate): loading provider
/// components and running their calls within limits and grants.
pub use cairn_sandbox as host;

/// Secrets named in `cairn.toml`, resolved by the sandbox when a call
/// needs them.
pub use cairn_sandbox::secrets;
