//! One tenant's reconcile loop: wait for a trigger (poll, webhook, drift
//! schedule, a retry coming due), then fetch, plan and apply. One task per
//! tenant, so a tenant is never reconciled twice at once; triggers that
//! arrive during a run coalesce into one follow-up run.

use super::alerts::{AlertKind, Alerts};
use super::backoff::Backoff;
use super::metrics::Metrics;
use super::status::{LastRun, TenantStatus, Trigger};
use crate::config::Mode;
use crate::model::{Address, LoadError};
use crate::plan::{
    self, ApplyError, ApplyOptions, Plan, PlanAction, PlanError, PlanScope, PlanSettings,
};
use crate::reconcile;
use crate::source::CommitInfo;
use crate::store::{
    ActionResult, DriftRecord, EventKind, ResourceStatus, RunCounts, RunKind, RunOutcome,
    StateStore, StoreError,
};
use crate::tenant::Tenant;
use crate::tenant_lock::{LockMode, TenantLockError, TenantLocks};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a run waits for a `cairn apply` of the same tenant to finish
/// before it gives up until the next trigger.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The longest a failing tenant or resource waits between attempts.
const RETRY_CAP: Duration = Duration::from_secs(300);

/// The shortest wait before a retry that is already due.
const RETRY_FLOOR: Duration = Duration::from_millis(50);

/// Spread of the poll interval (±10%), so that tenants do not poll in step.
const POLL_JITTER: f64 = 0.1;

/// The alert key of conditions that concern a tenant as a whole.
const TENANT_KEY: &str = "tenant";

/// Why a run failed as a whole.
#[derive(Debug)]
struct RunFailure {
    kind: &'static str,
    alert: AlertKind,
    message: String,
}

impl From<StoreError> for RunFailure {
    fn from(error: StoreError) -> Self {
        let kind = match &error {
            StoreError::Fenced { .. } => LEASE_LOST,
            _ => "store",
        };
        Self {
            kind,
            alert: AlertKind::ApplyFailed,
            message: error.to_string(),
        }
    }
}

impl From<TenantLockError> for RunFailure {
    fn from(error: TenantLockError) -> Self {
        Self {
            kind: "store",
            alert: AlertKind::ApplyFailed,
            message: error.to_string(),
        }
    }
}

/// The failure kind of a run cut short because the daemon lost the
/// tenant's lease: the new holder carries on, so it is not alerted.
const LEASE_LOST: &str = "lease";

/// A tenant's loop and what it remembers between runs.
pub struct Worker {
    pub(super) tenant: Tenant,
    pub(super) store: StateStore,
    pub(super) alerts: Alerts,
    pub(super) metrics: Arc<Metrics>,
    pub(super) status: Arc<RwLock<TenantStatus>>,
    pub(super) trigger: Arc<Notify>,
    pub(super) shutdown: CancellationToken,
    resources: Backoff<Address>,
    tenant_backoff: Backoff<()>,
    last_commit: Option<String>,
    /// Suspension and hold as the last run saw them: when they change
    /// (`cairn resume`, say), the next run plans even if Git did not move.
    last_control: (bool, Option<String>),
    /// The last plan was blocked: plan again until it is not.
    blocked: bool,
    /// The checksum of the plan last refused as blocked.
    blocked_checksum: Option<String>,
}

