//! Runs and the audit log: the one way a run is written, and the history
//! read back. [`StateStore::begin_run`] opens a run and hands back its
//! [`RunRecorder`], which journals changes before they are sent, records
//! each outcome with its effect on the inventory (one transaction per
//! batch: all of it or none), and finishes the run with its outcome. A
//! run without actions (a plan, an event, a refusal) is written whole by
//! [`StateStore::record_whole_run`], in one transaction.
//!
//! A run whose recorder is dropped unfinished (its process died, or the
//! store failed) stays open until [`StateStore::close_interrupted_runs`]
//! closes it as interrupted; its journal entries stay for the next plan to
//! find out.

use super::batch::{self, AuditRow, RunRef};
use super::error::{Result, StoreError};
use super::inventory::InventoryChange;
use super::vocabulary::{ActionResult, AuditAction, EventKind, RunKind, RunOutcome};
use super::{StateStore, mirror, now_ms};
use crate::model::{Address, Lifecycle};
use crate::plan::{PlanAction, PolicyFinding, PolicyOverride};
use crate::source::CommitInfo;
use serde::Serialize;
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

/// One change's outcome, to record in the audit log.
#[derive(Debug, Clone)]
pub struct ActionRecord<'a> {
    /// The resource.
    pub address: &'a Address,
    /// What was done, or tried.
    pub action: PlanAction,
    /// sha256 of the state before.
    pub before_digest: Option<String>,
    /// sha256 of the state after.
    pub after_digest: Option<String>,
    /// How it ended.
    pub result: ActionResult,
    /// The error, when it failed.
    pub error: Option<String>,
    /// What the change did, in its provider's words.
    pub summary: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// Drift found on one resource, to record in the audit log.
#[derive(Debug, Clone)]
pub struct DriftRecord<'a> {
    /// The resource.
    pub address: &'a Address,
    /// sha256 of the desired spec last applied.
    pub desired_digest: Option<String>,
    /// sha256 of the state found.
    pub observed_digest: Option<String>,
    /// What differs, for people.
    pub message: String,
}

/// What a finished run counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Changes in the run.
    pub changes: usize,
    /// Changes that were not made.
    pub failures: usize,
}

impl RunCounts {
    /// `changes` changes, none failed.
    pub fn changes(changes: usize) -> Self {
        Self {
            changes,
            failures: 0,
        }
    }
}

/// A run without actions, recorded whole by
/// [`StateStore::record_whole_run`].
#[derive(Debug, Clone)]
pub struct WholeRun<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// What kind of run.
    pub kind: RunKind,
    /// The commit it was about.
    pub commit: &'a CommitInfo,
    /// The checksum of its plan; empty when it had none.
    pub plan_checksum: &'a str,
    /// How it ended.
    pub outcome: RunOutcome,
    /// What it counts (a plan's changes).
    pub counts: RunCounts,
    /// Why its commit was refused, for a `refused` run.
    pub reason: Option<&'a str>,
    /// What the tenant's policies found in its plan.
    pub findings: &'a [PolicyFinding],
}

impl<'a> WholeRun<'a> {
    /// A run of `kind` for `tenant` at `commit` that succeeded, without a
    /// plan, counts, reason or findings: the rest is set with struct
    /// update syntax.
    pub fn new(tenant: &'a str, kind: RunKind, commit: &'a CommitInfo) -> Self {
        Self {
            tenant,
            kind,
            commit,
            plan_checksum: "",
            outcome: RunOutcome::Succeeded,
            counts: RunCounts::default(),
            reason: None,
            findings: &[],
        }
    }
}

/// A run being recorded: the one way to write a run and its actions.
#[derive(Debug)]
#[must_use = "a run begun is finished, or it stays open until it is closed as interrupted"]
pub struct RunRecorder {
    store: StateStore,
    id: i64,
    tenant: String,
    commit: CommitInfo,
}

