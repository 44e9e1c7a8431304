//! One tenant's reconcile loop: wait for a trigger (poll, webhook, drift
//! schedule, a retry coming due), then fetch, plan and apply. One task per
//! tenant, so a tenant is never reconciled twice at once; triggers that
//! arrive during a run coalesce into one follow-up run.
//!
//! The loop is a pipeline, as kube-runtime composes a controller:
//! - [`schedule`]: when to wake next and why (pure);
//! - [`decide`]: whether a run plans, what it holds back, whether it
//!   applies (pure);
//! - [`reconcile`]: the run itself — fetch, plan, apply, follow up;
//! - [`drift`]: drift found by a plan goes to the status, audit and alerts;
//! - [`held`]: resources held because their provider did not converge, in
//!   the status, and their alerts cleared when the hold ends;
//! - [`failure`]: the error policy for a run that failed as a whole;
//! - this module: the loop, and publishing what a run did (metrics,
//!   alerts cleared, the live status).

mod decide;
mod drift;
mod ending;
mod failure;
mod held;
mod reconcile;
mod schedule;

use super::alerts::{AlertKind, Alerts};
use super::backoff::Backoff;
use super::http::TenantHandle;
use super::metrics::Metrics;
use super::status::{LastRun, Outcome, StatusChanges, TenantStatus, Trigger};
use crate::config::Mode;
use crate::model::Address;
use crate::plan::Plan;
use crate::store::{RunKind, StateStore};
use crate::tenant::Tenant;
use crate::tenant_lock::TenantLocks;
use failure::{RunFailure, error_policy};
use schedule::{Requeue, Schedule};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The longest a failing tenant or resource waits between attempts.
const RETRY_CAP: Duration = Duration::from_secs(300);

/// The alert key of conditions that concern a tenant as a whole.
const TENANT_KEY: &str = "tenant";

/// The longest a stopping daemon spends ending what a tenant's resources
/// do over time (a chaos run's restore) before it exits: a restore is a
/// few engine calls, and a shutdown must not hang on a dead server.
const HALT_ON_EXIT: Duration = Duration::from_secs(30);

/// A tenant's loop and what it remembers between runs.
pub struct Worker {
    pub(super) tenant: Arc<Tenant>,
    pub(super) store: StateStore,
    pub(super) alerts: Alerts,
    pub(super) metrics: Arc<Metrics>,
    pub(super) status: Arc<RwLock<TenantStatus>>,
    pub(super) trigger: Arc<Notify>,
    pub(super) changes: StatusChanges,
    pub(super) shutdown: CancellationToken,
    /// The file locks that keep a run and a `cairn apply` of the tenant
    /// apart, found once from the store.
    locks: TenantLocks,
    /// Resources whose change failed, waiting for their retry.
    resources: Backoff<Address>,
    /// The tenant's own failures (a run that failed as a whole).
    tenant_backoff: Backoff<()>,
    /// The commit the last run reconciled.
    last_commit: Option<String>,
    /// Suspension and hold as the last run saw them: when they change
    /// (`cairn resume`, say), the next run plans even if Git did not move.
    last_control: (bool, Option<String>),
    /// The last plan was blocked: plan again until it is not.
    blocked: bool,
    /// The checksum of the plan last refused as blocked.
    blocked_checksum: Option<String>,
    /// The refusal last recorded in the history (its commit and reason)
    /// and its run, until a run goes through.
    last_refusal: Option<((String, String), i64)>,
    /// When the last plan's providers want their resources compared
    /// again, whatever Git and the world do (`None` inside: they did not
    /// ask); `None` until a run plans.
    planned_recheck: Option<Option<Instant>>,
    /// The daemon is stopping: the last run tells providers to end what
    /// their resources do over time (`halt`), and applies only that.
    halting: bool,
    /// Whether the last plan held anything (a chaos run in progress):
    /// then a stopping daemon halts the tenant before it exits.
    holding: bool,
}

