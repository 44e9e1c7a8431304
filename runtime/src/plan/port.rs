//! The provider port: the calls planning and applying make to a provider,
//! as a trait. The sandboxed plugin ([`ProviderInstance`]) is one
//! implementation; the planner's unit tests run against an in-memory
//! world that is another, so every lifecycle rule is checked in
//! milliseconds rather than against real servers.
//!
//! # Why generic, not `dyn`
//!
//! The methods return `impl Future + Send`, so an implementation is written
//! with plain `async fn` and its futures are neither boxed nor erased. That
//! makes the trait unusable as `dyn Provider`, and the planner is generic
//! instead: it takes [`Providers<P>`] for any `P: Provider`. A tenant's
//! provider map (`BTreeMap<String, Arc<ProviderInstance>>`) already is a
//! `Providers<ProviderInstance>`, so call sites pass it as it is: no map is
//! rebuilt per plan, and no call pays an allocation for a boxed future. One
//! plan never needs two kinds of provider at once (production plans talk to
//! plugins, tests to the fake), which is all that `dyn` would buy.
//!
//! The port holds only what planning and applying use: what a provider
//! manages (its resource types, with their sensitive fields), `list`,
//! `diff` and `apply`. Loading, `describe`, `configure` and `validate`
//! belong to the host and the model.

use crate::host::{PluginError, ProviderInstance, SendGuard};
use crate::model::Address;
use cairn_contract::{Change, DiffInput, Observed, Outcome, ProviderInfo};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// A tenant's providers by instance name, as resource addresses name them.
pub type Providers<P> = BTreeMap<String, Arc<P>>;

/// What planning and applying ask of one provider instance.
///
/// The contract of each call is the WIT contract's (`wit/provider@0.2.0`):
/// `diff` and `apply` answer once per input, in the order of the inputs.
pub trait Provider: Send + Sync {
    /// What the provider manages: its resource types, with the fields that
    /// hold secrets.
    fn info(&self) -> &ProviderInfo;

    /// Observes the objects of `type_names` that have one of `ids`.
    fn list(
        &self,
        type_names: Vec<String>,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Observed>, PluginError>> + Send;

    /// Computes one change per input, in the inputs' order; `declared`
    /// names the commit's other resources of this provider, which a
    /// reference may point at (borrowed from the desired state: a commit
    /// of thousands is not copied before the call copies it into the
    /// sandbox).
    fn diff(
        &self,
        inputs: &[DiffInput],
        declared: &[&Address],
    ) -> impl Future<Output = Result<Vec<Change>, PluginError>> + Send;

    /// Makes the changes, one outcome per change. Once `guard` says the
    /// call may no longer send (the daemon lost the tenant's lease), no
    /// further request leaves. The changes are borrowed from the plan:
    /// a batch of thousands is not copied before the call copies it into
    /// the sandbox.
    fn apply(
        &self,
        changes: &[&Change],
        guard: Option<Arc<dyn SendGuard>>,
    ) -> impl Future<Output = Result<Vec<Outcome>, PluginError>> + Send;
}

/// The sandboxed plugin: each call runs in a fresh wasmtime store, within
/// the instance's limits and grants.
impl Provider for ProviderInstance {
    fn info(&self) -> &ProviderInfo {
        ProviderInstance::info(self)
    }

    async fn list(
        &self,
        type_names: Vec<String>,
        ids: Vec<String>,
    ) -> Result<Vec<Observed>, PluginError> {
        ProviderInstance::list(self, type_names, ids).await
    }

    async fn diff(
        &self,
        inputs: &[DiffInput],
        declared: &[&Address],
    ) -> Result<Vec<Change>, PluginError> {
        let declared = declared
            .iter()
            .map(|address| (address.type_name.as_str(), address.id.as_str()));
        ProviderInstance::diff_declaring(self, inputs, declared).await
    }

    async fn apply(
        &self,
        changes: &[&Change],
        guard: Option<Arc<dyn SendGuard>>,
    ) -> Result<Vec<Outcome>, PluginError> {
        ProviderInstance::apply_each(self, changes, guard).await
    }
}