/// A run of the history, with its actions.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The run's number.
    pub id: i64,
    /// The tenant.
    pub tenant: String,
    /// What kind of run.
    pub kind: RunKind,
    /// The commit.
    pub commit_id: String,
    /// The commit's author.
    pub commit_author: String,
    /// The commit's summary line.
    pub commit_summary: String,
    /// The plan's checksum.
    pub plan_checksum: String,
    /// Start, milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, when finished.
    pub finished_at: Option<i64>,
    /// How it ended; absent while running.
    pub outcome: Option<RunOutcome>,
    /// Why the commit was refused, for a `refused` run.
    pub reason: Option<String>,
    /// What the tenant's policies found in the run's plan.
    pub findings: Vec<PolicyFinding>,
    /// The operator's override of soft-mandatory policies, when one was
    /// given.
    pub policy_override: Option<PolicyOverride>,
    /// Changes in the run.
    pub changes: i64,
    /// Changes that failed.
    pub failures: i64,
    /// The daemon that made it, when a daemon did.
    pub daemon: Option<String>,
    /// The lease token it held then.
    pub lease_token: Option<i64>,
    /// The actions.
    pub actions: Vec<AuditRecord>,
}

/// A commit applied with success, as a rollback may return to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedCommit {
    /// The commit.
    pub id: String,
    /// Its summary line.
    pub summary: String,
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Its sequence number.
    pub seq: i64,
    /// When, milliseconds since the Unix epoch.
    pub time: i64,
    /// The resource.
    pub address: String,
    /// The action.
    pub action: AuditAction,
    /// sha256 of the state before.
    pub before_digest: Option<String>,
    /// sha256 of the state after.
    pub after_digest: Option<String>,
    /// How it ended.
    pub result: ActionResult,
    /// The error, when it failed.
    pub error: Option<String>,
    /// What the change did, in its provider's words (absent for drift
    /// found, and for actions recorded before summaries were kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// A JSON document read back from column `column` of run `run`.
fn json_column<T: serde::de::DeserializeOwned>(
    run: i64,
    column: &str,
    text: Option<String>,
) -> Result<Option<T>> {
    text.map(|text| {
        serde_json::from_str(&text)
            .map_err(|error| StoreError::corrupt(format!("the {column} of run {run}"), error))
    })
    .transpose()
}

/// A word read back from column `column` of run `run`.
fn word<T: FromStr<Err = super::UnknownWord>>(run: i64, column: &str, word: &str) -> Result<T> {
    word.parse()
        .map_err(|error| StoreError::corrupt(format!("the {column} of run {run}"), error))
}