impl Worker {
    /// A worker for `tenant`.
    pub fn new(
        tenant: Arc<Tenant>,
        store: StateStore,
        alerts: Alerts,
        metrics: Arc<Metrics>,
        handle: &TenantHandle,
        shutdown: CancellationToken,
    ) -> Self {
        let cap = RETRY_CAP.min(tenant.config.interval.max(super::backoff::BACKOFF_BASE * 4));
        Self {
            tenant,
            locks: TenantLocks::of_store(&store),
            store,
            alerts,
            metrics,
            status: handle.status.clone(),
            trigger: handle.trigger.clone(),
            changes: handle.changes.clone(),
            shutdown,
            resources: Backoff::new(cap),
            tenant_backoff: Backoff::new(cap),
            last_commit: None,
            last_control: (false, None),
            blocked: false,
            blocked_checksum: None,
            last_refusal: None,
            planned_recheck: None,
            halting: false,
            holding: false,
        }
    }

    /// Runs until shutdown (or until the daemon gives the tenant up), and
    /// hands the tenant back.
    pub async fn run(mut self) -> Arc<Tenant> {
        let config = &self.tenant.config;
        let mut schedule = Schedule::new(config.interval, config.drift_interval, Instant::now());
        let mut trigger = Trigger::Start;
        loop {
            if trigger != Trigger::Start {
                let wake = schedule.wake_at(self.resources.next_attempt(), Instant::now());
                tokio::select! {
                    _ = self.shutdown.cancelled() => break,
                    _ = self.trigger.notified() => trigger = Trigger::Webhook,
                    _ = tokio::time::sleep_until(wake) => trigger = schedule.trigger_at(Instant::now()),
                }
            }
            let now = Instant::now();
            let drift_due = schedule.drift_due(trigger, now);
            let recheck_due = schedule.recheck_due(now);
            let span = tracing::info_span!("reconcile", tenant = %self.tenant.name, trigger = ?trigger, commit = tracing::field::Empty);
            let requeue = self
                .run_once(trigger, drift_due, recheck_due)
                .instrument(span)
                .await;
            let now = Instant::now();
            schedule.ran(now, requeue, drift_due);
            match self.planned_recheck.take() {
                Some(at) => schedule.recheck(now, at),
                // A recheck that led to no plan (the run failed first) is
                // dropped: the run's backoff brings the next attempt,
                // whose plan asks again; kept, it would wake the worker
                // at once, again and again.
                None if schedule.recheck_due(now) => schedule.recheck(now, None),
                None => {}
            }
            trigger = Trigger::Poll;
        }
        if self.holding {
            self.halt_before_exit().await;
        }
        tracing::info!(tenant = %self.tenant.name, "stopped");
        self.tenant
    }

    /// Ends what the tenant's resources do over time before the daemon
    /// exits — a chaos run's targets restored — within [`HALT_ON_EXIT`]:
    /// one run with `halt`, applying only that.
    async fn halt_before_exit(&mut self) {
        self.halting = true;
        let span =
            tracing::info_span!("halt", tenant = %self.tenant.name, commit = tracing::field::Empty);
        let halted = tokio::time::timeout(
            HALT_ON_EXIT,
            self.run_once(Trigger::Recheck, false, true)
                .instrument(span),
        )
        .await;
        if halted.is_err() {
            tracing::error!(tenant = %self.tenant.name, "the tenant's chaos runs were not ended before the daemon stopped: the next daemon to hold the tenant restores them when they end");
        }
    }

