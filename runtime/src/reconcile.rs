//! The steps of one reconcile, end to end: read the commit, load and
//! validate the desired state, plan, apply. The CLI runs them one command
//! at a time; they never apply anything when an earlier step failed.

use crate::model::{DesiredState, LoadError};
use crate::plan::{self, Plan, PlanError};
use crate::source::SourceError;
use crate::store::{RunCounts, RunKind, RunOutcome, StateStore, StoreError};
use crate::tenant::Tenant;

/// Why a reconcile step failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReconcileError {
    /// The repository could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The desired state is invalid, or a provider could not validate it.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] LoadError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the tenant's repository at its ref and validates every resource.
pub async fn desired_state(tenant: &Tenant) -> Result<DesiredState, ReconcileError> {
    Ok(tenant.desired_state(None).await?)
}

/// Reads, validates and plans.
pub async fn plan_tenant(
    tenant: &Tenant,
    store: &StateStore,
) -> Result<(DesiredState, Plan), ReconcileError> {
    let desired = desired_state(tenant).await?;
    let plan = plan::plan(
        &plan::PlanSettings::from(tenant),
        &tenant.providers,
        &desired,
        store,
        plan::PlanScope::Full,
    )
    .await?;
    Ok((desired, plan))
}

/// Records that a plan was made, in the history; returns the run's number.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_plan(store: &StateStore, plan: &Plan) -> Result<i64, StoreError> {
    let run = store
        .begin_run(&plan.tenant, RunKind::Plan, &plan.commit, &plan.checksum)
        .await?;
    let id = run.id();
    run.finish(RunOutcome::Planned, RunCounts::changes(plan.changes.len()))
        .await?;
    Ok(id)
}
