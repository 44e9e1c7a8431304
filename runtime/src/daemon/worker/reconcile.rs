//! The reconcile step of a worker: take the tenant's lock, find the commit
//! to reconcile, decide ([`super::decide`]), load, plan, report drift, and
//! apply what is not held back; then follow up on each change (retries,
//! metrics, alerts).

use super::Worker;
use super::decide::{self, Decision, Situation, Step};
use super::failure::RunFailure;
use crate::config::Mode;
use crate::daemon::alerts::AlertKind;
use crate::daemon::status::{LastRun, Outcome, Trigger};
use crate::model::Address;
use crate::plan::{self, ApplyError, ApplyOptions, Inventory, Plan};
use crate::reconcile;
use crate::source::CommitInfo;
use crate::store::{
    ActionResult, EventKind, ResourceStatus, RunKind, RunOutcome, StoreError, TenantState,
};
use crate::tenant_lock::LockMode;
use std::collections::HashSet;
use std::time::Duration;

/// Runs that plan or apply at once in the daemon, across its tenants (a
/// poll that finds nothing to do takes no slot). A run holds its commit's
/// model, its plan and the providers' answers until it ends: a cold start
/// of a thousand tenants ran a thousand at once, whose 190 MB at the peak
/// stayed resident long after. Runs mostly wait for servers, which the
/// per-endpoint limits bound anyway; as many as the process's plugin call
/// slots keep every slot usable, and a tenant holds one slot at a time.
const MAX_RUNS_AT_ONCE: usize = crate::host::limits::MAX_CONCURRENT_CALLS as usize;

/// The slots of [`MAX_RUNS_AT_ONCE`], taken in the order asked.
static RUN_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RUNS_AT_ONCE);

/// How long a run waits for a `cairn apply` of the same tenant to finish
/// before it gives up until the next trigger.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(30);

