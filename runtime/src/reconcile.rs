//! The steps of one reconcile, end to end: read the commit, load and
//! validate the desired state, plan, apply. The CLI runs them one command
//! at a time, the daemon's worker in its loop; they never apply anything
//! when an earlier step failed.
//!
//! A commit refused before anything is planned — its signature, a quota,
//! its ref gone from the remote — is a [`Refusal`]: the error names the
//! commit it refuses, and the history records it as a run of its own
//! (`refused`, with the reason and no actions), so that `cairn history`
//! shows every commit Cairn saw and did not apply.

use crate::model::{DesiredState, LoadError};
use crate::plan::{self, Inventory, Plan, PlanError, PlanScope, PlanSettings};
use crate::quota::QuotaExceeded;
use crate::source::{CommitInfo, SourceError};
use crate::store::{RunCounts, RunKind, RunOutcome, StateStore, StoreError, WholeRun};
use crate::tenant::Tenant;
use std::fmt;
use std::sync::Arc;

/// Why a reconcile step failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReconcileError {
    /// The repository could not be read.
    #[error(transparent)]
    Source(SourceError),
    /// The desired state is invalid, or a provider could not validate it.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(LoadError),
    /// No plan could be made.
    #[error(transparent)]
    Plan(PlanError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The commit was refused before anything was planned.
    #[error(transparent)]
    Refused(Box<Refusal>),
}

impl From<SourceError> for ReconcileError {
    fn from(error: SourceError) -> Self {
        match Refusal::of_source(error) {
            Ok(refusal) => Self::Refused(Box::new(refusal)),
            Err(error) => Self::Source(error),
        }
    }
}

impl From<LoadError> for ReconcileError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Source(error) => error.into(),
            other => Self::Load(other),
        }
    }
}

impl From<PlanError> for ReconcileError {
    fn from(error: PlanError) -> Self {
        Self::Plan(error)
    }
}

impl From<Refusal> for ReconcileError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(Box::new(refusal))
    }
}

/// What refused a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// It is not signed by a trusted key, or its signature cannot be
    /// checked.
    Signature,
    /// It goes over one of the tenant's quotas.
    Quota,
    /// The ref that named it is gone from the remote.
    RefGone,
    /// It is what a tag names now, and the tag named another revision
    /// before.
    TagMoved,
}

/// A commit refused before anything was planned: which commit, what
/// refused it, and the error that says why.
#[derive(Debug)]
pub struct Refusal {
    /// What refused it.
    pub kind: RefusalKind,
    /// The commit refused; for a ref gone from the remote, the commit the
    /// ref last named.
    pub commit: CommitInfo,
    cause: Cause,
}

/// The error a refusal stands for.
#[derive(Debug)]
enum Cause {
    Source(SourceError),
    Quota(QuotaExceeded),
}

impl Refusal {
    /// The refusal `error` is, or `error` itself when it refuses no
    /// commit (the repository cannot be reached or read).
    pub fn of_source(error: SourceError) -> Result<Self, SourceError> {
        let (kind, commit) = match &error {
            SourceError::Unsigned { commit, .. }
            | SourceError::UnsignedArtifact { commit, .. }
            | SourceError::Untrusted { commit, .. }
            | SourceError::SignersUnreadable { commit, .. } => (RefusalKind::Signature, commit),
            SourceError::Quota { commit, .. } => (RefusalKind::Quota, commit),
            SourceError::RefGone { last_seen, .. } => (RefusalKind::RefGone, last_seen),
            SourceError::TagMoved { now, .. } => (RefusalKind::TagMoved, now),
            _ => return Err(error),
        };
        Ok(Self {
            kind,
            commit: (**commit).clone(),
            cause: Cause::Source(error),
        })
    }

    /// `commit` goes over a quota of its desired state or its plan.
    pub fn quota(commit: &CommitInfo, exceeded: QuotaExceeded) -> Self {
        Self {
            kind: RefusalKind::Quota,
            commit: commit.clone(),
            cause: Cause::Quota(exceeded),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Cause::Source(error) => error.fmt(f),
            Cause::Quota(exceeded) => write!(f, "commit {}: {exceeded}", self.commit.id),
        }
    }
}

/// Transparent: the cause's message is the refusal's, and its causes are
/// the refusal's.
impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Source(error) => error.source(),
            Cause::Quota(exceeded) => exceeded.source(),
        }
    }
}