impl StateStore {
    /// Starts a run and returns its recorder. A daemon's runs carry its
    /// name and lease token.
    pub async fn begin_run(
        &self,
        tenant: &str,
        kind: RunKind,
        commit: &CommitInfo,
        plan_checksum: &str,
    ) -> Result<RunRecorder> {
        let (daemon, lease_token) = self.fence_holder();
        let mut transaction = self.begin_write().await?;
        let row = self
            .query(
                "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                                   started_at, daemon, lease_token)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(tenant.to_string())
            .bind(kind.as_str())
            .bind(commit.id.clone())
            .bind(commit.author.clone())
            .bind(commit.summary.clone())
            .bind(plan_checksum.to_string())
            .bind(now_ms())
            .bind(daemon)
            .bind(lease_token)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(RunRecorder {
            store: self.clone(),
            id: row.try_get("id")?,
            tenant: tenant.to_string(),
            commit: commit.clone(),
        })
    }

    /// Records an event (an operator's command, a hold released) as a run
    /// without actions, and returns its number.
    pub async fn record_event(
        &self,
        tenant: &str,
        event: EventKind,
        commit: &CommitInfo,
    ) -> Result<i64> {
        self.record_whole_run(WholeRun::new(tenant, event.into(), commit))
            .await
    }

    /// Records a run without actions (a plan, an event, a refusal) whole,
    /// begun and finished in one transaction, and returns its number:
    /// nothing happens between its start and its end that a crash could
    /// cut in two.
    pub async fn record_whole_run(&self, run: WholeRun<'_>) -> Result<i64> {
        let (daemon, lease_token) = self.fence_holder();
        let findings = match run.findings.is_empty() {
            true => None,
            false => Some(serde_json::to_string(run.findings).expect("findings serialize")),
        };
        let now = now_ms();
        let mut transaction = self.begin_write().await?;
        let row = self
            .query(
                "INSERT INTO runs (tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
                                   started_at, finished_at, outcome, changes, failures, reason,
                                   findings, daemon, lease_token)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(run.tenant.to_string())
            .bind(run.kind.as_str())
            .bind(run.commit.id.clone())
            .bind(run.commit.author.clone())
            .bind(run.commit.summary.clone())
            .bind(run.plan_checksum.to_string())
            .bind(now)
            .bind(now)
            .bind(run.outcome.as_str())
            .bind(i64::try_from(run.counts.changes).unwrap_or(i64::MAX))
            .bind(i64::try_from(run.counts.failures).unwrap_or(i64::MAX))
            .bind(run.reason.map(str::to_string))
            .bind(findings)
            .bind(daemon)
            .bind(lease_token)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(row.try_get("id")?)
    }

    /// Marks the tenant's runs that never finished (their process died) as
    /// interrupted; call it holding the tenant's lock (and, in a daemon,
    /// its lease), so that no live run is among them. Returns how many
    /// there were.
    pub async fn close_interrupted_runs(&self, tenant: &str) -> Result<u64> {
        let mut transaction = self.begin_write().await?;
        let closed = self
            .query(
                "UPDATE runs SET outcome = ?, finished_at = ?
                 WHERE tenant = ? AND finished_at IS NULL",
            )
            .bind(RunOutcome::Interrupted.as_str())
            .bind(now_ms())
            .bind(tenant.to_string())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok(closed)
    }

    /// Records a commit refused before anything was planned (its
    /// signature, a quota, its ref gone): a run of `kind` without actions,
    /// finished as `refused` with `reason`. Returns its number.
    pub async fn record_refusal(
        &self,
        tenant: &str,
        kind: RunKind,
        commit: &CommitInfo,
        reason: &str,
    ) -> Result<i64> {
        self.record_whole_run(WholeRun {
            outcome: RunOutcome::Refused,
            reason: Some(reason),
            ..WholeRun::new(tenant, kind, commit)
        })
        .await
    }

    /// The commits of the tenant's successful applies, each once, in the
    /// order each was first applied with success (oldest first): a
    /// commit applied again later, by a rollback say, keeps its place.
    pub async fn applied_commits(&self, tenant: &str) -> Result<Vec<AppliedCommit>> {
        let [apply, rollback, reconcile] = RunKind::APPLYING;
        let rows = self
            .query(
                "SELECT commit_id, commit_summary, MIN(id) AS first FROM runs
                 WHERE tenant = ? AND kind IN (?, ?, ?) AND outcome = ?
                 GROUP BY commit_id, commit_summary ORDER BY first",
            )
            .bind(tenant.to_string())
            .bind(apply.as_str())
            .bind(rollback.as_str())
            .bind(reconcile.as_str())
            .bind(RunOutcome::Succeeded.as_str())
            .fetch_all(&mut *self.connection().await?)
            .await?;
        let mut applied: Vec<AppliedCommit> = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("commit_id")?;
            // A commit's summary is its own; a second one would be a row
            // edited by hand, and the commit keeps its first place.
            if !applied.iter().any(|commit| commit.id == id) {
                applied.push(AppliedCommit {
                    id,
                    summary: row.try_get("commit_summary")?,
                });
            }
        }
        Ok(applied)
    }

    /// The tenant's most recent runs, newest first, with their actions.
    pub async fn history(&self, tenant: &str, limit: u32) -> Result<Vec<RunRecord>> {
        let mut runs = self.runs(tenant, None, limit).await?;
        let mut connection = self.connection().await?;
        for run in &mut runs {
            run.actions = self.actions_of(&mut connection, run.id).await?;
        }
        Ok(runs)
    }

