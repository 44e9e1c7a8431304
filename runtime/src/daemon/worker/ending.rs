//! Ending a tenant's chaos runs when its run fails as a whole. A tenant
//! whose commit is refused or unreadable, or one of whose providers fails,
//! cannot plan whole, and its steady state can no longer be told: what its
//! resources hold (a chaos run's targets) is restored at once, from the
//! last applied commit, as a suspend would, rather than left faulted
//! until the failure is fixed.

use super::Worker;
use super::failure::{FailureKind, RunFailure};
use super::reconcile::LOCK_WAIT;
use crate::config::Mode;
use crate::daemon::status::Trigger;
use crate::reconcile;
use crate::store::RunKind;
use crate::tenant_lock::LockMode;

impl Worker {
    /// After a run that failed as a whole with `failure`, ends what the
    /// tenant's resources held at its last plan. A lost lease leaves it
    /// to the new holder, and a store outage could record nothing.
    pub(super) async fn end_holds_after(&mut self, failure: &RunFailure) {
        if !self.holding
            || self.tenant.config.mode != Mode::Apply
            || matches!(failure.kind, FailureKind::LeaseLost | FailureKind::Store)
        {
            return;
        }
        let name = self.tenant.name.clone();
        match self.end_holds().await {
            Ok(true) => {
                tracing::warn!(tenant = %name, error = %failure.message, "the run failed: the tenant's chaos runs are ended and their targets restored")
            }
            Ok(false) => {}
            Err(ending) => {
                tracing::error!(tenant = %name, error = %ending.message, "the run failed, and the tenant's chaos runs could not be ended: the next run tries again")
            }
        }
    }

    /// Plans the last applied commit with [`reconcile::plan_ending`] and
    /// applies what ends the holds. Whether anything was applied.
    async fn end_holds(&mut self) -> Result<bool, RunFailure> {
        let name = self.tenant.name.clone();
        let Some(_lock) = self.locks.lock(&name, LockMode::Shared, LOCK_WAIT).await? else {
            return Ok(false);
        };
        let state = self.store.tenant_state(&name).await?;
        let Some(commit) = state.last_commit else {
            return Ok(false);
        };
        let fail = |error| RunFailure::reconcile(&commit, error);
        let desired = reconcile::load(&self.tenant, Some(&commit))
            .await
            .map_err(fail)?;
        let plan = reconcile::plan_ending(&self.tenant, &self.store, &desired)
            .await
            .map_err(fail)?;
        self.report_holds(&plan);
        let ending = plan.ending_holds();
        if !ending.has_changes() {
            return Ok(false);
        }
        let held_back = plan.changes.len() - ending.changes.len();
        self.apply(
            Trigger::Recheck,
            RunKind::Reconcile,
            &plan.commit,
            &ending,
            held_back,
        )
        .await?;
        Ok(true)
    }
}