impl Worker {
    /// Fetches, and when anything moved, plans and applies. `Ok(None)`
    /// means nothing was due and no plugin was called.
    pub(super) async fn reconcile(
        &mut self,
        trigger: Trigger,
        drift_due: bool,
        recheck_due: bool,
    ) -> Result<Option<LastRun>, RunFailure> {
        let name = self.tenant.name.clone();
        let Some(_lock) = self.locks.lock(&name, LockMode::Shared, LOCK_WAIT).await? else {
            tracing::info!(tenant = %name, "another cairn process holds the tenant; trying again later");
            return Ok(None);
        };
        // Runs cut short can only come from an earlier process: look once.
        let closed = if trigger == Trigger::Start {
            self.store.close_interrupted_runs(&name).await?
        } else {
            0
        };
        if closed > 0 {
            tracing::warn!(tenant = %name, runs = closed, "runs cut short by an earlier exit are recorded as interrupted; their changes are found out now");
        }
        let state = self.store.tenant_state(&name).await?;
        let target = self.target_commit(&state).await?;
        tracing::Span::current().record("commit", &target[..target.len().min(12)]);
        let control = (state.suspended, state.held_commit.clone());
        let situation = Situation {
            trigger,
            drift_due,
            // Another process (`cairn apply`, `cairn rollback`) may have
            // moved the tenant since this worker's last run.
            moved: self.last_commit.as_deref() != Some(target.as_str())
                || state.last_commit != self.last_commit,
            control_changed: control != self.last_control,
            applies: self.tenant.config.mode == Mode::Apply && !state.suspended,
            interrupted: !self.store.intents(&name).await?.is_empty(),
            retry_due: self.resources.any_due(),
            recheck_due,
            blocked: self.blocked,
        };
        // A suspended tenant, or one whose daemon is stopping, stops
        // acting on its own: what its resources do over time (a chaos
        // run) ends, and nothing new starts.
        let halt = self.tenant.config.mode == Mode::Apply && (state.suspended || self.halting);
        self.last_control = control;
        // Going to the commit a hold names (the dashboard's roll back sets
        // the hold and leaves the apply to this worker) is a rollback.
        let kind = match state.held_commit.as_deref() == Some(target.as_str())
            && state.last_commit != state.held_commit
        {
            true => RunKind::Rollback,
            false => RunKind::Reconcile,
        };
        let Decision::Plan(scope) = decide::decide(&situation) else {
            return Ok(None);
        };
        let waiting = self.metrics.run_waiting();
        let _slot = RUN_SLOTS.acquire().await.expect("never closed");
        drop(waiting);
        let _in_progress = self.metrics.run_in_progress();
        let scope = match halt && self.holding {
            // Ending a run needs the resources that hold, whatever moved.
            true => plan::PlanScope::Full,
            false => scope,
        };

        // The inventory is read while the commit loads (the store works on
        // its own thread; a kept inventory is one row's check).
        let (desired, inventory) = tokio::join!(
            reconcile::load(&self.tenant, Some(&target)),
            Inventory::read_apart(&self.store, &name)
        );
        let desired = desired.map_err(|error| RunFailure::reconcile(&target, error))?;
        let commit = desired.commit.clone();
        let inventory = inventory?;
        let plan = reconcile::plan_against(&self.tenant, &desired, inventory, scope, halt)
            .await
            .map_err(|error| RunFailure::reconcile(&target, error))?;
        // Counted from the end of the plan, just after the providers
        // answered: a recheck comes a few milliseconds late, never early
        // (which would cost a wait of the floor).
        let planned_at = tokio::time::Instant::now();
        {
            let mut status = self.status.write().expect("tenant status");
            status.commit = Some(commit.clone());
            status.findings = plan.findings.clone();
        }
        self.metrics.set_findings(&name, &plan.findings);
        self.planned_recheck = Some(plan.recheck_after.map(|after| planned_at + after));
        self.report_holds(&plan);
        self.forget_stale_failures(&plan);
        self.mark_in_sync(&plan).await?;
        let drifted = self.report_drift(&plan).await?;
        self.report_held(&plan);
        if situation.applies && !self.tenant.config.self_heal {
            // Drift is reported, not repaired: nothing to retry for it.
            for address in &drifted {
                self.resources.succeed(address);
            }
        }
        let excluded = decide::held_back(&plan, &drifted, self.tenant.config.self_heal, |a| {
            self.resources.is_due(a)
        });
        let to_apply = plan.without(&excluded);
        if halt {
            // Halted, the tenant applies only what ends its resources'
            // doings over time (a chaos run's restore).
            let ending = to_apply.ending_holds();
            if ending.has_changes() {
                let held_back = plan.changes.len() - ending.changes.len();
                return self
                    .apply(trigger, RunKind::Reconcile, &commit, &ending, held_back)
                    .await;
            }
            if self.halting {
                return Ok(None);
            }
        }
        let step = decide::next_step(
            situation.applies,
            situation.moved,
            &plan,
            &drifted,
            &to_apply,
            self.blocked_checksum.as_deref(),
        );
        match step {
            Step::Report { record } => {
                let run_id = match record {
                    true => Some(crate::reconcile::record_plan(&self.store, &plan).await?),
                    false => None,
                };
                self.store.set_last_commit(&name, &commit.id).await?;
                self.last_commit = Some(commit.id.clone());
                Ok(Some(self.last_run(
                    trigger,
                    Outcome::Planned,
                    &plan,
                    0,
                    run_id,
                )))
            }
            Step::Settled => {
                self.unblock(&commit.id);
                self.last_commit = Some(commit.id.clone());
                let outcome = match drifted.is_empty() {
                    true => Outcome::InSync,
                    false => Outcome::Drifted,
                };
                Ok(Some(self.last_run(trigger, outcome, &plan, 0, None)))
            }
            Step::StillBlocked => Ok(Some(self.last_run(
                trigger,
                Outcome::Blocked,
                &to_apply,
                0,
                None,
            ))),
            Step::Apply => {
                let held_back = plan.changes.len() - to_apply.changes.len();
                self.apply(trigger, kind, &commit, &to_apply, held_back)
                    .await
            }
        }
    }