/// Reads the tenant's repository at its ref and validates every resource.
pub async fn desired_state(tenant: &Tenant) -> Result<DesiredState, ReconcileError> {
    load(tenant, None).await
}

/// Reads `commit` (`None`: the ref's, after a fetch) and loads its desired
/// state within the tenant's quotas, parsing and validating only the files
/// the model cache does not know.
pub async fn load(tenant: &Tenant, commit: Option<&str>) -> Result<DesiredState, ReconcileError> {
    let snapshot = match commit {
        Some(commit) => tenant.source.snapshot_at(commit).await?,
        None => tenant.source.snapshot().await?,
    };
    tenant
        .model_cache
        .load(&snapshot, &tenant.providers, &tenant.config.quotas)
        .await
        .map_err(|error| match error {
            LoadError::Quota(exceeded) => Refusal::quota(&snapshot.commit, exceeded).into(),
            other => other.into(),
        })
}

/// Plans `desired` for the tenant, and has its policies check the plan:
/// their findings go into the plan and its checksum.
pub async fn plan(
    tenant: &Tenant,
    store: &StateStore,
    desired: &DesiredState,
    scope: PlanScope,
) -> Result<Plan, ReconcileError> {
    let inventory = Inventory::read(store, &tenant.name).await?;
    plan_against(tenant, desired, inventory, scope, false).await
}

/// [`plan`] against the tenant's inventory as just read (while the commit
/// loaded, say), telling providers with `halt` that the tenant stops
/// acting on its own (suspended, or its daemon stopping): what its
/// resources do over time ends, and nothing new starts.
pub async fn plan_against(
    tenant: &Tenant,
    desired: &DesiredState,
    inventory: Arc<Inventory>,
    scope: PlanScope,
    halt: bool,
) -> Result<Plan, ReconcileError> {
    let settings = PlanSettings {
        halt,
        ..PlanSettings::from(tenant)
    };
    let planned = plan::plan_against(&settings, &tenant.providers, desired, inventory, scope).await;
    checked_plan(tenant, desired, planned).await
}

/// A plan of `desired` checked as every tenant's is ([`check_plan`]), or
/// why there is none: a quota exceeded refuses the commit.
async fn checked_plan(
    tenant: &Tenant,
    desired: &DesiredState,
    planned: Result<Plan, PlanError>,
) -> Result<Plan, ReconcileError> {
    let mut plan = planned.map_err(|error| match error {
        PlanError::Quota(exceeded) => Refusal::quota(&desired.commit, exceeded).into(),
        other => ReconcileError::from(other),
    })?;
    check_plan(tenant, desired, &mut plan).await;
    Ok(plan)
}

/// The plan that ends what the tenant's resources hold (a chaos run's
/// targets restored) when the tenant cannot plan whole — its commit
/// refused, another provider failing: only the objects whose provider
/// asked to compare them again over time are observed, with `halt`. The
/// policies are not asked ([`Plan::ending_holds`]).
pub async fn plan_ending(
    tenant: &Tenant,
    store: &StateStore,
    desired: &DesiredState,
) -> Result<Plan, ReconcileError> {
    let settings = PlanSettings {
        halt: true,
        ..PlanSettings::from(tenant)
    };
    Ok(plan::plan(
        &settings,
        &tenant.providers,
        desired,
        store,
        PlanScope::Holding,
    )
    .await?)
}

/// Has the tenant's policies check `plan` (made of `desired`), and seals
/// their findings into it: a saved plan is applied only when the same
/// policies find the same things.
pub async fn check_plan(tenant: &Tenant, desired: &DesiredState, plan: &mut Plan) {
    if tenant.policies.is_empty() {
        return;
    }
    let findings = crate::policy::check(tenant, desired, Some(plan)).await;
    plan.checksum = plan::findings::seal(&plan.checksum, &findings, tenant.policies.digest());
    plan.findings = findings;
}

/// Has the tenant's policies check the desired state alone (no plan):
/// what `cairn validate` shows.
pub async fn check_desired(tenant: &Tenant, desired: &DesiredState) -> Vec<plan::PolicyFinding> {
    crate::policy::check(tenant, desired, None).await
}

