//! Resources held because their provider did not converge: the tenant's
//! status lists them, and the alert raised when the apply found it out
//! (in [`super::reconcile`]) is cleared once the resource is no longer
//! held — Git changed its spec, the plugin changed, or it left Git. And
//! resources other resources hold on purpose (a chaos run's targets), in
//! the status and the metrics.

use super::Worker;
use crate::daemon::alerts::AlertKind;
use crate::model::Address;
use crate::plan::{ApplyReport, Plan};
use std::collections::BTreeSet;

impl Worker {
    /// Reports the resources `plan` holds. A plan of what Git moved does
    /// not look at the others: those held before and left unexamined stay
    /// held.
    pub(super) fn report_held(&mut self, plan: &Plan) {
        let name = self.tenant.name.clone();
        let mut held: BTreeSet<String> = plan
            .diverged
            .iter()
            .map(|held| held.address.to_string())
            .collect();
        {
            let status = self.status.read().expect("tenant status");
            held.extend(
                status
                    .not_converged
                    .iter()
                    .filter(|a| Address::parse(a).is_some_and(|a| plan.examined.left_alone(&a)))
                    .cloned(),
            );
        }
        // A resource planned again (its hold ended) keeps its alert until
        // the apply says whether it converges now.
        let planned: BTreeSet<String> =
            plan.changes.iter().map(|c| c.address.to_string()).collect();
        for key in self.alerts.active_keys(&name, AlertKind::NotConverged) {
            if !held.contains(&key) && !planned.contains(&key) {
                self.alerts.clear(
                    &name,
                    AlertKind::NotConverged,
                    &key,
                    Some(&plan.commit.id),
                    Some(&key),
                    "no longer held: it converges, or left Git",
                );
            }
        }
        self.status.write().expect("tenant status").not_converged = held.into_iter().collect();
    }

    /// Reports what the plan's resources hold (a chaos run's targets): the
    /// status lists the holds, the metrics count the resources holding,
    /// and the worker remembers whether anything is held, to halt the
    /// tenant before the daemon exits.
    pub(super) fn report_holds(&mut self, plan: &Plan) {
        let holders: BTreeSet<&Address> = plan.held.iter().map(|held| &held.by).collect();
        self.metrics
            .set_experiments_running(&self.tenant.name, holders.len());
        self.holding = !plan.held.is_empty();
        self.status.write().expect("tenant status").holds = plan.held.clone();
    }

    /// Adds the resources an apply found not converging to the status.
    pub(super) fn report_not_converged(&mut self, report: &ApplyReport) {
        let mut status = self.status.write().expect("tenant status");
        let mut held: BTreeSet<String> = status.not_converged.drain(..).collect();
        for action in &report.actions {
            let address = action.address.to_string();
            if action.not_converged {
                held.insert(address);
            } else {
                held.remove(&address);
            }
        }
        status.not_converged = held.into_iter().collect();
    }
}