    /// A page of the tenant's runs, newest first, without their actions:
    /// at most `limit`, older than run `before` when it is given.
    pub async fn runs(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RunRecord>> {
        let rows = self
            .query(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?"
            ))
            .bind(tenant.to_string())
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.connection().await?)
            .await?;
        rows.iter().map(run_of).collect()
    }

    /// Run `id` of the tenant with its actions, when there is one.
    pub async fn run(&self, tenant: &str, id: i64) -> Result<Option<RunRecord>> {
        let mut connection = self.connection().await?;
        let row = self
            .query(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ? AND id = ?"
            ))
            .bind(tenant.to_string())
            .bind(id)
            .fetch_optional(&mut *connection)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut run = run_of(&row)?;
        run.actions = self.actions_of(&mut connection, id).await?;
        Ok(Some(run))
    }

    /// The audit rows of run `id`, in order.
    async fn actions_of(
        &self,
        connection: &mut sqlx::AnyConnection,
        id: i64,
    ) -> Result<Vec<AuditRecord>> {
        self.query(
            "SELECT seq, time, address, action, before_digest, after_digest, result, error,
                    summary, duration_ms
             FROM audit WHERE run_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .map(|row| {
            Ok(AuditRecord {
                seq: row.try_get("seq")?,
                time: row.try_get("time")?,
                address: row.try_get("address")?,
                action: word(id, "audited action", &row.try_get::<String, _>("action")?)?,
                before_digest: row.try_get("before_digest")?,
                after_digest: row.try_get("after_digest")?,
                result: word(id, "action result", &row.try_get::<String, _>("result")?)?,
                error: row.try_get("error")?,
                summary: row.try_get("summary")?,
                duration_ms: row.try_get("duration_ms")?,
            })
        })
        .collect()
    }
}

/// The columns a run is read back from.
const RUN_COLUMNS: &str =
    "id, tenant, kind, commit_id, commit_author, commit_summary, plan_checksum,
    started_at, finished_at, outcome, reason, changes, failures, daemon, lease_token,
    findings, policy_override";

/// A run read back from its row, without its actions.
fn run_of(run: &sqlx::any::AnyRow) -> Result<RunRecord> {
    let id: i64 = run.try_get("id")?;
    let outcome: Option<String> = run.try_get("outcome")?;
    Ok(RunRecord {
        id,
        tenant: run.try_get("tenant")?,
        kind: word(id, "kind", &run.try_get::<String, _>("kind")?)?,
        commit_id: run.try_get("commit_id")?,
        commit_author: run.try_get("commit_author")?,
        commit_summary: run.try_get("commit_summary")?,
        plan_checksum: run.try_get("plan_checksum")?,
        started_at: run.try_get("started_at")?,
        finished_at: run.try_get("finished_at")?,
        outcome: outcome
            .map(|outcome| word(id, "outcome", &outcome))
            .transpose()?,
        reason: run.try_get("reason")?,
        findings: json_column(id, "findings", run.try_get("findings")?)?.unwrap_or_default(),
        policy_override: json_column(id, "policy override", run.try_get("policy_override")?)?,
        changes: run.try_get("changes")?,
        failures: run.try_get("failures")?,
        daemon: run.try_get("daemon")?,
        lease_token: run.try_get("lease_token")?,
        actions: Vec::new(),
    })
}

impl RunRecorder {
    /// The run's number in the history.
    pub fn id(&self) -> i64 {
        self.id
    }

