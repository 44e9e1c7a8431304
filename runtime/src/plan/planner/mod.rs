//! Computing a plan, in stages over values:
//!
//! 1. [`gather`]: the inventory and the journal of interrupted changes
//!    (the store), which resources to examine, and what the providers
//!    observe (`list`);
//! 2. [`classify`]: what needs no provider (settled, forgotten, kept, held
//!    because its provider did not converge), what stops the plan
//!    (conflicts, refused adoptions), and what each provider compares;
//! 3. [`decide`]: one batched `diff` per provider, providers in parallel,
//!    and what the host makes of each answer (adopt, refresh, protect,
//!    drift, interrupted runs, `null` and absent fields alike);
//! 4. [`order`]: kept dependencies, the order of deletes, the quota, the
//!    checksum and the safety threshold.
//!
//! Only the store read and the provider calls (`list`, `diff`) wait on
//! anything; the rest are functions of values, and the providers are
//! reached through the [`Provider`] port, so every rule is unit-tested
//! against an in-memory world.

mod classify;
mod decide;
mod gather;
mod order;
#[cfg(test)]
mod tests;

use super::port::{Provider, Providers};
use super::{Diverged, Plan, PlanScope, PlannedChange, Scheduled};
use crate::host::PluginError;
use crate::model::diagnostic::Location;
use crate::model::{Address, DesiredState};
pub use crate::store::Inventory;
use crate::store::{StateStore, StoreError};
use crate::tenant::Tenant;
use cairn_contract::{Diagnostic, Hold, Severity};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) use classify::{
    fields_marked, same_but_write_only, with_ignored_fields, write_only_fields,
};

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A provider failed to observe or compare.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Desired resources collide with objects Cairn did not create.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Address>),
    /// Resources say `adopt = true`, and the operator does not let this
    /// tenant adopt.
    #[error("{} resource(s) say `adopt = true`, but this tenant may not take over objects Cairn did not create for it (the operator's `allow_adopt`); nothing was applied:\n{}", .0.len(), .0.iter().map(|a| format!("  {a}")).collect::<Vec<_>>().join("\n"))]
    AdoptNotAllowed(Vec<Address>),
    /// Providers found errors in resources while comparing them with the
    /// real world (references to objects that neither the commit declares
    /// nor the server has, say): every one of them, each at its resource.
    #[error("{}", diagnostics_message(.0))]
    Diagnostics(Vec<PlanDiagnostic>),
    /// The plan holds more changes than the tenant's quota.
    #[error(transparent)]
    Quota(#[from] crate::quota::QuotaExceeded),
    /// A resource holds another (a chaos experiment's target), and the
    /// operator has not turned chaos experiments on for the tenant.
    #[error(transparent)]
    ChaosOff(Box<ChaosOff>),
    /// Owned objects belong to a provider the operator no longer configures.
    #[error("Cairn owns {} object(s) of provider `{provider}`, which cairn.toml no longer configures (such as {example}); configure it again so they can be deleted or kept", .count)]
    ProviderGone {
        /// The provider instance.
        provider: String,
        /// How many objects.
        count: usize,
        /// One of them.
        example: Address,
    },
}

/// A hold in a tenant without chaos experiments.
#[derive(Debug, thiserror::Error)]
#[error(
    "{holder} holds {held} away from its desired state (a chaos experiment's target), and chaos experiments are off for this tenant; nothing was applied. The operator turns them on with `chaos = true` in [tenants.{tenant}] of cairn.toml"
)]
pub struct ChaosOff {
    /// The tenant.
    pub tenant: String,
    /// The resource that holds.
    pub holder: Address,
    /// The resource it holds.
    pub held: Address,
}

fn conflicts_message(addresses: &[Address]) -> String {
    let list: Vec<String> = addresses.iter().map(|a| format!("  {a}")).collect();
    format!(
        "{} resource(s) of the repository already exist, and Cairn did not create them; nothing was applied:\n{}\nTo take such an object over, add `adopt = true` to its resource; otherwise remove the resource from Git or the object from the server",
        addresses.len(),
        list.join("\n")
    )
}

fn diagnostics_message(problems: &[PlanDiagnostic]) -> String {
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    format!(
        "{} problem(s) found comparing the commit with the real world; nothing was applied:\n{}",
        problems.len(),
        list.join("\n")
    )
}

/// A problem a provider found in one resource while comparing it with the
/// real world, at the resource's place in Git.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanDiagnostic {
    /// The resource.
    pub address: Address,
    /// Where Git declares it; `None` for an object that left Git.
    pub location: Option<Location>,
    /// The offending field inside the spec, `/`-separated; empty for the
    /// whole resource.
    pub path: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl PlanDiagnostic {
    /// `diagnostic`, which a provider attached to its change of `address`
    /// (declared at `location`).
    pub fn new(address: &Address, location: Option<&Location>, diagnostic: Diagnostic) -> Self {
        Self {
            address: address.clone(),
            location: location.cloned(),
            path: diagnostic.path,
            severity: diagnostic.severity,
            message: diagnostic.message,
            help: diagnostic.help,
        }
    }
}

impl std::fmt::Display for PlanDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.address)?;
        if !self.path.is_empty() {
            write!(f, " `{}`", self.path.replace('/', "."))?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}

