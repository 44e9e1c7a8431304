//! Why a run failed as a whole, and the error policy: what the worker does
//! about it (alert or not, and when to try again). A failure that refuses
//! a commit (its signature, a quota, its ref gone) keeps the [`Refusal`],
//! for the history and for the alert to name the commit.

use crate::daemon::alerts::AlertKind;
use crate::model::LoadError;
use crate::plan::PlanError;
use crate::reconcile::{ReconcileError, Refusal, RefusalKind};
use crate::source::SourceError;
use crate::store::StoreError;
use crate::tenant_lock::TenantLockError;
use std::time::Duration;

/// What kind of failure stopped a run; the `kind` label of the
/// `cairn_errors_total` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The state store failed.
    Store,
    /// The daemon lost the tenant's lease during the run.
    LeaseLost,
    /// The repository could not be read.
    Source,
    /// A quota of the tenant was exceeded.
    Quota,
    /// The commit's signature was missing or not trusted.
    Signature,
    /// The desired state is invalid.
    Invalid,
    /// A plugin failed.
    Plugin,
    /// No plan could be made (conflicts, adoption refused, provider gone).
    Plan,
}

impl FailureKind {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "store",
            Self::LeaseLost => "lease",
            Self::Source => "source",
            Self::Quota => "quota",
            Self::Signature => "signature",
            Self::Invalid => "invalid",
            Self::Plugin => "plugin",
            Self::Plan => "plan",
        }
    }
}

/// Why a run failed as a whole.
#[derive(Debug)]
pub struct RunFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The alert raised for it (unless the policy says otherwise).
    pub alert: AlertKind,
    /// What the operator reads.
    pub message: String,
    /// The commit refused, when the failure is a refusal.
    pub refusal: Option<Box<Refusal>>,
}

impl RunFailure {
    fn new(kind: FailureKind, alert: AlertKind, message: String) -> Self {
        Self {
            kind,
            alert,
            message,
            refusal: None,
        }
    }

    /// A failure of a reconcile step at commit `commit`.
    pub fn reconcile(commit: &str, error: ReconcileError) -> Self {
        match error {
            ReconcileError::Source(error) => error.into(),
            ReconcileError::Load(error) => Self::load(commit, error),
            ReconcileError::Plan(error) => error.into(),
            ReconcileError::Store(error) => error.into(),
            ReconcileError::Refused(refusal) => (*refusal).into(),
        }
    }

    /// A failure to read or load the commit `commit`.
    pub fn load(commit: &str, error: LoadError) -> Self {
        match error {
            LoadError::Source(error) => error.into(),
            LoadError::Unread => Self::new(
                FailureKind::Source,
                AlertKind::ApplyFailed,
                error.to_string(),
            ),
            LoadError::Quota(exceeded) => Self::new(
                FailureKind::Quota,
                AlertKind::ApplyFailed,
                exceeded.to_string(),
            ),
            LoadError::Invalid(invalid) => {
                let first = invalid
                    .diagnostics
                    .first()
                    .map(|d| format!(" First: {d}"))
                    .unwrap_or_default();
                Self::new(
                    FailureKind::Invalid,
                    AlertKind::ApplyFailed,
                    format!("{invalid}.{first}"),
                )
            }
            LoadError::Plugin(error) => Self::new(
                FailureKind::Plugin,
                AlertKind::PluginFailed,
                format!("at commit {}: {error}", &commit[..commit.len().min(12)]),
            ),
        }
    }
}

impl From<StoreError> for RunFailure {
    fn from(error: StoreError) -> Self {
        let kind = match &error {
            StoreError::Fenced { .. } => FailureKind::LeaseLost,
            _ => FailureKind::Store,
        };
        Self::new(kind, AlertKind::ApplyFailed, error.to_string())
    }
}

impl From<TenantLockError> for RunFailure {
    fn from(error: TenantLockError) -> Self {
        Self::new(
            FailureKind::Store,
            AlertKind::ApplyFailed,
            error.to_string(),
        )
    }
}

impl From<Refusal> for RunFailure {
    fn from(refusal: Refusal) -> Self {
        let kind = match refusal.kind {
            RefusalKind::Signature => FailureKind::Signature,
            RefusalKind::Quota => FailureKind::Quota,
            RefusalKind::RefGone | RefusalKind::TagMoved => FailureKind::Source,
        };
        let mut failure = Self::new(kind, AlertKind::ApplyFailed, refusal.to_string());
        failure.refusal = Some(Box::new(refusal));
        failure
    }
}

