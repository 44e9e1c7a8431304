//! Drift reporting: the changes of a plan that repair drift (Git did not
//! move, the world did) go to the tenant's status, the resource statuses,
//! the audit log (once, when first found) and the alerts; alerts of drift
//! that cleared are cleared.

use super::Worker;
use super::failure::RunFailure;
use crate::daemon::alerts::AlertKind;
use crate::daemon::status::DriftDetail;
use crate::model::Address;
use crate::plan::{Plan, PlanAction, PlannedChange};
use crate::store::{DriftRecord, ResourceStatus, RunCounts, RunKind, RunOutcome};

impl Worker {
    /// Reports drift found by the plan and returns the drifted addresses.
    pub(super) async fn report_drift(&mut self, plan: &Plan) -> Result<Vec<Address>, RunFailure> {
        let name = self.tenant.name.clone();
        let drifted: Vec<&PlannedChange> = plan.changes.iter().filter(|c| c.drift).collect();
        let addresses: Vec<Address> = drifted.iter().map(|c| c.address.clone()).collect();
        for previous in self.alerts.active_keys(&name, AlertKind::Drift) {
            if !addresses.iter().any(|a| a.to_string() == previous) {
                self.alerts.clear(
                    &name,
                    AlertKind::Drift,
                    &previous,
                    Some(&plan.commit.id),
                    Some(&previous),
                    "back in sync",
                );
            }
        }
        {
            let mut status = self.status.write().expect("tenant status");
            status.drifted = addresses.iter().map(ToString::to_string).collect();
            status.drift = drifted
                .iter()
                .map(|change| DriftDetail {
                    address: change.address.to_string(),
                    summary: change.summary.clone(),
                    fields: change.fields.clone(),
                })
                .collect();
        }
        if drifted.is_empty() {
            return Ok(addresses);
        }
        let fresh: Vec<&&PlannedChange> = {
            let active = self.alerts.active_keys(&name, AlertKind::Drift);
            drifted
                .iter()
                .filter(|c| !active.contains(&c.address.to_string()))
                .collect()
        };
        if !fresh.is_empty() {
            // Newly found drift goes into the audit log, once.
            let run = self
                .store
                .begin_run(&name, RunKind::Drift, &plan.commit, &plan.checksum)
                .await?;
            let found: Vec<DriftRecord> = fresh
                .iter()
                .map(|change| DriftRecord {
                    address: &change.address,
                    desired_digest: change.desired_digest.clone(),
                    observed_digest: change.observed_digest.clone(),
                    message: drift_message(change),
                })
                .collect();
            run.record_drift(&found).await?;
            run.finish(RunOutcome::Detected, RunCounts::changes(fresh.len()))
                .await?;
            self.metrics.drift(&name, fresh.len() as u64);
        }
        let statuses: Vec<(&Address, ResourceStatus, Option<&str>)> = addresses
            .iter()
            .map(|a| (a, ResourceStatus::Drifted, None))
            .collect();
        self.store.set_statuses(&name, &statuses).await?;
        for change in &drifted {
            let address = change.address.to_string();
            let action = if self.tenant.config.self_heal {
                "repairing it"
            } else {
                "self_heal is off: not repairing it"
            };
            self.alerts.raise(
                &name,
                AlertKind::Drift,
                &address,
                Some(&plan.commit.id),
                Some(&address),
                &format!("{}; {action}", drift_message(change)),
            );
        }
        Ok(addresses)
    }
}

/// What the operator reads about one drifted object.
fn drift_message(change: &PlannedChange) -> String {
    match change.action {
        PlanAction::Create => format!("{} vanished: it was deleted outside Cairn", change.address),
        _ => format!(
            "{} was changed outside Cairn ({})",
            change.address, change.summary
        ),
    }
}