/// Reads, validates and plans the ref's commit. A refusal is recorded in
/// the history as a run of `kind` (the command's own) before it is
/// returned.
pub async fn plan_tenant(
    tenant: &Tenant,
    store: &StateStore,
    kind: RunKind,
) -> Result<(DesiredState, Plan), ReconcileError> {
    let result = async {
        // The inventory is read while the commit loads and the desired
        // objects are listed: the store works on its own thread meanwhile.
        let inventory = Inventory::read_apart(store, &tenant.name);
        let desired = load(tenant, None).await?;
        let planned = plan::plan_reading(
            &PlanSettings::from(tenant),
            &tenant.providers,
            &desired,
            inventory,
        )
        .await;
        let plan = checked_plan(tenant, &desired, planned).await?;
        Ok((desired, plan))
    }
    .await;
    if let Err(ReconcileError::Refused(refusal)) = &result {
        record_refusal(store, &tenant.name, kind, refusal).await?;
    }
    result
}

/// Records a refused commit in the history as a run of `kind`; returns the
/// run's number.
pub async fn record_refusal(
    store: &StateStore,
    tenant: &str,
    kind: RunKind,
    refusal: &Refusal,
) -> Result<i64, StoreError> {
    store
        .record_refusal(tenant, kind, &refusal.commit, &refusal.to_string())
        .await
}

/// Records that a plan was made, with what the tenant's policies found in
/// it, in the history (one transaction); returns the run's number.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_plan(store: &StateStore, plan: &Plan) -> Result<i64, StoreError> {
    store
        .record_whole_run(WholeRun {
            plan_checksum: &plan.checksum,
            outcome: RunOutcome::Planned,
            counts: RunCounts::changes(plan.changes.len()),
            findings: &plan.findings,
            ..WholeRun::new(&plan.tenant, RunKind::Plan, &plan.commit)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(id: &str) -> CommitInfo {
        CommitInfo {
            id: id.into(),
            author: "Ada <ada@example.org>".into(),
            summary: "add www".into(),
            time: 0,
        }
    }

    #[test]
    fn refusals_name_the_commit_they_refuse() {
        let unsigned = SourceError::Unsigned {
            commit: Box::new(commit("c0ffee")),
            allowed_signers: "/etc/cairn/allowed_signers".into(),
        };
        let message = unsigned.to_string();
        let ReconcileError::Refused(refusal) = ReconcileError::from(unsigned) else {
            panic!("an unsigned commit is refused")
        };
        assert_eq!(refusal.kind, RefusalKind::Signature);
        assert_eq!(refusal.commit, commit("c0ffee"));
        assert_eq!(refusal.to_string(), message);

        let gone = SourceError::RefGone {
            repo: "file:///srv/zones.git".into(),
            reference: "main".into(),
            last_seen: Box::new(commit("5ee1a57")),
        };
        let refusal = Refusal::of_source(gone).unwrap();
        assert_eq!(refusal.kind, RefusalKind::RefGone);
        assert_eq!(refusal.commit.id, "5ee1a57");

        let exceeded =
            QuotaExceeded::check("resources", "the number of resources", 3, 2).unwrap_err();
        let refusal = Refusal::quota(&commit("b16"), exceeded);
        assert_eq!(refusal.kind, RefusalKind::Quota);
        assert!(
            refusal
                .to_string()
                .starts_with("commit b16: quota exceeded: the number of resources is 3"),
            "{refusal}"
        );
        // Wrapped by the model, a source's refusal is still one.
        let error = ReconcileError::from(LoadError::Source(SourceError::Quota {
            commit: Box::new(commit("b16")),
            source: QuotaExceeded::check("repository_files", "files", 3, 2).unwrap_err(),
        }));
        assert!(matches!(error, ReconcileError::Refused(ref r) if r.kind == RefusalKind::Quota));
    }

    #[test]
    fn failures_to_reach_or_read_the_repository_are_not_refusals() {
        let unknown = SourceError::UnknownRef {
            repo: "/srv/zones".into(),
            reference: "mian".into(),
        };
        assert!(matches!(
            ReconcileError::from(unknown),
            ReconcileError::Source(SourceError::UnknownRef { .. })
        ));
        let unreachable = SourceError::Fetch {
            repo: "git://zones.example".into(),
            source: crate::source::FetchError::NoAnswer {
                after: std::time::Duration::from_secs(120),
            },
        };
        assert!(Refusal::of_source(unreachable).is_err());
    }
}