    /// Applies `to_apply` (`held_back` changes of the plan left out) as a
    /// run of `kind`, and follows up on each change.
    pub(super) async fn apply(
        &mut self,
        trigger: Trigger,
        kind: RunKind,
        commit: &CommitInfo,
        to_apply: &Plan,
        held_back: usize,
    ) -> Result<Option<LastRun>, RunFailure> {
        let options = ApplyOptions {
            kind,
            force: false,
            held_back,
            policy_override: None,
        };
        match plan::apply(&self.tenant, to_apply, &self.store, options, &|_| {}).await {
            Err(ApplyError::Blocked(reasons)) => {
                // Planned again at every poll until the threshold passes
                // it (the world may change), but refused once.
                self.blocked = true;
                let message = reasons.join("; ");
                Ok(Some(self.refused(
                    trigger, commit, to_apply, "plan", reasons, &message,
                )))
            }
            Err(ApplyError::PolicyBlocked { policies, findings }) => {
                // Not planned again until Git moves or a drift check finds
                // another plan: the policies decide on what they are shown,
                // and the same commit shows them the same.
                let blocking: Vec<String> = to_apply
                    .findings
                    .iter()
                    .filter(|finding| finding.blocks())
                    .map(ToString::to_string)
                    .collect();
                let message = format!(
                    "blocked by policy {}: {}",
                    policies.join(", "),
                    blocking.join("; ")
                );
                tracing::warn!(tenant = %self.tenant.name, findings, "{message}");
                let reasons = policies.iter().map(|p| format!("policy `{p}`")).collect();
                Ok(Some(self.refused(
                    trigger, commit, to_apply, "policy", reasons, &message,
                )))
            }
            Err(ApplyError::Override(error)) => {
                unreachable!("the daemon gives no override: {error}")
            }
            Err(ApplyError::Store(error)) => Err(error.into()),
            Ok(report) => {
                self.unblock(&commit.id);
                self.last_commit = Some(commit.id.clone());
                let failures = self.follow_up(&report, commit, to_apply);
                self.report_not_converged(&report);
                if report.succeeded() {
                    self.metrics.success(&self.tenant.name);
                }
                let outcome = match report.outcome {
                    RunOutcome::Succeeded if report.actions.is_empty() => Outcome::InSync,
                    RunOutcome::Succeeded => Outcome::Applied,
                    RunOutcome::Failed => Outcome::Failed,
                    _ => Outcome::Partial,
                };
                Ok(Some(self.last_run(
                    trigger,
                    outcome,
                    to_apply,
                    failures,
                    Some(report.run_id),
                )))
            }
        }
    }

    /// A plan refused as blocked (`key`: `plan` for the safety threshold,
    /// `policy` for the policies), already recorded with its run: alerted
    /// once per plan, its `reasons` in the status.
    fn refused(
        &mut self,
        trigger: Trigger,
        commit: &CommitInfo,
        to_apply: &Plan,
        key: &str,
        reasons: Vec<String>,
        message: &str,
    ) -> LastRun {
        self.blocked_checksum = Some(to_apply.checksum.clone());
        self.alerts.raise(
            &self.tenant.name,
            AlertKind::Blocked,
            key,
            Some(&commit.id),
            None,
            message,
        );
        self.status.write().expect("tenant status").blocked = reasons;
        self.last_commit = Some(commit.id.clone());
        self.last_run(trigger, Outcome::Blocked, to_apply, 0, None)
    }

    /// After an apply: retries, metrics and alerts per change, and the
    /// notices of the changes made (a chaos run aborted). Returns how many
    /// changes were not made.
    fn follow_up(
        &mut self,
        report: &plan::ApplyReport,
        commit: &CommitInfo,
        applied: &Plan,
    ) -> usize {
        let name = self.tenant.name.clone();
        let mut failures = 0;
        for action in &report.actions {
            let notice = applied
                .changes
                .iter()
                .find(|change| change.address == action.address)
                .and_then(|change| change.notice());
            if let Some(notice) = notice
                && action.result == ActionResult::Ok
            {
                let kind = match notice.kind {
                    cairn_contract::NoticeKind::ChaosAborted => AlertKind::ChaosAborted,
                    cairn_contract::NoticeKind::ChaosRestoreFailed => AlertKind::ChaosRestoreFailed,
                };
                let address = action.address.to_string();
                self.alerts.notify(
                    &name,
                    kind,
                    Some(&commit.id),
                    Some(&address),
                    &format!("{address}: {}", notice.message),
                );
            }
            let address = action.address.to_string();
            tracing::info_span!("resource", address = %address).in_scope(|| {
                tracing::info!(
                    action = action.action.as_str(),
                    result = ?action.result,
                    error = action.error.as_deref().unwrap_or(""),
                    "change"
                )
            });
            let alerts = &self.alerts;
            let clear = |kind, reason| {
                alerts.clear(
                    &name,
                    kind,
                    &address,
                    Some(&commit.id),
                    Some(&address),
                    reason,
                );
            };
            if action.not_converged {
                // Made, but the provider did not converge: the resource is
                // held (the planner plans nothing for it), not retried.
                failures += 1;
                self.resources.succeed(&action.address);
                self.metrics.change(&name, action.action.as_str());
                self.metrics.error(&name, "converge");
                clear(AlertKind::ApplyFailed, "the change was made");
                alerts.raise(
                    &name,
                    AlertKind::NotConverged,
                    &address,
                    Some(&commit.id),
                    Some(&address),
                    &format!(
                        "{} {address}: {}; it is held, not applied again until its spec in Git or its provider's plugin changes",
                        action.action.as_str(),
                        action.error.as_deref().unwrap_or_default()
                    ),
                );
            } else if action.result == ActionResult::Ok {
                self.resources.succeed(&action.address);
                self.metrics.change(&name, action.action.as_str());
                clear(AlertKind::ApplyFailed, "the change now succeeds");
                clear(AlertKind::Drift, "repaired: the object matches Git again");
                clear(
                    AlertKind::NotConverged,
                    "applied again, and the provider converges",
                );
            } else {
                failures += 1;
                let delay = self.resources.fail(action.address.clone());
                let error = action.error.clone().unwrap_or_default();
                self.metrics.error(&name, "apply");
                self.alerts.raise(
                    &name,
                    AlertKind::ApplyFailed,
                    &address,
                    Some(&commit.id),
                    Some(&address),
                    &format!(
                        "{} {address} failed: {error}; retrying in {delay:?}",
                        action.action.as_str()
                    ),
                );
            }
        }
        failures
    }