/// A source's failure: a refusal when it refuses a commit.
impl From<SourceError> for RunFailure {
    fn from(error: SourceError) -> Self {
        match Refusal::of_source(error) {
            Ok(refusal) => refusal.into(),
            Err(error) => {
                // A tag that could not be checked is the store's failure.
                let kind = match &error {
                    SourceError::TagUnchecked { .. } => FailureKind::Store,
                    _ => FailureKind::Source,
                };
                Self::new(kind, AlertKind::ApplyFailed, error.to_string())
            }
        }
    }
}

impl From<PlanError> for RunFailure {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::Plugin(error) => Self::new(
                FailureKind::Plugin,
                AlertKind::PluginFailed,
                error.to_string(),
            ),
            PlanError::Store(error) => error.into(),
            PlanError::Quota(exceeded) => Self::new(
                FailureKind::Quota,
                AlertKind::ApplyFailed,
                exceeded.to_string(),
            ),
            other => Self::new(FailureKind::Plan, AlertKind::ApplyFailed, other.to_string()),
        }
    }
}

/// What the worker does about a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorAction {
    /// The alert to raise; `None` when the failure is not the operator's
    /// to act on.
    pub alert: Option<AlertKind>,
    /// When to try the tenant again.
    pub requeue_after: Duration,
}

/// The error policy: every failure is retried after the tenant's backoff
/// (`backoff`: the delay its failure count earned); each is alerted except
/// a lost lease, since the daemon that took the tenant over carries on.
pub fn error_policy(failure: &RunFailure, backoff: Duration) -> ErrorAction {
    let alert = match failure.kind {
        FailureKind::LeaseLost => None,
        _ => Some(failure.alert),
    };
    ErrorAction {
        alert,
        requeue_after: backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_lease_is_retried_but_not_alerted() {
        let lost: RunFailure = StoreError::Fenced {
            tenant: "default".into(),
            token: 7,
            reason: "another daemon holds the lease",
        }
        .into();
        assert_eq!(lost.kind, FailureKind::LeaseLost);
        let action = error_policy(&lost, Duration::from_secs(2));
        assert_eq!(action.alert, None);
        assert_eq!(action.requeue_after, Duration::from_secs(2));
    }

    #[test]
    fn other_failures_are_alerted_with_their_own_kind_and_retried_after_the_backoff() {
        let rows = [
            (FailureKind::Store, AlertKind::ApplyFailed),
            (FailureKind::Source, AlertKind::ApplyFailed),
            (FailureKind::Quota, AlertKind::ApplyFailed),
            (FailureKind::Signature, AlertKind::ApplyFailed),
            (FailureKind::Invalid, AlertKind::ApplyFailed),
            (FailureKind::Plan, AlertKind::ApplyFailed),
            (FailureKind::Plugin, AlertKind::PluginFailed),
        ];
        for (kind, alert) in rows {
            let failure = RunFailure::new(kind, alert, "broken".into());
            let action = error_policy(&failure, Duration::from_secs(8));
            assert_eq!(action.alert, Some(alert), "{kind:?}");
            assert_eq!(action.requeue_after, Duration::from_secs(8), "{kind:?}");
        }
    }

    #[test]
    fn a_refusal_keeps_the_refused_commit_and_other_failures_do_not() {
        let commit = crate::source::CommitInfo {
            id: "5ee1a57".into(),
            author: "Ada <ada@example.org>".into(),
            summary: "add www".into(),
            time: 0,
        };
        let unsigned: RunFailure = SourceError::Unsigned {
            commit: Box::new(commit.clone()),
            allowed_signers: "/etc/cairn/allowed_signers".into(),
        }
        .into();
        assert_eq!(unsigned.kind, FailureKind::Signature);
        assert_eq!(unsigned.refusal.as_ref().map(|r| &r.commit), Some(&commit));
        let gone: RunFailure = SourceError::RefGone {
            repo: "file:///srv/zones.git".into(),
            reference: "main".into(),
            last_seen: Box::new(commit.clone()),
        }
        .into();
        assert_eq!(gone.kind, FailureKind::Source);
        assert!(gone.message.contains("no longer exists on the remote"));
        assert_eq!(gone.refusal.as_ref().map(|r| &r.commit), Some(&commit));
        let unknown: RunFailure = SourceError::UnknownRef {
            repo: "/srv/zones".into(),
            reference: "mian".into(),
        }
        .into();
        assert_eq!(unknown.kind, FailureKind::Source);
        assert!(unknown.refusal.is_none());
    }

    #[test]
    fn metric_labels_are_distinct() {
        let kinds = [
            FailureKind::Store,
            FailureKind::LeaseLost,
            FailureKind::Source,
            FailureKind::Quota,
            FailureKind::Signature,
            FailureKind::Invalid,
            FailureKind::Plugin,
            FailureKind::Plan,
        ];
        let labels: std::collections::HashSet<&str> = kinds.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), kinds.len());
        assert_eq!(FailureKind::LeaseLost.as_str(), "lease");
    }
}