/// What planning needs to know of the tenant: the operator's settings that
/// decide a plan, and nothing else of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// The tenant's name: its inventory, and what its plans are checked
    /// against.
    pub tenant: String,
    /// Whether resources may say `adopt = true` and take over objects Cairn
    /// did not create for the tenant.
    pub allow_adopt: bool,
    /// The largest share (percent) of a provider's owned objects one plan
    /// may delete or replace before it is blocked.
    pub max_delete_percent: u8,
    /// The most changes one plan may hold (the tenant's
    /// `quotas.plan_changes`).
    pub max_changes: usize,
    /// The sha256 of each provider instance's plugin, by instance name: a
    /// resource whose provider did not converge is held while its plugin
    /// is the one that did not.
    pub plugins: BTreeMap<String, String>,
    /// Whether the tenant may run chaos experiments: without it, a change
    /// that holds another resource stops the plan.
    pub chaos: bool,
    /// The tenant stops acting on its own (suspended, or its daemon
    /// shutting down): providers are told to end what their resources do
    /// over time (contract 0.3.0's `halt`).
    pub halt: bool,
}

impl From<&Tenant> for PlanSettings {
    fn from(tenant: &Tenant) -> Self {
        let config = &tenant.config;
        Self {
            tenant: config.name.clone(),
            allow_adopt: config.allow_adopt,
            max_delete_percent: config.max_delete_percent,
            max_changes: config.quotas.plan_changes,
            plugins: tenant
                .providers
                .iter()
                .map(|(name, provider)| (name.clone(), provider.plugin().sha256().to_string()))
                .collect(),
            chaos: config.chaos,
            halt: false,
        }
    }
}

/// A plan being made: what [`classify`] and [`decide`] found, for
/// [`order`] to put in order.
#[derive(Debug, Default)]
struct Draft {
    /// Changes other than deletes and forgets, in provider order, then
    /// the order of the repository.
    changes: Vec<PlannedChange>,
    /// Deletes, in address order within each provider.
    deletes: Vec<PlannedChange>,
    /// Owned objects to stop tracking, in address order.
    forgets: Vec<PlannedChange>,
    /// What the operator should know.
    notes: Vec<String>,
    /// Resources held because their provider did not converge.
    diverged: Vec<Diverged>,
    /// Resources that need no change.
    unchanged: usize,
    /// The soonest a provider asked to compare one of its resources
    /// again, in milliseconds.
    recheck_after: Option<u64>,
    /// What each resource holds (contract 0.3.0), by the holder's address.
    holds: Vec<(Address, Hold)>,
    /// Resources whose provider asked to compare them again over time,
    /// and what it said of them, though they need no change now.
    scheduled: Vec<Scheduled>,
}

/// Plans the changes that take the real world to `desired`: reads the
/// tenant's inventory from `store`, and asks `providers` (the tenant's,
/// by instance name) what they observe and what differs.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn plan<P: Provider>(
    settings: &PlanSettings,
    providers: &Providers<P>,
    desired: &DesiredState,
    store: &StateStore,
    scope: PlanScope,
) -> Result<Plan, PlanError> {
    let inventory = Inventory::read(store, &settings.tenant).await?;
    plan_against(settings, providers, desired, inventory, scope).await
}

/// A full [`plan`] against the tenant's inventory while it is still being
/// read (`inventory`, started before the commit loaded): every desired
/// object is listed meanwhile, and the owned objects the inventory then
/// shows left Git are listed after it, apart.
pub async fn plan_reading<P: Provider>(
    settings: &PlanSettings,
    providers: &Providers<P>,
    desired: &DesiredState,
    inventory: impl Future<Output = Result<Arc<Inventory>, StoreError>>,
) -> Result<Plan, PlanError> {
    let gathered = gather::gather_reading(providers, desired, inventory).await?;
    plan_gathered(settings, providers, desired, gathered, PlanScope::Full).await
}

/// [`plan`] against the tenant's inventory, read from the store just
/// before (while the commit was loading, say).
pub async fn plan_against<P: Provider>(
    settings: &PlanSettings,
    providers: &Providers<P>,
    desired: &DesiredState,
    inventory: Arc<Inventory>,
    scope: PlanScope,
) -> Result<Plan, PlanError> {
    let gathered = gather::gather(providers, desired, inventory, scope).await?;
    plan_gathered(settings, providers, desired, gathered, scope).await
}

/// The plan from what was gathered.
async fn plan_gathered<P: Provider>(
    settings: &PlanSettings,
    providers: &Providers<P>,
    desired: &DesiredState,
    gathered: gather::Gathered,
    scope: PlanScope,
) -> Result<Plan, PlanError> {
    let (draft, work) = tracing::debug_span!("classify")
        .in_scope(|| classify::classify(settings, providers, desired, &gathered))?;
    let answers = decide::compare(&work).await;
    let (draft, examined) = tracing::debug_span!("decide").in_scope(|| {
        let draft = decide::decide(&gathered, draft, &work, answers)?;
        Ok::<_, PlanError>((draft, gathered.examined(desired, scope)))
    })?;
    tracing::debug_span!("order")
        .in_scope(|| order::order(settings, &desired.commit, gathered, examined, draft))
}