    /// One run, and what it tells the outside world; returns when to poll
    /// next.
    async fn run_once(&mut self, trigger: Trigger, drift_due: bool, recheck_due: bool) -> Requeue {
        let started = Instant::now();
        let result = self.reconcile(trigger, drift_due, recheck_due).await;
        let duration = started.elapsed();
        let (last_run, error, requeue) = match result {
            Ok(last_run) => {
                self.tenant_backoff.succeed(&());
                if last_run.is_some() {
                    self.last_refusal = None;
                }
                (last_run, None, Requeue::interval())
            }
            Err(failure) => {
                self.end_holds_after(&failure).await;
                let run_id = self.record_refusal(&failure).await;
                let requeue = self.fail(&failure);
                let run = LastRun {
                    at: now_rfc3339(),
                    trigger,
                    outcome: Outcome::Error,
                    changes: 0,
                    failures: 0,
                    duration_ms: 0,
                    run_id,
                };
                (Some(run), Some(failure.message), requeue)
            }
        };
        self.publish(last_run, error, duration).await;
        requeue
    }

    /// Records a refused commit in the history, once for each commit and
    /// reason: the same refusal tried again after its backoff is not a new
    /// one. Returns the run that records it.
    async fn record_refusal(&mut self, failure: &RunFailure) -> Option<i64> {
        let refusal = failure.refusal.as_deref()?;
        let key = (refusal.commit.id.clone(), failure.message.clone());
        if let Some((recorded, run)) = &self.last_refusal
            && *recorded == key
        {
            return Some(*run);
        }
        let name = &self.tenant.name;
        // A daemon that only plans records its refusals as plans.
        let kind = match self.tenant.config.mode {
            Mode::Apply => RunKind::Reconcile,
            Mode::PlanOnly => RunKind::Plan,
        };
        match crate::reconcile::record_refusal(&self.store, name, kind, refusal).await {
            Ok(run) => {
                self.last_refusal = Some((key, run));
                Some(run)
            }
            Err(error) => {
                tracing::warn!(tenant = %name, %error, "the refused commit was not recorded in the history");
                None
            }
        }
    }

    /// Applies the error policy to a run that failed as a whole: metrics,
    /// the alert (naming the refused commit, for a refusal), and when to
    /// try again.
    fn fail(&mut self, failure: &RunFailure) -> Requeue {
        let name = &self.tenant.name;
        self.metrics.error(name, failure.kind.as_str());
        let action = error_policy(failure, self.tenant_backoff.fail(()));
        let commit = match &failure.refusal {
            Some(refusal) => Some(refusal.commit.id.as_str()),
            None => self.last_commit.as_deref(),
        };
        match action.alert {
            Some(kind) => self
                .alerts
                .raise(name, kind, TENANT_KEY, commit, None, &failure.message),
            None => {
                tracing::warn!(tenant = %name, error = %failure.message, "run stopped: the tenant's lease is gone")
            }
        }
        Requeue::After(action.requeue_after)
    }

    /// Publishes what a run did: alerts of the tenant cleared when it
    /// reconciles again, metrics, the status, and the live status in the
    /// store. `last_run` is `None` for a check that found nothing due.
    async fn publish(&self, last_run: Option<LastRun>, error: Option<String>, duration: Duration) {
        let name = &self.tenant.name;
        let commit = self.last_commit.as_deref();
        if error.is_none() && last_run.is_some() {
            for kind in [AlertKind::ApplyFailed, AlertKind::PluginFailed] {
                self.alerts.clear(
                    name,
                    kind,
                    TENANT_KEY,
                    commit,
                    None,
                    "the tenant reconciles again",
                );
            }
        }
        match &last_run {
            Some(run) => self.metrics.run(name, run.outcome.as_str(), duration),
            None => self.metrics.check(name, duration),
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
            self.save_live_status(&snapshot).await;
            self.changes.changed(name);
        }
    }

    /// Saves the tenant's live status in the store, for the status API of
    /// every daemon sharing it.
    async fn save_live_status(&self, status: &TenantStatus) {
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

    /// The status entry of a run that ended with `outcome` on `plan`.
    fn last_run(
        &self,
        trigger: Trigger,
        outcome: Outcome,
        plan: &Plan,
        failures: usize,
        run_id: Option<i64>,
    ) -> LastRun {
        LastRun {
            at: now_rfc3339(),
            trigger,
            outcome,
            changes: plan.changes.len(),
            failures,
            duration_ms: 0,
            run_id,
        }
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