impl Worker {
    /// A worker for `tenant`.
    pub fn new(
        tenant: Tenant,
        store: StateStore,
        alerts: Alerts,
        metrics: Arc<Metrics>,
        status: Arc<RwLock<TenantStatus>>,
        trigger: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> Self {
        let cap = RETRY_CAP.min(tenant.config.interval.max(super::backoff::BACKOFF_BASE * 4));
        Self {
            tenant,
            store,
            alerts,
            metrics,
            status,
            trigger,
            shutdown,
            resources: Backoff::new(cap),
            tenant_backoff: Backoff::new(cap),
            last_commit: None,
            last_control: (false, None),
            blocked: false,
            blocked_checksum: None,
        }
    }

    /// Runs until shutdown (or until the daemon gives the tenant up), and
    /// hands the tenant back.
    pub async fn run(mut self) -> Tenant {
        let interval = self.tenant.config.interval;
        let drift_interval = self.tenant.config.drift_interval;
        let mut next_poll = Instant::now();
        let mut next_drift = Instant::now() + drift_interval;
        let mut trigger = Trigger::Start;
        loop {
            if trigger != Trigger::Start {
                // A retry that came due during the last run is made now
                // (after a short pause, so that nothing can spin).
                let retry = self
                    .resources
                    .next_attempt()
                    .map(|at| at.max(Instant::now() + RETRY_FLOOR));
                let wake = [Some(next_poll), Some(next_drift), retry]
                    .into_iter()
                    .flatten()
                    .min()
                    .expect("there is always a next poll");
                tokio::select! {
                    _ = self.shutdown.cancelled() => break,
                    _ = self.trigger.notified() => trigger = Trigger::Webhook,
                    _ = tokio::time::sleep_until(wake) => {
                        let now = Instant::now();
                        trigger = if now >= next_drift {
                            Trigger::Drift
                        } else if now >= next_poll {
                            Trigger::Poll
                        } else {
                            Trigger::Retry
                        };
                    }
                }
            }
            let drift_due = trigger == Trigger::Start || Instant::now() >= next_drift;
            let span = tracing::info_span!("reconcile", tenant = %self.tenant.name, trigger = ?trigger, commit = tracing::field::Empty);
            let failed = self.run_once(trigger, drift_due).instrument(span).await;
            let now = Instant::now();
            next_poll = if failed {
                now + self.tenant_backoff.fail(())
            } else {
                self.tenant_backoff.succeed(&());
                now + interval.mul_f64(rand::random_range(1.0 - POLL_JITTER..=1.0 + POLL_JITTER))
            };
            if drift_due {
                next_drift = now + drift_interval;
            }
            trigger = Trigger::Poll;
        }
        tracing::info!(tenant = %self.tenant.name, "stopped");
        self.tenant
    }

    /// One run; returns whether it failed as a whole.
    async fn run_once(&mut self, trigger: Trigger, drift_due: bool) -> bool {
        let started = Instant::now();
        let result = self.reconcile(trigger, drift_due).await;
        let duration = started.elapsed();
        let name = self.tenant.name.clone();
        let commit = self.last_commit.clone();
        let (last_run, error) = match result {
            Ok(Some(run)) => (Some(run), None),
            Ok(None) => (None, None),
            Err(failure) => {
                self.metrics.error(&name, failure.kind);
                if failure.kind == LEASE_LOST {
                    tracing::warn!(tenant = %name, error = %failure.message, "run stopped: the tenant's lease is gone");
                } else {
                    self.alerts.raise(
                        &name,
                        failure.alert,
                        TENANT_KEY,
                        commit.as_deref(),
                        None,
                        &failure.message,
                    );
                }
                let run = LastRun {
                    at: now_rfc3339(),
                    trigger,
                    outcome: "error".into(),
                    changes: 0,
                    failures: 0,
                    duration_ms: duration.as_millis() as u64,
                    run_id: None,
                };
                (Some(run), Some(failure.message))
            }
        };
        let failed = error.is_some();
        if !failed && last_run.is_some() {
            for kind in [AlertKind::ApplyFailed, AlertKind::PluginFailed] {
                self.alerts.clear(
                    &name,
                    kind,
                    TENANT_KEY,
                    commit.as_deref(),
                    None,
                    "the tenant reconciles again",
                );
            }
        }
        match &last_run {
            Some(run) => self.metrics.run(&name, &run.outcome, duration),
            None => self.metrics.check(&name, duration),
        }
        let ran = last_run.is_some();
        let snapshot = {
            let mut status = self.status.write().expect("tenant status");
            if let Some(mut run) = last_run {
                run.duration_ms = duration.as_millis() as u64;
                status.last_run = Some(run);
                status.last_error = error;
            }
            status.retrying = self.resources.waiting().map(ToString::to_string).collect();
            status.clone()
        };
        // A check that found nothing to do changes nothing worth saving.
        if ran {
            self.publish(&snapshot).await;
        }
        failed
    }

    /// Saves the tenant's live status in the store, for the status API of
    /// every daemon sharing it.
    async fn publish(&self, status: &TenantStatus) {
        let Some(holder) = status.holder.as_deref() else {
            return;
        };
        let json = serde_json::to_string(status).expect("a tenant status serializes");
        if let Err(error) = self
            .store
            .coordination()
            .save_live_status(&self.tenant.name, holder, &json)
            .await
        {
            tracing::debug!(tenant = %self.tenant.name, %error, "the live status was not saved");
        }
    }

    /// Fetches, and when anything moved, plans and applies. `Ok(None)`
    /// means nothing was due and no plugin was called.
    async fn reconcile(
        &mut self,
        trigger: Trigger,
        drift_due: bool,
    ) -> Result<Option<LastRun>, RunFailure> {
        let name = self.tenant.name.clone();
        let Some(_lock) = TenantLocks::of_store(&self.store)
            .lock(&name, LockMode::Shared, LOCK_WAIT)
            .await?
        else {
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
        let applies = self.tenant.config.mode == Mode::Apply && !state.suspended;
        let interrupted = !self.store.intents(&name).await?.is_empty();
        // Another process (`cairn apply`, `cairn rollback`) may have moved
        // the tenant since this worker's last run.
        let moved = self.last_commit.as_deref() != Some(target.as_str())
            || state.last_commit != self.last_commit;
        let control = (state.suspended, state.held_commit.clone());
        let control_changed = control != self.last_control;
        self.last_control = control;
        // Retries, crash recovery and blocks are reasons to plan only where
        // something may be applied.
        let pending_work = applies && (interrupted || self.resources.any_due() || self.blocked);
        let due = moved || drift_due || control_changed || pending_work;
        if !due && trigger != Trigger::Start {
            return Ok(None);
        }

        let desired = self
            .tenant
            .desired_state(Some(&target))
            .await
            .map_err(|error| load_failure(&target, error))?;
        let commit = desired.commit.clone();
        // Between drift checks a new commit costs what it changed; start-up,
        // drift checks, retries and recovery look at everything.
        let only_what_moved =
            moved && !drift_due && !pending_work && !control_changed && trigger != Trigger::Start;
        let scope = if only_what_moved {
            PlanScope::Changed
        } else {
            PlanScope::Full
        };
        let plan = plan::plan(
            &PlanSettings::from(&self.tenant.config),
            &self.tenant.providers,
            &desired,
            &self.store,
            scope,
        )
        .await
        .map_err(plan_failure)?;
        self.status.write().expect("tenant status").commit = Some(commit.clone());
        self.forget_stale_failures(&plan);
        self.mark_in_sync(&plan).await?;
        let drifted = self.report_drift(&plan).await?;

        if !applies {
            let run_id = if plan.has_changes() && (moved || !drifted.is_empty()) {
                Some(reconcile::record_plan(&self.store, &plan).await?)
            } else {
                None
            };
            self.store.set_last_commit(&name, &commit.id).await?;
            self.last_commit = Some(commit.id.clone());
            return Ok(Some(self.last_run(trigger, "planned", &plan, 0, run_id)));
        }

        // Held back: drift when self-heal is off, resources waiting for
        // their retry, and whatever depends on them.
        let mut excluded: HashSet<Address> = HashSet::new();
        if !self.tenant.config.self_heal {
            // Drift is reported, not repaired: nothing to retry for it.
            for address in &drifted {
                self.resources.succeed(address);
            }
            excluded.extend(drifted.iter().cloned());
        }
        excluded.extend(
            plan.changes
                .iter()
                .filter(|c| !self.resources.is_due(&c.address))
                .map(|c| c.address.clone()),
        );
        let to_apply = plan.without(&excluded);
        let held_back = plan.changes.len() - to_apply.changes.len();
        if to_apply.changes.is_empty() && !moved {
            self.unblock(&commit.id);
            self.last_commit = Some(commit.id.clone());
            let outcome = if drifted.is_empty() {
                "in-sync"
            } else {
                "drifted"
            };
            return Ok(Some(self.last_run(trigger, outcome, &plan, 0, None)));
        }
        // A block is recorded and alerted once per plan, not at every poll.
        if !to_apply.blocked.is_empty()
            && self.blocked_checksum.as_deref() == Some(&to_apply.checksum)
        {
            return Ok(Some(self.last_run(trigger, "blocked", &to_apply, 0, None)));
        }
        let options = ApplyOptions {
            kind: RunKind::Reconcile,
            force: false,
            held_back,
        };
        match plan::apply(&self.tenant, &to_apply, &self.store, options, &|_| {}).await {
            Err(ApplyError::Blocked(reasons)) => {
                self.blocked = true;
                self.blocked_checksum = Some(to_apply.checksum.clone());
                let message = reasons.join("; ");
                self.alerts.raise(
                    &name,
                    AlertKind::Blocked,
                    "plan",
                    Some(&commit.id),
                    None,
                    &message,
                );
                self.status.write().expect("tenant status").blocked = reasons;
                self.last_commit = Some(commit.id.clone());
                Ok(Some(self.last_run(trigger, "blocked", &to_apply, 0, None)))
            }
            Err(ApplyError::Store(error)) => Err(error.into()),
            Ok(report) => {
                self.unblock(&commit.id);
                self.last_commit = Some(commit.id.clone());
                let failures = self.follow_up(&report, &commit);
                if report.succeeded() {
                    self.metrics.success(&name);
                }
                let outcome = match report.outcome {
                    RunOutcome::Succeeded if report.actions.is_empty() => "in-sync",
                    RunOutcome::Succeeded => "applied",
                    other => other.as_str(),
                };
                let outcome = outcome.to_string();
                Ok(Some(self.last_run(
                    trigger,
                    &outcome,
                    &to_apply,
                    failures,
                    Some(report.run_id),
                )))
            }
        }
    }

    /// After an apply: retries, metrics and alerts per change. Returns how
    /// many changes were not made.
    fn follow_up(&mut self, report: &plan::ApplyReport, commit: &CommitInfo) -> usize {
        let name = self.tenant.name.clone();
        let mut failures = 0;
        for action in &report.actions {
            let address = action.address.to_string();
            tracing::info_span!("resource", address = %address).in_scope(|| {
                tracing::info!(
                    action = action.action.as_str(),
                    result = ?action.result,
                    error = action.error.as_deref().unwrap_or(""),
                    "change"
                )
            });
            if action.result == ActionResult::Ok {
                self.resources.succeed(&action.address);
                self.metrics.change(&name, action.action.as_str());
                self.alerts.clear(
                    &name,
                    AlertKind::ApplyFailed,
                    &address,
                    Some(&commit.id),
                    Some(&address),
                    "the change now succeeds",
                );
                self.alerts.clear(
                    &name,
                    AlertKind::Drift,
                    &address,
                    Some(&commit.id),
                    Some(&address),
                    "repaired: the object matches Git again",
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
    /// over.
    async fn mark_in_sync(&self, plan: &Plan) -> Result<(), StoreError> {
        let planned: HashSet<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
        let statuses = self.store.statuses(&self.tenant.name).await?;
        let settled: Vec<Address> = statuses
            .iter()
            .filter(|r| matches!(r.status, ResourceStatus::Drifted | ResourceStatus::Failed))
            .filter(|r| !planned.contains(&r.address))
            .filter_map(|r| Address::parse(&r.address))
            .filter(|address| !plan.unexamined.contains(address))
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
        self.alerts.clear(
            &self.tenant.name,
            AlertKind::Blocked,
            "plan",
            Some(commit),
            None,
            "the plan is no longer blocked",
        );
    }

    /// The commit to reconcile, without reading its files: the ref's
    /// (after a fetch), or the one a rollback holds the tenant at, until
    /// the ref moves.
    async fn target_commit(&self, state: &crate::store::TenantState) -> Result<String, RunFailure> {
        let head = self.tenant.source.head().await.map_err(source_failure)?;
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

    /// Reports drift found by the plan (status, audit, alert) and returns
    /// the drifted addresses. Alerts of drift that cleared are cleared.
    async fn report_drift(&mut self, plan: &Plan) -> Result<Vec<Address>, RunFailure> {
        let name = self.tenant.name.clone();
        let drifted: Vec<&plan::PlannedChange> = plan.changes.iter().filter(|c| c.drift).collect();
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
        self.status.write().expect("tenant status").drifted =
            addresses.iter().map(ToString::to_string).collect();
        if drifted.is_empty() {
            return Ok(addresses);
        }
        let fresh: Vec<&&plan::PlannedChange> = {
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

    fn last_run(
        &self,
        trigger: Trigger,
        outcome: &str,
        plan: &Plan,
        failures: usize,
        run_id: Option<i64>,
    ) -> LastRun {
        LastRun {
            at: now_rfc3339(),
            trigger,
            outcome: outcome.to_string(),
            changes: plan.changes.len(),
            failures,
            duration_ms: 0,
            run_id,
        }
    }
}

fn drift_message(change: &plan::PlannedChange) -> String {
    match change.action {
        PlanAction::Create => format!("{} vanished: it was deleted outside Cairn", change.address),
        _ => format!(
            "{} was changed outside Cairn ({})",
            change.address, change.summary
        ),
    }
}

fn source_failure(error: crate::source::SourceError) -> RunFailure {
    use crate::source::SourceError;
    let kind = match &error {
        SourceError::Quota { .. } => "quota",
        SourceError::Unsigned { .. } | SourceError::Untrusted { .. } => "signature",
        _ => "source",
    };
    RunFailure {
        kind,
        alert: AlertKind::ApplyFailed,
        message: error.to_string(),
    }
}

fn load_failure(commit: &str, error: LoadError) -> RunFailure {
    match error {
        LoadError::Source(error) => source_failure(error),
        LoadError::Unread => RunFailure {
            kind: "source",
            alert: AlertKind::ApplyFailed,
            message: error.to_string(),
        },
        LoadError::Quota(exceeded) => RunFailure {
            kind: "quota",
            alert: AlertKind::ApplyFailed,
            message: exceeded.to_string(),
        },
        LoadError::Invalid(invalid) => {
            let first = invalid
                .diagnostics
                .first()
                .map(|d| format!(" First: {d}"))
                .unwrap_or_default();
            RunFailure {
                kind: "invalid",
                alert: AlertKind::ApplyFailed,
                message: format!("{invalid}.{first}"),
            }
        }
        LoadError::Plugin(error) => RunFailure {
            kind: "plugin",
            alert: AlertKind::PluginFailed,
            message: format!("at commit {}: {error}", &commit[..commit.len().min(12)]),
        },
    }
}

fn plan_failure(error: PlanError) -> RunFailure {
    match error {
        PlanError::Plugin(error) => RunFailure {
            kind: "plugin",
            alert: AlertKind::PluginFailed,
            message: error.to_string(),
        },
        PlanError::Store(error) => error.into(),
        PlanError::Quota(exceeded) => RunFailure {
            kind: "quota",
            alert: AlertKind::ApplyFailed,
            message: exceeded.to_string(),
        },
        other => RunFailure {
            kind: "plan",
            alert: AlertKind::ApplyFailed,
            message: other.to_string(),
        },
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
