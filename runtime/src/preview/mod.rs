//! Previews: what a branch (or tag, or commit) would change if it were
//! merged — planned against the live world, checked by the tenant's
//! policies, and applied never. `cairn preview --ref BRANCH` prints one as
//! text, JSON or Markdown for a pull-request comment; the daemon serves the
//! same at `POST /api/v1/tenants/T/preview`.
//!
//! A preview reads the tenant's inventory without its lock (each read is
//! one transaction of the store, so it never waits for an apply, and an
//! apply never waits for it), observes the world through the providers'
//! `list` and `diff`, and writes nothing: no run, no inventory, no status,
//! not the tenant's model cache, and the tenant's ref and rollback hold
//! are left as they are.

pub mod markdown;

use crate::model::DesiredState;
use crate::plan::{Plan, PlanScope};
use crate::reconcile::{self, ReconcileError};
use crate::store::StateStore;
use crate::tenant::Tenant;
use serde::Serialize;

/// A preview: the reference asked for, the commit it names, and the plan
/// of that commit against the live world, with the policies' findings.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The branch, tag or commit previewed, as asked.
    pub reference: String,
    /// The plan, its commit and findings included.
    pub plan: Plan,
    /// The policies whose findings would block applying it.
    pub blocked_by: Vec<String>,
}

/// Plans `reference` for the tenant without applying anything.
pub async fn preview(
    tenant: &Tenant,
    store: &StateStore,
    reference: &str,
) -> Result<Preview, ReconcileError> {
    let desired = desired_at(tenant, reference).await?;
    let plan = reconcile::plan(tenant, store, &desired, PlanScope::Full).await?;
    Ok(Preview {
        reference: reference.to_string(),
        blocked_by: plan.blocking_policies(&[]),
        plan,
    })
}

/// The desired state at `reference`, fetched for a remote repository,
/// within the tenant's quotas and signature policy; the tenant's model
/// cache is read, not written.
pub async fn desired_at(tenant: &Tenant, reference: &str) -> Result<DesiredState, ReconcileError> {
    let snapshot = tenant.source.snapshot_of(reference).await?;
    tenant
        .model_cache
        .load_aside(&snapshot, &tenant.providers, &tenant.config.quotas)
        .await
        .map_err(|error| match error {
            crate::model::LoadError::Quota(exceeded) => {
                reconcile::Refusal::quota(&snapshot.commit, exceeded).into()
            }
            other => other.into(),
        })
}
