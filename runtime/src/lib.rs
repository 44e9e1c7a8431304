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
//! The binary `cairn` is a thin layer over this library: `validate`,
//! `plan`, `apply` and `history` each load the operator's [`config`], open a
//! [`tenant`] and call [`reconcile`].

#![deny(missing_docs)]

pub mod config;
pub mod daemon;
pub mod host;
pub mod lines;
pub mod log_throttle;
pub mod model;
pub mod plan;
pub mod quota;
pub mod reconcile;
pub mod secrets;
pub mod source;
pub mod store;
pub mod tenant;

/// The provider contract's values, shared with the plugin SDK.
pub use cairn_contract as contract;