    /// Failures of resources no longer in the plan are forgotten.
    fn forget_stale_failures(&mut self, plan: &Plan) {
        let planned: HashSet<&Address> = plan.changes.iter().map(|c| &c.address).collect();
        let stale: Vec<Address> = self
            .resources
            .keys()
            .filter(|a| !planned.contains(a))
            .cloned()
            .collect();
        for address in stale {
            self.resources.succeed(&address);
            let key = address.to_string();
            self.alerts.clear(
                &self.tenant.name,
                AlertKind::ApplyFailed,
                &key,
                Some(&plan.commit.id),
                Some(&key),
                "no longer failing",
            );
        }
    }

    /// Owned resources the plan leaves alone match Git: any `drifted` or
    /// `failed` status they had (repaired by hand, or reverted in Git) is
    /// over. Those it holds, because their provider did not converge, are
    /// not left alone: they keep their status.
    async fn mark_in_sync(&self, plan: &Plan) -> Result<(), StoreError> {
        let planned: HashSet<String> = plan
            .changes
            .iter()
            .map(|c| &c.address)
            .chain(plan.diverged.iter().map(|held| &held.address))
            .map(ToString::to_string)
            .collect();
        let statuses = self.store.statuses(&self.tenant.name).await?;
        let settled: Vec<Address> = statuses
            .iter()
            .filter(|r| matches!(r.status, ResourceStatus::Drifted | ResourceStatus::Failed))
            .filter(|r| !planned.contains(&r.address))
            .filter_map(|r| Address::parse(&r.address))
            .filter(|address| !plan.examined.left_alone(address))
            .collect();
        if settled.is_empty() {
            return Ok(());
        }
        let rows: Vec<(&Address, ResourceStatus, Option<&str>)> = settled
            .iter()
            .map(|a| (a, ResourceStatus::InSync, None))
            .collect();
        self.store.set_statuses(&self.tenant.name, &rows).await
    }

    /// Clears a block: the plan of this run was not refused.
    fn unblock(&mut self, commit: &str) {
        self.blocked = false;
        self.blocked_checksum = None;
        self.status.write().expect("tenant status").blocked.clear();
        for key in ["plan", "policy"] {
            self.alerts.clear(
                &self.tenant.name,
                AlertKind::Blocked,
                key,
                Some(commit),
                None,
                "the plan is no longer blocked",
            );
        }
    }

    /// The commit to reconcile, without reading its files: the ref's
    /// (after a fetch), or the one a rollback holds the tenant at, until
    /// the ref moves.
    async fn target_commit(&self, state: &TenantState) -> Result<String, RunFailure> {
        let head = self.tenant.source.head().await?;
        match (&state.held_commit, &state.held_head) {
            (Some(held), Some(held_head)) if *held_head == head.id => Ok(held.clone()),
            (Some(held), _) => {
                tracing::info!(tenant = %self.tenant.name, held = %held, head = %head.id, "a new commit ends the rollback hold");
                self.store.set_hold(&self.tenant.name, None).await?;
                self.store
                    .record_event(&self.tenant.name, EventKind::ReleaseHold, &head)
                    .await?;
                Ok(head.id)
            }
            (None, _) => Ok(head.id),
        }
    }
}