    fn run(&self) -> RunRef<'_> {
        RunRef {
            id: self.id,
            tenant: &self.tenant,
            commit: &self.commit,
        }
    }

    /// Marks creates as in flight before they are attempted, so that an
    /// object whose create was interrupted is still known to be ours.
    #[tracing::instrument(level = "debug", skip_all, fields(creates = creates.len()))]
    pub async fn mark_pending(&self, creates: &[(&Address, &Lifecycle, &[Address])]) -> Result<()> {
        self.store
            .mark_pending(&self.tenant, &self.commit, creates)
            .await
    }

    /// Journals changes about to be sent to a plugin: address, action and
    /// the digest of the desired spec. A fenced store refuses when the
    /// lease ran out meanwhile, so that the calls are not made.
    #[tracing::instrument(level = "debug", skip_all, fields(intents = intents.len()))]
    pub async fn journal(&self, intents: &[(&Address, PlanAction, Option<&str>)]) -> Result<()> {
        self.store.add_intents(&self.tenant, self.id, intents).await
    }

    /// Records one action and its effect on the inventory, atomically.
    pub async fn record(&self, action: &ActionRecord<'_>, change: &InventoryChange) -> Result<()> {
        self.write(&[AuditRow::of_action(action, change)]).await
    }

    /// Records actions and their effects on the inventory in one
    /// transaction: all of them or none.
    pub async fn record_all(&self, actions: &[(ActionRecord<'_>, InventoryChange)]) -> Result<()> {
        self.record_each(actions.iter().map(|(action, change)| (action, change)))
            .await
    }

    /// [`RunRecorder::record_all`] of borrowed pairs: ten thousand actions
    /// are recorded without copying their states.
    pub async fn record_each<'a>(
        &self,
        actions: impl Iterator<Item = (&'a ActionRecord<'a>, &'a InventoryChange)>,
    ) -> Result<()> {
        let rows: Vec<AuditRow<'_>> = actions
            .map(|(action, change)| AuditRow::of_action(action, change))
            .collect();
        self.write(&rows).await
    }

    /// Records drift found, in one transaction; the inventory is left as
    /// it is.
    pub async fn record_drift(&self, found: &[DriftRecord<'_>]) -> Result<()> {
        let rows: Vec<AuditRow<'_>> = found
            .iter()
            .map(|drift| AuditRow {
                address: drift.address,
                action: AuditAction::Drift,
                before_digest: drift.desired_digest.as_deref(),
                after_digest: drift.observed_digest.as_deref(),
                result: ActionResult::Detected,
                error: Some(&drift.message),
                summary: None,
                duration: Duration::ZERO,
                change: &InventoryChange::Keep,
            })
            .collect();
        self.write(&rows).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rows = rows.len()))]
    async fn write(&self, rows: &[AuditRow<'_>]) -> Result<()> {
        let mut transaction = self.store.begin_write().await?;
        batch::record(&self.store, &mut transaction, self.run(), rows).await?;
        let version =
            batch::next_inventory_version(&self.store, &mut transaction, &self.tenant).await?;
        transaction.commit().await?;
        self.store
            .follow_inventory(&self.tenant, version, |inventory| {
                mirror::record(inventory, self.run(), rows)
            });
        Ok(())
    }

    /// Records what the tenant's policies found in the run's plan and the
    /// override the operator gave, if any; nothing when neither.
    pub async fn note_policies(
        &self,
        findings: &[PolicyFinding],
        policy_override: Option<&PolicyOverride>,
    ) -> Result<()> {
        if findings.is_empty() && policy_override.is_none() {
            return Ok(());
        }
        let findings = match findings.is_empty() {
            true => None,
            false => Some(serde_json::to_string(findings).expect("findings serialize")),
        };
        let policy_override =
            policy_override.map(|o| serde_json::to_string(o).expect("overrides serialize"));
        let store = &self.store;
        let mut transaction = store.begin_write().await?;
        store
            .query("UPDATE runs SET findings = ?, policy_override = ? WHERE id = ?")
            .bind(findings)
            .bind(policy_override)
            .bind(self.id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Ends the run.
    pub async fn finish(self, outcome: RunOutcome, counts: RunCounts) -> Result<()> {
        let store = &self.store;
        let mut transaction = store.begin_write().await?;
        store
            .query(
                "UPDATE runs SET finished_at = ?, outcome = ?, changes = ?, failures = ?
                 WHERE id = ?",
            )
            .bind(now_ms())
            .bind(outcome.as_str())
            .bind(i64::try_from(counts.changes).unwrap_or(i64::MAX))
            .bind(i64::try_from(counts.failures).unwrap_or(i64::MAX))
            .bind(self.id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}
